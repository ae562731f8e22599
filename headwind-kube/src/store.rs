//! [`KubeUpdateStore`]: update requests as `UpdateRequest` custom resources.
//!
//! Reads (`list`, `get`) are served from the watch cache. `create` posts the resource and then
//! writes its initial status through the status subresource (a create ignores status).
//! `update_status` replaces the status subresource with `metadata.resourceVersion` set to the
//! version the caller read, so the API server refuses a stale write with 409, which becomes
//! [`StoreError::Conflict`]; the entry is then refreshed from the API so the caller's re-read
//! sees the winner's write.

use std::sync::Arc;

use async_trait::async_trait;
use headwind_core::store::{StoreError, UpdateStore};
use headwind_core::types::{ObjectKey, UpdateRequest, UpdateRequestStatus};
use kube::Client;
use kube::api::{Api, PostParams};

use crate::cache::{Cache, Entry};
use crate::crd::{self, UpdateRequest as Resource};
use crate::{Readiness, api_code};

impl Entry for UpdateRequest {
    type Key = ObjectKey;

    fn key(&self) -> ObjectKey {
        UpdateRequest::key(self)
    }

    fn version(&self) -> Option<&str> {
        self.metadata.resource_version.as_deref()
    }
}

/// An [`UpdateStore`] on `UpdateRequest` custom resources.
#[derive(Clone)]
pub struct KubeUpdateStore {
    client: Client,
    cache: Arc<Cache<UpdateRequest>>,
    readiness: Readiness,
}

impl std::fmt::Debug for KubeUpdateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeUpdateStore").finish_non_exhaustive()
    }
}

impl KubeUpdateStore {
    pub(crate) fn new(
        client: Client,
        cache: Arc<Cache<UpdateRequest>>,
        readiness: Readiness,
    ) -> Self {
        Self {
            client,
            cache,
            readiness,
        }
    }

    fn api(&self, namespace: &str) -> Api<Resource> {
        Api::namespaced(self.client.clone(), namespace)
    }

    fn backend(key: &ObjectKey, error: kube::Error) -> StoreError {
        StoreError::Backend {
            key: key.clone(),
            source: Box::new(error),
        }
    }

    /// Reads the request from the API and stores it in the cache.
    async fn refresh(&self, key: &ObjectKey) -> Result<(), kube::Error> {
        let object = self.api(&key.namespace).get(&key.name).await?;
        self.cache.write_through(crd::to_core(&object));

        Ok(())
    }
}

#[async_trait]
impl UpdateStore for KubeUpdateStore {
    async fn list(&self, namespace: Option<String>) -> Result<Vec<UpdateRequest>, StoreError> {
        let found = match namespace {
            None => self.cache.all(),
            Some(ns) => {
                // Keys order by namespace then name, and `ns` followed by NUL is the first
                // namespace after `ns`: the range holds exactly the requests of `ns`.
                let from = ObjectKey {
                    namespace: ns.clone(),
                    name: String::new(),
                };
                let to = ObjectKey {
                    namespace: format!("{ns}\0"),
                    name: String::new(),
                };
                self.cache.range(from..to)
            }
        };

        Ok(found)
    }

    async fn get(&self, key: &ObjectKey) -> Result<UpdateRequest, StoreError> {
        self.cache
            .get(key)
            .ok_or_else(|| StoreError::NotFound { key: key.clone() })
    }

    async fn create(&self, request: UpdateRequest) -> Result<UpdateRequest, StoreError> {
        let key = request.key();
        let api = self.api(&key.namespace);

        let created = match api
            .create(&PostParams::default(), &crd::from_core(&request))
            .await
        {
            Ok(created) => created,
            Err(e) if api_code(&e) == Some(409) => return Err(StoreError::AlreadyExists { key }),
            Err(e) => return Err(Self::backend(&key, e)),
        };
        let mut with_status = created;
        with_status.status = Some(crd::UpdateRequestStatus {
            inner: request.status.clone(),
        });

        let stored = api
            .replace_status(&key.name, &PostParams::default(), &with_status)
            .await
            .map_err(|e| Self::backend(&key, e))?;
        let stored = crd::to_core(&stored);
        self.cache.write_through(stored.clone());

        Ok(stored)
    }

    async fn update_status(
        &self,
        key: &ObjectKey,
        expected_version: &str,
        status: UpdateRequestStatus,
    ) -> Result<UpdateRequest, StoreError> {
        let mut current = self.get(key).await?;
        current.metadata.resource_version = Some(expected_version.to_owned());
        current.status = status;
        let object = crd::from_core(&current);
        let api = self.api(&key.namespace);

        match api
            .replace_status(&key.name, &PostParams::default(), &object)
            .await
        {
            Ok(stored) => {
                let stored = crd::to_core(&stored);
                self.cache.write_through(stored.clone());
                Ok(stored)
            }
            Err(e) if api_code(&e) == Some(409) => {
                // Without a fresh entry the caller's retry would resend the stale version.
                if let Err(error) = self.refresh(key).await {
                    return Err(Self::backend(key, error));
                }
                Err(StoreError::Conflict {
                    key: key.clone(),
                    expected: expected_version.to_owned(),
                })
            }
            Err(e) if api_code(&e) == Some(404) => Err(StoreError::NotFound { key: key.clone() }),
            Err(e) => Err(Self::backend(key, e)),
        }
    }

    fn is_ready(&self) -> bool {
        self.readiness.is_ready()
    }
}
