//! In-memory backends of the three traits, for the embedded server and for tests.
//!
//! Each keeps its state behind one mutex and never holds it across an `.await`, so every
//! method is atomic with respect to the others: the compare-and-swap of [`MemoryUpdateStore`]
//! and the precondition of [`MemoryDeployer`] are exact. State lives as long as the value;
//! nothing is persisted.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::Utc;

use crate::index::RepositoryIndex;
use crate::store::{
    Appended, DeployError, Deployer, HistoryError, HistoryStore, StoreError, UpdateStore,
    WorkloadIndex, add_block, append_entry, remove_block,
};
use crate::types::{
    Block, HistoryEntry, ObjectKey, RolloutHealth, UpdateRequest, UpdateRequestStatus, Workload,
    WorkloadRef,
};

/// How many history entries are kept per container.
pub const HISTORY_PER_CONTAINER: usize = 10;

/// Locks a mutex, recovering the data if a panicking thread poisoned it. Every critical section
/// here leaves the data consistent before anything that can panic, so the data stays valid.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An [`UpdateStore`] in memory, ordered by namespace then name.
#[derive(Debug, Default)]
pub struct MemoryUpdateStore {
    requests: Mutex<BTreeMap<ObjectKey, UpdateRequest>>,
    version: AtomicU64,
}

impl MemoryUpdateStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many requests are stored.
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.requests).len()
    }

    /// Whether the store is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn next_version(&self) -> String {
        (self.version.fetch_add(1, Ordering::Relaxed) + 1).to_string()
    }
}

#[async_trait]
impl UpdateStore for MemoryUpdateStore {
    async fn list(&self, namespace: Option<String>) -> Result<Vec<UpdateRequest>, StoreError> {
        let requests = lock(&self.requests);

        let found = match namespace {
            None => requests.values().cloned().collect(),
            Some(ns) => requests
                .range(
                    ObjectKey {
                        namespace: ns.clone(),
                        name: String::new(),
                    }..,
                )
                .take_while(|(key, _)| key.namespace == ns)
                .map(|(_, request)| request.clone())
                .collect(),
        };

        Ok(found)
    }

    async fn get(&self, key: &ObjectKey) -> Result<UpdateRequest, StoreError> {
        lock(&self.requests)
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::NotFound { key: key.clone() })
    }

    async fn create(&self, mut request: UpdateRequest) -> Result<UpdateRequest, StoreError> {
        let key = request.key();
        let mut requests = lock(&self.requests);
        if requests.contains_key(&key) {
            return Err(StoreError::AlreadyExists { key });
        }

        request.metadata.resource_version = Some(self.next_version());
        request
            .metadata
            .creation_timestamp
            .get_or_insert_with(Utc::now);
        requests.insert(key, request.clone());

        Ok(request)
    }

    async fn update_status(
        &self,
        key: &ObjectKey,
        expected_version: &str,
        status: UpdateRequestStatus,
    ) -> Result<UpdateRequest, StoreError> {
        let mut requests = lock(&self.requests);
        let stored = requests
            .get_mut(key)
            .ok_or_else(|| StoreError::NotFound { key: key.clone() })?;
        if stored.metadata.resource_version.as_deref() != Some(expected_version) {
            return Err(StoreError::Conflict {
                key: key.clone(),
                expected: expected_version.to_owned(),
            });
        }

        stored.status = status;
        stored.metadata.resource_version = Some(self.next_version());

        Ok(stored.clone())
    }
}

/// A [`Deployer`] over workloads held in memory.
///
/// Rollouts finish at once: [`Deployer::rollout_health`] answers `Healthy` unless a test set
/// another answer with [`MemoryDeployer::set_health`].
#[derive(Debug, Default)]
pub struct MemoryDeployer {
    state: Mutex<DeployerState>,
    writes: AtomicU64,
}

#[derive(Debug, Default)]
struct DeployerState {
    workloads: HashMap<WorkloadRef, (Workload, RolloutHealth)>,
    index: RepositoryIndex,
}

impl MemoryDeployer {
    /// An empty deployer.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a workload.
    pub fn insert(&self, workload: Workload) {
        let mut state = lock(&self.state);
        let key = workload.reference.clone();

        if let Some((old, _)) = state.workloads.remove(&key) {
            state.index.remove(&old);
        }
        state.index.insert(&workload);
        state
            .workloads
            .insert(key, (workload, RolloutHealth::Healthy));
    }

    /// Removes a workload; answers whether it existed.
    pub fn remove(&self, workload: &WorkloadRef) -> bool {
        let mut state = lock(&self.state);
        let Some((old, _)) = state.workloads.remove(workload) else {
            return false;
        };

        state.index.remove(&old);
        true
    }

    /// Sets what [`Deployer::rollout_health`] answers for a workload.
    pub fn set_health(&self, workload: &WorkloadRef, health: RolloutHealth) {
        if let Some(entry) = lock(&self.state).workloads.get_mut(workload) {
            entry.1 = health;
        }
    }

