//! [`KubeHistoryStore`]: history and blocks in annotations of the workload itself.
//!
//! `headwind.sh/update-history` holds the entries (newest first, as JSON), the name existing
//! Headwind installations use; `headwind.sh/blocked-images` holds the blocks; and
//! `headwind.sh/last-update` the time of the last applied entry. Keeping them on the workload
//! means they live and die with it, need no storage of their own, and are visible with
//! `kubectl get -o yaml`; the cost is the annotation size limit (256 KiB for all annotations
//! together), far above 10 entries and 50 blocks per container, the bounds kept on write.
//!
//! Reads come from the watch cache. Each write reads the workload from the API, applies the
//! change, and sends a JSON merge patch carrying `metadata.resourceVersion`, so a concurrent
//! writer makes the API server answer 409; the write is then retried from a fresh read, so
//! concurrent writers lose nothing.

use std::collections::BTreeMap;

use async_trait::async_trait;
use headwind_core::annotations::{BLOCKED_IMAGES, LAST_UPDATE, UPDATE_HISTORY};
use headwind_core::store::{
    Appended, HistoryError, HistoryStore, add_block, append_entry, remove_block,
};
use headwind_core::types::{Block, EntryKind, HistoryEntry, WorkloadRef};
use kube::api::{Patch, PatchParams};

use crate::api_code;
use crate::deployer::Workloads;
use crate::workload::read_annotation_strict;

/// How many entries are kept per container.
pub const HISTORY_PER_CONTAINER: usize = 10;

/// How many times a write is retried after a conflict.
const MAX_ATTEMPTS: usize = 5;

/// A [`HistoryStore`] on workload annotations.
#[derive(Clone, Debug)]
pub struct KubeHistoryStore {
    workloads: Workloads,
}

/// The lists a write changes.
struct Lists {
    history: Vec<HistoryEntry>,
    blocks: Vec<Block>,
}

impl KubeHistoryStore {
    pub(crate) fn new(workloads: Workloads) -> Self {
        Self { workloads }
    }

    fn backend(
        workload: &WorkloadRef,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> HistoryError {
        HistoryError::Backend {
            workload: workload.clone(),
            source: Box::new(error),
        }
    }

    /// Reads the workload from the API, lets `change` edit its lists (answering `false` when
    /// nothing changed), and writes them back with a resourceVersion precondition, retrying on
    /// conflict. Answers what `change` answered on the attempt that counted.
    async fn modify<F>(&self, workload: &WorkloadRef, mut change: F) -> Result<bool, HistoryError>
    where
        F: FnMut(&mut Lists) -> bool + Send,
    {
        let api = self.workloads.api(workload);

        for _ in 0..MAX_ATTEMPTS {
            let object = match api.get(&workload.name).await {
                Ok(object) => object,
                Err(e) if api_code(&e) == Some(404) => {
                    return Err(HistoryError::WorkloadNotFound {
                        workload: workload.clone(),
                    });
                }
                Err(e) => return Err(Self::backend(workload, e)),
            };
            self.workloads.write_through(workload.kind, &object);
            let empty = BTreeMap::new();
            let annotations = object.metadata.annotations.as_ref().unwrap_or(&empty);
            let unreadable = |e| HistoryError::Corrupt {
                workload: workload.clone(),
                source: Box::new(Unreadable { source: e }),
            };
            let mut lists = Lists {
                history: read_annotation_strict(annotations, UPDATE_HISTORY).map_err(unreadable)?,
                blocks: read_annotation_strict(annotations, BLOCKED_IMAGES).map_err(unreadable)?,
            };
            let newest_before = lists.history.first().cloned();
            if !change(&mut lists) {
                return Ok(false);
            }

            let history =
                serde_json::to_string(&lists.history).map_err(|e| Self::backend(workload, e))?;
            let blocks =
                serde_json::to_string(&lists.blocks).map_err(|e| Self::backend(workload, e))?;
            let mut written = serde_json::Map::new();
            written.insert(UPDATE_HISTORY.to_owned(), history.into());
            written.insert(BLOCKED_IMAGES.to_owned(), blocks.into());
            let newest = lists.history.first();
            let applied = newest
                .filter(|e| e.kind != EntryKind::Baseline && Some(*e) != newest_before.as_ref());
            if let Some(entry) = applied {
                written.insert(LAST_UPDATE.to_owned(), entry.timestamp.to_rfc3339().into());
            }
            let patch = serde_json::json!({
                "metadata": {
                    "resourceVersion": object.metadata.resource_version,
                    "annotations": written,
                }
            });

            match api
                .patch(
                    &workload.name,
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            {
                Ok(stored) => {
                    self.workloads.write_through(workload.kind, &stored);
                    return Ok(true);
                }
                Err(e) if api_code(&e) == Some(409) => {
                    tracing::debug!(%workload, "history write conflicted; retrying");
                }
                Err(e) if api_code(&e) == Some(404) => {
                    return Err(HistoryError::WorkloadNotFound {
                        workload: workload.clone(),
                    });
                }
                Err(e) => return Err(Self::backend(workload, e)),
            }
        }

        Err(Self::backend(
            workload,
            Contended {
                attempts: MAX_ATTEMPTS,
            },
        ))
    }
}

/// A history annotation holds JSON headwind cannot read; it is left untouched rather than
/// overwritten.
#[derive(Debug, thiserror::Error)]
#[error("the history annotations of the workload are not valid headwind JSON; fix or remove them")]
struct Unreadable {
    #[source]
    source: serde_json::Error,
}

/// Every attempt to write the history conflicted with another writer.
#[derive(Debug, thiserror::Error)]
#[error("the workload kept changing; {attempts} attempts to write its history conflicted")]
struct Contended {
    attempts: usize,
}

#[async_trait]
impl HistoryStore for KubeHistoryStore {
    async fn append(
        &self,
        workload: &WorkloadRef,
        entry: HistoryEntry,
    ) -> Result<Appended, HistoryError> {
        let stored = self
            .modify(workload, |lists| {
                append_entry(&mut lists.history, entry.clone(), HISTORY_PER_CONTAINER)
                    == Appended::Stored
            })
            .await?;

        Ok(if stored {
            Appended::Stored
        } else {
            Appended::AlreadyPresent
        })
    }

    async fn history(&self, workload: &WorkloadRef) -> Result<Vec<HistoryEntry>, HistoryError> {
        self.workloads
            .cache(workload.kind)
            .get(workload)
            .map(|c| c.history())
            .ok_or_else(|| HistoryError::WorkloadNotFound {
                workload: workload.clone(),
            })
    }

    async fn block(&self, workload: &WorkloadRef, block: Block) -> Result<(), HistoryError> {
        self.modify(workload, |lists| {
            let before = lists.blocks.len();
            add_block(&mut lists.blocks, block.clone());
            lists.blocks.len() != before
        })
        .await?;

        Ok(())
    }

    async fn unblock(
        &self,
        workload: &WorkloadRef,
        container: &str,
        image: &str,
    ) -> Result<bool, HistoryError> {
        self.modify(workload, |lists| {
            remove_block(&mut lists.blocks, container, image)
        })
        .await
    }

    async fn blocks(&self, workload: &WorkloadRef) -> Result<Vec<Block>, HistoryError> {
        self.workloads
            .cache(workload.kind)
            .get(workload)
            .map(|c| c.blocks())
            .ok_or_else(|| HistoryError::WorkloadNotFound {
                workload: workload.clone(),
            })
    }
}
