//! The approval and rollback services end to end on the in-memory backends.

mod support;

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use headwind_core::approval::transition::TransitionError;
use headwind_core::approval::{ApproveOutcome, Error};
use headwind_core::store::{HistoryStore, UpdateStore};
use headwind_core::types::{BlockCause, EntryKind, Phase};
use headwind_core::{Deployer, rollback};
use support::{CONTAINER, Fixture, workload};

#[tokio::test]
async fn approve_applies_records_history_and_completes() {
    let fx = Fixture::new();
    let key = fx
        .create(Fixture::request(
            "nginx-update-1-26-0",
            "nginx:1.25.0",
            "nginx:1.26.0",
        ))
        .await;

    let outcome = fx
        .approvals
        .approve(&key, "admin@example.com")
        .await
        .unwrap();

    let ApproveOutcome::Applied(request) = outcome else {
        panic!("one vote suffices")
    };
    assert_eq!(request.status.phase, Phase::Completed);
    assert_eq!(
        request.status.approved_by.as_deref(),
        Some("admin@example.com")
    );
    assert!(request.status.approved_at.is_some());
    assert_eq!(fx.live_image().await, "nginx:1.26.0");
    assert_eq!(fx.deployer.image_writes(), 1);

    let history = fx.history.history(&workload()).await.unwrap();
    let images: Vec<_> = history.iter().map(|e| (e.image.as_str(), e.kind)).collect();
    assert_eq!(
        images,
        [
            ("nginx:1.26.0", EntryKind::Update),
            ("nginx:1.25.0", EntryKind::Baseline)
        ]
    );
    assert_eq!(
        history[0].update_request_name.as_deref(),
        Some("nginx-update-1-26-0")
    );
    assert_eq!(history[0].approved_by, "admin@example.com");
}

#[tokio::test]
async fn first_update_can_be_rolled_back() {
    // Pins the peers' first update that cannot be rolled back: the image before it is recorded.
    let fx = Fixture::new();
    let key = fx
        .create(Fixture::request("u1", "nginx:1.25.0", "nginx:1.26.0"))
        .await;
    fx.approvals.approve(&key, "ann").await.unwrap();

    let done = fx
        .rollbacks
        .rollback(&workload(), CONTAINER, "bob")
        .await
        .unwrap();

    assert_eq!(done.previous_image, "nginx:1.26.0");
    assert_eq!(done.rolled_back_to, "nginx:1.25.0");
    assert_eq!(fx.live_image().await, "nginx:1.25.0");

    let history = fx.history.history(&workload()).await.unwrap();
    assert_eq!(
        (history[0].kind, history[0].approved_by.as_str()),
        (EntryKind::Rollback, "bob")
    );
}

#[tokio::test]
async fn rollback_blocks_the_bad_image_until_cleared() {
    let fx = Fixture::new();
    let key = fx
        .create(Fixture::request("u1", "nginx:1.25.0", "nginx:1.26.0"))
        .await;
    fx.approvals.approve(&key, "ann").await.unwrap();
    fx.rollbacks
        .rollback(&workload(), CONTAINER, "bob")
        .await
        .unwrap();

    let blocked = fx
        .approvals
        .blocked(&workload(), CONTAINER, "docker.io/library/nginx:1.26.0")
        .await;
    assert_eq!(blocked.unwrap(), Some(BlockCause::RolledBack));

    // A second rollback must not bounce back to the blocked image.
    let again = fx.rollbacks.rollback(&workload(), CONTAINER, "bob").await;
    assert!(
        matches!(again, Err(rollback::Error::NothingToRollBack { .. })),
        "{again:?}"
    );

    assert!(
        fx.rollbacks
            .clear_block(&workload(), CONTAINER, "nginx:1.26.0")
            .await
            .unwrap()
    );
    let cleared = fx
        .approvals
        .blocked(&workload(), CONTAINER, "nginx:1.26.0")
        .await
        .unwrap();
    assert_eq!(cleared, None);
}

