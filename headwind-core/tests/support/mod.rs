//! Fixtures shared by the core integration tests: one workload on the in-memory backends and
//! builders for requests against it.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::Arc;

use chrono::Utc;
use headwind_core::memory::{MemoryDeployer, MemoryHistoryStore, MemoryUpdateStore};
use headwind_core::policy::Policy;
use headwind_core::store::UpdateStore;
use headwind_core::types::{Container, ObjectKey, UpdateRequest, Workload, WorkloadRef};
use headwind_core::{ApprovalService, RollbackService};

pub const CONTAINER: &str = "nginx";

pub struct Fixture {
    pub updates: Arc<MemoryUpdateStore>,
    pub deployer: Arc<MemoryDeployer>,
    pub history: Arc<MemoryHistoryStore>,
    pub approvals: ApprovalService,
    pub rollbacks: RollbackService,
}

pub fn workload() -> WorkloadRef {
    WorkloadRef::deployment("default", "nginx-example").unwrap()
}

impl Fixture {
    /// The workload runs `nginx:1.25.0` and has no history.
    pub fn new() -> Self {
        let updates = Arc::new(MemoryUpdateStore::new());
        let deployer = Arc::new(MemoryDeployer::new());
        let history = Arc::new(MemoryHistoryStore::new());
        let container = Container {
            name: CONTAINER.into(),
            image: "nginx:1.25.0".into(),
        };
        deployer.insert(Workload::new(workload(), vec![container]));

        let approvals = ApprovalService::new(updates.clone(), deployer.clone(), history.clone());
        let rollbacks = RollbackService::new(deployer.clone(), history.clone());

        Self {
            updates,
            deployer,
            history,
            approvals,
            rollbacks,
        }
    }

    pub fn request(name: &str, from: &str, to: &str) -> UpdateRequest {
        UpdateRequest::pending(
            name,
            &workload(),
            CONTAINER,
            (from, to),
            Policy::Minor,
            Utc::now(),
        )
    }

    pub async fn create(&self, request: UpdateRequest) -> ObjectKey {
        self.updates.create(request).await.unwrap().key()
    }

    pub async fn live_image(&self) -> String {
        use headwind_core::Deployer;

        let found = self.deployer.workload(&workload()).await.unwrap();
        found.container(CONTAINER).unwrap().image.clone()
    }
}
