//! Starting the real server on ephemeral loopback ports, and a JSON client for it.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::net::SocketAddr;

use headwind::server::{self, Config, Running};
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The server with demo data, on three ephemeral ports.
pub async fn start() -> Running {
    start_with(Config::default()).await
}

pub async fn start_with(config: Config) -> Running {
    let config = Config {
        webhook_addr: loopback(),
        api_addr: loopback(),
        metrics_addr: loopback(),
        ..config
    };

    server::start(config).await.expect("server starts")
}

pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
}

/// Sends a request with an optional raw body and reads the JSON answer.
pub async fn call(method: Method, url: &str, body: Option<&str>) -> Answer {
    let client = reqwest::Client::new();
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }

    let response = request.send().await.expect("request sent");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("body read");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status} body is not JSON ({e}): {text:?}"));

    Answer {
        status,
        content_type,
        body,
    }
}

pub async fn get(url: &str) -> Answer {
    call(Method::GET, url, None).await
}

pub async fn post(url: &str, body: Option<&str>) -> Answer {
    call(Method::POST, url, body).await
}

pub fn api(running: &Running, path: &str) -> String {
    format!("http://{}{path}", running.api_addr)
}

/// Asserts an error answer has the documented shape and status.
pub fn assert_error(answer: &Answer, status: u16) {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.body);
    assert!(
        answer.content_type.starts_with("application/json"),
        "{}",
        answer.content_type
    );
    assert_eq!(answer.body["code"], status, "{}", answer.body);
    let message = answer.body["error"].as_str().unwrap_or_default();
    assert!(
        !message.is_empty(),
        "error message missing: {}",
        answer.body
    );
}
