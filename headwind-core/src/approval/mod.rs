//! Approving, rejecting, expiring and finishing update requests.
//!
//! [`transition`] holds the pure state machine; [`ApprovalService`] runs it against the three
//! backends. The order of the steps is what makes approval safe under races and crashes:
//!
//! 1. The compare-and-swap of the status from Pending to Approved decides the winner. Of any
//!    number of concurrent approve and reject calls on one request, exactly one such write
//!    succeeds; every other caller re-reads, finds the request no longer Pending, and gets
//!    [`Error::Transition`]. Only the winner goes on to deploy.
//! 2. The image is applied with the precondition that the container still runs
//!    `spec.currentImage`. A container already on `spec.newImage` counts as applied (a previous
//!    attempt got that far); any other image fails the request, overwriting nothing. When the
//!    deployer cannot be reached the outcome is unknown: the request stays Approved. Once the
//!    image is in place, `status.appliedAt` is written (still Approved), so that a later attempt
//!    never applies it again, even if a person has changed the workload since.
//! 3. History is appended: a baseline entry with the image the container ran before (stored
//!    only if the container has no history yet), then the update entry. Both appends are
//!    conditional in the store, so repeating them stores nothing twice.
//! 4. The status moves from Approved to Completed or Failed, again by compare-and-swap.
//!
//! A crash after step 1 leaves the request Approved, never Pending, so nobody can approve it a
//! second time. [`ApprovalService::resume`] repeats steps 2 to 4, which are idempotent, to
//! finish it: the image is applied at most once and history recorded at most once.

pub mod transition;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::error_chain;
use crate::events::{Event, NoopObserver, Observer};
use crate::image::ImageRef;
use crate::store::{
    DeployError, Deployer, HistoryError, HistoryStore, StoreError, UpdateStore, find_block,
};
use crate::types::{
    Block, BlockCause, EntryKind, HistoryEntry, ObjectKey, Phase, UpdateRequest,
    UpdateRequestStatus, WorkloadRef,
};
use transition::{TransitionError, Vote};

/// How often a compare-and-swap is retried after a conflict before giving up. A retry happens
/// only when another writer changed the request in between, and each retry re-evaluates the
/// transition, so a loser of a race stops at the first retry with a transition error.
const MAX_ATTEMPTS: usize = 8;

/// The approver recorded for history entries written by headwind itself.
const BASELINE_APPROVER: &str = "unknown";

/// Failures of the approval service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No request with this key exists.
    #[error("update request {key} not found")]
    NotFound {
        /// The key.
        key: ObjectKey,
    },

    /// The state machine refused the action (the request is not Pending, or the approver voted
    /// already).
    #[error("update request {key}: {source}")]
    Transition {
        /// The key.
        key: ObjectKey,
        /// What the state machine said.
        #[source]
        source: TransitionError,
    },

    /// The request's deadline had passed; it is now Expired and nothing was applied.
    #[error("update request {key} expired at {expires_at}; nothing was applied")]
    Expired {
        /// The key.
        key: ObjectKey,
        /// The deadline.
        expires_at: DateTime<Utc>,
    },

    /// The request targets a workload in another namespace; nothing was voted or applied.
    #[error("update request {key}: {reason}")]
    ForeignTarget {
        /// The key.
        key: ObjectKey,
        /// The explanation.
        reason: String,
    },

    /// The deployer could not be reached, so whether the image was applied is unknown. The
    /// request stays Approved; [`ApprovalService::resume`] finishes it.
    #[error(
        "applying update request {key} did not complete: {cause}; it stays Approved and is retried"
    )]
    DeployUnavailable {
        /// The key.
        key: ObjectKey,
        /// What the deployer said.
        cause: String,
    },

    /// Other writers kept changing the request; nothing was decided.
    #[error("update request {key} kept changing concurrently; try again")]
    Conflict {
        /// The key.
        key: ObjectKey,
    },

    /// Applying the image failed; the request is now Failed with `cause` as its message.
    #[error("applying update request {key} failed: {cause}")]
    ApplyFailed {
        /// The key.
        key: ObjectKey,
        /// The request as stored, in phase Failed.
        request: Box<UpdateRequest>,
        /// Why it failed.
        cause: String,
    },

    /// The update store failed.
    #[error("update store failed for {key}")]
    Store {
        /// The key.
        key: ObjectKey,
        /// The store's error.
        #[source]
        source: StoreError,
    },

    /// The history store failed after the image was applied. The request stays Approved;
    /// [`ApprovalService::resume`] finishes it.
    #[error("recording history of update request {key} failed; it stays Approved until resumed")]
    History {
        /// The key.
        key: ObjectKey,
        /// The history store's error.
        #[source]
        source: Box<HistoryError>,
    },
}

