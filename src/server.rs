//! The headwind server: three listeners over one set of backends.
//!
//! [`start`] binds the webhook, API and metrics listeners, builds the backends, and serves until
//! [`Running::shutdown`] is called; requests in flight are finished first. The example server
//! (`examples/server`) wraps this in a command line; tests start it on ephemeral ports.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use headwind_core::detect::DetectConfig;
use headwind_core::memory::{MemoryDeployer, MemoryHistoryStore, MemoryUpdateStore};
use headwind_core::policy::Policy;
use headwind_core::store::{HistoryStore, UpdateStore};
use headwind_core::types::{
    Container, EntryKind, HistoryEntry, UpdateRequest, Workload, WorkloadRef,
};
use headwind_http::{
    ApiState, Limits, WebhookConfig, api_router, layers, metrics_router, webhook_router,
};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::info;

use headwind_kube::KubeBackends;
use headwind_kube::events::KubeEvents;

use crate::workloads::{self, ManifestError};

/// Which backends the server runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The in-memory backends of `headwind-core`: no cluster needed, nothing persisted.
    Memory,
    /// Kubernetes, through `headwind-kube`.
    Kube,
}

/// How to run the server.
#[derive(Clone)]
pub struct Config {
    /// Address of the webhook listener.
    pub webhook_addr: SocketAddr,
    /// Address of the API listener.
    pub api_addr: SocketAddr,
    /// Address of the metrics listener.
    pub metrics_addr: SocketAddr,
    /// The backends.
    pub backend: Backend,
    /// Whether to load the demo workload and request (memory backend only).
    pub demo: bool,
    /// Manifests of workloads to load (memory backend only).
    pub workloads: Option<PathBuf>,
    /// Limits of the standard middleware.
    pub limits: Limits,
    /// Webhook secrets and registry host.
    pub webhooks: WebhookConfig,
    /// The client of the kube backend; `None` uses the kubeconfig or in-cluster configuration.
    pub kube_client: Option<kube::Client>,
    /// Whether the kube backend runs the reconcile loop (finishing and expiring requests).
    pub controller: bool,
    /// Settings of update detection.
    pub detect: DetectConfig,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("webhook_addr", &self.webhook_addr)
            .field("api_addr", &self.api_addr)
            .field("metrics_addr", &self.metrics_addr)
            .field("backend", &self.backend)
            .field("demo", &self.demo)
            .field("workloads", &self.workloads)
            .field("webhooks", &self.webhooks)
            .field("controller", &self.controller)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            webhook_addr: SocketAddr::from(([0, 0, 0, 0], 8080)),
            api_addr: SocketAddr::from(([0, 0, 0, 0], 8081)),
            metrics_addr: SocketAddr::from(([0, 0, 0, 0], 9090)),
            backend: Backend::Memory,
            demo: true,
            workloads: None,
            limits: Limits::default(),
            webhooks: WebhookConfig::new(),
            kube_client: None,
            controller: true,
            detect: DetectConfig::default(),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not bind its address (in use, or not permitted).
    #[error("cannot listen on {addr} ({listener} listener)")]
    Bind {
        /// Which listener.
        listener: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The workloads file could not be read.
    #[error("cannot read workloads file {path}")]
    ReadWorkloads {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The workloads file does not parse.
    #[error("workloads file {path} refused")]
    ParseWorkloads {
        /// The file.
        path: PathBuf,
        /// Which document and why.
        #[source]
        source: ManifestError,
    },

    /// No Kubernetes client could be configured (no kubeconfig, not in a cluster).
    #[error("cannot reach Kubernetes: no usable kubeconfig or in-cluster configuration")]
    Kube {
        /// kube's error.
        #[source]
        source: kube::Error,
    },
}

/// A started server.
#[derive(Debug)]
pub struct Running {
    /// Where the webhook listener listens.
    pub webhook_addr: SocketAddr,
    /// Where the API listener listens.
    pub api_addr: SocketAddr,
    /// Where the metrics listener listens.
    pub metrics_addr: SocketAddr,
    /// The in-memory backends, when the server runs on them.
    pub memory: Option<MemoryBackends>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<std::io::Result<()>>,
    /// The Kubernetes backends, kept alive for their watchers.
    kube: Option<KubeBackends>,
    /// The controller, when running.
    background: Vec<tokio::task::JoinHandle<()>>,
}

/// The in-memory backends of a server, for inspection by tests and embedders.
#[derive(Clone, Debug)]
pub struct MemoryBackends {
    /// The update store.
    pub updates: Arc<MemoryUpdateStore>,
    /// The deployer.
    pub deployer: Arc<MemoryDeployer>,
    /// The history store.
    pub history: Arc<MemoryHistoryStore>,
}

impl Running {
    /// Stops accepting connections, finishes the requests in flight, and returns.
    ///
    /// # Errors
    ///
    /// The first I/O error a listener ended with.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        for task in &self.background {
            task.abort();
        }
        drop(self.kube.take());

        let mut result = Ok(());
        while let Some(joined) = self.tasks.join_next().await {
            let ended = joined.unwrap_or_else(|e| Err(std::io::Error::other(e)));
            if result.is_ok() {
                result = ended;
            }
        }
        info!("server stopped");

        result
    }
}