#[tokio::test]
async fn rollback_errors_are_typed() {
    let fx = Fixture::new();
    let missing = headwind_core::types::WorkloadRef::deployment("default", "nope").unwrap();

    let unknown = fx.rollbacks.rollback(&missing, CONTAINER, "bob").await;
    assert!(matches!(
        unknown,
        Err(rollback::Error::WorkloadNotFound { .. })
    ));

    let container = fx.rollbacks.rollback(&workload(), "sidecar", "bob").await;
    assert!(matches!(
        container,
        Err(rollback::Error::ContainerNotFound { .. })
    ));

    let nothing = fx.rollbacks.rollback(&workload(), CONTAINER, "bob").await;
    assert!(matches!(
        nothing,
        Err(rollback::Error::NothingToRollBack { .. })
    ));
}

#[tokio::test]
async fn stale_request_fails_without_overwriting() {
    // Pins the peers' silent downgrade when a stale request is approved.
    let fx = Fixture::new();
    let key = fx
        .create(Fixture::request("old", "nginx:1.24.0", "nginx:1.24.1"))
        .await;

    let result = fx.approvals.approve(&key, "ann").await;

    let Err(Error::ApplyFailed { cause, request, .. }) = result else {
        panic!("{result:?}")
    };
    assert!(
        cause.contains("workload changed since the request was made"),
        "{cause}"
    );
    assert_eq!(request.status.phase, Phase::Failed);
    assert_eq!(request.status.message.as_deref(), Some(cause.as_str()));
    assert_eq!(fx.live_image().await, "nginx:1.25.0");
    assert!(fx.history.history(&workload()).await.unwrap().is_empty());
}

#[tokio::test]
async fn image_already_in_place_completes_as_a_no_op() {
    let fx = Fixture::new();
    let key = fx
        .create(Fixture::request(
            "same",
            "nginx:1.24.0",
            "docker.io/library/nginx:1.25.0",
        ))
        .await;

    let outcome = fx.approvals.approve(&key, "ann").await.unwrap();

    assert!(matches!(outcome, ApproveOutcome::Applied(r) if r.status.phase == Phase::Completed));
    assert_eq!(fx.deployer.image_writes(), 0);
}

#[tokio::test]
async fn approving_past_the_deadline_expires_and_applies_nothing() {
    let fx = Fixture::new();
    let expired = Fixture::request("late", "nginx:1.25.0", "nginx:1.26.0")
        .with_expiry(Utc::now() - TimeDelta::minutes(1));
    let key = fx.create(expired).await;

    let result = fx.approvals.approve(&key, "ann").await;

    assert!(matches!(result, Err(Error::Expired { .. })), "{result:?}");
    assert_eq!(
        fx.updates.get(&key).await.unwrap().status.phase,
        Phase::Expired
    );
    assert_eq!(fx.deployer.image_writes(), 0);
}

#[tokio::test]
async fn expire_overdue_expires_only_due_pending_requests() {
    let fx = Fixture::new();
    let now = Utc::now();
    let due = fx
        .create(Fixture::request("due", "nginx:1.25.0", "nginx:1.26.0").with_expiry(now))
        .await;
    let later = Fixture::request("later", "nginx:1.25.0", "nginx:1.27.0")
        .with_expiry(now + TimeDelta::hours(1));
    let later = fx.create(later).await;

    assert_eq!(fx.approvals.expire_overdue(now).await.unwrap(), 1);
    assert_eq!(
        fx.updates.get(&due).await.unwrap().status.phase,
        Phase::Expired
    );
    assert_eq!(
        fx.updates.get(&later).await.unwrap().status.phase,
        Phase::Pending
    );
}