    /// Every workload, in no particular order.
    #[must_use]
    pub fn workloads(&self) -> Vec<Workload> {
        let state = lock(&self.state);
        state.workloads.values().map(|(w, _)| w.clone()).collect()
    }

    /// How many times [`Deployer::set_image`] changed an image.
    #[must_use]
    pub fn image_writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Deployer for MemoryDeployer {
    async fn workload(&self, workload: &WorkloadRef) -> Result<Workload, DeployError> {
        lock(&self.state)
            .workloads
            .get(workload)
            .map(|(w, _)| w.clone())
            .ok_or_else(|| DeployError::WorkloadNotFound {
                workload: workload.clone(),
            })
    }

    async fn set_image(
        &self,
        workload: &WorkloadRef,
        container: &str,
        expected: &str,
        image: &str,
    ) -> Result<(), DeployError> {
        let mut state = lock(&self.state);
        let (found, _) =
            state
                .workloads
                .get(workload)
                .ok_or_else(|| DeployError::WorkloadNotFound {
                    workload: workload.clone(),
                })?;
        let live = found
            .container(container)
            .map(|c| c.image.clone())
            .ok_or_else(|| DeployError::ContainerNotFound {
                workload: workload.clone(),
                container: container.to_owned(),
            })?;

        if live != expected {
            return Err(DeployError::PreconditionFailed {
                container: container.to_owned(),
                expected: expected.to_owned(),
                live,
            });
        }
        if live == image {
            return Ok(());
        }

        let old = found.clone();
        let mut updated = old.clone();
        for c in updated
            .containers
            .iter_mut()
            .filter(|c| c.name == container)
        {
            c.image = image.to_owned();
        }
        state.index.remove(&old);
        state.index.insert(&updated);
        state
            .workloads
            .insert(workload.clone(), (updated, RolloutHealth::Healthy));
        self.writes.fetch_add(1, Ordering::SeqCst);

        Ok(())
    }

    async fn rollout_health(&self, workload: &WorkloadRef) -> Result<RolloutHealth, DeployError> {
        lock(&self.state)
            .workloads
            .get(workload)
            .map(|(_, health)| health.clone())
            .ok_or_else(|| DeployError::WorkloadNotFound {
                workload: workload.clone(),
            })
    }
}

#[async_trait]
impl WorkloadIndex for MemoryDeployer {
    async fn by_repository(&self, repository: &str) -> Result<Vec<Workload>, DeployError> {
        let state = lock(&self.state);
        let found = state
            .index
            .get(repository)
            .filter_map(|r| state.workloads.get(r))
            .map(|(w, _)| w.clone())
            .collect();

        Ok(found)
    }
}

#[derive(Debug, Default)]
struct WorkloadHistory {
    /// Newest first.
    entries: Vec<HistoryEntry>,
    blocks: Vec<Block>,
}

/// A [`HistoryStore`] in memory, keeping [`HISTORY_PER_CONTAINER`] entries per container.
#[derive(Debug, Default)]
pub struct MemoryHistoryStore {
    workloads: Mutex<HashMap<WorkloadRef, WorkloadHistory>>,
}

impl MemoryHistoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl HistoryStore for MemoryHistoryStore {
    async fn append(
        &self,
        workload: &WorkloadRef,
        entry: HistoryEntry,
    ) -> Result<Appended, HistoryError> {
        let mut workloads = lock(&self.workloads);
        let history = workloads.entry(workload.clone()).or_default();

        Ok(append_entry(
            &mut history.entries,
            entry,
            HISTORY_PER_CONTAINER,
        ))
    }

    async fn history(&self, workload: &WorkloadRef) -> Result<Vec<HistoryEntry>, HistoryError> {
        let workloads = lock(&self.workloads);
        let entries = workloads
            .get(workload)
            .map(|h| h.entries.clone())
            .unwrap_or_default();

        Ok(entries)
    }

    async fn block(&self, workload: &WorkloadRef, block: Block) -> Result<(), HistoryError> {
        let mut workloads = lock(&self.workloads);
        let blocks = &mut workloads.entry(workload.clone()).or_default().blocks;
        add_block(blocks, block);

        Ok(())
    }

    async fn unblock(
        &self,
        workload: &WorkloadRef,
        container: &str,
        image: &str,
    ) -> Result<bool, HistoryError> {
        let mut workloads = lock(&self.workloads);
        let Some(history) = workloads.get_mut(workload) else {
            return Ok(false);
        };

        Ok(remove_block(&mut history.blocks, container, image))
    }