/// Builds the backends, binds the three listeners and starts serving.
///
/// # Errors
///
/// [`StartError`] when a listener cannot bind, the workloads file is unreadable or refused, or
/// the backend is not available.
pub async fn start(config: Config) -> Result<Running, StartError> {
    // Background loops start only once every listener is bound, so a failed start leaves none
    // running.
    let mut background: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> =
        Vec::new();
    let mut kube_backends = None;
    let (state, memory) = match config.backend {
        Backend::Memory => {
            let memory = memory_backends(&config).await?;
            let state = ApiState::new(
                memory.updates.clone(),
                memory.deployer.clone(),
                memory.history.clone(),
            )
            .with_detection(memory.deployer.clone(), config.detect.clone())
            .with_webhooks(config.webhooks.clone());
            background.push(Box::pin(maintain(state.approvals().clone())));
            (state, Some(memory))
        }
        Backend::Kube => {
            let client = match config.kube_client.clone() {
                Some(client) => client,
                None => kube::Client::try_default()
                    .await
                    .map_err(|source| StartError::Kube { source })?,
            };
            let backends = KubeBackends::start(client.clone());
            let pod = std::env::var("POD_NAME").ok();
            let events = Arc::new(KubeEvents::new(client.clone(), "headwind", pod));
            let state = ApiState::new(
                backends.updates.clone(),
                backends.deployer.clone(),
                backends.history.clone(),
            )
            .with_events(events)
            .with_detection(backends.deployer.clone(), config.detect.clone())
            .with_webhooks(config.webhooks.clone());
            if config.controller {
                let approvals = state.approvals().clone();
                let ready = backends.updates.clone();
                let metrics = state.metrics().clone();
                let controller = headwind_kube::controller::run(client, approvals, ready, metrics);
                background.push(Box::pin(controller));
            }
            kube_backends = Some(backends);
            (state, None)
        }
    };

    let open = config.webhooks.unprotected();
    if !open.is_empty() {
        tracing::warn!(
            endpoints = ?open,
            "webhook endpoints take requests without a secret; set one per registry to refuse forged pushes"
        );
    }

    let webhook = bind("webhook", config.webhook_addr).await?;
    let api = bind("api", config.api_addr).await?;
    let metrics = bind("metrics", config.metrics_addr).await?;
    let local = |l: &TcpListener, addr| l.local_addr().unwrap_or(addr);
    let webhook_addr = local(&webhook, config.webhook_addr);
    let api_addr = local(&api, config.api_addr);
    let metrics_addr = local(&metrics, config.metrics_addr);

    let background: Vec<_> = background.into_iter().map(tokio::spawn).collect();
    let (shutdown, signal) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let routers = [
        (
            webhook,
            layers(webhook_router(state.clone()), &config.limits),
        ),
        (api, layers(api_router(state.clone()), &config.limits)),
        (metrics, layers(metrics_router(state), &config.limits)),
    ];
    for (listener, router) in routers {
        let mut signal = signal.clone();
        let stopped = async move {
            let _ = signal.wait_for(|stop| *stop).await;
        };
        tasks.spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(stopped)
                .await
        });
    }

    let backend = match config.backend {
        Backend::Memory => "memory",
        Backend::Kube => "kube",
    };
    info!(%webhook_addr, %api_addr, %metrics_addr, backend, "headwind listening");

    Ok(Running {
        webhook_addr,
        api_addr,
        metrics_addr,
        memory,
        shutdown,
        tasks,
        kube: kube_backends,
        background,
    })
}