#[tokio::test]
async fn reject_blocks_the_version_for_that_container() {
    let fx = Fixture::new();
    let key = fx
        .create(Fixture::request("u1", "nginx:1.25.0", "nginx:1.26.0"))
        .await;

    let rejected = fx
        .approvals
        .reject(&key, "ann", Some("Not ready"))
        .await
        .unwrap();

    assert_eq!(rejected.status.phase, Phase::Rejected);
    assert_eq!(rejected.status.reason.as_deref(), Some("Not ready"));
    let blocked = fx
        .approvals
        .blocked(&workload(), CONTAINER, "nginx:1.26.0")
        .await
        .unwrap();
    assert_eq!(blocked, Some(BlockCause::Rejected));
    let other = fx
        .approvals
        .blocked(&workload(), "sidecar", "nginx:1.26.0")
        .await
        .unwrap();
    assert_eq!(other, None, "a block is per container");

    let approve = fx.approvals.approve(&key, "bob").await;
    assert!(matches!(
        approve,
        Err(Error::Transition {
            source: TransitionError::InvalidTransition {
                phase: Phase::Rejected,
                ..
            },
            ..
        })
    ));
}

#[tokio::test]
async fn n_of_m_applies_on_the_last_distinct_vote() {
    let fx = Fixture::new();
    let request = Fixture::request("u1", "nginx:1.25.0", "nginx:1.26.0").with_required_approvals(2);
    let key = fx.create(request).await;

    let first = fx.approvals.approve(&key, "ann").await.unwrap();
    assert!(matches!(
        first,
        ApproveOutcome::VoteRecorded { missing: 1, .. }
    ));
    assert_eq!(fx.deployer.image_writes(), 0);

    let repeat = fx.approvals.approve(&key, "ann").await;
    assert!(matches!(
        repeat,
        Err(Error::Transition {
            source: TransitionError::AlreadyVoted { .. },
            ..
        })
    ));

    let second = fx.approvals.approve(&key, "bob").await.unwrap();
    assert!(matches!(second, ApproveOutcome::Applied(_)));
    assert_eq!(fx.deployer.image_writes(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_approvals_and_rejections_have_one_winner() {
    // Pins the peers' check-then-act approval: two concurrent approvals both deployed.
    let fx = Arc::new(Fixture::new());
    let key = fx
        .create(Fixture::request("race", "nginx:1.25.0", "nginx:1.26.0"))
        .await;

    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let fx = fx.clone();
            let key = key.clone();
            tokio::spawn(async move {
                let who = format!("user-{i}");
                if i % 2 == 0 {
                    fx.approvals.approve(&key, &who).await.map(|_| ())
                } else {
                    fx.approvals.reject(&key, &who, None).await.map(|_| ())
                }
            })
        })
        .collect();

    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => winners += 1,
            Err(Error::Transition {
                source: TransitionError::InvalidTransition { .. },
                ..
            }) => {}
            Err(other) => panic!("loser must get a typed conflict, got {other}"),
        }
    }

    assert_eq!(winners, 1);
    let request = fx.updates.get(&key).await.unwrap();
    let updates = fx.history.history(&workload()).await.unwrap();
    let applied = updates
        .iter()
        .filter(|e| e.kind == EntryKind::Update)
        .count();
    match request.status.phase {
        Phase::Completed => {
            assert_eq!((fx.deployer.image_writes(), applied), (1, 1));
            assert_eq!(fx.live_image().await, "nginx:1.26.0");
        }
        Phase::Rejected => {
            assert_eq!((fx.deployer.image_writes(), applied), (0, 0));
            assert_eq!(fx.live_image().await, "nginx:1.25.0");
        }
        other => panic!("unexpected final phase {other}"),
    }
}

