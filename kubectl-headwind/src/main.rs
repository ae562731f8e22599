//! `kubectl headwind`: list, approve and reject update requests, and read history and roll
//! back, through headwind's HTTP API.
//!
//! kubectl runs any `kubectl-NAME` binary on the `PATH` as `kubectl NAME`. The API is reached at
//! `--api-url` (`HEADWIND_API_URL`, default `http://localhost:8081`, where
//! `kubectl port-forward -n headwind-system svc/headwind-api 8081:8081` puts it). Results go to
//! stdout as a table, JSON or YAML; errors go to stderr with the exit status 1.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use chrono::Utc;
use clap::{Parser, Subcommand, ValueEnum};
use headwind_core::types::{EntryKind, Phase, UpdateRequest};
use headwind_http::routes::rollback::{HistoryResponse, RollbackResponse};
use headwind_http::routes::updates::DecisionResponse;
use kubectl_headwind::table::{Cell, Style, Table, colour_enabled, phase_style};
use kubectl_headwind::{HeadwindClient, age, choose, client, kubeconfig};
use serde::Serialize;

/// How to reach the API when it cannot be reached at the configured address.
const PORT_FORWARD: &str = "kubectl port-forward -n headwind-system svc/headwind-api 8081:8081";

/// Approval-gated image updates: list, approve and reject update requests, read a workload's
/// history and roll it back.
#[derive(Debug, Parser)]
#[command(name = "kubectl-headwind", bin_name = "kubectl headwind", version)]
struct Cli {
    /// Base URL of the headwind API.
    #[arg(
        long,
        global = true,
        env = "HEADWIND_API_URL",
        default_value = "http://localhost:8081"
    )]
    api_url: String,

    /// Namespace to act in [default: the namespace of the current kubeconfig context, else
    /// `default`].
    #[arg(short, long, global = true)]
    namespace: Option<String>,

    /// Who approves, rejects or rolls back, as recorded in the request and the history.
    #[arg(long, global = true, env = "HEADWIND_APPROVER")]
    approver: Option<String>,

    /// Output format.
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Table)]
    output: Format,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List update requests: the Pending ones, or all with --all.
    List {
        /// Show requests in every phase, not only Pending.
        #[arg(long)]
        all: bool,

        /// List the requests of every namespace; --namespace is ignored.
        #[arg(short = 'A', long)]
        all_namespaces: bool,
    },

    /// Approve an update request; the new image is applied once enough approvers agree.
    Approve {
        /// Name of the UpdateRequest.
        name: String,
    },

    /// Reject an update request; its image is not proposed again for that container.
    Reject {
        /// Name of the UpdateRequest.
        name: String,

        /// Why it is rejected.
        reason: Option<String>,
    },

    /// Show the images applied to a Deployment, newest first.
    History {
        /// Name of the Deployment.
        deployment: String,
    },

    /// Roll a container of a Deployment back to its previous image.
    Rollback {
        /// Name of the Deployment.
        deployment: String,

        /// The container to roll back [default: the only one; asked on a terminal when there
        /// are several].
        container: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Aligned columns, like `kubectl get`.
    Table,
    /// The API's answer as JSON.
    Json,
    /// The API's answer as YAML.
    Yaml,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Client(#[from] client::Error),

    #[error(transparent)]
    Kubeconfig(#[from] kubeconfig::Error),

    #[error(transparent)]
    Choose(#[from] choose::Error),

    #[error("{workload} has no containers")]
    NoContainers { workload: String },

    #[error("{workload} has {count} containers; pass CONTAINER to choose one: {usage}")]
    ContainerNeeded {
        workload: String,
        count: usize,
        list: String,
        usage: String,
    },

    #[error("cannot write the output")]
    Write(#[from] io::Error),

    #[error("cannot encode the output as JSON")]
    Json(#[from] serde_json::Error),

    #[error("cannot encode the output as YAML")]
    Yaml(#[from] serde_yaml::Error),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let api_url = cli.api_url.clone();

    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(failure) => {
            report(&failure, &api_url);
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let client = HeadwindClient::new(&cli.api_url)?;
    let approver = cli.approver.as_deref().filter(|a| !a.is_empty());
    let out = Output::new(cli.output);

    match &cli.command {
        Command::List {
            all,
            all_namespaces,
        } => {
            let namespace = if *all_namespaces {
                None
            } else {
                Some(namespace(&cli)?)
            };
            list(&client, &out, namespace.as_deref(), *all).await
        }
        Command::Approve { name } => {
            let namespace = namespace(&cli)?;
            let answer = client.approve(&namespace, name, approver).await?;
            out.decision(&answer)
        }
        Command::Reject { name, reason } => {
            let namespace = namespace(&cli)?;
            let reason = reason.as_deref();
            let answer = client.reject(&namespace, name, reason, approver).await?;
            out.decision(&answer)
        }
        Command::History { deployment } => {
            let namespace = namespace(&cli)?;
            let answer = client.history(&namespace, deployment).await?;
            out.history(&answer)
        }
        Command::Rollback {
            deployment,
            container,
        } => {
            let namespace = namespace(&cli)?;
            let container = match container {
                Some(container) => container.clone(),
                None => pick_container(&client, &namespace, deployment).await?,
            };

            let answer = client
                .rollback(&namespace, deployment, &container, approver)
                .await?;
            out.rollback(&answer)
        }
    }
}

/// `--namespace`, else the kubeconfig's.
fn namespace(cli: &Cli) -> Result<String, Failure> {
    match &cli.namespace {
        Some(namespace) => Ok(namespace.clone()),
        None => Ok(kubeconfig::current_namespace()?),
    }
}

async fn list(
    client: &HeadwindClient,
    out: &Output,
    namespace: Option<&str>,
    all: bool,
) -> Result<(), Failure> {
    let mut requests = client.list_updates(namespace).await?;
    if !all {
        requests.retain(|r| r.status.phase == Phase::Pending);
    }

    if out.format == Format::Table && requests.is_empty() {
        let what = if all { "update" } else { "pending update" };
        let scope = namespace.map(|ns| format!(" in {ns} namespace"));
        eprintln!("No {what} requests found{}.", scope.unwrap_or_default());
        return Ok(());
    }

    out.serialised_or(&requests, || {
        requests_table(&requests, namespace.is_none()).render(out.colour)
    })
}

fn requests_table(requests: &[UpdateRequest], with_namespace: bool) -> Table {
    let columns = [
        "NAME",
        "TARGET",
        "CONTAINER",
        "CURRENT",
        "NEW",
        "POLICY",
        "PHASE",
        "AGE",
    ];
    let namespace = with_namespace.then_some("NAMESPACE");
    let mut table = Table::new(namespace.into_iter().chain(columns));
    let now = Utc::now();

    for request in requests {
        let spec = &request.spec;
        let created = request
            .status
            .created_at
            .or(request.metadata.creation_timestamp);
        let age = created.map_or_else(|| "<unknown>".to_owned(), |at| age::since(at, now));
        let phase = request.status.phase;

        let mut row: Vec<Cell> = Vec::new();
        if with_namespace {
            row.push(request.metadata.namespace.as_str().into());
        }
        row.extend([
            request.metadata.name.as_str().into(),
            format!("{}/{}", spec.target_ref.kind, spec.target_ref.name).into(),
            spec.container_name.as_str().into(),
            spec.current_image.as_str().into(),
            spec.new_image.as_str().into(),
            spec.policy.as_str().into(),
            Cell::styled(phase.as_str(), phase_style(phase)),
            age.into(),
        ]);
        table.push(row);
    }

    table
}

fn history_table(history: &HistoryResponse) -> Table {
    let headers = [
        "CONTAINER",
        "IMAGE",
        "AGE",
        "UPDATE REQUEST",
        "APPROVED BY",
        "KIND",
    ];
    let mut table = Table::new(headers);
    let now = Utc::now();

    for entry in &history.history {
        let kind = match entry.kind {
            EntryKind::Baseline => "baseline",
            EntryKind::Update => "update",
            EntryKind::Rollback => "rollback",
        };
        table.push(vec![
            entry.container.as_str().into(),
            entry.image.as_str().into(),
            age::since(entry.timestamp, now).into(),
            entry.update_request_name.clone().unwrap_or_default().into(),
            entry.approved_by.as_str().into(),
            kind.into(),
        ]);
    }

    table
}

/// Asks the API for the workload's containers and picks one: the only one, or the one a person
/// at the terminal chooses.
async fn pick_container(
    client: &HeadwindClient,
    namespace: &str,
    deployment: &str,
) -> Result<String, Failure> {
    let workload = client.workload(namespace, deployment).await?;
    let label = format!("{} {}/{}", workload.kind, workload.namespace, workload.name);

    match workload.containers.as_slice() {
        [] => Err(Failure::NoContainers { workload: label }),
        [only] => Ok(only.name.clone()),
        several if io::stdin().is_terminal() => {
            let picked = choose::prompt(&label, several, io::stdin().lock(), io::stderr())?;
            Ok(picked)
        }
        several => Err(Failure::ContainerNeeded {
            workload: label,
            count: several.len(),
            list: choose::numbered(several),
            usage: format!("kubectl headwind rollback {deployment} CONTAINER"),
        }),
    }
}

/// Where results go and in which form.
#[derive(Debug)]
struct Output {
    format: Format,
    colour: bool,
}

impl Output {
    fn new(format: Format) -> Self {
        let no_color = std::env::var_os("NO_COLOR");

        Self {
            format,
            colour: colour_enabled(io::stdout().is_terminal(), no_color.as_deref()),
        }
    }

    /// `value` as JSON or YAML, or the text `table` makes.
    fn serialised_or<T: Serialize>(
        &self,
        value: &T,
        table: impl FnOnce() -> String,
    ) -> Result<(), Failure> {
        let text = match self.format {
            Format::Table => table(),
            Format::Json => serde_json::to_string_pretty(value)? + "\n",
            Format::Yaml => serde_yaml::to_string(value)?,
        };

        let mut stdout = io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()?;

        Ok(())
    }

    fn decision(&self, answer: &DecisionResponse) -> Result<(), Failure> {
        self.serialised_or(answer, || {
            let request = &answer.update_request;
            let phase = request.status.phase;
            let shown = if self.colour {
                phase_style(phase).paint(phase.as_str())
            } else {
                phase.as_str().to_owned()
            };

            format!(
                "{}: {}/{} is {shown} ({} -> {})\n",
                answer.message,
                request.metadata.namespace,
                request.metadata.name,
                request.spec.current_image,
                request.spec.new_image
            )
        })
    }

    fn rollback(&self, answer: &RollbackResponse) -> Result<(), Failure> {
        self.serialised_or(answer, || {
            format!(
                "{}: Deployment {}/{} container {} {} -> {}\n",
                answer.message,
                answer.namespace,
                answer.deployment,
                answer.container,
                answer.previous_image,
                answer.rolled_back_to
            )
        })
    }

    fn history(&self, answer: &HistoryResponse) -> Result<(), Failure> {
        if self.format == Format::Table && answer.history.is_empty() {
            eprintln!(
                "No history found for Deployment {}/{}.",
                answer.namespace, answer.deployment
            );
            return Ok(());
        }

        self.serialised_or(answer, || history_table(answer).render(self.colour))
    }
}

/// Prints a failure to stderr: the API's own message, and for an API that cannot be reached,
/// how to reach it.
fn report(failure: &Failure, api_url: &str) {
    let no_color = std::env::var_os("NO_COLOR");
    let colour = colour_enabled(io::stderr().is_terminal(), no_color.as_deref());
    let prefix = if colour {
        Style::Red.paint("error:")
    } else {
        "error:".to_owned()
    };

    let message = match failure {
        Failure::Client(client::Error::Unreachable { source, .. }) => {
            let cause = root_cause(source);
            format!(
                "cannot reach the headwind API at {api_url} ({cause})\n\
                 Forward its port with `{PORT_FORWARD}`,\n\
                 or set HEADWIND_API_URL (or --api-url) to its address."
            )
        }
        Failure::Client(client::Error::Api { message, .. }) => message.clone(),
        Failure::Kubeconfig(error) => format!(
            "{}\nPass --namespace to choose the namespace without it.",
            headwind_core::error_chain(error)
        ),
        Failure::ContainerNeeded { list, .. } => {
            eprint!("{list}");
            failure.to_string()
        }
        other => headwind_core::error_chain(other),
    };

    eprintln!("{prefix} {message}");
}

/// The innermost cause of an error, which for a connection is the operating system's word.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }

    cause.to_string()
}
