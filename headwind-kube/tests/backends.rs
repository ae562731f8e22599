//! The Kubernetes backends against a scripted API server: the exact requests they send, and
//! how they handle 404, 409, 422 and 5xx answers.

mod support;

use chrono::Utc;
use headwind_core::policy::Policy;
use headwind_core::store::{
    Appended, DeployError, Deployer, HistoryError, HistoryStore, StoreError, UpdateStore,
    WorkloadIndex,
};
use headwind_core::types::{
    EntryKind, HistoryEntry, ObjectKey, Phase, RolloutHealth, UpdateRequest, WorkloadRef,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use headwind_core::events::{Event, Observer};
use headwind_kube::KubeBackends;
use http::Method;
use serde_json::json;
use support::*;

const WEB: &str = "/apis/apps/v1/namespaces/shop/deployments/web";
const REQUESTS: &str = "/apis/headwind.sh/v1alpha1/namespaces/shop/updaterequests";

fn web() -> WorkloadRef {
    WorkloadRef::deployment("shop", "web").unwrap()
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new("shop", name).unwrap()
}

/// Backends whose caches hold one Deployment `shop/web` and one request `shop/u1`.
async fn started() -> (KubeBackends, FakeApi) {
    let (client, api) = client();
    seed_empty(&api);
    api.seed(
        DEPLOYMENTS,
        vec![deployment("web", "10", "nginx:1.25.0", json!({}))],
    );
    api.seed(UPDATE_REQUESTS, vec![update_request("u1", "20", "Pending")]);

    let backends = KubeBackends::start(client);
    let updates = backends.updates.clone();
    eventually("the caches to sync", || updates.is_ready()).await;

    (backends, api)
}

#[tokio::test]
async fn reads_come_from_the_watch_cache_and_follow_the_stream() {
    let (backends, api) = started().await;

    let listed = backends.updates.list(None).await.unwrap();
    let got = backends.updates.get(&key("u1")).await.unwrap();
    let workload = backends.deployer.workload(&web()).await.unwrap();
    let found = backends
        .deployer
        .by_repository("docker.io/library/nginx")
        .await
        .unwrap();

    assert_eq!(listed.len(), 1);
    assert_eq!(
        (got.status.phase, got.metadata.resource_version.as_deref()),
        (Phase::Pending, Some("20"))
    );
    assert_eq!(workload.container("app").unwrap().image, "nginx:1.25.0");
    assert_eq!(found.len(), 1);
    assert!(
        backends
            .deployer
            .by_repository("docker.io/library/nginx-exporter")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        backends.deployer.rollout_health(&web()).await.unwrap(),
        RolloutHealth::Healthy
    );

    eventually("the watches to open", || {
        api.watching(UPDATE_REQUESTS) && api.watching(DEPLOYMENTS)
    })
    .await;
    api.push(
        UPDATE_REQUESTS,
        "ADDED",
        update_request("u2", "21", "Pending"),
    );
    api.push(
        UPDATE_REQUESTS,
        "MODIFIED",
        update_request("u1", "22", "Rejected"),
    );
    api.push(
        DEPLOYMENTS,
        "MODIFIED",
        deployment("web", "23", "quay.io/nginx/nginx:1.26.0", json!({})),
    );
    let updates = backends.updates.clone();
    let deployer = backends.deployer.clone();
    eventually("the stream to be applied", || {
        let u1 = futures::executor::block_on(updates.get(&key("u1"))).map(|r| r.status.phase);
        let web = futures::executor::block_on(deployer.workload(&web()));
        matches!(u1, Ok(Phase::Rejected))
            && web.is_ok_and(|w| w.containers[1].image.starts_with("quay.io"))
    })
    .await;
    assert_eq!(
        backends
            .updates
            .list(Some("shop".into()))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        backends
            .deployer
            .by_repository("quay.io/nginx/nginx")
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        backends
            .deployer
            .by_repository("docker.io/library/nginx")
            .await
            .unwrap()
            .is_empty()
    );

    api.push(
        UPDATE_REQUESTS,
        "DELETED",
        update_request("u2", "24", "Pending"),
    );
    let updates = backends.updates.clone();
    eventually("the delete", || {
        futures::executor::block_on(updates.get(&key("u2"))).is_err()
    })
    .await;

    assert!(
        api.requests().is_empty(),
        "reads sent requests: {:?}",
        api.requests()
    );
}

#[tokio::test]
async fn status_writes_carry_the_version_read_and_409_is_a_conflict() {
    let (backends, api) = started().await;
    let status_path = format!("{REQUESTS}/u1/status");
    let mut approved = backends.updates.get(&key("u1")).await.unwrap().status;
    approved.phase = Phase::Approved;

    let mut answer = update_request("u1", "30", "Approved");
    answer["status"]["phase"] = json!("Approved");
    api.expect(Method::PUT, &status_path, 200, answer);
    let stored = backends
        .updates
        .update_status(&key("u1"), "20", approved.clone())
        .await
        .unwrap();

    let sent = &api.requests()[0];
    assert_eq!(
        (sent.method.clone(), sent.path.as_str()),
        (Method::PUT, status_path.as_str())
    );
    assert_eq!(sent.body["metadata"]["resourceVersion"], "20");
    assert_eq!(sent.body["status"]["phase"], "Approved");
    assert_eq!(stored.metadata.resource_version.as_deref(), Some("30"));
    let cached = backends.updates.get(&key("u1")).await.unwrap();
    assert_eq!(
        cached.metadata.resource_version.as_deref(),
        Some("30"),
        "own writes are read back"
    );

    api.clear_requests();
    api.expect(
        Method::PUT,
        &status_path,
        409,
        status(409, "Conflict", "the object has been modified"),
    );
    api.expect(
        Method::GET,
        &format!("{REQUESTS}/u1"),
        200,
        update_request("u1", "31", "Rejected"),
    );
    let stale = backends
        .updates
        .update_status(&key("u1"), "30", approved.clone())
        .await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "{stale:?}"
    );
    let refreshed = backends.updates.get(&key("u1")).await.unwrap();
    assert_eq!(
        refreshed.status.phase,
        Phase::Rejected,
        "the winner's write is read after a conflict"
    );

    api.expect(
        Method::PUT,
        &status_path,
        404,
        status(404, "NotFound", "gone"),
    );
    let gone = backends
        .updates
        .update_status(&key("u1"), "31", approved.clone())
        .await;
    assert!(matches!(gone, Err(StoreError::NotFound { .. })), "{gone:?}");

    api.expect(
        Method::PUT,
        &status_path,
        503,
        status(503, "ServiceUnavailable", "etcd is down"),
    );
    let down = backends
        .updates
        .update_status(&key("u1"), "31", approved)
        .await;
    assert!(matches!(down, Err(StoreError::Backend { .. })), "{down:?}");
    assert_eq!(api.leftovers(), (0, vec![]));
}

