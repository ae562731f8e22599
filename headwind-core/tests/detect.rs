//! Update detection on the in-memory backends: matching, policies, idempotency, supersession,
//! blocks and direct updates.

mod support;

use std::sync::Arc;

use headwind_core::detect::{Detector, Finding, Origin, Outcome, PushEvent, request_name};
use headwind_core::store::UpdateStore;
use headwind_core::types::{Container, Phase, Workload, WorkloadRef};
use support::{CONTAINER, Fixture, workload};

fn detector(fx: &Fixture) -> Detector {
    Detector::new(
        fx.deployer.clone(),
        fx.updates.clone(),
        fx.history.clone(),
        fx.approvals.clone(),
    )
}

fn nginx(tag: &str) -> PushEvent {
    PushEvent::new(None, "library/nginx", tag).unwrap()
}

/// The fixture's workload under `annotations`, plus an exporter whose repository shares the
/// `nginx` prefix.
fn managed(fx: &Fixture, annotations: &[(&str, &str)]) {
    let container = Container {
        name: CONTAINER.into(),
        image: "nginx:1.25.0".into(),
    };
    let mut nginx = Workload::new(workload(), vec![container]);
    for (key, value) in annotations {
        nginx = nginx.with_annotation(key, value);
    }
    fx.deployer.insert(nginx);

    let exporter = WorkloadRef::deployment("default", "nginx-exporter").unwrap();
    let container = Container {
        name: "exporter".into(),
        image: "nginx-exporter:1.25.0".into(),
    };
    let exporter =
        Workload::new(exporter, vec![container]).with_annotation("headwind.sh/policy", "all");
    fx.deployer.insert(exporter);
}

async fn push(detector: &Detector, event: &PushEvent) -> Vec<Finding> {
    detector.on_push(event, Origin::Webhook).await.unwrap()
}

#[tokio::test]
async fn push_creates_one_pending_request_and_repeats_create_nothing() {
    let fx = Fixture::new();
    managed(&fx, &[("headwind.sh/policy", "minor")]);
    let detector = detector(&fx);

    let first = push(&detector, &nginx("1.26.0")).await;
    let again = push(&detector, &nginx("1.26.0")).await;

    assert_eq!(
        first.len(),
        1,
        "only nginx-example runs docker.io/library/nginx: {first:?}"
    );
    assert_eq!(
        (first[0].outcome, first[0].name.as_str()),
        (Outcome::Created, "nginx-example")
    );
    assert_eq!(again[0].outcome, Outcome::Exists);
    let all = fx.updates.list(None).await.unwrap();
    assert_eq!(all.len(), 1);
    let request = &all[0];
    assert_eq!(
        request.metadata.name,
        request_name(&workload(), CONTAINER, "nginx:1.26.0")
    );
    assert!(
        request
            .metadata
            .name
            .starts_with("nginx-example-nginx-1-26-0-")
    );
    assert_eq!(request.spec.current_image, "nginx:1.25.0");
    assert_eq!(request.spec.new_image, "nginx:1.26.0");
    assert_eq!(request.status.phase, Phase::Pending);
    assert!(
        request
            .spec
            .reason
            .as_deref()
            .unwrap()
            .contains("policy minor")
    );
    assert!(
        request.spec.expires_at.is_some(),
        "the default deadline applies"
    );
}

#[tokio::test]
async fn policy_decides_and_reasons_are_given() {
    let fx = Fixture::new();
    managed(&fx, &[("headwind.sh/policy", "minor")]);
    let detector = detector(&fx);

    let major = push(&detector, &nginx("2.0.0")).await;
    let older = push(&detector, &nginx("1.24.0")).await;
    let latest = push(&detector, &nginx("latest")).await;

    assert_eq!(
        (major[0].outcome, major[0].label),
        (Outcome::Skipped, "outside_policy")
    );
    assert_eq!(older[0].label, "downgrade");
    assert_eq!(latest[0].label, "not_comparable");
    assert!(
        latest[0].reason.contains("\"latest\""),
        "{}",
        latest[0].reason
    );
    assert!(fx.updates.is_empty());
}

