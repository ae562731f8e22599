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
        ..Config::default()
    };

    let running = match server::start(config).await {
        Ok(running) => running,
        Err(error) => {
            tracing::error!(error = %headwind::core::error_chain(&error), "headwind did not start");
            eprintln!("error: {}", headwind::core::error_chain(&error));
            return ExitCode::FAILURE;
        }
    };

    shutdown_signal().await;
    tracing::info!("shutting down; finishing requests in flight");

    match running.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "a listener failed");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