#[tokio::test]
async fn create_posts_the_resource_then_its_status() {
    let (backends, api) = started().await;
    let request = UpdateRequest::pending(
        "u9",
        &web(),
        "app",
        ("nginx:1.25.0", "nginx:1.27.0"),
        Policy::Minor,
        Utc::now(),
    );
    api.expect(
        Method::POST,
        REQUESTS,
        201,
        update_request("u9", "40", "Pending"),
    );
    api.expect(
        Method::PUT,
        &format!("{REQUESTS}/u9/status"),
        200,
        update_request("u9", "41", "Pending"),
    );

    let created = backends.updates.create(request.clone()).await.unwrap();

    let sent = api.requests();
    assert_eq!(sent[0].body["kind"], "UpdateRequest");
    assert_eq!(sent[0].body["apiVersion"], "headwind.sh/v1alpha1");
    assert_eq!(sent[0].body["spec"]["newImage"], "nginx:1.27.0");
    assert_eq!(sent[1].body["metadata"]["resourceVersion"], "40");
    assert_eq!(sent[1].body["status"]["phase"], "Pending");
    assert_eq!(created.metadata.resource_version.as_deref(), Some("41"));

    api.expect(
        Method::POST,
        REQUESTS,
        409,
        status(409, "AlreadyExists", "exists"),
    );
    let again = backends.updates.create(request).await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists { .. })),
        "{again:?}"
    );
}

#[tokio::test]
async fn set_image_sends_a_json_patch_with_test_operations() {
    let (backends, api) = started().await;
    api.expect(
        Method::PATCH,
        WEB,
        200,
        deployment("web", "11", "nginx:1.26.0", json!({})),
    );

    backends
        .deployer
        .set_image(&web(), "app", "nginx:1.25.0", "nginx:1.26.0")
        .await
        .unwrap();

    let sent = &api.requests()[0];
    assert_eq!(sent.content_type, "application/json-patch+json");
    assert_eq!(
        sent.body,
        json!([
            {"op": "test", "path": "/spec/template/spec/containers/1/name", "value": "app"},
            {"op": "test", "path": "/spec/template/spec/containers/1/image", "value": "nginx:1.25.0"},
            {"op": "replace", "path": "/spec/template/spec/containers/1/image", "value": "nginx:1.26.0"},
        ])
    );
    let cached = backends.deployer.workload(&web()).await.unwrap();
    assert_eq!(
        cached.containers[1].image, "nginx:1.26.0",
        "the answer is written through"
    );
}

