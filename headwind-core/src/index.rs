//! [`RepositoryIndex`]: workloads by the image repositories their containers run.
//!
//! Backends keep one next to their workloads (in memory, or beside a watch cache) and update it
//! on every change, so that [`crate::store::WorkloadIndex::by_repository`] is a map lookup.

use std::collections::{BTreeSet, HashMap};

use crate::image::ImageRef;
use crate::types::{Workload, WorkloadRef};

/// Normalised repository -> the workloads with a container running it.
#[derive(Clone, Debug, Default)]
pub struct RepositoryIndex {
    by_repository: HashMap<String, BTreeSet<WorkloadRef>>,
}

impl RepositoryIndex {
    /// An empty index.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `workload` under each repository its containers run. Images that do not parse are
    /// not indexed: no push event can name them.
    pub fn insert(&mut self, workload: &Workload) {
        for repository in repositories(workload) {
            let set = self.by_repository.entry(repository).or_default();
            set.insert(workload.reference.clone());
        }
    }

    /// Removes `workload` as it was indexed (pass the version that was inserted).
    pub fn remove(&mut self, workload: &Workload) {
        for repository in repositories(workload) {
            if let Some(set) = self.by_repository.get_mut(&repository) {
                set.remove(&workload.reference);
                if set.is_empty() {
                    self.by_repository.remove(&repository);
                }
            }
        }
    }

    /// The workloads running `repository`, in order.
    pub fn get(&self, repository: &str) -> impl Iterator<Item = &WorkloadRef> {
        self.by_repository.get(repository).into_iter().flatten()
    }

    /// How many repositories are indexed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_repository.len()
    }

    /// Whether nothing is indexed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_repository.is_empty()
    }
}

fn repositories(workload: &Workload) -> Vec<String> {
    workload
        .containers
        .iter()
        .filter_map(|c| ImageRef::parse(&c.image).ok())
        .map(|image| image.repository())
        .collect()
}
