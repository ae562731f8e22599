//! Failure injection with the mockall mocks of the backend traits.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use headwind_core::ApprovalService;
use headwind_core::approval::Error;
use headwind_core::memory::{MemoryDeployer, MemoryHistoryStore};
use headwind_core::mock::{MockDeployer, MockHistoryStore, MockUpdateStore};
use headwind_core::store::{Appended, DeployError, HistoryError, StoreError, UpdateStore};
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
            Err(DeployError::Backend {
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
    let mut history = MockHistoryStore::new();
    let seen = calls.clone();
    history.expect_append().times(3).returning(move |w, _| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(HistoryError::Backend {
                workload: w.clone(),
                source: "etcd timeout".into(),
            });
        }
        Ok(Appended::Stored)
    });
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