/// How often the memory backend's requests are checked for deadlines and interrupted applies.
const MAINTENANCE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// On the memory backend, what the Kubernetes controller does: expires Pending requests at
/// their deadline and finishes requests left Approved.
async fn maintain(approvals: headwind_core::ApprovalService) {
    let mut tick = tokio::time::interval(MAINTENANCE_INTERVAL);
    loop {
        tick.tick().await;
        match approvals.expire_overdue(Utc::now()).await {
            Ok(0) => {}
            Ok(expired) => info!(expired, "expired overdue update requests"),
            Err(error) => tracing::warn!(%error, "could not expire overdue requests"),
        }
        if let Err(error) = approvals.resume_all().await {
            tracing::warn!(%error, "could not resume approved requests");
        }
    }
}

async fn bind(listener: &'static str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind {
            listener,
            addr,
            source,
        })
}

async fn memory_backends(config: &Config) -> Result<MemoryBackends, StartError> {
    let memory = MemoryBackends {
        updates: Arc::new(MemoryUpdateStore::new()),
        deployer: Arc::new(MemoryDeployer::new()),
        history: Arc::new(MemoryHistoryStore::new()),
    };

    if let Some(path) = &config.workloads {
        let text =
            tokio::fs::read_to_string(path)
                .await
                .map_err(|source| StartError::ReadWorkloads {
                    path: path.clone(),
                    source,
                })?;
        let loaded = workloads::parse(&text).map_err(|source| StartError::ParseWorkloads {
            path: path.clone(),
            source,
        })?;
        info!(path = %path.display(), workloads = loaded.len(), "workloads loaded");
        for workload in loaded {
            memory.deployer.insert(workload);
        }
    }
    if config.demo {
        load_demo(&memory).await;
        info!(
            "demo data loaded: Deployment default/nginx-example, UpdateRequest default/nginx-update-1-26-0"
        );
    }

    Ok(memory)
}

/// The demo: a Deployment `default/nginx-example` on `nginx:1.25.0` under the `minor` policy,
/// one earlier update in its history, and a Pending request to move it to `nginx:1.26.0`. Every
/// curl example of the API reference works against it.
pub async fn load_demo(memory: &MemoryBackends) {
    let workload = demo_workload();
    let container = Container {
        name: "nginx".to_owned(),
        image: "nginx:1.25.0".to_owned(),
    };
    memory.deployer.insert(
        Workload::new(workload.clone(), vec![container])
            .with_annotation("headwind.sh/policy", "minor")
            .with_annotation("headwind.sh/require-approval", "true"),
    );

    let now = Utc::now();
    let earlier = HistoryEntry {
        container: "nginx".to_owned(),
        image: "nginx:1.25.0".to_owned(),
        timestamp: now - TimeDelta::days(1),
        update_request_name: Some("nginx-update-1-25-0".to_owned()),
        approved_by: "webhook".to_owned(),
        kind: EntryKind::Update,
    };
    // The memory history store only fails for unknown workloads, and it has none.
    let _ = memory.history.append(&workload, earlier).await;

    let request = demo_request(&workload, now);
    if let Err(error) = memory.updates.create(request).await {
        tracing::warn!(%error, "demo request not created");
    }
}

fn demo_workload() -> WorkloadRef {
    WorkloadRef {
        kind: headwind_core::types::WorkloadKind::Deployment,
        namespace: "default".to_owned(),
        name: "nginx-example".to_owned(),
    }
}

fn demo_request(workload: &WorkloadRef, now: DateTime<Utc>) -> UpdateRequest {
    UpdateRequest::pending(
        "nginx-update-1-26-0",
        workload,
        "nginx",
        ("nginx:1.25.0", "nginx:1.26.0"),
        Policy::Minor,
        now,
    )
    .with_reason("nginx:1.26.0 is a newer minor version, allowed by policy minor")
}