impl Error {
    /// A short snake_case label for logs and metrics.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::Transition { .. } => "invalid_transition",
            Self::Expired { .. } => "expired",
            Self::Conflict { .. } => "conflict",
            Self::ForeignTarget { .. } => "foreign_target",
            Self::DeployUnavailable { .. } => "deploy_unavailable",
            Self::ApplyFailed { .. } => "apply_failed",
            Self::Store { .. } => "store",
            Self::History { .. } => "history",
        }
    }

    fn from_store(key: &ObjectKey, source: StoreError) -> Self {
        match source {
            StoreError::NotFound { .. } => Self::NotFound { key: key.clone() },
            StoreError::Conflict { .. } => Self::Conflict { key: key.clone() },
            other => Self::Store {
                key: key.clone(),
                source: other,
            },
        }
    }
}

/// What an approval led to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApproveOutcome {
    /// The request was approved and its image is in place; the request is Completed.
    Applied(UpdateRequest),
    /// The vote was recorded; the request needs `missing` more distinct approvers.
    VoteRecorded {
        /// The request as stored, still Pending.
        request: UpdateRequest,
        /// Votes still missing.
        missing: u32,
    },
}

/// What [`ApprovalService::resume_all`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResumeSummary {
    /// Approved requests finished (Completed or Failed).
    pub finished: usize,
    /// Approved requests that could not be finished this time (store failures).
    pub errors: usize,
}

/// Runs the approval state machine against the backends.
#[derive(Clone, Debug)]
pub struct ApprovalService {
    updates: Arc<dyn UpdateStore>,
    deployer: Arc<dyn Deployer>,
    history: Arc<dyn HistoryStore>,
    observer: Arc<dyn Observer>,
}

impl ApprovalService {
    /// A service over the three backends, reporting to no observer.
    #[must_use]
    pub fn new(
        updates: Arc<dyn UpdateStore>,
        deployer: Arc<dyn Deployer>,
        history: Arc<dyn HistoryStore>,
    ) -> Self {
        Self {
            updates,
            deployer,
            history,
            observer: Arc::new(NoopObserver),
        }
    }

    /// Reports events to `observer`.
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// Casts `approver`'s vote and, when it is the deciding one, applies the image.
    ///
    /// # Errors
    ///
    /// - [`Error::NotFound`] for an unknown request;
    /// - [`Error::Transition`] when the request is not Pending (the loser of a race gets this)
    ///   or the approver voted already;
    /// - [`Error::Expired`] when the deadline has passed (the request is now Expired);
    /// - [`Error::ApplyFailed`] when the deploy failed (the request is now Failed);
    /// - [`Error::Conflict`], [`Error::Store`] and [`Error::History`] for backend trouble.
    pub async fn approve(&self, key: &ObjectKey, approver: &str) -> Result<ApproveOutcome, Error> {
        let span = info_span!("approve", namespace = %key.namespace, name = %key.name, approver);

        self.approve_inner(key, approver).instrument(span).await
    }

    async fn approve_inner(
        &self,
        key: &ObjectKey,
        approver: &str,
    ) -> Result<ApproveOutcome, Error> {
        for _ in 0..MAX_ATTEMPTS {
            let current = self.get(key).await?;
            if let Some(reason) = foreign_target(&current) {
                return Err(Error::ForeignTarget {
                    key: key.clone(),
                    reason,
                });
            }
            let now = Utc::now();
            let vote = transition::approve(&current.spec, &current.status, approver, now).map_err(
                |source| Error::Transition {
                    key: key.clone(),
                    source,
                },
            )?;

            let (status, missing) = match vote {
                Vote::Recorded { status, missing } => (status, Some(missing)),
                Vote::Approved(status) => (status, None),
                Vote::Expired(status) => {
                    let Some(_) = self.swap(&current, status).await? else {
                        continue;
                    };
                    info!("update request expired on approval");
                    self.observer.observe(&Event::Expired { key });
                    let expires_at = current.spec.expires_at.unwrap_or(now);
                    return Err(Error::Expired {
                        key: key.clone(),
                        expires_at,
                    });
                }
            };

            let Some(stored) = self.swap(&current, status).await? else {
                continue;
            };
            if let Some(missing) = missing {
                info!(missing, "approval vote recorded");
                self.observer.observe(&Event::VoteRecorded {
                    key,
                    approver,
                    missing,
                });
                return Ok(ApproveOutcome::VoteRecorded {
                    request: stored,
                    missing,
                });
            }

            info!("update request approved");
            self.observer.observe(&Event::Approved { key, approver });
            return self.finish(stored).await.map(ApproveOutcome::Applied);
        }

        Err(Error::Conflict { key: key.clone() })
    }

