//! Rolling a container back to the image it ran before, and keeping the bad image out.
//!
//! The image to return to comes from the workload's history (newest first): find the newest
//! entry for the container with the image it runs now, then take the next older entry whose
//! image differs and is not blocked. Blocked images are skipped because a rollback must never
//! land on an image that was itself rolled back from or rejected; so rolling back twice in a row
//! does not bounce between two images.
//!
//! The image rolled back from is blocked first (so the block holds whatever fails later), the
//! image is applied with the precondition that the container still runs the image read, and a
//! history entry of kind `rollback` is appended. The block stays until a person lifts it with
//! [`RollbackService::clear_block`].

use std::sync::Arc;

use chrono::Utc;
use tracing::{Instrument, info, info_span, warn};

use crate::events::{Event, NoopObserver, Observer};
use crate::image::ImageRef;
use crate::store::{DeployError, Deployer, HistoryError, HistoryStore, find_block};
use crate::types::{Block, BlockCause, EntryKind, HistoryEntry, WorkloadRef};

/// Failures of a rollback.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The workload does not exist.
    #[error("{workload} not found")]
    WorkloadNotFound {
        /// The workload.
        workload: WorkloadRef,
    },

    /// The workload has no such container.
    #[error("{workload} has no container {container:?}")]
    ContainerNotFound {
        /// The workload.
        workload: WorkloadRef,
        /// The container asked for.
        container: String,
    },

    /// The history holds no earlier, unblocked image for the container.
    #[error("nothing to roll back to for container {container:?} of {workload}: {reason}")]
    NothingToRollBack {
        /// The workload.
        workload: WorkloadRef,
        /// The container.
        container: String,
        /// Why not.
        reason: String,
    },

    /// The container's image changed while the rollback was being prepared; nothing was written.
    #[error(
        "container {container:?} of {workload} changed during the rollback; nothing was written"
    )]
    Conflict {
        /// The workload.
        workload: WorkloadRef,
        /// The container.
        container: String,
    },

    /// The deployer failed.
    #[error("rolling back {workload} failed")]
    Deploy {
        /// The workload.
        workload: WorkloadRef,
        /// The deployer's error.
        #[source]
        source: DeployError,
    },

    /// The history store failed.
    #[error("history of {workload} could not be read or written")]
    History {
        /// The workload.
        workload: WorkloadRef,
        /// The history store's error.
        #[source]
        source: HistoryError,
    },
}

impl Error {
    /// A short snake_case label for logs and metrics.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::WorkloadNotFound { .. } => "workload_not_found",
            Self::ContainerNotFound { .. } => "container_not_found",
            Self::NothingToRollBack { .. } => "nothing_to_roll_back",
            Self::Conflict { .. } => "conflict",
            Self::Deploy { .. } => "deploy",
            Self::History { .. } => "history",
        }
    }
}

/// A completed rollback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rollback {
    /// The image the container ran.
    pub previous_image: String,
    /// The image it runs now.
    pub rolled_back_to: String,
}

/// Rolls containers back along their history.
#[derive(Clone, Debug)]
pub struct RollbackService {
    deployer: Arc<dyn Deployer>,
    history: Arc<dyn HistoryStore>,
    observer: Arc<dyn Observer>,
}

