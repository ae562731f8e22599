//! The `kubectl-headwind` binary end to end, against the example server on the memory backend
//! with its demo data: Deployment `default/nginx-example` (container `nginx` on
//! `nginx:1.25.0`), the Pending request `default/nginx-update-1-26-0` to `nginx:1.26.0`, and
//! one earlier history entry.

mod support;

use headwind::core::types::{Container, Phase, UpdateRequest, Workload, WorkloadRef};
use headwind::http::routes::rollback::{HistoryResponse, RollbackResponse};
use headwind::http::routes::updates::DecisionResponse;
use support::{DEMO_DEPLOYMENT, DEMO_REQUEST, Outcome, Server, dead_address, plugin};

const LIST_HEADERS: [&str; 8] = [
    "NAME",
    "TARGET",
    "CONTAINER",
    "CURRENT",
    "NEW",
    "POLICY",
    "PHASE",
    "AGE",
];

/// Asserts an AGE cell reads as a few seconds, as kubectl prints a fresh object's age.
#[track_caller]
fn assert_fresh_age(age: &str) {
    let seconds = age.strip_suffix('s').and_then(|n| n.parse::<u32>().ok());

    assert!(seconds.is_some_and(|s| s < 120), "age {age:?}");
}

fn insert_two_container_workload(server: &Server) {
    let containers = vec![
        Container {
            name: "app".to_owned(),
            image: "app:1.0".to_owned(),
        },
        Container {
            name: "sidecar".to_owned(),
            image: "envoy:1.30".to_owned(),
        },
    ];
    let reference = WorkloadRef::deployment("default", "multi").unwrap();

    server
        .memory()
        .deployer
        .insert(Workload::new(reference, containers));
}

// === list ===

#[test]
fn list_shows_the_pending_demo_request_in_kubectl_columns_without_namespace() {
    let server = Server::start();

    let out = server.run(&["list"]);

    out.success();
    let rows = out.rows();
    assert_eq!(rows.len(), 2, "{out:#?}");
    assert_eq!(rows[0], LIST_HEADERS);
    assert_eq!(
        rows[1][..7],
        [
            DEMO_REQUEST,
            "Deployment/nginx-example",
            "nginx",
            "nginx:1.25.0",
            "nginx:1.26.0",
            "minor",
            "Pending",
        ]
    );
    assert_fresh_age(&rows[1][7]);
    assert!(!out.stdout.contains('\x1b'), "no colour with NO_COLOR");
}

#[test]
fn list_all_namespaces_adds_the_namespace_column_and_every_namespace() {
    let server = Server::start();
    server.add_request("staging", "web-update-1-1-0");

    let short = server.run(&["list", "-A"]);
    let long = server.run(&["list", "--all-namespaces", "-n", "staging"]);

    short.success();
    assert_eq!(short.stdout, long.success(), "-A ignores --namespace");
    let rows = short.rows();
    assert_eq!(rows[0][0], "NAMESPACE");
    assert_eq!(rows[0][1..], LIST_HEADERS);
    let keys: Vec<(&str, &str)> = rows[1..]
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(
        keys,
        [("default", DEMO_REQUEST), ("staging", "web-update-1-1-0")]
    );
}

#[test]
fn namespace_defaults_to_the_current_kubeconfig_context() {
    let server = Server::start();
    server.add_request("staging", "web-update-1-1-0");
    let kubeconfig = server.kubeconfig_with_namespace("staging");

    let mut command = plugin(&server.url(), &kubeconfig);
    let from_kubeconfig = Outcome::of(command.arg("list"));
    let overridden = Outcome::of(command.args(["-n", "default"]));

    let rows = from_kubeconfig.rows();
    assert_eq!(from_kubeconfig.code, Some(0), "{from_kubeconfig:#?}");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][0], "web-update-1-1-0");
    let rows = overridden.rows();
    assert_eq!(overridden.code, Some(0), "{overridden:#?}");
    assert_eq!(rows[1][0], DEMO_REQUEST, "-n wins over the kubeconfig");
}

