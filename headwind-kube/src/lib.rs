//! Kubernetes backends of headwind's core traits.
//!
//! - [`crd`]: the `UpdateRequest` custom resource (`headwind.sh/v1alpha1`);
//! - [`store::KubeUpdateStore`]: `UpdateStore` on that resource, reads from a watch cache,
//!   status writes through the status subresource with `resourceVersion`;
//! - [`deployer::KubeDeployer`]: `Deployer` and `WorkloadIndex` for Deployments, StatefulSets and
//!   DaemonSets, images changed by JSON Patch with `test` operations;
//! - [`history::KubeHistoryStore`]: `HistoryStore` on workload annotations;
//! - [`controller`]: the reconcile loop that finishes and expires requests;
//! - [`events::KubeEvents`]: Kubernetes Events for each transition.
//!
//! [`KubeBackends::start`] starts the four watchers the caches need and returns the backends.
//! kube types do not leave this crate: the backends speak core's types.

pub mod controller;
pub mod crd;
pub mod deployer;
pub mod events;
pub mod history;
pub mod store;
mod workload;

mod cache;

use std::sync::Arc;

use headwind_core::types::WorkloadKind;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio::task::JoinHandle;

pub use deployer::KubeDeployer;
pub use history::KubeHistoryStore;
pub use store::KubeUpdateStore;

/// The HTTP status of an API error, if the error is one.
pub(crate) fn api_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// Whether every watch cache has applied its initial list.
#[derive(Clone, Debug)]
pub(crate) struct Readiness {
    requests: Arc<cache::Cache<headwind_core::types::UpdateRequest>>,
    workloads: deployer::Workloads,
}

impl Readiness {
    pub(crate) fn is_ready(&self) -> bool {
        self.requests.is_ready() && self.workloads.is_ready()
    }
}

/// The three backends over one client, and the watchers that keep their caches.
#[derive(Debug)]
pub struct KubeBackends {
    /// The update store.
    pub updates: Arc<KubeUpdateStore>,
    /// The deployer and workload index.
    pub deployer: Arc<KubeDeployer>,
    /// The history store.
    pub history: Arc<KubeHistoryStore>,
    watchers: Vec<JoinHandle<()>>,
}

impl KubeBackends {
    /// Starts watching UpdateRequests, Deployments, StatefulSets and DaemonSets in all
    /// namespaces and returns the backends. Reads answer from the caches; until every cache
    /// has its initial list, `UpdateStore::is_ready` is `false`. Must be called inside a tokio
    /// runtime.
    #[must_use]
    pub fn start(client: Client) -> Self {
        let requests = Arc::new(cache::Cache::default());
        let workloads = deployer::Workloads::new(client.clone());
        let mut watchers = Vec::new();

        let api: Api<crd::UpdateRequest> = Api::all(client.clone());
        let events = watcher(api, watcher::Config::default()).default_backoff();
        let cache = requests.clone();
        watchers.push(tokio::spawn(cache::run(
            cache,
            events,
            "updaterequests",
            |o| Some(crd::to_core(o)),
        )));

        for kind in [
            WorkloadKind::Deployment,
            WorkloadKind::StatefulSet,
            WorkloadKind::DaemonSet,
        ] {
            let resource = workload::api_resource(kind);
            let api = Api::<kube::api::DynamicObject>::all_with(client.clone(), &resource);
            let events = watcher(api, watcher::Config::default()).default_backoff();
            let cache = workloads.cache(kind).clone();
            let convert = move |o: &kube::api::DynamicObject| workload::to_cached(kind, o);
            watchers.push(tokio::spawn(cache::run(
                cache,
                events,
                kind.as_str(),
                convert,
            )));
        }

        let readiness = Readiness {
            requests: requests.clone(),
            workloads: workloads.clone(),
        };
        Self {
            updates: Arc::new(KubeUpdateStore::new(client, requests, readiness)),
            deployer: Arc::new(KubeDeployer::new(workloads.clone())),
            history: Arc::new(KubeHistoryStore::new(workloads)),
            watchers,
        }
    }
}

impl Drop for KubeBackends {
    fn drop(&mut self) {
        for watcher in &self.watchers {
            watcher.abort();
        }
    }
}
