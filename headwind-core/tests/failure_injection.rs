//! Failure injection with the mockall mocks of the backend traits.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use headwind_core::ApprovalService;
use headwind_core::approval::Error;
use headwind_core::memory::{MemoryDeployer, MemoryHistoryStore};
use headwind_core::mock::{MockDeployer, MockHistoryStore, MockUpdateStore};
use headwind_core::store::{
    Appended, DeployError, HistoryError, HistoryStore, StoreError, UpdateStore,
};
use headwind_core::types::{Container, Phase, Workload};
use support::{CONTAINER, Fixture, workload};

fn running(image: &str) -> Workload {
    let container = Container {
        name: CONTAINER.into(),
        image: image.into(),
    };
    Workload::new(workload(), vec![container])
}

#[tokio::test]
async fn deploy_error_fails_the_request_with_the_cause() {
    let fx = Fixture::new();
    let key = fx
        .create(Fixture::request("u1", "nginx:1.25.0", "nginx:1.26.0"))
        .await;
    let mut deployer = MockDeployer::new();
    deployer
        .expect_workload()
        .returning(|_| Ok(running("nginx:1.25.0")));
    deployer
        .expect_set_image()
        .times(1)
        .returning(|w, _, _, _| {
            Err(DeployError::Refused {
                workload: w.clone(),
                source: "admission webhook denied the patch".into(),
            })
        });
    let service = ApprovalService::new(fx.updates.clone(), Arc::new(deployer), fx.history.clone());

    let result = service.approve(&key, "ann").await;

    let Err(Error::ApplyFailed { cause, .. }) = result else {
        panic!("{result:?}")
    };
    assert!(
        cause.contains("admission webhook denied the patch"),
        "{cause}"
    );
    let stored = fx.updates.get(&key).await.unwrap();
    assert_eq!(stored.status.phase, Phase::Failed);
    assert_eq!(stored.status.message, Some(cause));
}

#[tokio::test]
async fn store_conflict_is_a_conflict_and_deploys_nothing() {
    let pending = Fixture::request("u1", "nginx:1.25.0", "nginx:1.26.0");
    let key = pending.key();
    let mut updates = MockUpdateStore::new();
    let mut versioned = pending.clone();
    versioned.metadata.resource_version = Some("7".into());
    updates
        .expect_get()
        .returning(move |_| Ok(versioned.clone()));
    updates
        .expect_update_status()
        .returning(|key, expected, _| {
            Err(StoreError::Conflict {
                key: key.clone(),
                expected: expected.to_owned(),
            })
        });
    let mut deployer = MockDeployer::new();
    deployer.expect_set_image().times(0);
    deployer.expect_workload().times(0);
    let service = ApprovalService::new(
        Arc::new(updates),
        Arc::new(deployer),
        Arc::new(MemoryHistoryStore::new()),
    );

    let result = service.approve(&key, "ann").await;

    assert!(matches!(result, Err(Error::Conflict { .. })), "{result:?}");
}