    /// Rejects a Pending request and blocks its image from being proposed again for that
    /// container.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::Transition`] when the request is not Pending, and the
    /// backend errors.
    pub async fn reject(
        &self,
        key: &ObjectKey,
        approver: &str,
        reason: Option<&str>,
    ) -> Result<UpdateRequest, Error> {
        let span = info_span!("reject", namespace = %key.namespace, name = %key.name, approver);
        let decide = |current: &UpdateRequest| {
            transition::reject(&current.status, approver, reason, Utc::now())
        };

        let stored = self.transition(key, decide).instrument(span).await?;
        info!(namespace = %key.namespace, name = %key.name, approver, "update request rejected");
        self.observer.observe(&Event::Rejected { key, approver });
        self.block_rejected(&stored).await;

        Ok(stored)
    }

    /// Expires the request if it is Pending and its deadline has passed at `now`.
    ///
    /// # Errors
    ///
    /// [`Error::Transition`] when it is not Pending or not due, and the backend errors.
    pub async fn expire(
        &self,
        key: &ObjectKey,
        now: DateTime<Utc>,
    ) -> Result<UpdateRequest, Error> {
        let decide =
            |current: &UpdateRequest| transition::expire(&current.spec, &current.status, now);

        let stored = self.transition(key, decide).await?;
        info!(namespace = %key.namespace, name = %key.name, "update request expired");
        self.observer.observe(&Event::Expired { key });

        Ok(stored)
    }

    /// Ends a Pending request that a newer update for the same container replaces (see
    /// [`transition::supersede`]).
    ///
    /// # Errors
    ///
    /// [`Error::Transition`] when it is not Pending, and the backend errors.
    pub async fn supersede(
        &self,
        key: &ObjectKey,
        successor: &str,
    ) -> Result<UpdateRequest, Error> {
        let decide =
            |current: &UpdateRequest| transition::supersede(&current.status, successor, Utc::now());

        let stored = self.transition(key, decide).await?;
        info!(namespace = %key.namespace, name = %key.name, successor, "update request superseded");
        self.observer.observe(&Event::Expired { key });

        Ok(stored)
    }

    /// Finishes a request left Approved (by a crash, or a history failure) and returns it as
    /// stored. A request in any other phase is returned unchanged.
    ///
    /// # Errors
    ///
    /// As for [`ApprovalService::approve`] from the deploy step on.
    pub async fn resume(&self, key: &ObjectKey) -> Result<UpdateRequest, Error> {
        let current = self.get(key).await?;
        if current.status.phase != Phase::Approved {
            return Ok(current);
        }

        let span = info_span!("resume", namespace = %key.namespace, name = %key.name);
        self.finish(current).instrument(span).await
    }

    /// Finishes every Approved request, as a controller does on start-up and periodically.
    /// Rejected requests are left alone: a person may have lifted their block on purpose.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the requests cannot be listed. Failures of single requests are
    /// logged and counted in the summary.
    pub async fn resume_all(&self) -> Result<ResumeSummary, Error> {
        let all = ObjectKey {
            namespace: "*".into(),
            name: "*".into(),
        };
        let requests = self
            .updates
            .list(None)
            .await
            .map_err(|e| Error::from_store(&all, e))?;
        let mut summary = ResumeSummary::default();

        let approved = requests
            .iter()
            .filter(|r| r.status.phase == Phase::Approved);
        for request in approved {
            match self.resume(&request.key()).await {
                Ok(_) | Err(Error::ApplyFailed { .. }) => summary.finished += 1,
                Err(error) => {
                    warn!(key = %request.key(), %error, "could not finish approved request");
                    summary.errors += 1;
                }
            }
        }

        Ok(summary)
    }

