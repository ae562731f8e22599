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
//! newer write. Versions that are not integers are always applied. For the same reason a
//! re-list keeps a cached entry newer than the listed one, and a delete leaves a tombstone so
//! that a write answered after the delete event does not bring the object back.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use futures::{Stream, StreamExt};
use headwind_core::index::RepositoryIndex;
use headwind_core::types::Workload;
use kube::runtime::watcher;

/// How many tombstones a cache keeps before it forgets them all.
const MAX_TOMBSTONES: usize = 4096;

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
    /// Keys deleted since the last list, with the version the delete event carried.
    deleted: BTreeMap<E::Key, Option<String>>,
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
                deleted: BTreeMap::new(),
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
                // The list replaces the cache, except where the cache holds a newer version of
                // a listed object (one of our own writes, answered after the list was taken).
                let listed = state.buffer.take().unwrap_or_default();
                let mut previous = std::mem::take(&mut state.entries);
                state.index = RepositoryIndex::new();
                state.deleted.clear();
                for entry in listed {
                    let kept = previous
                        .remove(&entry.key())
                        .filter(|cached| !newer(entry.version(), cached.version()));
                    insert(&mut state, kept.unwrap_or(entry));
                }
                self.ready.store(true, Ordering::Release);
            }
            watcher::Event::Apply(object) => {
                if let Some(entry) = convert(&object)
                    && state.is_newer(&entry)
                {
                    // The object exists (again): its tombstone is void.
                    state.deleted.remove(&entry.key());
                    insert(&mut state, entry);
                }
            }
            watcher::Event::Delete(object) => {
                if let Some(entry) = convert(&object) {
                    let version = entry.version().map(str::to_owned);
                    remove(&mut state, &entry.key());
                    // Tombstones only matter for the moment a write is in flight; a bound keeps
                    // a long-lived watch from collecting one per object ever deleted.
                    if state.deleted.len() >= MAX_TOMBSTONES {
                        state.deleted.clear();
                    }
                    state.deleted.insert(entry.key(), version);
                }
            }
        }
    }

    /// Stores an object the API server returned for one of our writes.
    pub(crate) fn write_through(&self, entry: E) {
        let mut state = self.lock();
        // An answer that arrives after the object's delete event must not bring it back.
        // (Only a later re-creation carries a version past the delete's.)
        if let Some(deleted) = state.deleted.get(&entry.key())
            && (entry.version() == deleted.as_deref()
                || !newer(entry.version(), deleted.as_deref()))
        {
            return;
        }
        if state.is_newer(&entry) {
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

impl<E: Entry> State<E> {
    /// Whether `entry` is at least as new as the cached entry with its key (or there is none).
    fn is_newer(&self, entry: &E) -> bool {
        let stored = self.entries.get(&entry.key()).and_then(Entry::version);

        newer(entry.version(), stored)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Object {
        name: &'static str,
        version: &'static str,
    }

    impl Entry for Object {
        type Key = &'static str;

        fn key(&self) -> &'static str {
            self.name
        }

        fn version(&self) -> Option<&str> {
            Some(self.version)
        }
    }

    fn object(name: &'static str, version: &'static str) -> Object {
        Object { name, version }
    }

    fn same(o: &Object) -> Option<Object> {
        Some(o.clone())
    }

    fn listed(cache: &Cache<Object>, objects: Vec<Object>) {
        cache.apply(watcher::Event::Init, same);
        for o in objects {
            cache.apply(watcher::Event::InitApply(o), same);
        }
        cache.apply(watcher::Event::InitDone, same);
    }

    #[test]
    fn late_watch_events_do_not_undo_own_writes() {
        let cache = Cache::default();
        listed(&cache, vec![object("a", "5")]);

        cache.write_through(object("a", "7"));
        cache.apply(watcher::Event::Apply(object("a", "6")), same);

        assert_eq!(cache.get(&"a"), Some(object("a", "7")));
        assert!(cache.is_ready());
    }

    #[test]
    fn a_relist_keeps_newer_own_writes_and_drops_what_is_gone() {
        let cache = Cache::default();
        listed(&cache, vec![object("a", "5"), object("b", "5")]);
        cache.write_through(object("a", "9"));

        listed(&cache, vec![object("a", "8")]);

        assert_eq!(cache.get(&"a"), Some(object("a", "9")));
        assert_eq!(cache.get(&"b"), None, "deleted while the watch was down");
    }

    #[test]
    fn an_answer_after_the_delete_event_does_not_resurrect() {
        let cache = Cache::default();
        listed(&cache, vec![object("a", "5")]);

        cache.apply(watcher::Event::Delete(object("a", "6")), same);
        cache.write_through(object("a", "6"));

        assert_eq!(cache.get(&"a"), None);
    }
}