#[tokio::test]
async fn store_outage_is_reported_not_swallowed() {
    let pending = Fixture::request("u1", "nginx:1.25.0", "nginx:1.26.0");
    let key = pending.key();
    let mut updates = MockUpdateStore::new();
    updates.expect_get().returning(|key| {
        Err(StoreError::Backend {
            key: key.clone(),
            source: "connection refused".into(),
        })
    });
    let service = ApprovalService::new(
        Arc::new(updates),
        Arc::new(MockDeployer::new()),
        Arc::new(MockHistoryStore::new()),
    );

    let result = service.reject(&key, "ann", None).await;

    assert!(
        matches!(
            result,
            Err(Error::Store {
                source: StoreError::Backend { .. },
                ..
            })
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn crash_after_apply_is_resumed_exactly_once() {
    let fx = Fixture::new();
    let key = fx
        .create(Fixture::request("u1", "nginx:1.25.0", "nginx:1.26.0"))
        .await;
    let deployer = Arc::new(MemoryDeployer::new());
    deployer.insert(running("nginx:1.25.0"));

    // The first history write fails, as if the process died right after applying the image.
    let calls = Arc::new(AtomicUsize::new(0));
    let history = failing_first_append(calls.clone(), "etcd timeout");
    let service = ApprovalService::new(fx.updates.clone(), deployer.clone(), Arc::new(history));

    let first = service.approve(&key, "ann").await;
    assert!(matches!(first, Err(Error::History { .. })), "{first:?}");
    assert_eq!(
        fx.updates.get(&key).await.unwrap().status.phase,
        Phase::Approved
    );

    let resumed = service.resume(&key).await.unwrap();
    let again = service.resume(&key).await.unwrap();

    assert_eq!(resumed.status.phase, Phase::Completed);
    assert_eq!(again.status.phase, Phase::Completed);
    assert_eq!(deployer.image_writes(), 1, "the image is applied once");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "failed write, then baseline and update once"
    );
}

/// A history store whose first `append` fails with `cause`, as a crash or a full annotation
/// would, and whose next two (the baseline and update entries of a resume) succeed; counts the
/// calls in `calls`.
fn failing_first_append(calls: Arc<AtomicUsize>, cause: &'static str) -> MockHistoryStore {
    let mut history = MockHistoryStore::new();
    history.expect_append().times(3).returning(move |w, _| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(HistoryError::Backend {
                workload: w.clone(),
                source: cause.into(),
            });
        }
        Ok(Appended::Stored)
    });

    history
}

fn unreachable(w: &headwind_core::types::WorkloadRef) -> DeployError {
    DeployError::Backend {
        workload: w.clone(),
        source: "context deadline exceeded".into(),
    }
}

#[tokio::test]
async fn unknown_deploy_outcome_keeps_the_request_approved_until_resumed() {
    let fx = Fixture::new();
    let key = fx
        .create(Fixture::request("u1", "nginx:1.25.0", "nginx:1.26.0"))
        .await;
    let mut flaky = MockDeployer::new();
    flaky
        .expect_workload()
        .returning(|_| Ok(running("nginx:1.25.0")));
    flaky
        .expect_set_image()
        .times(1)
        .returning(|w, _, _, _| Err(unreachable(w)));
    let service = ApprovalService::new(fx.updates.clone(), Arc::new(flaky), fx.history.clone());

    let first = service.approve(&key, "ann").await;

    assert!(
        matches!(first, Err(Error::DeployUnavailable { .. })),
        "{first:?}"
    );
    assert_eq!(
        fx.updates.get(&key).await.unwrap().status.phase,
        Phase::Approved,
        "not Failed"
    );

    let healthy = ApprovalService::new(fx.updates.clone(), fx.deployer.clone(), fx.history.clone());
    let resumed = healthy.resume(&key).await.unwrap();
    assert_eq!(resumed.status.phase, Phase::Completed);
    assert_eq!(fx.deployer.image_writes(), 1);
}

#[tokio::test]
async fn a_write_that_timed_out_after_landing_counts_as_applied() {
    let fx = Fixture::new();
    let key = fx
        .create(Fixture::request("u1", "nginx:1.25.0", "nginx:1.26.0"))
        .await;
    let reads = Arc::new(AtomicUsize::new(0));
    let mut deployer = MockDeployer::new();
    let seen = reads.clone();
    deployer.expect_workload().returning(move |_| {
        // The first read sees the old image; the read after the timeout sees the new one.
        let image = if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            "nginx:1.25.0"
        } else {
            "nginx:1.26.0"
        };
        Ok(running(image))
    });
    deployer
        .expect_set_image()
        .times(1)
        .returning(|w, _, _, _| Err(unreachable(w)));
    let service = ApprovalService::new(fx.updates.clone(), Arc::new(deployer), fx.history.clone());

    let outcome = service.approve(&key, "ann").await.unwrap();

    assert!(
        matches!(outcome, headwind_core::approval::ApproveOutcome::Applied(r) if r.status.phase == Phase::Completed)
    );
    assert_eq!(
        fx.history.history(&workload()).await.unwrap().len(),
        2,
        "baseline and update"
    );
}