#[test]
fn namespace_is_default_without_a_kubeconfig_file() {
    let server = Server::start();
    server.add_request("staging", "web-update-1-1-0");

    let out = server.run(&["list"]);

    out.success();
    let names: Vec<String> = out.rows()[1..].iter().map(|r| r[0].clone()).collect();
    assert_eq!(names, [DEMO_REQUEST]);
}

#[test]
fn unparseable_kubeconfig_is_an_error_unless_namespace_is_given() {
    let server = Server::start();
    let broken = server.no_kubeconfig().with_file_name("broken");
    std::fs::write(&broken, "contexts: [unclosed").unwrap();

    let refused = Outcome::of(plugin(&server.url(), &broken).arg("list"));
    let bypassed = Outcome::of(plugin(&server.url(), &broken).args(["list", "-n", "default"]));

    let stderr = refused.failure();
    let expected = format!("error: cannot parse kubeconfig {}: ", broken.display());
    assert!(stderr.starts_with(&expected), "{stderr}");
    assert_eq!(stderr.matches("cannot parse").count(), 1, "{stderr}");
    assert!(
        stderr.ends_with("\nPass --namespace to choose the namespace without it.\n"),
        "{stderr}"
    );
    assert!(bypassed.success().contains(DEMO_REQUEST));
}

#[test]
fn list_hides_decided_requests_unless_all_is_given() {
    let server = Server::start();
    server.run(&["approve", DEMO_REQUEST]).success();

    let pending = server.run(&["list"]);
    let all = server.run(&["list", "--all"]);

    assert_eq!(pending.success(), "");
    assert_eq!(
        pending.stderr,
        "No pending update requests found in default namespace.\n"
    );
    let rows = all.rows();
    assert_eq!(all.code, Some(0), "{all:#?}");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][0], DEMO_REQUEST);
    assert_eq!(rows[1][6], "Completed");
}

#[test]
fn list_output_json_parses_as_update_requests() {
    let server = Server::start();

    let out = server.run(&["list", "-o", "json"]);

    let requests: Vec<UpdateRequest> = serde_json::from_str(out.success()).expect("JSON");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].metadata.name, DEMO_REQUEST);
    assert_eq!(requests[0].spec.new_image, "nginx:1.26.0");
    assert_eq!(requests[0].status.phase, Phase::Pending);
}

#[test]
fn list_output_yaml_parses_as_update_requests() {
    let server = Server::start();

    let out = server.run(&["list", "--output", "yaml", "--all"]);

    let requests: Vec<UpdateRequest> = serde_yaml::from_str(out.success()).expect("YAML");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0], server.request("default", DEMO_REQUEST));
}

#[test]
fn empty_list_as_json_is_an_empty_array() {
    let server = Server::start();

    let out = server.run(&["list", "-n", "empty", "-o", "json"]);

    let requests: Vec<UpdateRequest> = serde_json::from_str(out.success()).expect("JSON");
    assert!(requests.is_empty());
}

#[test]
fn unknown_output_format_is_a_usage_error() {
    let server = Server::start();

    let out = server.run(&["list", "-o", "wide"]);

    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(
        out.stderr.contains("invalid value 'wide'"),
        "{}",
        out.stderr
    );
}

// === approve and reject ===

#[test]
fn approve_applies_the_image_and_records_the_approver() {
    let server = Server::start();

    let out = server.run(&["approve", DEMO_REQUEST, "--approver", "ann@example.com"]);

    assert_eq!(
        out.success(),
        "Update approved and applied successfully: default/nginx-update-1-26-0 is Completed \
         (nginx:1.25.0 -> nginx:1.26.0)\n"
    );
    let stored = server.request("default", DEMO_REQUEST);
    assert_eq!(stored.status.phase, Phase::Completed);
    assert_eq!(
        stored.status.approved_by.as_deref(),
        Some("ann@example.com")
    );
    assert_eq!(
        server.live_image("default", DEMO_DEPLOYMENT, "nginx"),
        "nginx:1.26.0"
    );
}

