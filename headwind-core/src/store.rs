//! The three backend traits: where requests live, how images are applied, where history is kept.
//!
//! Each trait is object safe and used as `Arc<dyn Trait>`. Each has one error type defined
//! here; adapters wrap their own failures in its `Backend` variant, so core can tell the
//! outcomes it must act on (not found, conflict, precondition) from those it can only report.
//!
//! An associated error type per adapter, as tower's `Service::Error` has, would force every
//! holder of an `Arc<dyn UpdateStore>` to name the adapter's error, which defeats mixing
//! backends at run time; the `Backend` variant keeps the adapter's cause as a boxed source
//! instead.

use std::fmt;

use async_trait::async_trait;

use crate::types::{
    Block, BlockCause, EntryKind, HistoryEntry, ObjectKey, RolloutHealth, UpdateRequest,
    UpdateRequestStatus, Workload, WorkloadRef,
};

/// A boxed error from an adapter.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Failures of an [`UpdateStore`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No request with this key exists.
    #[error("update request {key} not found")]
    NotFound {
        /// The key looked up.
        key: ObjectKey,
    },

    /// A request with this key exists already.
    #[error("update request {key} already exists")]
    AlreadyExists {
        /// The key of the existing request.
        key: ObjectKey,
    },

    /// The stored version differs from the one the caller read: someone else wrote first.
    #[error("update request {key} was changed concurrently (expected version {expected})")]
    Conflict {
        /// The key written.
        key: ObjectKey,
        /// The version the caller read.
        expected: String,
    },

    /// The backend failed; the source says how. Callers may retry.
    #[error("update store failed for {key}")]
    Backend {
        /// The key involved, or `*/*` for a list.
        key: ObjectKey,
        /// The adapter's error.
        #[source]
        source: BoxError,
    },
}

/// Where update requests are stored.
///
/// # Contract
///
/// - **Versions.** Every write gives the request a new opaque `metadata.resourceVersion`.
///   [`UpdateStore::update_status`] is a compare-and-swap on it: it succeeds only when the
///   stored version equals `expected_version`, so of several writers that read the same version
///   exactly one wins and the others get [`StoreError::Conflict`]. This is what makes approval
///   race free; an implementation must not weaken it (no last-writer-wins).
/// - **Reads** reflect every write that completed before the read started. A watch-cache
///   backend may lag behind other processes' writes, but must reflect its own completed writes or
///   answer conflicts for stale versions, which callers handle by re-reading.
/// - **Idempotency.** `get` and `list` have no effects. `create` is not idempotent: a second
///   create of the same key is [`StoreError::AlreadyExists`], which callers use to make repeated
///   events harmless.
/// - **Cancellation.** A future dropped midway either wrote or did not; it never writes half a
///   status. Callers that lose track re-read.
/// - **Errors.** `NotFound`, `AlreadyExists` and `Conflict` are answers, not failures;
///   `Backend` is a failure worth retrying.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UpdateStore: Send + Sync {
    /// All requests in `namespace`, or in every namespace when `None`, ordered by namespace then
    /// name.
    async fn list(&self, namespace: Option<String>) -> Result<Vec<UpdateRequest>, StoreError>;

    /// The request with this key.
    async fn get(&self, key: &ObjectKey) -> Result<UpdateRequest, StoreError>;

    /// Stores a new request and returns it with its version and creation time set.
    async fn create(&self, request: UpdateRequest) -> Result<UpdateRequest, StoreError>;

    /// Replaces the status of the request if its stored version is `expected_version`, and
    /// returns the request as stored afterwards.
    async fn update_status(
        &self,
        key: &ObjectKey,
        expected_version: &str,
        status: UpdateRequestStatus,
    ) -> Result<UpdateRequest, StoreError>;

    /// Whether the store can answer reads (a watch cache has synced). Defaults to `true`.
    fn is_ready(&self) -> bool {
        true
    }
}