#[tokio::test]
async fn failed_test_operation_is_a_precondition_failure_with_the_live_image() {
    let (backends, api) = started().await;
    api.expect(
        Method::PATCH,
        WEB,
        422,
        status(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
        ),
    );
    api.expect(
        Method::GET,
        WEB,
        200,
        deployment("web", "12", "nginx:1.25.9", json!({})),
    );

    let result = backends
        .deployer
        .set_image(&web(), "app", "nginx:1.25.0", "nginx:1.26.0")
        .await;

    let Err(DeployError::PreconditionFailed { live, .. }) = result else {
        panic!("{result:?}")
    };
    assert_eq!(live, "nginx:1.25.9");

    api.expect(Method::PATCH, WEB, 404, status(404, "NotFound", "gone"));
    let gone = backends
        .deployer
        .set_image(&web(), "app", "nginx:1.25.9", "nginx:1.26.0")
        .await;
    assert!(
        matches!(gone, Err(DeployError::WorkloadNotFound { .. })),
        "{gone:?}"
    );

    api.expect(
        Method::PATCH,
        WEB,
        500,
        status(500, "InternalError", "boom"),
    );
    let broken = backends
        .deployer
        .set_image(&web(), "app", "nginx:1.25.9", "nginx:1.26.0")
        .await;
    assert!(
        matches!(broken, Err(DeployError::Backend { .. })),
        "{broken:?}"
    );

    let missing = backends.deployer.set_image(&web(), "nope", "a", "b").await;
    assert!(matches!(
        missing,
        Err(DeployError::ContainerNotFound { .. })
    ));
    assert_eq!(api.leftovers(), (0, vec![]));
}

fn entry(image: &str, name: &str) -> HistoryEntry {
    HistoryEntry {
        container: "app".into(),
        image: image.into(),
        timestamp: Utc::now(),
        update_request_name: Some(name.into()),
        approved_by: "ann".into(),
        kind: EntryKind::Update,
    }
}

#[tokio::test]
async fn history_is_written_with_the_resource_version_and_retried_on_conflict() {
    let (backends, api) = started().await;
    let earlier = json!({"headwind.sh/update-history": serde_json::to_string(&[entry("nginx:1.25.0", "u0")]).unwrap()});
    api.expect(
        Method::GET,
        WEB,
        200,
        deployment("web", "50", "nginx:1.25.0", earlier.clone()),
    );
    api.expect(Method::PATCH, WEB, 409, status(409, "Conflict", "modified"));
    api.expect(
        Method::GET,
        WEB,
        200,
        deployment("web", "51", "nginx:1.25.0", earlier),
    );
    let mut written = deployment("web", "52", "nginx:1.26.0", json!({}));
    api.expect(Method::PATCH, WEB, 200, written.clone());

    let appended = backends
        .history
        .append(&web(), entry("nginx:1.26.0", "u1"))
        .await
        .unwrap();

    assert_eq!(appended, Appended::Stored);
    let sent = api.requests();
    let patches: Vec<_> = sent.iter().filter(|r| r.method == Method::PATCH).collect();
    assert_eq!(patches.len(), 2);
    assert_eq!(patches[0].content_type, "application/merge-patch+json");
    assert_eq!(patches[0].body["metadata"]["resourceVersion"], "50");
    assert_eq!(
        patches[1].body["metadata"]["resourceVersion"], "51",
        "the retry uses the fresh version"
    );
    let annotations = &patches[1].body["metadata"]["annotations"];
    let history: Vec<HistoryEntry> =
        serde_json::from_str(annotations["headwind.sh/update-history"].as_str().unwrap()).unwrap();
    let images: Vec<_> = history.iter().map(|e| e.image.as_str()).collect();
    assert_eq!(
        images,
        ["nginx:1.26.0", "nginx:1.25.0"],
        "nothing lost, newest first"
    );
    assert!(annotations["headwind.sh/last-update"].as_str().is_some());

    // A repeated append reads the workload (and caches what it read) but writes nothing.
    written["metadata"]["annotations"] = annotations.clone();
    api.clear_requests();
    api.expect(Method::GET, WEB, 200, written);
    let again = backends
        .history
        .append(&web(), entry("nginx:1.26.0", "u1"))
        .await
        .unwrap();
    assert_eq!(
        again,
        Appended::AlreadyPresent,
        "no write when the entry is there"
    );
    assert_eq!(api.requests().len(), 1, "one read, no patch");
    assert_eq!(backends.history.history(&web()).await.unwrap().len(), 2);
}

#[tokio::test]
async fn history_of_a_missing_workload_is_not_found() {
    let (backends, api) = started().await;
    let gone = WorkloadRef::deployment("shop", "gone").unwrap();
    api.expect(
        Method::GET,
        "/apis/apps/v1/namespaces/shop/deployments/gone",
        404,
        status(404, "NotFound", "gone"),
    );

    let appended = backends.history.append(&gone, entry("a:1", "u")).await;

    assert!(matches!(
        appended,
        Err(HistoryError::WorkloadNotFound { .. })
    ));
    assert!(matches!(
        backends.history.history(&gone).await,
        Err(HistoryError::WorkloadNotFound { .. })
    ));
}

