//! The API reference's curl examples and every error case, over real HTTP against the example
//! server's code on the memory backend.

mod support;

use std::sync::Arc;

use chrono::Utc;
use headwind::core::Deployer;
use headwind::core::policy::Policy;
use headwind::core::store::UpdateStore;
use headwind::core::types::{UpdateRequest, WorkloadRef};
use headwind::http::extract::ANONYMOUS_APPROVER;
use headwind::server::{Config, Running};
use reqwest::Method;
use serde_json::json;
use support::{api, assert_error, call, get, post, start, start_with};

const UPDATE: &str = "/api/v1/updates/default/nginx-update-1-26-0";

fn demo_workload() -> WorkloadRef {
    WorkloadRef::deployment("default", "nginx-example").unwrap()
}

async fn live_image(running: &Running) -> String {
    let memory = running.memory.as_ref().unwrap();
    let workload = memory.deployer.workload(&demo_workload()).await.unwrap();
    workload.containers[0].image.clone()
}

#[tokio::test]
async fn list_returns_the_demo_request_in_the_documented_shape() {
    let running = start().await;

    let answer = get(&api(&running, "/api/v1/updates")).await;

    assert_eq!(answer.status, 200);
    let list = answer.body.as_array().expect("a JSON array");
    assert_eq!(list.len(), 1);
    let request = &list[0];
    assert_eq!(request["metadata"]["name"], "nginx-update-1-26-0");
    assert_eq!(request["metadata"]["namespace"], "default");
    let spec = &request["spec"];
    assert_eq!(
        spec["targetRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx-example", "namespace": "default"})
    );
    assert_eq!(spec["containerName"], "nginx");
    assert_eq!(spec["currentImage"], "nginx:1.25.0");
    assert_eq!(spec["newImage"], "nginx:1.26.0");
    assert_eq!(spec["policy"], "minor");
    assert_eq!(request["status"]["phase"], "Pending");
    let created = request["status"]["createdAt"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "{created}"
    );
    assert!(created.ends_with('Z'), "UTC: {created}");

    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn list_filters_by_namespace_and_phase() {
    let running = start().await;

    let other = get(&api(&running, "/api/v1/updates?namespace=other")).await;
    let done = get(&api(&running, "/api/v1/updates?phase=Completed")).await;
    let bad = get(&api(&running, "/api/v1/updates?phase=Done")).await;

    assert_eq!(
        (other.status.as_u16(), other.body.as_array().unwrap().len()),
        (200, 0)
    );
    assert_eq!(
        (done.status.as_u16(), done.body.as_array().unwrap().len()),
        (200, 0)
    );
    assert_error(&bad, 400);
}

#[tokio::test]
async fn get_returns_one_request() {
    let running = start().await;

    let answer = get(&api(&running, UPDATE)).await;

    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["metadata"]["name"], "nginx-update-1-26-0");
    assert_eq!(answer.body["spec"]["newImage"], "nginx:1.26.0");
}