#[test]
fn approver_comes_from_the_environment_and_the_flag_overrides_it() {
    let server = Server::start();
    server.add_request("default", "web-update-1-1-0");
    server.memory().deployer.insert(Workload::new(
        WorkloadRef::deployment("default", "web").unwrap(),
        vec![Container {
            name: "web".to_owned(),
            image: "web:1.0.0".to_owned(),
        }],
    ));

    let mut from_env = server.plugin();
    from_env.env("HEADWIND_APPROVER", "env@example.com").args([
        "approve",
        DEMO_REQUEST,
        "-o",
        "json",
    ]);
    let mut flag = server.plugin();
    flag.env("HEADWIND_APPROVER", "env@example.com").args([
        "--approver",
        "flag@example.com",
        "approve",
        "web-update-1-1-0",
    ]);
    Outcome::of(&mut from_env).success();
    Outcome::of(&mut flag).success();

    let first = server.request("default", DEMO_REQUEST);
    let second = server.request("default", "web-update-1-1-0");
    assert_eq!(first.status.approved_by.as_deref(), Some("env@example.com"));
    assert_eq!(
        second.status.approved_by.as_deref(),
        Some("flag@example.com")
    );
}

#[test]
fn approve_output_json_is_the_decision_answer() {
    let server = Server::start();

    let out = server.run(&["approve", DEMO_REQUEST, "-o", "json"]);

    let answer: DecisionResponse = serde_json::from_str(out.success()).expect("JSON");
    assert_eq!(answer.message, "Update approved and applied successfully");
    assert_eq!(answer.update_request.status.phase, Phase::Completed);
}

#[test]
fn approving_twice_prints_the_conflict_and_exits_1() {
    let server = Server::start();
    server.run(&["approve", DEMO_REQUEST]).success();

    let again = server.run(&["approve", DEMO_REQUEST]);

    assert_eq!(
        again.failure(),
        "error: cannot approve UpdateRequest default/nginx-update-1-26-0: it is Completed, \
         not Pending\n"
    );
}

#[test]
fn approving_an_unknown_request_prints_not_found_and_exits_1() {
    let server = Server::start();

    let out = server.run(&["approve", "no-such-request"]);

    assert_eq!(
        out.failure(),
        "error: UpdateRequest default/no-such-request not found\n"
    );
}

#[test]
fn invalid_names_are_refused_before_any_request_is_sent() {
    let dead = format!("http://{}", dead_address());
    let server = Server::start();

    let out = Outcome::of(plugin(&dead, &server.no_kubeconfig()).args(["approve", "Bad_Name"]));
    let bad_ns =
        Outcome::of(plugin(&dead, &server.no_kubeconfig()).args(["history", "web", "-n", "a/b"]));

    let stderr = out.failure();
    assert!(
        stderr.starts_with("error: invalid name \"Bad_Name\""),
        "{stderr}"
    );
    assert!(
        !stderr.contains("cannot reach"),
        "nothing was sent: {stderr}"
    );
    assert!(
        bad_ns
            .failure()
            .starts_with("error: invalid namespace \"a/b\"")
    );
}

#[test]
fn reject_records_the_reason_and_approver() {
    let server = Server::start();

    let out = server.run(&[
        "reject",
        DEMO_REQUEST,
        "Not ready",
        "--approver",
        "bob@example.com",
    ]);

    assert_eq!(
        out.success(),
        "Update rejected: default/nginx-update-1-26-0 is Rejected (nginx:1.25.0 -> nginx:1.26.0)\n"
    );
    let stored = server.request("default", DEMO_REQUEST);
    assert_eq!(stored.status.phase, Phase::Rejected);
    assert_eq!(stored.status.reason.as_deref(), Some("Not ready"));
    assert_eq!(
        stored.status.approved_by.as_deref(),
        Some("bob@example.com")
    );
    assert_eq!(
        server.live_image("default", DEMO_DEPLOYMENT, "nginx"),
        "nginx:1.25.0",
        "a rejection changes no image"
    );
}