#[tokio::test]
async fn controller_finishes_approved_and_expires_overdue_requests() {
    let (client, api) = client();
    seed_empty(&api);
    api.seed(
        DEPLOYMENTS,
        vec![deployment("web", "10", "nginx:1.25.0", json!({}))],
    );
    let mut overdue = update_request("late", "21", "Pending");
    overdue["spec"]["expiresAt"] = json!("2025-11-07T00:00:00Z");
    api.seed(
        UPDATE_REQUESTS,
        vec![update_request("u1", "20", "Approved"), overdue],
    );
    api.expect(
        Method::PATCH,
        WEB,
        200,
        deployment("web", "11", "nginx:1.26.0", json!({})),
    );
    for rv in ["11", "12"] {
        api.expect(
            Method::GET,
            WEB,
            200,
            deployment("web", rv, "nginx:1.26.0", json!({})),
        );
        api.expect(
            Method::PATCH,
            WEB,
            200,
            deployment("web", rv, "nginx:1.26.0", json!({})),
        );
    }
    let mut marked = update_request("u1", "30", "Approved");
    marked["status"]["appliedAt"] = json!("2025-11-06T10:00:00Z");
    let u1_status = format!("{REQUESTS}/u1/status");
    api.expect(Method::PUT, &u1_status, 200, marked);
    api.expect(
        Method::PUT,
        &u1_status,
        200,
        update_request("u1", "31", "Completed"),
    );
    api.expect(
        Method::PUT,
        &format!("{REQUESTS}/late/status"),
        200,
        update_request("late", "31", "Expired"),
    );

    let backends = KubeBackends::start(client.clone());
    let approvals = headwind_core::ApprovalService::new(
        backends.updates.clone(),
        backends.deployer.clone(),
        backends.history.clone(),
    );
    let observer = Arc::new(Reconciles::default());
    let controller = tokio::spawn(headwind_kube::controller::run(
        client,
        approvals,
        backends.updates.clone(),
        observer.clone(),
    ));
    eventually("both requests to be finished", || api.leftovers().0 == 0).await;
    let reported = observer.clone();
    eventually("each reconcile to be reported", move || {
        reported.count.load(Ordering::SeqCst) >= 2
    })
    .await;
    controller.abort();

    let sent = api.requests();
    let puts: Vec<_> = sent.iter().filter(|r| r.method == Method::PUT).collect();
    let phase_of = |name: &str| {
        puts.iter()
            .rfind(|r| r.path.ends_with(&format!("/{name}/status")))
            .map(|r| r.body["status"]["phase"].clone())
    };
    assert_eq!(phase_of("u1"), Some(json!("Completed")));
    assert_eq!(phase_of("late"), Some(json!("Expired")));
    let image_patches = sent
        .iter()
        .filter(|r| r.content_type == "application/json-patch+json")
        .count();
    assert_eq!(image_patches, 1, "the image is applied once");
    assert_eq!(
        api.leftovers().1,
        Vec::<String>::new(),
        "no unscripted request"
    );
}

/// Counts the reconciles a controller reports.
#[derive(Debug, Default)]
struct Reconciles {
    count: AtomicUsize,
}

impl Observer for Reconciles {
    fn observe(&self, event: &Event<'_>) {
        if let Event::Reconciled { seconds, .. } = event {
            assert!(*seconds >= 0.0);
            self.count.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test]
async fn refused_patches_and_unreachable_refreshes_are_told_apart() {
    let (backends, api) = started().await;
    api.expect(
        Method::PATCH,
        WEB,
        400,
        status(
            400,
            "BadRequest",
            "admission webhook \"policy\" denied the request",
        ),
    );

    let refused = backends
        .deployer
        .set_image(&web(), "app", "nginx:1.25.0", "nginx:1.26.0")
        .await;
    assert!(
        matches!(refused, Err(DeployError::Refused { .. })),
        "{refused:?}"
    );

    // A conflict whose refresh fails is a backend failure, not a conflict: a retry would only
    // resend the stale version.
    let status_path = format!("{REQUESTS}/u1/status");
    api.expect(
        Method::PUT,
        &status_path,
        409,
        status(409, "Conflict", "modified"),
    );
    api.expect(
        Method::GET,
        &format!("{REQUESTS}/u1"),
        503,
        status(503, "ServiceUnavailable", "down"),
    );
    let pending = backends.updates.get(&key("u1")).await.unwrap().status;
    let result = backends
        .updates
        .update_status(&key("u1"), "20", pending)
        .await;
    assert!(
        matches!(result, Err(StoreError::Backend { .. })),
        "{result:?}"
    );
}