#[tokio::test]
async fn approve_history_and_rollback_work_as_printed() {
    let running = start().await;

    let approve = post(
        &api(&running, &format!("{UPDATE}/approve")),
        Some(r#"{"approver":"admin@example.com"}"#),
    )
    .await;
    assert_eq!(approve.status, 200, "{}", approve.body);
    assert_eq!(
        approve.body["message"],
        "Update approved and applied successfully"
    );
    let status = &approve.body["updateRequest"]["status"];
    assert_eq!(status["phase"], "Completed");
    assert_eq!(status["approvedBy"], "admin@example.com");
    assert!(status["approvedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        approve.body["updateRequest"]["metadata"]["name"],
        "nginx-update-1-26-0"
    );
    assert_eq!(live_image(&running).await, "nginx:1.26.0");

    let history = get(&api(
        &running,
        "/api/v1/rollback/default/nginx-example/history",
    ))
    .await;
    assert_eq!(history.status, 200);
    assert_eq!(history.body["deployment"], "nginx-example");
    assert_eq!(history.body["namespace"], "default");
    let entries = history.body["history"].as_array().unwrap();
    let shape: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                e["container"].as_str(),
                e["image"].as_str(),
                e["updateRequestName"].as_str(),
                e["approvedBy"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (
                Some("nginx"),
                Some("nginx:1.26.0"),
                Some("nginx-update-1-26-0"),
                Some("admin@example.com")
            ),
            (
                Some("nginx"),
                Some("nginx:1.25.0"),
                Some("nginx-update-1-25-0"),
                Some("webhook")
            ),
        ]
    );
    assert!(entries[0]["timestamp"].as_str().unwrap() > entries[1]["timestamp"].as_str().unwrap());

    let rollback = post(
        &api(&running, "/api/v1/rollback/default/nginx-example/nginx"),
        None,
    )
    .await;
    assert_eq!(rollback.status, 200, "{}", rollback.body);
    assert_eq!(
        rollback.body,
        json!({
            "message": "Rollback successful",
            "deployment": "nginx-example",
            "namespace": "default",
            "container": "nginx",
            "previousImage": "nginx:1.26.0",
            "rolledBackTo": "nginx:1.25.0",
        })
    );
    assert_eq!(live_image(&running).await, "nginx:1.25.0");

    let blocks = get(&api(
        &running,
        "/api/v1/rollback/default/nginx-example/blocks",
    ))
    .await;
    assert_eq!(blocks.body["blocks"][0]["image"], "nginx:1.26.0");
    assert_eq!(blocks.body["blocks"][0]["cause"], "rolledBack");

    let url = api(
        &running,
        "/api/v1/rollback/default/nginx-example/nginx/blocks?image=nginx:1.26.0",
    );
    let cleared = call(Method::DELETE, &url, None).await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert_error(&call(Method::DELETE, &url, None).await, 404);
}

#[tokio::test]
async fn workload_lists_its_containers() {
    let running = start().await;

    let answer = get(&api(&running, "/api/v1/workloads/default/nginx-example")).await;

    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        json!({"kind": "Deployment", "namespace": "default", "name": "nginx-example", "containers": [{"name": "nginx", "image": "nginx:1.25.0"}]})
    );
    assert_error(
        &get(&api(&running, "/api/v1/workloads/default/nope")).await,
        404,
    );
    assert_error(
        &get(&api(
            &running,
            "/api/v1/workloads/default/nginx-example?kind=DaemonSet",
        ))
        .await,
        404,
    );
}

