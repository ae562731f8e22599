//! The headwind server.
//!
//! Runs the webhook (8080), API (8081) and metrics (9090) listeners on the embedded in-memory
//! backend, with demo data unless `--no-demo`:
//!
//! ```text
//! cargo run --release --example server
//! curl http://localhost:8081/api/v1/updates
//! ```
//!
//! Every flag has an environment variable; `--help` lists them.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use std::time::Duration;

use headwind::core::detect::DetectConfig;
use headwind::http::{Source, WebhookConfig};
use headwind::server::{self, Backend, Config};
use tracing_subscriber::EnvFilter;

/// Approval-gated container image updates.
#[derive(Debug, Parser)]
#[command(name = "headwind", version)]
struct Args {
    /// Address of the registry webhook listener.
    #[arg(long, env = "HEADWIND_WEBHOOK_ADDR", default_value = "0.0.0.0:8080")]
    webhook_addr: SocketAddr,

    /// Address of the approval and rollback API listener.
    #[arg(long, env = "HEADWIND_API_ADDR", default_value = "0.0.0.0:8081")]
    api_addr: SocketAddr,

    /// Address of the Prometheus metrics listener.
    #[arg(long, env = "HEADWIND_METRICS_ADDR", default_value = "0.0.0.0:9090")]
    metrics_addr: SocketAddr,

    /// Where update requests, workloads and history live.
    #[arg(long, env = "HEADWIND_BACKEND", value_enum, default_value_t = BackendArg::Memory)]
    backend: BackendArg,

    /// Do not load the demo workload and update request (memory backend).
    #[arg(long, env = "HEADWIND_NO_DEMO")]
    no_demo: bool,

    /// Load the Deployments, StatefulSets and DaemonSets of this multi-document YAML file into
    /// the memory backend.
    #[arg(long, env = "HEADWIND_WORKLOADS", value_name = "FILE")]
    workloads: Option<PathBuf>,

    /// Token the Docker Hub webhook must carry (`?token=` in the webhook URL).
    #[arg(long, env = "HEADWIND_DOCKERHUB_TOKEN", hide_env_values = true)]
    dockerhub_token: Option<String>,

    /// Token the distribution registry webhook must carry (`Authorization: Bearer`).
    #[arg(long, env = "HEADWIND_REGISTRY_TOKEN", hide_env_values = true)]
    registry_token: Option<String>,

    /// Token the Harbor webhook must carry (its auth header).
    #[arg(long, env = "HEADWIND_HARBOR_TOKEN", hide_env_values = true)]
    harbor_token: Option<String>,

    /// Token the Quay webhook must carry (`?token=` in the webhook URL).
    #[arg(long, env = "HEADWIND_QUAY_TOKEN", hide_env_values = true)]
    quay_token: Option<String>,

    /// Token the Azure Container Registry webhook must carry (`Authorization: Bearer`).
    #[arg(long, env = "HEADWIND_ACR_TOKEN", hide_env_values = true)]
    acr_token: Option<String>,

    /// Secret GitHub signs `registry_package` webhooks with (HMAC-SHA256).
    #[arg(long, env = "HEADWIND_GHCR_SECRET", hide_env_values = true)]
    ghcr_secret: Option<String>,

    /// Registry host of distribution and ACR events, instead of the host in each event.
    #[arg(long, env = "HEADWIND_REGISTRY_HOST")]
    registry_host: Option<String>,

    /// Seconds a created update request stays approvable; 0 for no deadline.
    #[arg(long, env = "HEADWIND_APPROVAL_TTL", default_value_t = 7 * 24 * 3600)]
    approval_ttl: u64,

    /// Log line format.
    #[arg(long, env = "HEADWIND_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    /// Log filter: a level (`info`, `debug`) or a tracing filter directive.
    #[arg(long, env = "HEADWIND_LOG_LEVEL", default_value = "info")]
    log_level: String,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BackendArg {
    Memory,
    Kube,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let filter = match EnvFilter::try_new(&args.log_level) {
        Ok(filter) => filter,
        Err(error) => {
            eprintln!("error: invalid --log-level {:?}: {error}", args.log_level);
            return ExitCode::from(2);
        }
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal());
    match args.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }

    let secrets = [
        (Source::DockerHub, &args.dockerhub_token),
        (Source::Registry, &args.registry_token),
        (Source::Harbor, &args.harbor_token),
        (Source::Quay, &args.quay_token),
        (Source::Acr, &args.acr_token),
        (Source::Ghcr, &args.ghcr_secret),
    ];
    let mut webhooks = WebhookConfig::new();
    for (source, secret) in secrets {
        if let Some(secret) = secret {
            webhooks = webhooks.with_secret(source, secret);
        }
    }
    if let Some(host) = &args.registry_host {
        webhooks = webhooks.with_registry_host(host);
    }
    let ttl = (args.approval_ttl > 0).then(|| Duration::from_secs(args.approval_ttl));

    let config = Config {
        webhook_addr: args.webhook_addr,
        api_addr: args.api_addr,
        metrics_addr: args.metrics_addr,
        backend: match args.backend {
            BackendArg::Memory => Backend::Memory,
            BackendArg::Kube => Backend::Kube,
        },
        demo: !args.no_demo,
        workloads: args.workloads,
        webhooks,
        detect: DetectConfig { approval_ttl: ttl },
        ..Config::default()
    };

    let stop = shutdown_signal();
    let running = match server::start(config).await {
        Ok(running) => running,
        Err(error) => {
            tracing::error!(error = %headwind::core::error_chain(&error), "headwind did not start");
            eprintln!("error: {}", headwind::core::error_chain(&error));
            return ExitCode::FAILURE;
        }
    };

    stop.await;
    tracing::info!("shutting down; finishing requests in flight");

    match running.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "a listener failed");
            ExitCode::FAILURE
        }
    }
}

/// Registers for SIGTERM and Ctrl-C and answers a future that completes on either. The
/// handlers are installed when this is called, not when the future is first polled, so a signal
/// that arrives while the server starts is not missed.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };

    async move {
        #[cfg(unix)]
        {
            let (mut term, mut int) = handlers;
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => drop(s.recv().await),
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(term.take()) => {}
                () = wait(int.take()) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
