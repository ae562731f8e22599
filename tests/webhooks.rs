//! Registry webhooks over real HTTP on the webhook listener, against the demo data.

mod support;

use headwind::http::{Source, WebhookConfig};
use headwind::server::{Config, Running};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use support::{Answer, api, assert_error, get, post, start, start_with};

const NGINX_1_27: &str = r#"{
    "callback_url": "https://registry.hub.docker.com/u/library/nginx/hook/abc/",
    "push_data": {"pushed_at": 1732608000, "pusher": "trustedbuilder", "tag": "1.27.0"},
    "repository": {"repo_name": "library/nginx", "namespace": "library", "name": "nginx"}
}"#;

fn hook(running: &Running, path: &str) -> String {
    format!("http://{}{path}", running.webhook_addr)
}

async fn requests_for_1_27(running: &Running) -> Vec<Value> {
    let list = get(&api(running, "/api/v1/updates")).await.body;
    list.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["spec"]["newImage"] == "nginx:1.27.0")
        .cloned()
        .collect()
}

#[tokio::test]
async fn docker_hub_push_creates_a_request_and_a_rejection_sticks() {
    let running = start().await;

    let first = post(&hook(&running, "/webhook/dockerhub"), Some(NGINX_1_27)).await;

    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["source"], "dockerhub");
    assert_eq!(first.body["pushes"], 1);
    let result = &first.body["results"][0];
    assert_eq!(
        (result["name"].as_str(), result["outcome"].as_str()),
        (Some("nginx-example"), Some("created"))
    );
    let created = requests_for_1_27(&running).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["status"]["phase"], "Pending");
    assert_eq!(created[0]["spec"]["targetRef"]["name"], "nginx-example");

    // The demo's own request for 1.26.0 was older and Pending: it is superseded.
    let demo = get(&api(
        &running,
        "/api/v1/updates/default/nginx-update-1-26-0",
    ))
    .await;
    assert_eq!(demo.body["status"]["phase"], "Expired");

    let name = created[0]["metadata"]["name"].as_str().unwrap();
    let reject = post(
        &api(&running, &format!("/api/v1/updates/default/{name}/reject")),
        None,
    )
    .await;
    assert_eq!(reject.status, 200);

    let again = post(&hook(&running, "/webhook/dockerhub"), Some(NGINX_1_27)).await;
    assert_eq!(again.body["results"][0]["outcome"], "skipped");
    assert_eq!(again.body["results"][0]["label"], "blocked");
    assert_eq!(requests_for_1_27(&running).await.len(), 1, "nothing new");
}

#[tokio::test]
async fn malformed_payload_is_400_and_changes_nothing() {
    let running = start().await;

    let broken = post(
        &hook(&running, "/webhook/dockerhub"),
        Some("{\"push_data\": 3"),
    )
    .await;
    let wrong_shape = post(&hook(&running, "/webhook/registry"), Some(NGINX_1_27)).await;

    assert_error(&broken, 400);
    assert_error(&wrong_shape, 400);
    assert_eq!(
        get(&api(&running, "/api/v1/updates"))
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn secured() -> Running {
    let webhooks = WebhookConfig::new()
        .with_secret(Source::DockerHub, "hub-token")
        .with_secret(Source::Registry, "registry-token")
        .with_secret(Source::Ghcr, "gh-secret");
    start_with(Config {
        webhooks,
        ..Config::default()
    })
    .await
}

async fn send(url: &str, body: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = reqwest::Client::new().post(url).body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.json().await.unwrap();

    Answer {
        status,
        content_type,
        body,
    }
}

#[tokio::test]
async fn secrets_are_required_when_set() {
    let running = secured().await;
    let hub = hook(&running, "/webhook/dockerhub");

    assert_error(&send(&hub, NGINX_1_27, &[]).await, 401);
    assert_error(
        &send(&format!("{hub}?token=wrong"), NGINX_1_27, &[]).await,
        401,
    );
    assert_eq!(
        get(&api(&running, "/api/v1/updates"))
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing changed"
    );

    let by_query = send(&format!("{hub}?token=hub-token"), NGINX_1_27, &[]).await;
    assert_eq!(by_query.status, 200, "{}", by_query.body);

    let registry = hook(&running, "/webhook/registry");
    let body = include_str!("../headwind-http/tests/fixtures/distribution-push-event.json");
    assert_error(
        &send(&registry, body, &[("authorization", "Bearer nope")]).await,
        401,
    );
    let ok = send(
        &registry,
        body,
        &[("authorization", "Bearer registry-token")],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);

    // Sources without a secret stay open.
    let quay = r#"{"docker_url": "quay.io/shop/web", "updated_tags": ["1.0.0"]}"#;
    assert_eq!(
        send(&hook(&running, "/webhook/quay"), quay, &[])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn github_webhooks_need_a_valid_signature() {
    let running = secured().await;
    let url = hook(&running, "/webhook/ghcr");
    let body = r#"{"action": "published", "registry_package": {"name": "web", "package_type": "CONTAINER",
        "package_version": {"container_metadata": {"tag": {"name": "1.0.0"}}, "package_url": "ghcr.io/shop/web:1.0.0"}}}"#;
    let mut mac = Hmac::<Sha256>::new_from_slice(b"gh-secret").unwrap();
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));

    assert_error(&send(&url, body, &[]).await, 401);
    assert_error(
        &send(&url, body, &[("x-hub-signature-256", "sha256=00")]).await,
        401,
    );
    let tampered = body.replace("1.0.0", "9.9.9");
    assert_error(
        &send(&url, &tampered, &[("x-hub-signature-256", &signature)]).await,
        401,
    );

    let ok = send(&url, body, &[("x-hub-signature-256", &signature)]).await;
    assert_eq!(
        (ok.status.as_u16(), ok.body["pushes"].clone()),
        (200, Value::from(1))
    );
}

#[tokio::test]
async fn webhook_metrics_move() {
    let running = start().await;
    post(&hook(&running, "/webhook/dockerhub"), Some(NGINX_1_27)).await;
    post(&hook(&running, "/webhook/dockerhub"), Some(NGINX_1_27)).await;

    let metrics = reqwest::get(format!("http://{}/metrics", running.metrics_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    for line in [
        r#"headwind_webhook_events_total{source="dockerhub"} 2"#,
        r#"headwind_webhook_events_processed_total{source="dockerhub"} 2"#,
        "headwind_updates_created_total 1",
        r#"headwind_updates_skipped_total{reason="exists"} 1"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in\n{metrics}"
        );
    }
}
