//! End to end on the kube backends: an approval over real HTTP, served by the example server's
//! code against a scripted Kubernetes API server, with every request it makes checked in order.

#[path = "../headwind-kube/tests/support/mod.rs"]
mod kube_api;
mod support;

use headwind::server::{Backend, Config};
use http::Method;
use kube_api::{
    DAEMONSETS, DEPLOYMENTS, STATEFULSETS, UPDATE_REQUESTS, deployment, eventually, update_request,
};
use serde_json::{Value, json};
use support::{api, get, post, start_with};

const STATUS: &str = "/apis/headwind.sh/v1alpha1/namespaces/shop/updaterequests/u1/status";
const WEB: &str = "/apis/apps/v1/namespaces/shop/deployments/web";

fn with_phase(rv: &str, phase: &str) -> Value {
    let mut object = update_request("u1", rv, phase);
    object["status"]["approvedBy"] = json!("admin@example.com");
    object
}

fn history(entries: &Value) -> Value {
    json!({"headwind.sh/update-history": entries.to_string()})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_over_http_on_the_kube_backends() {
    let (client, fake) = kube_api::client();
    for collection in [STATEFULSETS, DAEMONSETS] {
        fake.seed(collection, Vec::new());
    }
    fake.seed(
        DEPLOYMENTS,
        vec![deployment("web", "10", "nginx:1.25.0", json!({}))],
    );
    fake.seed(UPDATE_REQUESTS, vec![update_request("u1", "20", "Pending")]);
    let config = Config {
        backend: Backend::Kube,
        kube_client: Some(client),
        controller: false,
        demo: false,
        ..Config::default()
    };
    let running = start_with(config).await;

    let ready_url = api(&running, "/ready");
    let mut ready = false;
    for _ in 0..100 {
        if get(&ready_url).await.status == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready, "/ready turns 200 once the caches synced");
    let listed = get(&api(&running, "/api/v1/updates")).await;
    assert_eq!(
        listed.body[0]["metadata"]["name"], "u1",
        "served from the watch cache"
    );
    assert!(fake.requests().is_empty(), "the list cost no API request");

    let baseline = json!([{"container": "app", "image": "nginx:1.25.0", "timestamp": "2025-11-06T01:00:00Z",
                           "updateRequestName": null, "approvedBy": "unknown", "kind": "baseline"}]);
    let mut marked = with_phase("31", "Approved");
    marked["status"]["appliedAt"] = json!("2025-11-06T10:00:00Z");
    let steps = [
        (Method::PUT, STATUS, with_phase("30", "Approved")),
        (
            Method::PATCH,
            WEB,
            deployment("web", "11", "nginx:1.26.0", json!({})),
        ),
        (Method::PUT, STATUS, marked),
        (
            Method::GET,
            WEB,
            deployment("web", "11", "nginx:1.26.0", json!({})),
        ),
        (
            Method::PATCH,
            WEB,
            deployment("web", "12", "nginx:1.26.0", history(&baseline)),
        ),
        (
            Method::GET,
            WEB,
            deployment("web", "12", "nginx:1.26.0", history(&baseline)),
        ),
        (
            Method::PATCH,
            WEB,
            deployment("web", "13", "nginx:1.26.0", history(&baseline)),
        ),
        (Method::PUT, STATUS, with_phase("32", "Completed")),
    ];
    for (method, path, answer) in steps {
        fake.expect(method, path, 200, answer);
    }

    let url = api(&running, "/api/v1/updates/shop/u1/approve");
    let answer = post(&url, Some(r#"{"approver":"admin@example.com"}"#)).await;

    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["message"],
        "Update approved and applied successfully"
    );
    assert_eq!(answer.body["updateRequest"]["status"]["phase"], "Completed");
    let sent = fake.requests();
    let steps: Vec<_> = sent
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.content_type.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("PUT", STATUS, "application/json"),
            ("PATCH", WEB, "application/json-patch+json"),
            ("PUT", STATUS, "application/json"),
            ("GET", WEB, ""),
            ("PATCH", WEB, "application/merge-patch+json"),
            ("GET", WEB, ""),
            ("PATCH", WEB, "application/merge-patch+json"),
            ("PUT", STATUS, "application/json"),
        ]
    );

    // 1. Pending -> Approved, guarded by the version read from the cache.
    assert_eq!(sent[0].body["metadata"]["resourceVersion"], "20");
    assert_eq!(sent[0].body["status"]["phase"], "Approved");
    assert_eq!(sent[0].body["status"]["approvedBy"], "admin@example.com");
    // 2. The image, guarded by test operations on name and current image (container index 1).
    assert_eq!(
        sent[1].body[0],
        json!({"op": "test", "path": "/spec/template/spec/containers/1/name", "value": "app"})
    );
    assert_eq!(sent[1].body[1]["value"], "nginx:1.25.0");
    assert_eq!(
        sent[1].body[2],
        json!({"op": "replace", "path": "/spec/template/spec/containers/1/image", "value": "nginx:1.26.0"})
    );
    // 3. The apply goes on record at once, still Approved.
    assert_eq!(sent[2].body["metadata"]["resourceVersion"], "30");
    assert_eq!(sent[2].body["status"]["phase"], "Approved");
    assert!(sent[2].body["status"]["appliedAt"].is_string());
    // 4. The baseline, then the update entry, each guarded by the version just read.
    assert_eq!(sent[4].body["metadata"]["resourceVersion"], "11");
    let first: Value = serde_json::from_str(
        sent[4].body["metadata"]["annotations"]["headwind.sh/update-history"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first, baseline);
    assert_eq!(sent[6].body["metadata"]["resourceVersion"], "12");
    let second: Value = serde_json::from_str(
        sent[6].body["metadata"]["annotations"]["headwind.sh/update-history"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(second[0]["image"], "nginx:1.26.0");
    assert_eq!(second[0]["updateRequestName"], "u1");
    assert_eq!(second[1], baseline[0]);
    // 5. Approved -> Completed, guarded by the version the marking write returned.
    assert_eq!(sent[7].body["metadata"]["resourceVersion"], "31");
    assert_eq!(sent[7].body["status"]["phase"], "Completed");
    assert_eq!(fake.leftovers(), (0, vec![]));

    let fake_events = fake.clone();
    eventually("the Kubernetes events", move || {
        fake_events.events().len() >= 3
    })
    .await;
    let reasons: Vec<_> = fake
        .events()
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    for reason in ["Approved", "Applied", "ImageUpdated"] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "{reason} missing from {reasons:?}"
        );
    }

    running.shutdown().await.unwrap();
}