    /// Expires every Pending request whose deadline has passed at `now`; answers how many.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the requests cannot be listed.
    pub async fn expire_overdue(&self, now: DateTime<Utc>) -> Result<usize, Error> {
        let all = ObjectKey {
            namespace: "*".into(),
            name: "*".into(),
        };
        let requests = self
            .updates
            .list(None)
            .await
            .map_err(|e| Error::from_store(&all, e))?;
        let mut expired = 0;

        for request in requests {
            let overdue = request.status.phase == Phase::Pending
                && transition::is_overdue(&request.spec, now);
            if overdue && self.expire(&request.key(), now).await.is_ok() {
                expired += 1;
            }
        }

        Ok(expired)
    }

    /// Whether `image` is blocked for `container` of `workload` (rejected or rolled back from),
    /// so that detection does not propose it again.
    ///
    /// # Errors
    ///
    /// The history store's error.
    pub async fn blocked(
        &self,
        workload: &WorkloadRef,
        container: &str,
        image: &str,
    ) -> Result<Option<BlockCause>, HistoryError> {
        let blocks = self.history.blocks(workload).await?;

        Ok(find_block(&blocks, container, image))
    }

    /// Reads the request, lets `decide` compute the next status, and writes it by
    /// compare-and-swap; after a lost race, reads and decides again. A request that left the
    /// phase `decide` needs makes it answer a transition error, which ends the loop.
    async fn transition<F>(&self, key: &ObjectKey, decide: F) -> Result<UpdateRequest, Error>
    where
        F: Fn(&UpdateRequest) -> Result<UpdateRequestStatus, TransitionError>,
    {
        for _ in 0..MAX_ATTEMPTS {
            let current = self.get(key).await?;
            let status = decide(&current).map_err(|source| Error::Transition {
                key: key.clone(),
                source,
            })?;

            if let Some(stored) = self.swap(&current, status).await? {
                return Ok(stored);
            }
        }

        Err(Error::Conflict { key: key.clone() })
    }

    async fn get(&self, key: &ObjectKey) -> Result<UpdateRequest, Error> {
        self.updates
            .get(key)
            .await
            .map_err(|e| Error::from_store(key, e))
    }

    /// Writes `status` over `current` by compare-and-swap. `Ok(None)` means another writer won
    /// and the caller should re-read and re-decide.
    async fn swap(
        &self,
        current: &UpdateRequest,
        status: UpdateRequestStatus,
    ) -> Result<Option<UpdateRequest>, Error> {
        let key = current.key();
        let version = current
            .metadata
            .resource_version
            .as_deref()
            .unwrap_or_default();

        match self.updates.update_status(&key, version, status).await {
            Ok(stored) => Ok(Some(stored)),
            Err(StoreError::Conflict { .. }) => {
                debug!(%key, "status write lost a race; re-reading");
                Ok(None)
            }
            Err(e) => Err(Error::from_store(&key, e)),
        }
    }

    /// Steps 2 to 4 for a request in phase Approved.
    async fn finish(&self, approved: UpdateRequest) -> Result<UpdateRequest, Error> {
        let key = approved.key();
        let applied = match approved.status.applied_at {
            // An earlier attempt applied the image and stopped before finishing: never apply it
            // again (a person may have changed the workload since).
            Some(_) => Applied::Done(approved.spec.current_image.clone()),
            None => self.apply(&approved).await,
        };
        let (mut current, mut outcome) = match applied {
            Applied::Done(previous) => {
                let marked = self.mark_applied(approved).await?;
                let outcome = self.recorded(&marked, &previous).await?;
                (marked, outcome)
            }
            Applied::Failed(cause) => (approved, Err(cause)),
            Applied::Unknown(cause) => {
                warn!(%key, %cause, "deploy outcome unknown; the request stays Approved");
                return Err(Error::DeployUnavailable { key, cause });
            }
        };

        for _ in 0..MAX_ATTEMPTS {
            let now = Utc::now();
            let status = match &outcome {
                Ok(message) => transition::complete(&current.status, message, now),
                Err(cause) => transition::fail(&current.status, cause, now),
            };
            let Ok(status) = status else {
                // Another caller finished the request first; its outcome stands.
                return finished_by_other(current);
            };

            if let Some(stored) = self.swap(&current, status).await? {
                return self.report(stored, &outcome);
            }
            current = self.get(&key).await?;
            // Another caller applied the image meanwhile: this caller's failure is stale.
            if outcome.is_err() && current.status.applied_at.is_some() {
                let previous = current.spec.current_image.clone();
                outcome = self.recorded(&current, &previous).await?;
            }
        }

        Err(Error::Conflict { key })
    }

