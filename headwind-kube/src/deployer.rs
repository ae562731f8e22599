//! [`KubeDeployer`]: reading workloads from the watch caches and changing images with a JSON
//! Patch whose `test` operations make the change conditional.
//!
//! The patch checks the container's name and image at its index in the pod template before it
//! replaces the image. If someone changed either since the cache saw the object, the API server
//! answers 422 and writes nothing; that becomes [`DeployError::PreconditionFailed`] with the
//! image the API server holds now. See
//! <https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/>
//! and RFC 6902 section 4.6 for `test`.

use std::sync::Arc;

use async_trait::async_trait;
use headwind_core::store::{DeployError, Deployer, WorkloadIndex};
use headwind_core::types::{RolloutHealth, Workload, WorkloadKind, WorkloadRef};
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};

use crate::api_code;
use crate::cache::Cache;
use crate::workload::{self, Cached};

/// The three workload caches and a client to write through.
#[derive(Clone)]
pub(crate) struct Workloads {
    pub(crate) client: Client,
    pub(crate) deployments: Arc<Cache<Cached>>,
    pub(crate) statefulsets: Arc<Cache<Cached>>,
    pub(crate) daemonsets: Arc<Cache<Cached>>,
}

impl std::fmt::Debug for Workloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workloads").finish_non_exhaustive()
    }
}

impl Workloads {
    pub(crate) fn new(client: Client) -> Self {
        Self {
            client,
            deployments: Arc::default(),
            statefulsets: Arc::default(),
            daemonsets: Arc::default(),
        }
    }

    pub(crate) fn cache(&self, kind: WorkloadKind) -> &Arc<Cache<Cached>> {
        match kind {
            WorkloadKind::Deployment => &self.deployments,
            WorkloadKind::StatefulSet => &self.statefulsets,
            WorkloadKind::DaemonSet => &self.daemonsets,
        }
    }

    pub(crate) fn api(&self, workload: &WorkloadRef) -> Api<DynamicObject> {
        let resource = workload::api_resource(workload.kind);
        Api::namespaced_with(self.client.clone(), &workload.namespace, &resource)
    }

    pub(crate) fn cached(&self, workload: &WorkloadRef) -> Result<Cached, DeployError> {
        self.cache(workload.kind)
            .get(workload)
            .ok_or_else(|| DeployError::WorkloadNotFound {
                workload: workload.clone(),
            })
    }

    /// Stores an object the API server returned for one of our writes.
    pub(crate) fn write_through(&self, kind: WorkloadKind, object: &DynamicObject) {
        if let Some(cached) = workload::to_cached(kind, object) {
            self.cache(kind).write_through(cached);
        }
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.deployments.is_ready() && self.statefulsets.is_ready() && self.daemonsets.is_ready()
    }
}

/// A [`Deployer`] and [`WorkloadIndex`] for Deployments, StatefulSets and DaemonSets.
#[derive(Clone, Debug)]
pub struct KubeDeployer {
    workloads: Workloads,
}

impl KubeDeployer {
    pub(crate) fn new(workloads: Workloads) -> Self {
        Self { workloads }
    }

    fn backend(
        workload: &WorkloadRef,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> DeployError {
        DeployError::Backend {
            workload: workload.clone(),
            source: Box::new(error),
        }
    }
}

/// The JSON Patch that replaces the image of the container at `index`, if it still has
/// `container` as name and `expected` as image.
///
/// # Errors
///
/// None in practice: the operations are well-formed by construction.
pub fn image_patch(
    index: usize,
    container: &str,
    expected: &str,
    image: &str,
) -> Result<json_patch::Patch, serde_json::Error> {
    let at = |field: &str| format!("/spec/template/spec/containers/{index}/{field}");
    let operations = serde_json::json!([
        {"op": "test", "path": at("name"), "value": container},
        {"op": "test", "path": at("image"), "value": expected},
        {"op": "replace", "path": at("image"), "value": image},
    ]);

    serde_json::from_value(operations)
}

/// Whether an API status code refuses a write for good.
fn is_refusal(code: u16) -> bool {
    (400..500).contains(&code) && !matches!(code, 401 | 408 | 409 | 429)
}

#[async_trait]
impl Deployer for KubeDeployer {
    async fn workload(&self, workload: &WorkloadRef) -> Result<Workload, DeployError> {
        Ok(self.workloads.cached(workload)?.workload)
    }

    async fn set_image(
        &self,
        workload: &WorkloadRef,
        container: &str,
        expected: &str,
        image: &str,
    ) -> Result<(), DeployError> {
        let cached = self.workloads.cached(workload)?;
        let index = cached
            .workload
            .containers
            .iter()
            .position(|c| c.name == container)
            .ok_or_else(|| DeployError::ContainerNotFound {
                workload: workload.clone(),
                container: container.to_owned(),
            })?;
        let patch = image_patch(index, container, expected, image)
            .map_err(|e| Self::backend(workload, e))?;
        let api = self.workloads.api(workload);

        match api
            .patch(
                &workload.name,
                &PatchParams::default(),
                &Patch::Json::<()>(patch),
            )
            .await
        {
            Ok(object) => {
                self.workloads.write_through(workload.kind, &object);
                tracing::debug!(%workload, container, image, "image patched");
                Ok(())
            }
            Err(e) if api_code(&e) == Some(422) => {
                // The test operation failed: report what the container runs now.
                let object = match api.get(&workload.name).await {
                    Ok(object) => object,
                    Err(e) if api_code(&e) == Some(404) => {
                        return Err(DeployError::WorkloadNotFound {
                            workload: workload.clone(),
                        });
                    }
                    Err(e) => return Err(Self::backend(workload, e)),
                };
                self.workloads.write_through(workload.kind, &object);
                let live = workload::to_cached(workload.kind, &object)
                    .and_then(|c| c.workload.container(container).map(|c| c.image.clone()))
                    .ok_or_else(|| DeployError::ContainerNotFound {
                        workload: workload.clone(),
                        container: container.to_owned(),
                    })?;
                Err(DeployError::PreconditionFailed {
                    container: container.to_owned(),
                    expected: expected.to_owned(),
                    live,
                })
            }
            Err(e) if api_code(&e) == Some(404) => Err(DeployError::WorkloadNotFound {
                workload: workload.clone(),
            }),
            // Other client errors (an admission webhook's 400, a 403) are final refusals. 401
            // (an expiring token), 408 (a timeout), 409 and 429 are transient or of unknown
            // outcome.
            Err(e) if api_code(&e).is_some_and(is_refusal) => Err(DeployError::Refused {
                workload: workload.clone(),
                source: Box::new(e),
            }),
            Err(e) => Err(Self::backend(workload, e)),
        }
    }

    async fn rollout_health(&self, workload: &WorkloadRef) -> Result<RolloutHealth, DeployError> {
        Ok(self.workloads.cached(workload)?.health)
    }
}

#[async_trait]
impl WorkloadIndex for KubeDeployer {
    async fn by_repository(&self, repository: &str) -> Result<Vec<Workload>, DeployError> {
        let mut found = Vec::new();

        for kind in [
            WorkloadKind::Deployment,
            WorkloadKind::StatefulSet,
            WorkloadKind::DaemonSet,
        ] {
            let cached = self
                .workloads
                .cache(kind)
                .by_repository(repository, Clone::clone);
            found.extend(cached.into_iter().map(|c| c.workload));
        }

        Ok(found)
    }
}
