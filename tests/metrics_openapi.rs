//! `/metrics` parses as Prometheus text and its counters move; the OpenAPI document lists every
//! route the API serves.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::Value;
use support::{api, call, get, post, start};

/// Parses the Prometheus / OpenMetrics text format strictly enough to catch malformed output:
/// every sample line is `name{labels} value`, every sample belongs to a declared family.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut families = BTreeSet::new();
    let mut samples = BTreeMap::new();
    let mut saw_eof = false;

    for line in text.lines() {
        assert!(!saw_eof, "nothing may follow # EOF");
        if line == "# EOF" {
            saw_eof = true;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            families.insert(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            continue;
        }

        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad sample {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        let family = families.iter().any(|f| name.starts_with(f.as_str()));
        assert!(family, "sample {name} has no # TYPE");
        samples.insert(series.to_owned(), value);
    }

    assert!(saw_eof, "OpenMetrics output ends with # EOF");
    samples
}

async fn scrape(running: &headwind::server::Running) -> BTreeMap<String, f64> {
    let url = format!("http://{}/metrics", running.metrics_addr);
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );

    parse_metrics(&response.text().await.unwrap())
}

#[tokio::test]
async fn counters_move_as_requests_are_made() {
    let running = start().await;
    let before = scrape(&running).await;
    assert_eq!(before["headwind_updates_pending"], 1.0);
    assert_eq!(before["headwind_updates_approved_total"], 0.0);

    let update = "/api/v1/updates/default/nginx-update-1-26-0";
    assert_eq!(
        post(&api(&running, &format!("{update}/approve")), None)
            .await
            .status,
        200
    );
    assert_eq!(
        post(
            &api(&running, "/api/v1/rollback/default/nginx-example/nginx"),
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(
        post(
            &api(&running, "/api/v1/rollback/default/nginx-example/nginx"),
            None
        )
        .await
        .status,
        409
    );

    let after = scrape(&running).await;
    assert_eq!(after["headwind_updates_pending"], 0.0);
    assert_eq!(after["headwind_updates_approved_total"], 1.0);
    assert_eq!(after["headwind_updates_applied_total"], 1.0);
    assert_eq!(after["headwind_updates_failed_total"], 0.0);
    assert_eq!(after["headwind_rollbacks_total"], 1.0);
    assert_eq!(after["headwind_rollbacks_manual_total"], 1.0);
    assert_eq!(after["headwind_rollbacks_failed_total"], 1.0);
    let approvals = r#"headwind_http_requests_total{method="POST",route="/api/v1/updates/{namespace}/{name}/approve",status="200"}"#;
    assert_eq!(after[approvals], 1.0);
    let latency = r#"headwind_http_request_duration_seconds_count{method="POST",route="/api/v1/updates/{namespace}/{name}/approve"}"#;
    assert_eq!(after[latency], 1.0);
}

#[tokio::test]
async fn rejections_are_counted() {
    let running = start().await;

    let url = api(
        &running,
        "/api/v1/updates/default/nginx-update-1-26-0/reject",
    );
    assert_eq!(post(&url, None).await.status, 200);

    let after = scrape(&running).await;
    assert_eq!(after["headwind_updates_rejected_total"], 1.0);
    assert_eq!(after["headwind_updates_approved_total"], 0.0);
}

/// A value for each path parameter, so that every templated path can be requested.
fn concrete(path: &str) -> String {
    path.replace("{namespace}", "default")
        .replace("{name}", "nginx-update-1-26-0")
        .replace("{deployment}", "nginx-example")
        .replace("{container}", "nginx")
}

#[tokio::test]
async fn openapi_lists_every_served_route() {
    let running = start().await;

    let spec = get(&api(&running, "/api/v1/openapi.json")).await;
    assert_eq!(spec.status, 200);
    assert!(spec.body["openapi"].as_str().unwrap().starts_with("3."));

    let paths = spec.body["paths"].as_object().unwrap();
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            operations.insert((method.to_uppercase(), path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = [
        ("GET", "/api/v1/updates"),
        ("GET", "/api/v1/updates/{namespace}/{name}"),
        ("POST", "/api/v1/updates/{namespace}/{name}/approve"),
        ("POST", "/api/v1/updates/{namespace}/{name}/reject"),
        ("GET", "/api/v1/rollback/{namespace}/{deployment}/history"),
        (
            "POST",
            "/api/v1/rollback/{namespace}/{deployment}/{container}",
        ),
        ("GET", "/api/v1/rollback/{namespace}/{deployment}/blocks"),
        (
            "DELETE",
            "/api/v1/rollback/{namespace}/{deployment}/{container}/blocks",
        ),
        ("GET", "/api/v1/workloads/{namespace}/{deployment}"),
        ("GET", "/health"),
        ("GET", "/ready"),
        ("GET", "/api/v1/openapi.json"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(operations, expected);

    // Every documented operation is served: none answers the router's own 404 or 405.
    for (method, path) in &operations {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let answer = call(method.clone(), &api(&running, &concrete(path)), None).await;
        let error = answer
            .body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(
            !error.starts_with("no route for"),
            "{method} {path}: {error}"
        );
        assert_ne!(answer.status, 405, "{method} {path}");
    }

    // And the router serves nothing undocumented under the API prefix.
    let undocumented = get(&api(&running, "/api/v1/rollback")).await;
    assert_eq!(undocumented.status, 404);
}

#[tokio::test]
async fn openapi_document_matches_the_library_function() {
    let running = start().await;

    let served = get(&api(&running, "/api/v1/openapi.json")).await.body;
    let generated = serde_json::to_value(headwind::http::openapi()).unwrap();

    assert_eq!(served, generated);
    let schemas = generated["components"]["schemas"].as_object().unwrap();
    assert!(
        schemas.contains_key("UpdateRequest"),
        "{:?}",
        schemas.keys()
    );
}