    /// Records the history of an applied request and answers the completion message. A history
    /// that can never be written (the workload is gone, its annotation unreadable) does not keep
    /// the request Approved forever: it completes, saying so. Other history failures leave it
    /// Approved for a retry.
    async fn recorded(
        &self,
        applied: &UpdateRequest,
        previous: &str,
    ) -> Result<Result<String, String>, Error> {
        match self.record(applied, previous).await {
            Ok(()) => Ok(Ok("image applied".to_owned())),
            Err(Error::History { source, .. })
                if matches!(
                    *source,
                    HistoryError::WorkloadNotFound { .. } | HistoryError::Corrupt { .. }
                ) =>
            {
                warn!(key = %applied.key(), error = %source, "image applied; history not recorded");
                Ok(Ok(format!(
                    "image applied; history not recorded: {}",
                    error_chain(&source)
                )))
            }
            Err(error) => Err(error),
        }
    }

    /// Writes `appliedAt` on the Approved request. If another caller moved the request on
    /// meanwhile, answers it as stored; the completion that follows then sees that.
    async fn mark_applied(&self, approved: UpdateRequest) -> Result<UpdateRequest, Error> {
        let key = approved.key();
        let mut current = approved;

        for _ in 0..MAX_ATTEMPTS {
            if current.status.applied_at.is_some() {
                return Ok(current);
            }
            let Ok(status) = transition::mark_applied(&current.status, Utc::now()) else {
                return Ok(current);
            };
            if let Some(stored) = self.swap(&current, status).await? {
                return Ok(stored);
            }
            current = self.get(&key).await?;
        }

        Err(Error::Conflict { key })
    }

    fn report(
        &self,
        stored: UpdateRequest,
        outcome: &Result<String, String>,
    ) -> Result<UpdateRequest, Error> {
        let key = stored.key();
        let workload = stored.workload();
        let container = stored.spec.container_name.as_str();

        match outcome {
            Ok(_) => {
                info!(%key, image = %stored.spec.new_image, "update applied");
                let image = stored.spec.new_image.as_str();
                self.observer.observe(&Event::Applied {
                    key: &key,
                    workload: &workload,
                    container,
                    image,
                });
                Ok(stored)
            }
            Err(cause) => {
                warn!(%key, %cause, "update failed");
                self.observer.observe(&Event::Failed { key: &key, cause });
                Err(Error::ApplyFailed {
                    key,
                    request: Box::new(stored),
                    cause: cause.clone(),
                })
            }
        }
    }

    /// Applies the image. A deploy error whose effect is unknown (a timeout, a 5xx) is checked
    /// by reading the workload again: the request fails only when it is certain the image was
    /// not applied and cannot be.
    async fn apply(&self, request: &UpdateRequest) -> Applied {
        let workload = request.workload();
        let spec = &request.spec;
        let container = spec.container_name.as_str();
        if let Some(cause) = foreign_target(request) {
            return Applied::Failed(cause);
        }

        let live = match self.live_image(&workload, container).await {
            Ok(live) => live,
            Err(outcome) => return outcome,
        };
        if ImageRef::same(&live, &spec.new_image) {
            debug!(%live, "image already in place");
            return Applied::Done(spec.current_image.clone());
        }
        if !ImageRef::same(&live, &spec.current_image) {
            return Applied::Failed(changed(&workload, container, &live, &spec.current_image));
        }

        let written = self
            .deployer
            .set_image(&workload, container, &live, &spec.new_image)
            .await;
        match written {
            Ok(()) => Applied::Done(live),
            // Someone else (another replica resuming the same request) applied it meanwhile.
            Err(DeployError::PreconditionFailed { live: now, .. })
                if ImageRef::same(&now, &spec.new_image) =>
            {
                Applied::Done(live)
            }
            Err(DeployError::PreconditionFailed { live: now, .. }) => {
                Applied::Failed(changed(&workload, container, &now, &spec.current_image))
            }
            Err(
                e @ (DeployError::WorkloadNotFound { .. }
                | DeployError::ContainerNotFound { .. }
                | DeployError::Refused { .. }),
            ) => Applied::Failed(error_chain(&e)),
            Err(e @ DeployError::Backend { .. }) => {
                let cause = error_chain(&e);
                match self.live_image(&workload, container).await {
                    Ok(now) if ImageRef::same(&now, &spec.new_image) => Applied::Done(live),
                    Ok(now) if !ImageRef::same(&now, &spec.current_image) => {
                        Applied::Failed(changed(&workload, container, &now, &spec.current_image))
                    }
                    _ => Applied::Unknown(cause),
                }
            }
        }
    }