#[tokio::test]
async fn reject_works_as_printed() {
    let running = start().await;

    let body = r#"{"approver":"admin@example.com","reason":"Not ready"}"#;
    let reject = post(&api(&running, &format!("{UPDATE}/reject")), Some(body)).await;

    assert_eq!(reject.status, 200, "{}", reject.body);
    assert_eq!(reject.body["message"], "Update rejected");
    let status = &reject.body["updateRequest"]["status"];
    assert_eq!(status["phase"], "Rejected");
    assert_eq!(status["approvedBy"], "admin@example.com");
    assert_eq!(status["reason"], "Not ready");
    assert!(status["rejectedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(live_image(&running).await, "nginx:1.25.0");

    let blocks = get(&api(
        &running,
        "/api/v1/rollback/default/nginx-example/blocks",
    ))
    .await;
    assert_eq!(blocks.body["blocks"][0]["cause"], "rejected");
}

#[tokio::test]
async fn health_answers_on_every_listener_and_ready_on_the_api() {
    let running = start().await;

    for addr in [running.webhook_addr, running.api_addr, running.metrics_addr] {
        let answer = get(&format!("http://{addr}/health")).await;
        assert_eq!(
            (answer.status.as_u16(), answer.body.clone()),
            (200, json!({"status": "healthy"}))
        );
    }
    let ready = get(&api(&running, "/ready")).await;
    assert_eq!(
        (ready.status.as_u16(), ready.body),
        (200, json!({"status": "ready"}))
    );
}

#[tokio::test]
async fn approve_without_a_body_records_the_placeholder() {
    let running = start().await;

    let answer = post(&api(&running, &format!("{UPDATE}/approve")), None).await;

    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body["updateRequest"]["status"]["approvedBy"],
        ANONYMOUS_APPROVER
    );
}

#[tokio::test]
async fn client_mistakes_are_json_4xx() {
    let running = start().await;
    let approve = api(&running, &format!("{UPDATE}/approve"));

    let cases = [
        (post(&approve, Some("{bad json")).await, 400),
        (post(&approve, Some(r#"{"approver": 5}"#)).await, 400),
        (
            post(&approve, Some(r#"{"aprover": "typo@example.com"}"#)).await,
            400,
        ),
        (
            post(&approve, Some(r#"["not", "an", "object"]"#)).await,
            400,
        ),
        (post(&approve, Some(r#"{"approver": ""}"#)).await, 400),
        (
            post(&api(&running, "/api/v1/updates/Default/x/approve"), None).await,
            400,
        ),
        (
            post(
                &api(&running, "/api/v1/updates/default/bad_name/reject"),
                None,
            )
            .await,
            400,
        ),
        (
            get(&api(
                &running,
                "/api/v1/rollback/default/nginx-example/history?kind=Pod",
            ))
            .await,
            400,
        ),
        (
            post(
                &api(
                    &running,
                    "/api/v1/rollback/default/nginx-example/Bad_Container",
                ),
                None,
            )
            .await,
            400,
        ),
        (
            get(&api(&running, "/api/v1/updates?namespace=NOPE")).await,
            400,
        ),
        (
            get(&api(&running, "/api/v1/updates/default/missing")).await,
            404,
        ),
        (
            post(
                &api(&running, "/api/v1/updates/default/missing/approve"),
                None,
            )
            .await,
            404,
        ),
        (
            get(&api(&running, "/api/v1/rollback/default/missing/history")).await,
            404,
        ),
        (
            post(
                &api(&running, "/api/v1/rollback/default/missing/nginx"),
                None,
            )
            .await,
            404,
        ),
        (
            post(
                &api(&running, "/api/v1/rollback/default/nginx-example/sidecar"),
                None,
            )
            .await,
            404,
        ),
        (get(&api(&running, "/api/v1/nothing-here")).await, 404),
        (
            get(&format!("http://{}/api/v1/updates", running.metrics_addr)).await,
            404,
        ),
        (
            call(Method::DELETE, &api(&running, UPDATE), None).await,
            405,
        ),
        (get(&approve).await, 405),
        (
            call(
                Method::PUT,
                &format!("http://{}/health", running.webhook_addr),
                None,
            )
            .await,
            405,
        ),
    ];

    for (answer, status) in &cases {
        assert_error(answer, *status);
    }
    assert_eq!(
        live_image(&running).await,
        "nginx:1.25.0",
        "nothing was applied"
    );
    let still = get(&api(&running, UPDATE)).await;
    assert_eq!(
        still.body["status"]["phase"], "Pending",
        "bad input changed nothing"
    );
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let running = start().await;
    let huge = format!(r#"{{"approver": "{}"}}"#, "a".repeat(70 * 1024));

    let approve = post(&api(&running, &format!("{UPDATE}/approve")), Some(&huge)).await;
    let rollback = post(
        &api(&running, "/api/v1/rollback/default/nginx-example/nginx"),
        Some(&huge),
    )
    .await;

    assert_error(&approve, 413);
    assert_error(&rollback, 413);
    assert_eq!(
        get(&api(&running, UPDATE)).await.body["status"]["phase"],
        "Pending"
    );
}

#[tokio::test]
async fn decisions_on_finished_requests_are_409() {
    let running = start().await;
    let approve = api(&running, &format!("{UPDATE}/approve"));
    assert_eq!(post(&approve, None).await.status, 200);

    assert_error(&post(&approve, None).await, 409);
    assert_error(
        &post(&api(&running, &format!("{UPDATE}/reject")), None).await,
        409,
    );

    // Rolled back once, the workload has nothing older that is not blocked.
    let rollback = api(&running, "/api/v1/rollback/default/nginx-example/nginx");
    assert_eq!(post(&rollback, None).await.status, 200);
    assert_error(&post(&rollback, None).await, 409);
}

#[tokio::test]
async fn failed_deploy_is_500_with_the_cause_and_marks_the_request_failed() {
    let running = start().await;
    let memory = running.memory.as_ref().unwrap();
    let stale = UpdateRequest::pending(
        "nginx-update-1-24-1",
        &demo_workload(),
        "nginx",
        ("nginx:1.24.0", "nginx:1.24.1"),
        Policy::Patch,
        Utc::now(),
    );
    memory.updates.create(stale).await.unwrap();

    let answer = post(
        &api(
            &running,
            "/api/v1/updates/default/nginx-update-1-24-1/approve",
        ),
        None,
    )
    .await;

    assert_error(&answer, 500);
    let message = answer.body["error"].as_str().unwrap();
    assert!(
        message.contains("workload changed since the request was made"),
        "{message}"
    );
    let stored = get(&api(
        &running,
        "/api/v1/updates/default/nginx-update-1-24-1",
    ))
    .await;
    assert_eq!(stored.body["status"]["phase"], "Failed");
    assert!(
        stored.body["status"]["message"]
            .as_str()
            .unwrap()
            .contains("nothing was overwritten")
    );
    assert_eq!(live_image(&running).await, "nginx:1.25.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_http_decisions_have_exactly_one_winner() {
    let running = Arc::new(start().await);

    let calls: Vec<_> = (0..64)
        .map(|i| {
            let running = running.clone();
            tokio::spawn(async move {
                let verb = if i % 2 == 0 { "approve" } else { "reject" };
                let body = format!(r#"{{"approver":"user-{i}@example.com"}}"#);
                post(&api(&running, &format!("{UPDATE}/{verb}")), Some(&body)).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for call in calls {
        let answer = call.await.unwrap();
        if answer.status != 200 {
            assert_error(&answer, 409);
        }
        statuses.push(answer.status.as_u16());
    }

    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 63);

    let memory = running.memory.as_ref().unwrap();
    let phase = memory
        .updates
        .get(&headwind::core::types::ObjectKey::new("default", "nginx-update-1-26-0").unwrap())
        .await
        .unwrap()
        .status
        .phase;
    let history = get(&api(
        &running,
        "/api/v1/rollback/default/nginx-example/history",
    ))
    .await;
    let applied = history.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["updateRequestName"] == "nginx-update-1-26-0")
        .count();
    match phase {
        headwind::core::types::Phase::Completed => {
            assert_eq!((memory.deployer.image_writes(), applied), (1, 1));
        }
        headwind::core::types::Phase::Rejected => {
            assert_eq!((memory.deployer.image_writes(), applied), (0, 0));
        }
        other => panic!("unexpected phase {other}"),
    }
}

#[tokio::test]
async fn workloads_file_is_served() {
    let dir = std::env::temp_dir().join(format!("headwind-workloads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("workloads.yaml");
    let manifest = "kind: StatefulSet\nmetadata:\n  name: db\n  namespace: data\nspec:\n  template:\n    spec:\n      containers:\n        - name: postgres\n          image: postgres:16.2\n";
    std::fs::write(&file, manifest).unwrap();

    let running = start_with(Config {
        demo: false,
        workloads: Some(file),
        ..Config::default()
    })
    .await;

    let history = get(&api(
        &running,
        "/api/v1/rollback/data/db/history?kind=StatefulSet",
    ))
    .await;
    assert_eq!(
        (history.status.as_u16(), history.body["history"].clone()),
        (200, json!([]))
    );
    assert_error(
        &get(&api(&running, "/api/v1/rollback/data/db/history")).await,
        404,
    );
    let list = get(&api(&running, "/api/v1/updates")).await;
    assert_eq!(list.body, json!([]), "--no-demo loads no request");
}

#[tokio::test]
async fn shutdown_closes_the_listeners() {
    let running = start().await;
    let addr = running.api_addr;

    running.shutdown().await.unwrap();

    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