#[test]
fn reject_without_reason_and_yaml_output_gives_the_decision_answer() {
    let server = Server::start();

    let out = server.run(&["reject", DEMO_REQUEST, "-o", "yaml"]);

    let answer: DecisionResponse = serde_yaml::from_str(out.success()).expect("YAML");
    assert_eq!(answer.message, "Update rejected");
    assert_eq!(answer.update_request.status.phase, Phase::Rejected);
    assert_eq!(answer.update_request.status.reason, None);
}

#[test]
fn rejecting_a_decided_request_prints_the_conflict() {
    let server = Server::start();
    server.run(&["approve", DEMO_REQUEST]).success();

    let out = server.run(&["reject", DEMO_REQUEST, "too late"]);

    let stderr = out.failure();
    assert!(
        stderr.starts_with("error: cannot reject UpdateRequest default/nginx-update-1-26-0"),
        "{stderr}"
    );
}

// === history ===

#[test]
fn history_lists_applied_images_newest_first() {
    let server = Server::start();
    server
        .run(&["approve", DEMO_REQUEST, "--approver", "ann@example.com"])
        .success();

    let out = server.run(&["history", DEMO_DEPLOYMENT]);

    let lines: Vec<&str> = out.success().lines().collect();
    assert_eq!(lines.len(), 3, "{out:#?}");
    let header: Vec<&str> = lines[0].split("   ").map(str::trim).collect();
    let header: Vec<&str> = header.into_iter().filter(|h| !h.is_empty()).collect();
    assert_eq!(
        header,
        [
            "CONTAINER",
            "IMAGE",
            "AGE",
            "UPDATE REQUEST",
            "APPROVED BY",
            "KIND"
        ]
    );
    let rows = out.rows();
    assert_eq!(rows[1][..2], ["nginx", "nginx:1.26.0"]);
    assert_fresh_age(&rows[1][2]);
    assert_eq!(rows[1][3..], [DEMO_REQUEST, "ann@example.com", "update"]);
    assert_eq!(rows[2][..2], ["nginx", "nginx:1.25.0"]);
    assert_eq!(rows[2][2], "24h", "the demo's earlier entry is a day old");
    assert_eq!(rows[2][3..], ["nginx-update-1-25-0", "webhook", "update"]);
}

#[test]
fn history_output_json_and_yaml_parse_as_the_history_answer() {
    let server = Server::start();

    let json = server.run(&["history", DEMO_DEPLOYMENT, "-o", "json"]);
    let yaml = server.run(&["history", DEMO_DEPLOYMENT, "-o", "yaml"]);

    let from_json: HistoryResponse = serde_json::from_str(json.success()).expect("JSON");
    let from_yaml: HistoryResponse = serde_yaml::from_str(yaml.success()).expect("YAML");
    assert_eq!(from_json.deployment, DEMO_DEPLOYMENT);
    assert_eq!(from_json.namespace, "default");
    assert_eq!(from_json.history.len(), 1);
    assert_eq!(from_json.history[0].image, "nginx:1.25.0");
    assert_eq!(from_yaml.history, from_json.history);
}

#[test]
fn history_of_an_unknown_deployment_prints_not_found() {
    let server = Server::start();

    let out = server.run(&["history", "ghost"]);

    let stderr = out.failure();
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("ghost"), "{stderr}");
    assert!(stderr.contains("not found"), "{stderr}");
}

#[test]
fn history_of_a_workload_without_entries_says_so() {
    let server = Server::start();
    insert_two_container_workload(&server);

    let out = server.run(&["history", "multi"]);

    assert_eq!(out.success(), "");
    assert_eq!(
        out.stderr,
        "No history found for Deployment default/multi.\n"
    );
}

// === rollback ===