    async fn blocks(&self, workload: &WorkloadRef) -> Result<Vec<Block>, HistoryError> {
        let workloads = lock(&self.workloads);

        Ok(workloads
            .get(workload)
            .map(|h| h.blocks.clone())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::types::Container;
    use crate::types::EntryKind;

    fn web() -> WorkloadRef {
        WorkloadRef::deployment("default", "web").unwrap()
    }

    fn entry(image: &str, name: Option<&str>, kind: EntryKind) -> HistoryEntry {
        HistoryEntry {
            container: "app".into(),
            image: image.into(),
            timestamp: Utc::now(),
            update_request_name: name.map(str::to_owned),
            approved_by: "ann".into(),
            kind,
        }
    }

    #[tokio::test]
    async fn compare_and_swap_refuses_stale_versions() {
        let store = MemoryUpdateStore::new();
        let request =
            UpdateRequest::pending("u", &web(), "app", ("a:1", "a:2"), Policy::All, Utc::now());
        let created = store.create(request.clone()).await.unwrap();
        let version = created.metadata.resource_version.clone().unwrap();

        let first = store
            .update_status(&created.key(), &version, created.status.clone())
            .await;
        let second = store
            .update_status(&created.key(), &version, created.status.clone())
            .await;

        assert!(first.is_ok());
        assert!(matches!(second, Err(StoreError::Conflict { .. })));
        assert!(matches!(
            store.create(request).await,
            Err(StoreError::AlreadyExists { .. })
        ));
    }

    #[tokio::test]
    async fn list_by_namespace_uses_the_ordered_index() {
        let store = MemoryUpdateStore::new();
        for (ns, name) in [("b", "x"), ("a", "y"), ("ab", "z"), ("a", "x")] {
            let workload = WorkloadRef::deployment(ns, "w").unwrap();
            let request = UpdateRequest::pending(
                name,
                &workload,
                "c",
                ("a:1", "a:2"),
                Policy::All,
                Utc::now(),
            );
            store.create(request).await.unwrap();
        }

        let names = |list: Vec<UpdateRequest>| {
            list.into_iter()
                .map(|r| r.key().to_string())
                .collect::<Vec<_>>()
        };

        assert_eq!(
            names(store.list(Some("a".into())).await.unwrap()),
            ["a/x", "a/y"]
        );
        assert_eq!(
            names(store.list(None).await.unwrap()),
            ["a/x", "a/y", "ab/z", "b/x"]
        );
        assert!(store.list(Some("c".into())).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn set_image_checks_the_precondition() {
        let deployer = MemoryDeployer::new();
        let container = Container {
            name: "app".into(),
            image: "a:1".into(),
        };
        deployer.insert(Workload::new(web(), vec![container]));

        let stale = deployer.set_image(&web(), "app", "a:0", "a:2").await;
        assert!(
            matches!(stale, Err(DeployError::PreconditionFailed { live, .. }) if live == "a:1")
        );

        deployer
            .set_image(&web(), "app", "a:1", "a:2")
            .await
            .unwrap();
        assert_eq!(
            deployer.workload(&web()).await.unwrap().containers[0].image,
            "a:2"
        );
        assert_eq!(deployer.image_writes(), 1);
    }

    #[tokio::test]
    async fn index_answers_exact_repositories_and_follows_changes() {
        let deployer = MemoryDeployer::new();
        let app = |image: &str| Container {
            name: "app".into(),
            image: image.into(),
        };
        let exporter = WorkloadRef::deployment("default", "exporter").unwrap();
        deployer.insert(Workload::new(web(), vec![app("nginx:1.25")]));
        deployer.insert(Workload::new(exporter, vec![app("nginx-exporter:0.11")]));

        let names = |found: Vec<Workload>| {
            found
                .into_iter()
                .map(|w| w.reference.name)
                .collect::<Vec<_>>()
        };
        let nginx = deployer
            .by_repository("docker.io/library/nginx")
            .await
            .unwrap();
        assert_eq!(names(nginx), ["web"]);

        deployer
            .set_image(&web(), "app", "nginx:1.25", "quay.io/nginx/nginx:1.26")
            .await
            .unwrap();
        assert!(
            deployer
                .by_repository("docker.io/library/nginx")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            names(deployer.by_repository("quay.io/nginx/nginx").await.unwrap()),
            ["web"]
        );

        deployer.remove(&web());
        assert!(
            deployer
                .by_repository("quay.io/nginx/nginx")
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn history_appends_are_conditional_and_bounded() {
        let history = MemoryHistoryStore::new();
        let w = web();

        assert_eq!(
            history
                .append(&w, entry("a:1", None, EntryKind::Baseline))
                .await
                .unwrap(),
            Appended::Stored
        );
        let again = history
            .append(&w, entry("a:0", None, EntryKind::Baseline))
            .await
            .unwrap();
        assert_eq!(again, Appended::AlreadyPresent);

        let update = entry("a:2", Some("u"), EntryKind::Update);
        assert_eq!(
            history.append(&w, update.clone()).await.unwrap(),
            Appended::Stored
        );
        assert_eq!(
            history.append(&w, update).await.unwrap(),
            Appended::AlreadyPresent
        );

        for i in 3..20 {
            history
                .append(&w, entry(&format!("a:{i}"), None, EntryKind::Rollback))
                .await
                .unwrap();
        }
        let entries = history.history(&w).await.unwrap();
        assert_eq!(entries.len(), HISTORY_PER_CONTAINER);
        assert_eq!(entries[0].image, "a:19", "newest first");
    }
}
