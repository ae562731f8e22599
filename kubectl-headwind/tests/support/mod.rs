//! The real headwind server on the memory backend with its demo data, on ephemeral loopback
//! ports, and a runner for the `kubectl-headwind` binary against it.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test file uses a different part of this module"
)]

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{TimeDelta, Utc};
use headwind::core::policy::Policy;
use headwind::core::store::{HistoryStore, UpdateStore};
use headwind::core::types::{EntryKind, HistoryEntry, ObjectKey, UpdateRequest, WorkloadRef};
use headwind::server::{self, Config, MemoryBackends, Running};
use tempfile::TempDir;

/// The demo request of the example server.
pub const DEMO_REQUEST: &str = "nginx-update-1-26-0";

/// The demo Deployment of the example server.
pub const DEMO_DEPLOYMENT: &str = "nginx-example";

/// A started server, stopped when dropped, and a scratch directory for kubeconfig files.
pub struct Server {
    runtime: tokio::runtime::Runtime,
    running: Option<Running>,
    dir: TempDir,
}

impl Server {
    /// The example server with its demo data.
    ///
    /// It runs on the worker threads of its own runtime, so a test thread blocked on a child
    /// process never keeps it from answering.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime builds");
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let config = Config {
            webhook_addr: loopback,
            api_addr: loopback,
            metrics_addr: loopback,
            ..Config::default()
        };

        let running = runtime
            .block_on(server::start(config))
            .expect("server starts");

        Self {
            runtime,
            running: Some(running),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn running(&self) -> &Running {
        self.running.as_ref().expect("server running")
    }

    /// The base URL of the API.
    pub fn url(&self) -> String {
        format!("http://{}", self.running().api_addr)
    }

    /// The memory backends, to arrange and inspect state.
    pub fn memory(&self) -> &MemoryBackends {
        self.running().memory.as_ref().expect("memory backend")
    }

    /// Runs a future on the server's runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The stored update request `namespace/name`.
    pub fn request(&self, namespace: &str, name: &str) -> UpdateRequest {
        let key = ObjectKey::new(namespace, name).unwrap();

        self.block_on(self.memory().updates.get(&key))
            .expect("request stored")
    }

    /// Stores a Pending request `name` in `namespace` for container `web` of Deployment `web`.
    pub fn add_request(&self, namespace: &str, name: &str) {
        let workload = WorkloadRef::deployment(namespace, "web").unwrap();
        let request = UpdateRequest::pending(
            name,
            &workload,
            "web",
            ("web:1.0.0", "web:1.1.0"),
            Policy::Patch,
            Utc::now(),
        );

        self.block_on(self.memory().updates.create(request))
            .expect("request created");
    }

    /// Records that `container` of Deployment `namespace/deployment` got `image` `hours_ago`.
    pub fn add_history(
        &self,
        namespace: &str,
        deployment: &str,
        container: &str,
        image: &str,
        hours_ago: i64,
    ) {
        let workload = WorkloadRef::deployment(namespace, deployment).unwrap();
        let entry = HistoryEntry {
            container: container.to_owned(),
            image: image.to_owned(),
            timestamp: Utc::now() - TimeDelta::hours(hours_ago),
            update_request_name: None,
            approved_by: "test".to_owned(),
            kind: EntryKind::Update,
        };

        self.block_on(self.memory().history.append(&workload, entry))
            .expect("history appended");
    }

    /// The image a container of a Deployment runs now.
    pub fn live_image(&self, namespace: &str, deployment: &str, container: &str) -> String {
        let workload = WorkloadRef::deployment(namespace, deployment).unwrap();

        self.memory()
            .deployer
            .workloads()
            .into_iter()
            .find(|w| w.reference == workload)
            .and_then(|w| w.container(container).map(|c| c.image.clone()))
            .expect("container exists")
    }

    /// A kubeconfig whose current context has `namespace`.
    pub fn kubeconfig_with_namespace(&self, namespace: &str) -> PathBuf {
        let path = self.dir.path().join(format!("kubeconfig-{namespace}"));
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: work\ncontexts:\n\
             - name: other\n  context: {{cluster: c, namespace: elsewhere}}\n\
             - name: work\n  context: {{cluster: c, user: u, namespace: {namespace}}}\n"
        );
        std::fs::write(&path, text).expect("kubeconfig written");

        path
    }

    /// A kubeconfig path with no file behind it.
    pub fn no_kubeconfig(&self) -> PathBuf {
        self.dir.path().join("absent")
    }

    /// The plugin pointed at this server, with no kubeconfig file and `NO_COLOR=1`.
    pub fn plugin(&self) -> Command {
        plugin(&self.url(), &self.no_kubeconfig())
    }

    /// Runs the plugin with `args` against this server.
    pub fn run(&self, args: &[&str]) -> Outcome {
        let mut command = self.plugin();
        command.args(args);

        Outcome::of(&mut command)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = self.runtime.block_on(running.shutdown());
        }
    }
}

/// The plugin binary with a clean environment: the API at `api_url`, the kubeconfig at
/// `kubeconfig`, no approver, no colour, and stdin that is not a terminal.
pub fn plugin(api_url: &str, kubeconfig: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubectl-headwind"));
    command
        .env("HEADWIND_API_URL", api_url)
        .env("KUBECONFIG", kubeconfig)
        .env("NO_COLOR", "1")
        .env_remove("HEADWIND_APPROVER")
        .stdin(Stdio::null());

    command
}

/// A loopback address with nothing listening on it.
pub fn dead_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");

    listener.local_addr().expect("address")
}

/// How a run of the plugin ended.
#[derive(Debug)]
pub struct Outcome {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

impl Outcome {
    /// Runs `command` to the end.
    pub fn of(command: &mut Command) -> Self {
        let output = command.output().expect("plugin runs");

        Self {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Asserts exit code 0 and returns stdout.
    #[track_caller]
    pub fn success(&self) -> &str {
        assert_eq!(self.code, Some(0), "{self:#?}");
        &self.stdout
    }

    /// Asserts exit code 1 with nothing on stdout and returns stderr.
    #[track_caller]
    pub fn failure(&self) -> &str {
        assert_eq!(self.code, Some(1), "{self:#?}");
        assert_eq!(self.stdout, "", "{self:#?}");
        &self.stderr
    }

    /// The whitespace-separated words of each stdout line.
    pub fn rows(&self) -> Vec<Vec<String>> {
        self.stdout
            .lines()
            .map(|line| line.split_whitespace().map(str::to_owned).collect())
            .collect()
    }
}
