//! Property tests: random interleavings of approve, reject, expire, crash and resume on one
//! request never apply twice, and the final state always agrees with the history.

mod support;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use headwind_core::ApprovalService;
use headwind_core::approval::transition::{self, Vote};
use headwind_core::store::{
    Appended, DeployError, Deployer, HistoryError, HistoryStore, StoreError, UpdateStore,
};
use headwind_core::types::{
    Block, EntryKind, HistoryEntry, ObjectKey, Phase, RolloutHealth, UpdateRequest,
    UpdateRequestStatus, Workload, WorkloadRef,
};
use proptest::prelude::*;
use support::{Fixture, workload};

/// Wraps a backend so that every call first yields to the scheduler, letting the tasks of a
/// test interleave at each backend call.
#[derive(Debug)]
struct Yielding<T>(Arc<T>);

async fn pause() {
    tokio::task::yield_now().await;
}

#[async_trait]
impl<T: UpdateStore + 'static> UpdateStore for Yielding<T> {
    async fn list(&self, namespace: Option<String>) -> Result<Vec<UpdateRequest>, StoreError> {
        pause().await;
        self.0.list(namespace).await
    }

    async fn get(&self, key: &ObjectKey) -> Result<UpdateRequest, StoreError> {
        pause().await;
        self.0.get(key).await
    }

    async fn create(&self, request: UpdateRequest) -> Result<UpdateRequest, StoreError> {
        self.0.create(request).await
    }

    async fn update_status(
        &self,
        key: &ObjectKey,
        expected_version: &str,
        status: UpdateRequestStatus,
    ) -> Result<UpdateRequest, StoreError> {
        pause().await;
        self.0.update_status(key, expected_version, status).await
    }
}

#[async_trait]
impl<T: Deployer + 'static> Deployer for Yielding<T> {
    async fn workload(&self, workload: &WorkloadRef) -> Result<Workload, DeployError> {
        pause().await;
        self.0.workload(workload).await
    }

    async fn set_image(
        &self,
        workload: &WorkloadRef,
        container: &str,
        expected: &str,
        image: &str,
    ) -> Result<(), DeployError> {
        pause().await;
        self.0.set_image(workload, container, expected, image).await
    }

    async fn rollout_health(&self, workload: &WorkloadRef) -> Result<RolloutHealth, DeployError> {
        self.0.rollout_health(workload).await
    }
}

#[async_trait]
impl<T: HistoryStore + 'static> HistoryStore for Yielding<T> {
    async fn append(&self, w: &WorkloadRef, entry: HistoryEntry) -> Result<Appended, HistoryError> {
        pause().await;
        self.0.append(w, entry).await
    }

    async fn history(&self, w: &WorkloadRef) -> Result<Vec<HistoryEntry>, HistoryError> {
        self.0.history(w).await
    }

    async fn block(&self, w: &WorkloadRef, block: Block) -> Result<(), HistoryError> {
        pause().await;
        self.0.block(w, block).await
    }

    async fn unblock(&self, w: &WorkloadRef, c: &str, image: &str) -> Result<bool, HistoryError> {
        self.0.unblock(w, c, image).await
    }

    async fn blocks(&self, w: &WorkloadRef) -> Result<Vec<Block>, HistoryError> {
        self.0.blocks(w).await
    }
}

#[derive(Clone, Debug)]
enum Op {
    Approve(u8),
    Reject(u8),
    Expire,
    Resume,
    /// Writes Approved and stops, as a process that died right after the compare-and-swap.
    CrashAfterApprove(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..4).prop_map(Op::Approve),
        (0u8..4).prop_map(Op::Reject),
        Just(Op::Expire),
        Just(Op::Resume),
        (0u8..4).prop_map(Op::CrashAfterApprove),
    ]
}

async fn crash_after_approve(store: &dyn UpdateStore, key: &ObjectKey, who: &str) {
    let Ok(current) = store.get(key).await else {
        return;
    };
    let vote = transition::approve(&current.spec, &current.status, who, Utc::now());
    if let Ok(Vote::Approved(status)) = vote {
        let version = current.metadata.resource_version.unwrap_or_default();
        let _ = store.update_status(key, &version, status).await;
    }
}

async fn run(ops: Vec<(Op, u8)>, required: u32) -> Result<(), TestCaseError> {
    let fx = Fixture::new();
    let updates = Arc::new(Yielding(fx.updates.clone()));
    let service = ApprovalService::new(
        updates.clone(),
        Arc::new(Yielding(fx.deployer.clone())),
        Arc::new(Yielding(fx.history.clone())),
    );
    let request = Fixture::request("race", "nginx:1.25.0", "nginx:1.26.0")
        .with_expiry(Utc::now() + TimeDelta::hours(1))
        .with_required_approvals(required);
    let key = fx.create(request).await;
    let after_deadline = Utc::now() + TimeDelta::hours(2);

    let mut tasks = Vec::new();
    for (op, delay) in ops {
        let service = service.clone();
        let updates = updates.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..delay {
                pause().await;
            }
            match op {
                Op::Approve(who) => drop(service.approve(&key, &format!("u{who}")).await),
                Op::Reject(who) => drop(service.reject(&key, &format!("u{who}"), None).await),
                Op::Expire => drop(service.expire(&key, after_deadline).await),
                Op::Resume => drop(service.resume(&key).await),
                Op::CrashAfterApprove(who) => {
                    crash_after_approve(updates.as_ref(), &key, &format!("u{who}")).await;
                }
            }
        }));
    }
    for task in tasks {
        task.await.map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    service
        .resume_all()
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;

    let phase = fx.updates.get(&key).await.unwrap().status.phase;
    let writes = fx.deployer.image_writes();
    let history = fx.history.history(&workload()).await.unwrap();
    let updates_recorded = history
        .iter()
        .filter(|e| e.kind == EntryKind::Update)
        .count();
    let live = fx.live_image().await;

    prop_assert!(writes <= 1, "applied {writes} times");
    prop_assert!(
        phase != Phase::Approved,
        "resume_all leaves nothing Approved"
    );
    prop_assert!(phase != Phase::Failed, "no failure was injected");
    if phase == Phase::Completed {
        prop_assert_eq!((writes, updates_recorded), (1, 1));
        prop_assert_eq!(live, "nginx:1.26.0");
        prop_assert_eq!(history.len(), 2, "baseline plus update");
    } else {
        prop_assert_eq!((writes, updates_recorded), (0, 0));
        prop_assert_eq!(live, "nginx:1.25.0");
    }

    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn interleavings_apply_at_most_once(
        ops in prop::collection::vec((op(), 0u8..6), 1..12),
        required in 1u32..3,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(run(ops, required))?;
    }
}