/// Failures of a [`Deployer`].
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The workload does not exist.
    #[error("{workload} not found")]
    WorkloadNotFound {
        /// The workload looked up.
        workload: WorkloadRef,
    },

    /// The workload has no container of that name.
    #[error("{workload} has no container {container:?}")]
    ContainerNotFound {
        /// The workload.
        workload: WorkloadRef,
        /// The container asked for.
        container: String,
    },

    /// The container does not run the image the caller expected: the workload changed
    /// concurrently, and nothing was written.
    #[error("container {container:?} runs {live}, not the expected {expected}")]
    PreconditionFailed {
        /// The container.
        container: String,
        /// The image the caller expected.
        expected: String,
        /// The image the container runs (as far as the adapter could tell).
        live: String,
    },

    /// The backend refused the change for good (an admission webhook, a quota, missing
    /// permissions): nothing was written and a retry would be refused too.
    #[error("the change to {workload} was refused")]
    Refused {
        /// The workload.
        workload: WorkloadRef,
        /// The adapter's error.
        #[source]
        source: BoxError,
    },

    /// The backend failed (unreachable, timed out, a server error): whether a write happened is
    /// unknown. Callers re-read and may retry.
    #[error("deploying to {workload} failed")]
    Backend {
        /// The workload involved.
        workload: WorkloadRef,
        /// The adapter's error.
        #[source]
        source: BoxError,
    },
}

/// Reads workloads and changes their images.
///
/// # Contract
///
/// - **Precondition.** [`Deployer::set_image`] writes only if the container's image is still
///   `expected` at the moment of the write (atomically: a Kubernetes JSON Patch `test`, a lock in
///   memory). Otherwise it answers [`DeployError::PreconditionFailed`] and writes nothing, so a
///   concurrent change is detected instead of overwritten.
/// - **Idempotency.** Setting the image a container already runs, with that image as
///   `expected`, succeeds and changes nothing that matters. `workload` and `rollout_health` have
///   no effects.
/// - **Cancellation.** A dropped `set_image` either wrote or did not; callers re-read the
///   workload to find out.
/// - **Errors.** `WorkloadNotFound`, `ContainerNotFound`, `PreconditionFailed` and `Refused`
///   are final for that call; after `Backend` the outcome of a write is unknown and the caller
///   re-reads before deciding.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Deployer: Send + Sync {
    /// The workload with its annotations and containers.
    async fn workload(&self, workload: &WorkloadRef) -> Result<Workload, DeployError>;

    /// Sets the image of one container, if it still runs `expected`.
    async fn set_image(
        &self,
        workload: &WorkloadRef,
        container: &str,
        expected: &str,
        image: &str,
    ) -> Result<(), DeployError>;

    /// How the workload's latest rollout is going.
    async fn rollout_health(&self, workload: &WorkloadRef) -> Result<RolloutHealth, DeployError>;
}

/// Finds the workloads that run an image repository.
///
/// # Contract
///
/// - **Index, not scan.** Answers come from an index kept current with the workloads (a map in
///   memory, a watch cache on Kubernetes), keyed by normalised repository
///   ([`crate::image::ImageRef::repository`]): one registry event costs one lookup, whatever the
///   number of workloads.
/// - **Exact match.** `docker.io/library/nginx` never answers workloads running
///   `docker.io/library/nginx-exporter`.
/// - **Freshness.** The index may lag the cluster by the watch delay; callers re-check the live
///   image before writing (the approval service's precondition does).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WorkloadIndex: Send + Sync {
    /// The workloads with at least one container running `repository`.
    async fn by_repository(&self, repository: &str) -> Result<Vec<Workload>, DeployError>;
}

/// Failures of a [`HistoryStore`].
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The workload the history belongs to does not exist.
    #[error("{workload} not found")]
    WorkloadNotFound {
        /// The workload.
        workload: WorkloadRef,
    },

    /// The stored history cannot be read, and is left as it is rather than overwritten; a
    /// person must repair it. Retrying does not help.
    #[error("the history of {workload} is unreadable")]
    Corrupt {
        /// The workload involved.
        workload: WorkloadRef,
        /// What is wrong with it.
        #[source]
        source: BoxError,
    },

    /// The backend failed; the source says how. Callers may retry.
    #[error("history store failed for {workload}")]
    Backend {
        /// The workload involved.
        workload: WorkloadRef,
        /// The adapter's error.
        #[source]
        source: BoxError,
    },
}

/// Whether [`HistoryStore::append`] stored the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    /// The entry was stored.
    Stored,
    /// An equivalent entry was there already; nothing changed.
    AlreadyPresent,
}