    /// The image `container` runs, or the outcome to report when it cannot be read.
    async fn live_image(&self, workload: &WorkloadRef, container: &str) -> Result<String, Applied> {
        let found = match self.deployer.workload(workload).await {
            Ok(found) => found,
            Err(e @ DeployError::WorkloadNotFound { .. }) => {
                return Err(Applied::Failed(error_chain(&e)));
            }
            Err(e) => return Err(Applied::Unknown(error_chain(&e))),
        };

        found
            .container(container)
            .map(|c| c.image.clone())
            .ok_or_else(|| Applied::Failed(format!("{workload} has no container {container:?}")))
    }

    async fn record(&self, request: &UpdateRequest, previous: &str) -> Result<(), Error> {
        let workload = request.workload();
        let now = Utc::now();
        let baseline = HistoryEntry {
            container: request.spec.container_name.clone(),
            image: previous.to_owned(),
            timestamp: request.status.created_at.unwrap_or(now),
            update_request_name: None,
            approved_by: BASELINE_APPROVER.to_owned(),
            kind: EntryKind::Baseline,
        };
        let update = HistoryEntry {
            container: request.spec.container_name.clone(),
            image: request.spec.new_image.clone(),
            timestamp: now,
            update_request_name: Some(request.metadata.name.clone()),
            approved_by: request.status.approved_by.clone().unwrap_or_default(),
            kind: EntryKind::Update,
        };

        for entry in [baseline, update] {
            self.history
                .append(&workload, entry)
                .await
                .map_err(|source| Error::History {
                    key: request.key(),
                    source: Box::new(source),
                })?;
        }

        Ok(())
    }

    async fn block_rejected(&self, request: &UpdateRequest) {
        let block = Block {
            container: request.spec.container_name.clone(),
            image: request.spec.new_image.clone(),
            cause: BlockCause::Rejected,
            by: request.status.approved_by.clone().unwrap_or_default(),
            since: request.status.rejected_at.unwrap_or_else(Utc::now),
        };

        // The rejection itself has happened; a block that cannot be written after a retry
        // needs a person (the image may be proposed again).
        for attempt in 1..=2 {
            match self.history.block(&request.workload(), block.clone()).await {
                Ok(()) => return,
                Err(error) if attempt == 2 => {
                    tracing::error!(key = %request.key(), %error, "could not block the rejected image");
                }
                Err(error) => {
                    debug!(key = %request.key(), %error, "blocking the rejected image failed; retrying")
                }
            }
        }
    }
}

/// What applying an approved request's image came to.
enum Applied {
    /// The image is in place; the container ran this image before.
    Done(String),
    /// The image was not applied and cannot be: the request fails with this cause.
    Failed(String),
    /// It is unknown whether the image was applied (the deployer could not be reached): the
    /// request stays Approved, to be resumed.
    Unknown(String),
}

/// The request as another caller finished it, as the caller of `finish` should see it.
fn finished_by_other(current: UpdateRequest) -> Result<UpdateRequest, Error> {
    if current.status.phase != Phase::Failed {
        return Ok(current);
    }

    let cause = current.status.message.clone().unwrap_or_default();
    Err(Error::ApplyFailed {
        key: current.key(),
        request: Box::new(current),
        cause,
    })
}

/// Why a request must not be applied because it targets a workload outside its own namespace,
/// if it does. Whoever may create requests in one namespace must not reach others through
/// headwind's permissions.
fn foreign_target(request: &UpdateRequest) -> Option<String> {
    let target = &request.spec.target_ref.namespace;
    let own = &request.metadata.namespace;

    (target != own).then(|| {
        format!(
            "the request in namespace {own} targets a workload in namespace {target}; \
             requests apply only to workloads of their own namespace"
        )
    })
}

fn changed(workload: &WorkloadRef, container: &str, live: &str, expected: &str) -> String {
    format!(
        "the workload changed since the request was made: container {container:?} of {workload} \
         runs {live}, not {expected}; nothing was overwritten"
    )
}