#[tokio::test]
async fn rollback_keeps_its_block_when_recording_history_fails() {
    let deployer = Arc::new(MemoryDeployer::new());
    deployer.insert(running("nginx:1.26.0"));
    let entry = |image: &str, kind| headwind_core::types::HistoryEntry {
        container: CONTAINER.into(),
        image: image.into(),
        timestamp: chrono::Utc::now(),
        update_request_name: None,
        approved_by: "ann".into(),
        kind,
    };
    let past = vec![
        entry("nginx:1.26.0", headwind_core::types::EntryKind::Update),
        entry("nginx:1.25.0", headwind_core::types::EntryKind::Baseline),
    ];
    let mut history = MockHistoryStore::new();
    history
        .expect_history()
        .returning(move |_| Ok(past.clone()));
    history.expect_blocks().returning(|_| Ok(Vec::new()));
    history
        .expect_block()
        .times(1)
        .withf(|_, block| block.image == "nginx:1.26.0")
        .returning(|_, _| Ok(()));
    history.expect_append().returning(|w, _| {
        Err(HistoryError::Backend {
            workload: w.clone(),
            source: "etcd timeout".into(),
        })
    });
    let rollbacks = headwind_core::RollbackService::new(deployer.clone(), Arc::new(history));

    let result = rollbacks.rollback(&workload(), CONTAINER, "bob").await;

    assert!(
        matches!(result, Err(headwind_core::rollback::Error::History { .. })),
        "{result:?}"
    );
    let live = deployer.workloads()[0].containers[0].image.clone();
    assert_eq!(
        live, "nginx:1.25.0",
        "the image was rolled back; the block was written first"
    );
}

#[tokio::test]
async fn resume_never_reapplies_an_image_a_person_reverted() {
    let fx = Fixture::new();
    let key = fx
        .create(Fixture::request("u1", "nginx:1.25.0", "nginx:1.26.0"))
        .await;
    let deployer = Arc::new(MemoryDeployer::new());
    deployer.insert(running("nginx:1.25.0"));
    let history = failing_first_append(Arc::new(AtomicUsize::new(0)), "annotation too large");
    let service = ApprovalService::new(fx.updates.clone(), deployer.clone(), Arc::new(history));
    assert!(service.approve(&key, "ann").await.is_err());
    let approved = fx.updates.get(&key).await.unwrap();
    assert_eq!(approved.status.phase, Phase::Approved);
    assert!(
        approved.status.applied_at.is_some(),
        "the apply is on record before history"
    );

    // A person reverts the workload by hand before the request is resumed.
    use headwind_core::Deployer;
    deployer
        .set_image(&workload(), CONTAINER, "nginx:1.26.0", "nginx:1.25.0")
        .await
        .unwrap();
    let resumed = service.resume(&key).await.unwrap();

    assert_eq!(resumed.status.phase, Phase::Completed);
    let live = deployer.workloads()[0].containers[0].image.clone();
    assert_eq!(live, "nginx:1.25.0", "the revert stands");
    assert_eq!(
        deployer.image_writes(),
        2,
        "one apply and the revert, nothing more"
    );
}

#[tokio::test]
async fn an_applied_request_whose_history_can_never_be_written_still_completes() {
    // Pins a request stuck Approved forever: the image was applied, then the workload's history
    // became impossible to write (workload deleted).
    let fx = Fixture::new();
    let key = fx
        .create(Fixture::request("u1", "nginx:1.25.0", "nginx:1.26.0"))
        .await;
    let calls = Arc::new(AtomicUsize::new(0));
    let mut history = MockHistoryStore::new();
    let seen = calls.clone();
    history.expect_append().returning(move |w, _| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(HistoryError::Backend {
                workload: w.clone(),
                source: "etcd timeout".into(),
            });
        }
        Err(HistoryError::WorkloadNotFound {
            workload: w.clone(),
        })
    });
    let service = ApprovalService::new(fx.updates.clone(), fx.deployer.clone(), Arc::new(history));
    assert!(matches!(
        service.approve(&key, "ann").await,
        Err(Error::History { .. })
    ));

    let resumed = service.resume(&key).await.unwrap();

    assert_eq!(resumed.status.phase, Phase::Completed);
    let message = resumed.status.message.unwrap();
    assert!(message.contains("history not recorded"), "{message}");
    assert_eq!(fx.deployer.image_writes(), 1);
}