#[tokio::test]
async fn rejected_version_is_not_proposed_again() {
    let fx = Fixture::new();
    managed(&fx, &[("headwind.sh/policy", "minor")]);
    let detector = detector(&fx);
    push(&detector, &nginx("1.26.0")).await;
    let key = fx.updates.list(None).await.unwrap()[0].key();
    fx.approvals
        .reject(&key, "ann", Some("not ready"))
        .await
        .unwrap();

    let again = push(&detector, &nginx("1.26.0")).await;

    assert_eq!(
        (again[0].outcome, again[0].label),
        (Outcome::Skipped, "blocked")
    );
    assert_eq!(fx.updates.len(), 1);
}

#[tokio::test]
async fn newer_version_supersedes_the_pending_one() {
    let fx = Fixture::new();
    managed(&fx, &[("headwind.sh/policy", "minor")]);
    let detector = detector(&fx);

    push(&detector, &nginx("1.26.0")).await;
    let newer = push(&detector, &nginx("1.27.0")).await;
    let late_older = push(&detector, &nginx("1.26.5")).await;

    assert_eq!(newer[0].outcome, Outcome::Created);
    assert_eq!(
        (late_older[0].outcome, late_older[0].label),
        (Outcome::Skipped, "newer_pending")
    );
    let all = fx.updates.list(None).await.unwrap();
    let phases: Vec<_> = all
        .iter()
        .map(|r| (r.spec.new_image.as_str(), r.status.phase))
        .collect();
    assert_eq!(
        phases,
        [
            ("nginx:1.26.0", Phase::Expired),
            ("nginx:1.27.0", Phase::Pending)
        ]
    );
    let message = all[0].status.message.as_deref().unwrap();
    assert!(
        message.contains(&format!(
            "superseded by {}",
            request_name(&workload(), CONTAINER, "nginx:1.27.0")
        )),
        "{message}"
    );
}

#[tokio::test]
async fn direct_updates_apply_as_webhook_and_respect_the_interval() {
    let fx = Fixture::new();
    managed(
        &fx,
        &[
            ("headwind.sh/policy", "patch"),
            ("headwind.sh/require-approval", "false"),
        ],
    );
    let detector = detector(&fx);

    let applied = push(&detector, &nginx("1.25.1")).await;
    let too_soon = push(&detector, &nginx("1.25.2")).await;

    assert_eq!(applied[0].outcome, Outcome::Applied, "{applied:?}");
    assert_eq!(fx.live_image().await, "nginx:1.25.1");
    let request = fx.updates.list(None).await.unwrap().remove(0);
    assert_eq!(request.status.phase, Phase::Completed);
    assert_eq!(request.status.approved_by.as_deref(), Some("webhook"));
    assert!(!request.spec.require_approval);
    assert_eq!(
        (too_soon[0].outcome, too_soon[0].label),
        (Outcome::Skipped, "min_update_interval")
    );
    assert_eq!(fx.deployer.image_writes(), 1);
}

#[tokio::test]
async fn zero_interval_allows_back_to_back_direct_updates() {
    let fx = Fixture::new();
    managed(
        &fx,
        &[
            ("headwind.sh/policy", "patch"),
            ("headwind.sh/require-approval", "false"),
            ("headwind.sh/min-update-interval", "0"),
        ],
    );
    let detector = detector(&fx);

    push(&detector, &nginx("1.25.1")).await;
    let second = push(&detector, &nginx("1.25.2")).await;

    assert_eq!(second[0].outcome, Outcome::Applied);
    assert_eq!(fx.live_image().await, "nginx:1.25.2");
}