#[test]
fn rollback_picks_the_only_container_automatically() {
    let server = Server::start();
    server.run(&["approve", DEMO_REQUEST]).success();

    let out = server.run(&["rollback", DEMO_DEPLOYMENT, "--approver", "ops@example.com"]);

    assert_eq!(
        out.success(),
        "Rollback successful: Deployment default/nginx-example container nginx \
         nginx:1.26.0 -> nginx:1.25.0\n"
    );
    assert_eq!(
        server.live_image("default", DEMO_DEPLOYMENT, "nginx"),
        "nginx:1.25.0"
    );
    let history = server.run(&["history", DEMO_DEPLOYMENT]);
    let rows = history.rows();
    assert_eq!(rows[1][1], "nginx:1.25.0");
    assert_eq!(rows[1][3..], ["<none>", "ops@example.com", "rollback"]);
}

#[test]
fn rollback_with_a_named_container_and_json_output_gives_the_rollback_answer() {
    let server = Server::start();
    server.run(&["approve", DEMO_REQUEST]).success();

    let out = server.run(&["rollback", DEMO_DEPLOYMENT, "nginx", "-o", "json"]);

    let answer: RollbackResponse = serde_json::from_str(out.success()).expect("JSON");
    assert_eq!(answer.message, "Rollback successful");
    assert_eq!(answer.container, "nginx");
    assert_eq!(answer.previous_image, "nginx:1.26.0");
    assert_eq!(answer.rolled_back_to, "nginx:1.25.0");
}

#[test]
fn rollback_of_a_two_container_workload_without_a_terminal_lists_them_and_fails() {
    let server = Server::start();
    insert_two_container_workload(&server);
    let writes_before = server.memory().deployer.image_writes();

    let out = server.run(&["rollback", "multi"]);

    assert_eq!(
        out.failure(),
        "  1. app (app:1.0)\n  2. sidecar (envoy:1.30)\n\
         error: Deployment default/multi has 2 containers; pass CONTAINER to choose one: \
         kubectl headwind rollback multi CONTAINER\n"
    );
    assert_eq!(server.memory().deployer.image_writes(), writes_before);
}

#[test]
fn rollback_with_nothing_to_roll_back_to_prints_the_conflict() {
    let server = Server::start();

    let out = server.run(&["rollback", DEMO_DEPLOYMENT]);

    let stderr = out.failure();
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        server.live_image("default", DEMO_DEPLOYMENT, "nginx"),
        "nginx:1.25.0"
    );
}

#[test]
fn rollback_of_an_unknown_container_prints_not_found() {
    let server = Server::start();
    server.run(&["approve", DEMO_REQUEST]).success();

    let out = server.run(&["rollback", DEMO_DEPLOYMENT, "redis"]);

    let stderr = out.failure();
    assert!(stderr.contains("redis"), "{stderr}");
    assert_eq!(
        server.live_image("default", DEMO_DEPLOYMENT, "nginx"),
        "nginx:1.26.0"
    );
}

#[test]
fn rollback_on_a_terminal_asks_which_container() {
    let server = Server::start();
    insert_two_container_workload(&server);
    server.add_history("default", "multi", "sidecar", "envoy:1.29", 2);
    server.add_history("default", "multi", "sidecar", "envoy:1.30", 1);

    let out = run_on_terminal(&server, "rollback multi", "2\n");

    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.contains("Container [1-2]: "), "{out:#?}");
    assert!(
        out.stdout
            .contains("container sidecar envoy:1.30 -> envoy:1.29"),
        "{out:#?}"
    );
    assert_eq!(
        server.live_image("default", "multi", "sidecar"),
        "envoy:1.29"
    );
    assert_eq!(server.live_image("default", "multi", "app"), "app:1.0");
}