/// The history of applied images of each workload, and the images blocked from re-proposal.
///
/// # Contract
///
/// - **Retention.** At least the last 10 entries of each container are kept.
/// - **Order.** [`HistoryStore::history`] answers newest first, by append order.
/// - **Idempotency.** `append` is conditional, so a retry after a crash or a race stores
///   nothing twice:
///   - a [`crate::types::EntryKind::Baseline`] entry is stored only while the container has no
///     entries at all;
///   - an entry with an `update_request_name` is stored only when no entry of that container has
///     the same name, kind and image.
///
///   Other entries (rollbacks) are always stored. The check and the write are atomic with
///   respect to other `append` calls on the same workload.
/// - **Blocks.** `block` is idempotent per (container, image); `unblock` of an absent block is
///   not an error.
/// - **Concurrency.** Concurrent writers lose nothing: an adapter that stores history as one
///   document retries on write conflicts.
/// - **Errors.** `WorkloadNotFound` and `Corrupt` are final; `Backend` is worth retrying.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait HistoryStore: Send + Sync {
    /// Appends an entry, subject to the conditions above.
    async fn append(
        &self,
        workload: &WorkloadRef,
        entry: HistoryEntry,
    ) -> Result<Appended, HistoryError>;

    /// The workload's entries, newest first.
    async fn history(&self, workload: &WorkloadRef) -> Result<Vec<HistoryEntry>, HistoryError>;

    /// Blocks an image of a container from automatic re-proposal.
    async fn block(&self, workload: &WorkloadRef, block: Block) -> Result<(), HistoryError>;

    /// Lifts the block of an image of a container; answers whether there was one.
    async fn unblock(
        &self,
        workload: &WorkloadRef,
        container: &str,
        image: &str,
    ) -> Result<bool, HistoryError>;

    /// The blocks of a workload.
    async fn blocks(&self, workload: &WorkloadRef) -> Result<Vec<Block>, HistoryError>;
}

impl fmt::Debug for dyn UpdateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UpdateStore")
    }
}

impl fmt::Debug for dyn Deployer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Deployer")
    }
}

impl fmt::Debug for dyn WorkloadIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WorkloadIndex")
    }
}

impl fmt::Debug for dyn HistoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HistoryStore")
    }
}

/// Applies [`HistoryStore::append`]'s conditions to a newest-first list and inserts `entry` at
/// the front when they hold, keeping at most `per_container` entries of its container. Shared
/// by the backends so that every one applies the same rules.
pub fn append_entry(
    entries: &mut Vec<HistoryEntry>,
    entry: HistoryEntry,
    per_container: usize,
) -> Appended {
    let same_container = |e: &&HistoryEntry| e.container == entry.container;
    let duplicate = match (entry.kind, &entry.update_request_name) {
        (EntryKind::Baseline, _) => entries.iter().any(|e| same_container(&e)),
        (_, Some(name)) => entries.iter().filter(same_container).any(|e| {
            e.kind == entry.kind
                && e.update_request_name.as_ref() == Some(name)
                && crate::image::ImageRef::same(&e.image, &entry.image)
        }),
        (_, None) => false,
    };
    if duplicate {
        return Appended::AlreadyPresent;
    }

    let container = entry.container.clone();
    entries.insert(0, entry);
    let mut kept = 0;
    entries.retain(|e| {
        if e.container != container {
            return true;
        }
        kept += 1;
        kept <= per_container
    });

    Appended::Stored
}

/// How many blocks are kept per container; past that the oldest block of the container goes,
/// which keeps a history annotation bounded however many tags are rejected.
pub const BLOCKS_PER_CONTAINER: usize = 50;

/// Adds `block` unless the same container and image are blocked already, keeping at most
/// [`BLOCKS_PER_CONTAINER`] blocks per container.
pub fn add_block(blocks: &mut Vec<Block>, block: Block) {
    let exists = blocks.iter().any(|b| {
        b.container == block.container && crate::image::ImageRef::same(&b.image, &block.image)
    });
    if exists {
        return;
    }

    let container = block.container.clone();
    blocks.push(block);
    let count = blocks.iter().filter(|b| b.container == container).count();
    if count > BLOCKS_PER_CONTAINER
        && let Some(oldest) = blocks.iter().position(|b| b.container == container)
    {
        blocks.remove(oldest);
    }
}

/// Removes the block of `image` for `container`; answers whether there was one.
pub fn remove_block(blocks: &mut Vec<Block>, container: &str, image: &str) -> bool {
    let before = blocks.len();
    blocks.retain(|b| !(b.container == container && crate::image::ImageRef::same(&b.image, image)));

    blocks.len() != before
}

/// Whether `blocks` holds a block of `image` for `container`, comparing images after
/// normalisation; answers the cause.
#[must_use]
pub fn find_block(blocks: &[Block], container: &str, image: &str) -> Option<BlockCause> {
    blocks
        .iter()
        .find(|b| b.container == container && crate::image::ImageRef::same(&b.image, image))
        .map(|b| b.cause)
}
