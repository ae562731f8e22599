//! Watch caches: objects kept current by a kube watcher, so reads cost no API request.
//!
//! A [`Cache`] applies watcher events ([`Cache::apply`]): the initial list is buffered and
//! swapped in whole at `InitDone`, after which the cache is ready; later `Apply` and `Delete`
//! events update single entries. Entries that are workloads are also kept in a
//! [`RepositoryIndex`].
//!
//! Writes made through the backends are applied to the cache as soon as the API server answers
//! ([`Cache::write_through`]), so a caller reads its own writes without waiting for the watch
//! event. A watch event older than the entry it would replace is then ignored: resource
//! versions are opaque by the API conventions, but every conforming API server uses etcd's
//! modification revision, an integer, and comparing it only keeps a late event from undoing a
//! newer write. Versions that are not integers are always applied.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use futures::{Stream, StreamExt};
use headwind_core::index::RepositoryIndex;
use headwind_core::types::Workload;
use kube::runtime::watcher;

/// What a cache holds: a keyed, versioned value, perhaps a workload to index.
pub(crate) trait Entry: Clone + Send + std::fmt::Debug + 'static {
    /// The key.
    type Key: Ord + Clone + Send + std::fmt::Debug;

    /// The key of this entry.
    fn key(&self) -> Self::Key;

    /// The object's `metadata.resourceVersion`.
    fn version(&self) -> Option<&str>;

    /// The workload to index, for workload entries.
    fn workload(&self) -> Option<&Workload> {
        None
    }
}

#[derive(Debug)]
struct State<E: Entry> {
    entries: BTreeMap<E::Key, E>,
    index: RepositoryIndex,
    /// The initial list, while it arrives.
    buffer: Option<Vec<E>>,
}

/// Objects of one kind, kept by a watcher.
#[derive(Debug)]
pub(crate) struct Cache<E: Entry> {
    state: Mutex<State<E>>,
    ready: AtomicBool,
}

impl<E: Entry> Default for Cache<E> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                entries: BTreeMap::new(),
                index: RepositoryIndex::new(),
                buffer: None,
            }),
            ready: AtomicBool::new(false),
        }
    }
}

fn newer(incoming: Option<&str>, stored: Option<&str>) -> bool {
    match (
        incoming.and_then(|v| v.parse::<u64>().ok()),
        stored.and_then(|v| v.parse::<u64>().ok()),
    ) {
        (Some(incoming), Some(stored)) => incoming >= stored,
        _ => true,
    }
}

impl<E: Entry> Cache<E> {
    fn lock(&self) -> MutexGuard<'_, State<E>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the initial list has been applied.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Applies one watcher event, the object converted to an entry by `convert` (objects it
    /// cannot convert are skipped).
    pub(crate) fn apply<K>(&self, event: watcher::Event<K>, convert: impl Fn(&K) -> Option<E>) {
        let mut state = self.lock();

        match event {
            watcher::Event::Init => state.buffer = Some(Vec::new()),
            watcher::Event::InitApply(object) => {
                if let (Some(entry), Some(buffer)) = (convert(&object), state.buffer.as_mut()) {
                    buffer.push(entry);
                }
            }
            watcher::Event::InitDone => {
                let listed = state.buffer.take().unwrap_or_default();
                state.entries.clear();
                state.index = RepositoryIndex::new();
                for entry in listed {
                    insert(&mut state, entry);
                }
                self.ready.store(true, Ordering::Release);
            }
            watcher::Event::Apply(object) => {
                if let Some(entry) = convert(&object) {
                    let stored = state
                        .entries
                        .get(&entry.key())
                        .and_then(|e| e.version().map(str::to_owned));
                    if newer(entry.version(), stored.as_deref()) {
                        insert(&mut state, entry);
                    }
                }
            }
            watcher::Event::Delete(object) => {
                if let Some(entry) = convert(&object) {
                    remove(&mut state, &entry.key());
                }
            }
        }
    }

    /// Stores an object the API server returned for one of our writes.
    pub(crate) fn write_through(&self, entry: E) {
        let mut state = self.lock();
        let stored = state
            .entries
            .get(&entry.key())
            .and_then(|e| e.version().map(str::to_owned));

        if newer(entry.version(), stored.as_deref()) {
            insert(&mut state, entry);
        }
    }

    /// The entry with this key.
    pub(crate) fn get(&self, key: &E::Key) -> Option<E> {
        self.lock().entries.get(key).cloned()
    }

    /// Entries with keys in `range`, in order.
    pub(crate) fn range<R>(&self, range: R) -> Vec<E>
    where
        R: std::ops::RangeBounds<E::Key>,
    {
        self.lock()
            .entries
            .range(range)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// Every entry, in key order.
    pub(crate) fn all(&self) -> Vec<E> {
        self.lock().entries.values().cloned().collect()
    }

    /// The entries whose workload runs `repository`.
    pub(crate) fn by_repository(
        &self,
        repository: &str,
        key: impl Fn(&headwind_core::types::WorkloadRef) -> E::Key,
    ) -> Vec<E> {
        let state = self.lock();

        state
            .index
            .get(repository)
            .filter_map(|reference| state.entries.get(&key(reference)))
            .cloned()
            .collect()
    }
}

fn insert<E: Entry>(state: &mut State<E>, entry: E) {
    let key = entry.key();
    remove(state, &key);
    if let Some(workload) = entry.workload() {
        state.index.insert(workload);
    }
    state.entries.insert(key, entry);
}

fn remove<E: Entry>(state: &mut State<E>, key: &E::Key) {
    if let Some(old) = state.entries.remove(key)
        && let Some(workload) = old.workload()
    {
        state.index.remove(workload);
    }
}

/// Drives `events` into `cache` until the stream ends, logging watch errors (the watcher
/// retries them with backoff).
pub(crate) async fn run<K, E, S>(
    cache: std::sync::Arc<Cache<E>>,
    events: S,
    what: &'static str,
    convert: impl Fn(&K) -> Option<E>,
) where
    E: Entry,
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    let mut events = std::pin::pin!(events);

    while let Some(event) = events.next().await {
        match event {
            Ok(event) => cache.apply(event, &convert),
            Err(error) => tracing::warn!(what, %error, "watch failed; retrying"),
        }
    }
}