/// Runs the plugin under `script`, which gives it a pseudo-terminal for stdin and stdout, with
/// `input` typed into it.
fn run_on_terminal(server: &Server, args: &str, input: &str) -> Outcome {
    use std::io::Write;
    use std::process::Stdio;

    let binary = env!("CARGO_BIN_EXE_kubectl-headwind");
    let mut command = std::process::Command::new("script");
    command
        .args(["--quiet", "--return", "--command"])
        .arg(format!("{binary} {args}"))
        .arg("/dev/null")
        .env("HEADWIND_API_URL", server.url())
        .env("KUBECONFIG", server.no_kubeconfig())
        .env("NO_COLOR", "1")
        .env_remove("HEADWIND_APPROVER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());

    let mut child = command.spawn().expect("script runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().expect("script ends");

    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

// === errors, options and help ===

#[test]
fn unreachable_api_prints_how_to_reach_it_and_exits_1() {
    let server = Server::start();
    let dead = format!("http://{}", dead_address());

    let out = Outcome::of(plugin(&dead, &server.no_kubeconfig()).arg("list"));

    let stderr = out.failure();
    assert!(
        stderr.starts_with(&format!("error: cannot reach the headwind API at {dead} (")),
        "{stderr}"
    );
    assert!(
        stderr.contains("kubectl port-forward -n headwind-system svc/headwind-api 8081:8081"),
        "{stderr}"
    );
    assert!(stderr.contains("HEADWIND_API_URL"), "{stderr}");
}

#[test]
fn api_url_flag_overrides_the_environment() {
    let server = Server::start();
    let dead = format!("http://{}", dead_address());

    let out = Outcome::of(plugin(&dead, &server.no_kubeconfig()).args([
        "--api-url",
        &server.url(),
        "list",
    ]));

    assert!(out.success().contains(DEMO_REQUEST));
}

#[test]
fn https_api_url_is_refused_with_the_reason() {
    let server = Server::start();

    let out = server.run(&["--api-url", "https://headwind.example", "list"]);

    let stderr = out.failure();
    assert!(
        stderr.starts_with("error: invalid API URL \"https://headwind.example\""),
        "{stderr}"
    );
    assert!(stderr.contains("only http"), "{stderr}");
}

#[test]
fn output_is_not_coloured_when_stdout_is_not_a_terminal() {
    let server = Server::start();

    let mut command = server.plugin();
    command.env_remove("NO_COLOR").arg("list");
    let out = Outcome::of(&mut command);

    assert!(out.success().contains("Pending"));
    assert!(!out.stdout.contains('\x1b'), "{:?}", out.stdout);
}

#[test]
fn phase_is_coloured_on_a_terminal_unless_no_color_is_set() {
    let server = Server::start();

    let coloured = run_on_terminal_env(&server, "list", None);
    let plain = run_on_terminal_env(&server, "list", Some("1"));

    assert!(
        coloured.stdout.contains("\x1b[33mPending\x1b[0m"),
        "{coloured:#?}"
    );
    assert!(plain.stdout.contains("Pending"), "{plain:#?}");
    assert!(!plain.stdout.contains('\x1b'), "{plain:#?}");
}

fn run_on_terminal_env(server: &Server, args: &str, no_color: Option<&str>) -> Outcome {
    let binary = env!("CARGO_BIN_EXE_kubectl-headwind");
    let mut command = std::process::Command::new("script");
    command
        .args(["--quiet", "--return", "--command"])
        .arg(format!("{binary} {args}"))
        .arg("/dev/null")
        .env("HEADWIND_API_URL", server.url())
        .env("KUBECONFIG", server.no_kubeconfig())
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::null());
    if let Some(value) = no_color {
        command.env("NO_COLOR", value);
    }

    Outcome::of(&mut command)
}

#[test]
fn every_command_has_help() {
    let server = Server::start();

    for command in ["list", "approve", "reject", "history", "rollback"] {
        let out = server.run(&[command, "--help"]);

        let help = out.success();
        assert!(
            help.contains(&format!("Usage: kubectl headwind {command}")),
            "{help}"
        );
        for global in ["--api-url", "--namespace", "--approver", "--output"] {
            assert!(help.contains(global), "{command} --help lacks {global}");
        }
    }
    let top = server.run(&["--help"]);
    for command in ["list", "approve", "reject", "history", "rollback"] {
        assert!(top.success().contains(command), "{}", top.stdout);
    }
    assert!(top.stdout.contains("[env: HEADWIND_API_URL="));
    assert!(top.stdout.contains("[default: http://localhost:8081]"));
}