#[tokio::test]
async fn resume_finishes_a_request_left_approved_exactly_once() {
    let fx = Fixture::new();
    let key = fx
        .create(Fixture::request("crash", "nginx:1.25.0", "nginx:1.26.0"))
        .await;

    // A crash right after the Pending -> Approved write: the status says Approved, nothing else
    // happened.
    let pending = fx.updates.get(&key).await.unwrap();
    let vote = headwind_core::approval::transition::approve(
        &pending.spec,
        &pending.status,
        "ann",
        Utc::now(),
    );
    let Ok(headwind_core::approval::transition::Vote::Approved(status)) = vote else {
        panic!()
    };
    let version = pending.metadata.resource_version.unwrap();
    fx.updates
        .update_status(&key, &version, status)
        .await
        .unwrap();

    let summary = fx.approvals.resume_all().await.unwrap();
    let again = fx.approvals.resume(&key).await.unwrap();

    assert_eq!(summary.finished, 1);
    assert_eq!(again.status.phase, Phase::Completed);
    assert_eq!(fx.deployer.image_writes(), 1);
    assert_eq!(fx.history.history(&workload()).await.unwrap().len(), 2);
    assert_eq!(fx.live_image().await, "nginx:1.26.0");
}

#[tokio::test]
async fn approving_an_unknown_request_is_not_found() {
    let fx = Fixture::new();
    let key = headwind_core::types::ObjectKey::new("default", "missing").unwrap();

    assert!(matches!(
        fx.approvals.approve(&key, "ann").await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        fx.approvals.reject(&key, "ann", None).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn deleted_workload_fails_the_request_with_the_cause() {
    let fx = Fixture::new();
    let key = fx
        .create(Fixture::request("u1", "nginx:1.25.0", "nginx:1.26.0"))
        .await;
    fx.deployer.remove(&workload());

    let result = fx.approvals.approve(&key, "ann").await;

    let Err(Error::ApplyFailed { cause, .. }) = result else {
        panic!("{result:?}")
    };
    assert!(cause.contains("not found"), "{cause}");
    assert!(fx.deployer.workload(&workload()).await.is_err());
}

#[tokio::test]
async fn requests_targeting_another_namespace_are_refused() {
    // Pins a confused deputy: whoever may create requests in one namespace must not reach
    // workloads of another through headwind's permissions.
    let fx = Fixture::new();
    let mut foreign = Fixture::request("sneaky", "nginx:1.25.0", "nginx:1.26.0");
    foreign.metadata.namespace = "team-a".into();
    let key = fx.create(foreign).await;

    let result = fx.approvals.approve(&key, "ann").await;

    assert!(
        matches!(result, Err(Error::ForeignTarget { .. })),
        "{result:?}"
    );
    assert_eq!(
        fx.updates.get(&key).await.unwrap().status.phase,
        Phase::Pending
    );
    assert_eq!(fx.deployer.image_writes(), 0);
}

#[test]
fn history_written_by_other_headwind_versions_still_parses() {
    let legacy = r#"[{"container": "nginx", "image": "nginx:1.25.0", "timestamp": "2025-11-05T14:20:00Z",
                      "updateRequestName": "nginx-update-1-25-0", "approvedBy": "webhook"}]"#;

    let entries: Vec<headwind_core::types::HistoryEntry> = serde_json::from_str(legacy).unwrap();

    assert_eq!(entries[0].kind, EntryKind::Update);
    assert_eq!(
        entries[0].update_request_name.as_deref(),
        Some("nginx-update-1-25-0")
    );
}

#[tokio::test]
async fn blocks_per_container_are_bounded() {
    let fx = Fixture::new();
    for i in 0..60 {
        let block = headwind_core::types::Block {
            container: CONTAINER.into(),
            image: format!("nginx:9.{i}.0"),
            cause: BlockCause::Rejected,
            by: "ann".into(),
            since: Utc::now(),
        };
        fx.history.block(&workload(), block).await.unwrap();
    }

    let blocks = fx.history.blocks(&workload()).await.unwrap();

    assert_eq!(blocks.len(), headwind_core::store::BLOCKS_PER_CONTAINER);
    assert_eq!(blocks[0].image, "nginx:9.10.0", "the oldest go first");
}