#[tokio::test]
async fn event_source_and_images_annotations_are_honoured() {
    let fx = Fixture::new();
    managed(
        &fx,
        &[
            ("headwind.sh/policy", "minor"),
            ("headwind.sh/event-source", "polling"),
        ],
    );
    let polling = detector(&fx);
    let polling_only = push(&polling, &nginx("1.26.0")).await;
    assert_eq!(polling_only[0].label, "event_source");
    let polled = polling
        .on_push(&nginx("1.26.0"), Origin::Polling)
        .await
        .unwrap();
    assert_eq!(polled[0].outcome, Outcome::Created);

    let fx = Fixture::new();
    managed(
        &fx,
        &[
            ("headwind.sh/policy", "minor"),
            ("headwind.sh/images", "sidecar"),
        ],
    );
    let untracked = push(&detector(&fx), &nginx("1.26.0")).await;
    assert!(
        untracked.is_empty(),
        "the nginx container is not tracked: {untracked:?}"
    );
}

#[tokio::test]
async fn unmanaged_and_misconfigured_workloads_are_reported() {
    let fx = Fixture::new();
    managed(&fx, &[]);
    let unmanaged = push(&detector(&fx), &nginx("1.26.0")).await;
    assert_eq!(unmanaged[0].label, "not_managed");

    let fx = Fixture::new();
    managed(
        &fx,
        &[
            ("headwind.sh/policy", "minor"),
            ("headwind.sh/require-approval", "maybe"),
        ],
    );
    let invalid = push(&detector(&fx), &nginx("1.26.0")).await;
    assert_eq!(invalid[0].label, "invalid_annotation");
    assert!(
        invalid[0].reason.contains("headwind.sh/require-approval"),
        "{}",
        invalid[0].reason
    );
    assert!(fx.updates.is_empty());
}

#[tokio::test]
async fn private_registry_hosts_match_exactly() {
    let fx = Fixture::new();
    let app = WorkloadRef::deployment("shop", "web").unwrap();
    let container = Container {
        name: "app".into(),
        image: "localhost:5000/shop/web:1.0.0".into(),
    };
    fx.deployer
        .insert(Workload::new(app, vec![container]).with_annotation("headwind.sh/policy", "all"));
    let detector = Arc::new(detector(&fx));

    let elsewhere = PushEvent::new(Some("registry.example.com"), "shop/web", "1.1.0").unwrap();
    let here = PushEvent::new(Some("localhost:5000"), "shop/web", "1.1.0").unwrap();

    assert!(push(&detector, &elsewhere).await.is_empty());
    let found = push(&detector, &here).await;
    assert_eq!(found[0].outcome, Outcome::Created);
    let request = fx
        .updates
        .list(Some("shop".into()))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(request.spec.new_image, "localhost:5000/shop/web:1.1.0");
}

#[tokio::test]
async fn workloads_whose_readable_names_collide_get_their_own_requests() {
    // Pins a name collision: `web` + container `app-api` and `web-app` + container `api` both
    // read `web-app-api-1-1-0`; the direct-update workload must not approve the other's request.
    let fx = Fixture::new();
    let web = WorkloadRef::deployment("default", "web").unwrap();
    let web_app = WorkloadRef::deployment("default", "web-app").unwrap();
    let on = |name: &str| Container {
        name: name.into(),
        image: "shop/app:1.0.0".into(),
    };
    fx.deployer.insert(
        Workload::new(web.clone(), vec![on("app-api")])
            .with_annotation("headwind.sh/policy", "minor"),
    );
    fx.deployer.insert(
        Workload::new(web_app.clone(), vec![on("api")])
            .with_annotation("headwind.sh/policy", "minor")
            .with_annotation("headwind.sh/require-approval", "false"),
    );

    let found = push(
        &detector(&fx),
        &PushEvent::new(None, "shop/app", "1.1.0").unwrap(),
    )
    .await;

    let outcomes: Vec<_> = found.iter().map(|f| (f.name.as_str(), f.outcome)).collect();
    assert_eq!(
        outcomes,
        [("web", Outcome::Created), ("web-app", Outcome::Applied)]
    );
    let requests = fx.updates.list(None).await.unwrap();
    let phase_of = |w: &WorkloadRef| {
        requests
            .iter()
            .find(|r| r.workload() == *w)
            .map(|r| r.status.phase)
    };
    assert_eq!(
        phase_of(&web),
        Some(Phase::Pending),
        "web still waits for a person"
    );
    assert_eq!(phase_of(&web_app), Some(Phase::Completed));
}