impl RollbackService {
    /// A service over the deployer and the history store, reporting to no observer.
    #[must_use]
    pub fn new(deployer: Arc<dyn Deployer>, history: Arc<dyn HistoryStore>) -> Self {
        Self {
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

    /// Rolls `container` of `workload` back to its previous image, as `by`.
    ///
    /// # Errors
    ///
    /// See [`Error`]: unknown workload or container, nothing to roll back to, a concurrent
    /// change, or backend failures.
    pub async fn rollback(
        &self,
        workload: &WorkloadRef,
        container: &str,
        by: &str,
    ) -> Result<Rollback, Error> {
        let span = info_span!(
            "rollback",
            kind = %workload.kind,
            namespace = %workload.namespace,
            name = %workload.name,
            container,
        );

        let result = self
            .rollback_inner(workload, container, by)
            .instrument(span)
            .await;
        let attempted = !matches!(
            result,
            Ok(_) | Err(Error::WorkloadNotFound { .. } | Error::ContainerNotFound { .. })
        );
        if let (true, Err(error)) = (attempted, &result) {
            warn!(%workload, container, %error, "rollback failed");
            self.observer.observe(&Event::RollbackFailed {
                workload,
                container,
            });
        }

        result
    }

    async fn rollback_inner(
        &self,
        workload: &WorkloadRef,
        container: &str,
        by: &str,
    ) -> Result<Rollback, Error> {
        let live = self.live_image(workload, container).await?;
        let (target, already_blocked) = self.target(workload, container, &live).await?;
        let now = Utc::now();
        let history_error = |source| Error::History {
            workload: workload.clone(),
            source,
        };

        // Block first: if anything after this fails, the bad image is still kept from being
        // proposed again.
        let block = Block {
            container: container.to_owned(),
            image: live.clone(),
            cause: BlockCause::RolledBack,
            by: by.to_owned(),
            since: now,
        };
        self.history
            .block(workload, block)
            .await
            .map_err(history_error)?;

        let written = self
            .deployer
            .set_image(workload, container, &live, &target)
            .await;
        if let Err(source) = written {
            // Lift the block only when it is ours and certain that nothing was written: after a
            // precondition failure another rollback may own it, and after a backend error the
            // image may have changed after all.
            let nothing_written = matches!(
                source,
                DeployError::Refused { .. }
                    | DeployError::WorkloadNotFound { .. }
                    | DeployError::ContainerNotFound { .. }
            );
            if nothing_written
                && !already_blocked
                && let Err(error) = self.history.unblock(workload, container, &live).await
            {
                warn!(%workload, container, %error, "could not lift the block of a failed rollback");
            }
            return Err(match source {
                DeployError::PreconditionFailed { .. } => Error::Conflict {
                    workload: workload.clone(),
                    container: container.to_owned(),
                },
                other => self.deploy_error(workload, container, other),
            });
        }

        let entry = HistoryEntry {
            container: container.to_owned(),
            image: target.clone(),
            timestamp: now,
            update_request_name: None,
            approved_by: by.to_owned(),
            kind: EntryKind::Rollback,
        };
        self.history
            .append(workload, entry)
            .await
            .map_err(history_error)?;

        info!(from = %live, to = %target, "rolled back");
        self.observer.observe(&Event::RolledBack {
            workload,
            container,
            from: &live,
            to: &target,
        });

        Ok(Rollback {
            previous_image: live,
            rolled_back_to: target,
        })
    }

    /// Lifts the block on `image` for `container`, so detection may propose it again.
    /// Answers whether there was a block.
    ///
    /// # Errors
    ///
    /// The history store's error.
    pub async fn clear_block(
        &self,
        workload: &WorkloadRef,
        container: &str,
        image: &str,
    ) -> Result<bool, Error> {
        let cleared = self
            .history
            .unblock(workload, container, image)
            .await
            .map_err(|source| Error::History {
                workload: workload.clone(),
                source,
            })?;
        if cleared {
            info!(%workload, container, image, "block cleared");
        }

        Ok(cleared)
    }

    async fn live_image(&self, workload: &WorkloadRef, container: &str) -> Result<String, Error> {
        let found = self
            .deployer
            .workload(workload)
            .await
            .map_err(|source| self.deploy_error(workload, container, source))?;

        found
            .container(container)
            .map(|c| c.image.clone())
            .ok_or_else(|| Error::ContainerNotFound {
                workload: workload.clone(),
                container: container.to_owned(),
            })
    }

    async fn target(
        &self,
        workload: &WorkloadRef,
        container: &str,
        live: &str,
    ) -> Result<(String, bool), Error> {
        let history_error = |source| Error::History {
            workload: workload.clone(),
            source,
        };
        let history = self
            .history
            .history(workload)
            .await
            .map_err(history_error)?;
        let blocks = self.history.blocks(workload).await.map_err(history_error)?;
        let nothing = |reason: String| Error::NothingToRollBack {
            workload: workload.clone(),
            container: container.to_owned(),
            reason,
        };

        let mut entries = history.iter().filter(|e| e.container == container);
        if !entries.any(|e| ImageRef::same(&e.image, live)) {
            return Err(nothing(format!(
                "the running image {live} is not in its history"
            )));
        }

        let target = entries
            .find(|e| {
                !ImageRef::same(&e.image, live)
                    && find_block(&blocks, container, &e.image).is_none()
            })
            .map(|e| e.image.clone())
            .ok_or_else(|| nothing("no earlier image that is not blocked".to_owned()))?;

        Ok((target, find_block(&blocks, container, live).is_some()))
    }

    fn deploy_error(&self, workload: &WorkloadRef, container: &str, source: DeployError) -> Error {
        match source {
            DeployError::WorkloadNotFound { .. } => Error::WorkloadNotFound {
                workload: workload.clone(),
            },
            DeployError::ContainerNotFound { .. } => Error::ContainerNotFound {
                workload: workload.clone(),
                container: container.to_owned(),
            },
            other => Error::Deploy {
                workload: workload.clone(),
                source: other,
            },
        }
    }
}
