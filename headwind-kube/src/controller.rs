//! The reconcile loop: finishes requests left Approved and expires Pending ones past their
//! deadline.
//!
//! Each UpdateRequest is reconciled when it changes and again when its deadline comes. Every
//! transition goes through the [`ApprovalService`], whose compare-and-swap makes it happen once,
//! so several replicas may run this loop at the same time without a lease: a replica that loses
//! a race gets a conflict or finds the request already moved on, and does nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use headwind_core::ApprovalService;
use headwind_core::approval::transition;
use headwind_core::events::{Event, Observer};
use headwind_core::store::UpdateStore;
use headwind_core::types::{ObjectKey, Phase};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tracing::{debug, info, warn};

use crate::crd::{self, UpdateRequest};

/// How soon a request is looked at again when the cache has not caught up with it yet.
const RECHECK: Duration = Duration::from_secs(5);

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The approval service failed for the request.
    #[error("reconciling update request {key} failed")]
    Approval {
        /// The request.
        key: ObjectKey,
        /// The service's error.
        #[source]
        source: Box<headwind_core::approval::Error>,
    },
}

impl Error {
    /// A short snake_case label for logs and metrics.
    #[must_use]
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Approval { source, .. } => source.label(),
        }
    }
}

struct Context {
    approvals: ApprovalService,
    observer: Arc<dyn Observer>,
}

/// Runs the loop until the watch stream ends (it does not, short of a shutdown). Waits for the
/// backends' caches first (`ready`), so that the first pass sees every request. Each reconcile
/// is reported to `observer` as [`Event::Reconciled`] (duration and error).
pub async fn run(
    client: Client,
    approvals: ApprovalService,
    ready: Arc<dyn UpdateStore>,
    observer: Arc<dyn Observer>,
) {
    while !ready.is_ready() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    match approvals.resume_all().await {
        Ok(summary) => info!(?summary, "resumed interrupted requests"),
        Err(error) => warn!(%error, "could not resume interrupted requests at start"),
    }

    let api: Api<UpdateRequest> = Api::all(client);
    let context = Arc::new(Context {
        approvals,
        observer,
    });

    Controller::new(api, watcher::Config::default())
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                debug!(%error, "reconcile stream item failed");
            }
        })
        .await;
}

async fn reconcile(object: Arc<UpdateRequest>, context: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = decide(&object, &context).await;

    let error = result.as_ref().err().map(Error::metric_label);
    let seconds = started.elapsed().as_secs_f64();
    context
        .observer
        .observe(&Event::Reconciled { seconds, error });

    result
}

async fn decide(object: &UpdateRequest, context: &Context) -> Result<Action, Error> {
    let request = crd::to_core(object);
    let key = request.key();
    let now = Utc::now();
    let approval_error = |source| Error::Approval {
        key: key.clone(),
        source: Box::new(source),
    };

    match request.status.phase {
        Phase::Approved => {
            let after = context.approvals.resume(&key).await;
            match after {
                Ok(current) if current.status.phase == Phase::Approved => {
                    Ok(Action::requeue(RECHECK))
                }
                // The cache has not seen the Approved write yet; look again shortly.
                Ok(current) if current.status.phase == Phase::Pending => {
                    Ok(Action::requeue(RECHECK))
                }
                Ok(_) | Err(headwind_core::approval::Error::ApplyFailed { .. }) => {
                    Ok(Action::await_change())
                }
                Err(error) => Err(approval_error(error)),
            }
        }
        Phase::Pending => match request.spec.expires_at {
            Some(_) if transition::is_overdue(&request.spec, now) => {
                match context.approvals.expire(&key, now).await {
                    Ok(_) | Err(headwind_core::approval::Error::Transition { .. }) => {
                        Ok(Action::await_change())
                    }
                    Err(error) => Err(approval_error(error)),
                }
            }
            Some(at) => {
                let wait = (at - now).to_std().unwrap_or(RECHECK);
                debug!(name = %object.name_any(), ?wait, "pending until its deadline");
                Ok(Action::requeue(wait))
            }
            None => Ok(Action::await_change()),
        },
        _ => Ok(Action::await_change()),
    }
}

fn error_policy(_object: Arc<UpdateRequest>, error: &Error, _context: Arc<Context>) -> Action {
    warn!(%error, label = error.metric_label(), "reconcile failed; retrying in 30s");
    Action::requeue(Duration::from_secs(30))
}
