//! The example server binary: start-up errors, JSON logs, and graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>/examples/server`, which cargo builds before running integration tests.
fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();

    profile_dir
        .join("examples")
        .join(format!("server{}", std::env::consts::EXE_SUFFIX))
}

fn run(args: &[&str]) -> Output {
    Command::new(server_binary())
        .args(args)
        .env_remove("HEADWIND_BACKEND")
        .stdin(Stdio::null())
        .output()
        .expect("server binary runs")
}

const EPHEMERAL: [&str; 6] = [
    "--webhook-addr",
    "127.0.0.1:0",
    "--api-addr",
    "127.0.0.1:0",
    "--metrics-addr",
    "127.0.0.1:0",
];

#[test]
fn port_in_use_is_a_clear_error_naming_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();

    let out = run(&[
        "--webhook-addr",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
        "--api-addr",
        &addr,
    ]);

    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr} (api listener)")),
        "{stderr}"
    );
}

#[test]
fn unparsable_workloads_file_is_refused_with_the_document_number() {
    let file = std::env::temp_dir().join(format!("headwind-bad-{}.yaml", std::process::id()));
    std::fs::write(&file, "kind: Deployment\nmetadata:\n  name: ok\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: 'nginx:1'}]\n---\nkind: Deployment\nmetadata: [oops\n").unwrap();

    let mut args = EPHEMERAL.to_vec();
    args.extend(["--workloads", file.to_str().unwrap()]);
    let out = run(&args);

    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refused: document 2:"), "{stderr}");
}

#[test]
fn kube_backend_without_a_cluster_is_a_clear_error() {
    let mut args = EPHEMERAL.to_vec();
    args.extend(["--backend", "kube"]);
    let nowhere = std::env::temp_dir().join("headwind-no-kubeconfig");

    let out = Command::new(server_binary())
        .args(&args)
        .env("KUBECONFIG", &nowhere)
        .env("HOME", &nowhere)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .stdin(Stdio::null())
        .output()
        .unwrap();

    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot reach Kubernetes"), "{stderr}");
}

#[test]
fn help_names_every_flag_and_its_environment_variable() {
    let out = run(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);

    for flag in [
        "--webhook-addr",
        "--api-addr",
        "--metrics-addr",
        "--backend",
        "--no-demo",
        "--workloads",
        "--log-format",
        "--log-level",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    assert!(help.contains("HEADWIND_API_ADDR"), "{help}");
}

#[cfg(unix)]
#[test]
fn sigterm_shuts_down_gracefully() {
    let mut args = EPHEMERAL.to_vec();
    args.extend(["--log-format", "json"]);
    let mut child = Command::new(server_binary())
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();

    // The start-up line carries the bound addresses.
    let deadline = Instant::now() + Duration::from_secs(20);
    let api_addr = loop {
        assert!(Instant::now() < deadline, "no start-up line");
        let line = lines.next().expect("server still logging").unwrap();
        let log: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
        if log["fields"]["message"] == "headwind listening" {
            assert_eq!(log["fields"]["backend"], "memory");
            break log["fields"]["api_addr"].as_str().unwrap().to_owned();
        }
    };
    let health = std::net::TcpStream::connect(&api_addr);
    assert!(health.is_ok(), "API listener accepts connections");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();

    assert!(status.success(), "exit status {status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("server stopped")),
        "{rest:?}"
    );
}
