//! A scripted Kubernetes API server behind a real `kube::Client`, built on tower-test.
//!
//! Lists answer with the objects a test seeds; watches answer with a stream the test feeds
//! event by event; every other request is answered by the first scripted response for its
//! method and path, and a request with none is answered 501 and reported by `leftovers`. Every request is recorded
//! (method, path with query, content type, body) so a test can assert exactly what was sent.

#![allow(dead_code, unreachable_pub, missing_docs)]
#![expect(
    clippy::needless_pass_by_value,
    reason = "json! takes values by reference; fixtures read better by value"
)]

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub const UPDATE_REQUESTS: &str = "/apis/headwind.sh/v1alpha1/updaterequests";
pub const DEPLOYMENTS: &str = "/apis/apps/v1/deployments";
pub const STATEFULSETS: &str = "/apis/apps/v1/statefulsets";
pub const DAEMONSETS: &str = "/apis/apps/v1/daemonsets";

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub body: Value,
}

#[derive(Default)]
struct State {
    lists: HashMap<String, Vec<Value>>,
    watches: HashMap<String, mpsc::UnboundedSender<Bytes>>,
    script: VecDeque<(Method, String, u16, Value)>,
    recorded: Vec<Recorded>,
    events: Vec<Value>,
    unexpected: Vec<String>,
}

#[derive(Clone, Default)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

type ResponseBody = UnsyncBoxBody<Bytes, Infallible>;

fn full(status: u16, body: &Value) -> Response<ResponseBody> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed_unsync())
        .unwrap()
}

/// A Kubernetes `Status` body for an error answer.
pub fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message})
}

impl FakeApi {
    /// Seeds the initial list of a collection (one of the path constants).
    pub fn seed(&self, collection: &str, items: Vec<Value>) {
        self.state
            .lock()
            .unwrap()
            .lists
            .insert(collection.to_owned(), items);
    }

    /// Scripts the answer to the next `method path` request.
    pub fn expect(&self, method: Method, path: &str, status: u16, body: Value) {
        self.state
            .lock()
            .unwrap()
            .script
            .push_back((method, path.to_owned(), status, body));
    }

    /// Sends a watch event (`ADDED`, `MODIFIED`, `DELETED`) on a collection's open watch.
    pub fn push(&self, collection: &str, kind: &str, object: Value) {
        let line = format!("{}\n", json!({"type": kind, "object": object}));
        let state = self.state.lock().unwrap();
        let sender = state
            .watches
            .get(collection)
            .unwrap_or_else(|| panic!("no watch open on {collection}"));
        sender.send(Bytes::from(line)).unwrap();
    }

    pub fn watching(&self, collection: &str) -> bool {
        self.state.lock().unwrap().watches.contains_key(collection)
    }

    /// Requests other than the watchers' lists and watches, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().recorded.clone()
    }

    /// The Kubernetes Events published so far.
    pub fn events(&self) -> Vec<Value> {
        self.state.lock().unwrap().events.clone()
    }

    pub fn clear_requests(&self) {
        self.state.lock().unwrap().recorded.clear();
    }

    /// Scripted responses not yet consumed, and requests that had none.
    pub fn leftovers(&self) -> (usize, Vec<String>) {
        let state = self.state.lock().unwrap();
        (state.script.len(), state.unexpected.clone())
    }

    async fn answer(&self, request: Request<Body>) -> Response<ResponseBody> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or_default().to_owned();
        let content_type = request
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = request
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);

        let mut state = self.state.lock().unwrap();
        let collection = state.lists.keys().find(|c| **c == path).cloned();
        if let (true, Some(collection)) = (method == Method::GET, collection) {
            if query.contains("watch=true") {
                let (sender, receiver) = mpsc::unbounded_channel::<Bytes>();
                state.watches.insert(collection, sender);
                let stream = futures::stream::unfold(receiver, |mut rx| async move {
                    rx.recv()
                        .await
                        .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
                });
                return Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(BodyExt::boxed_unsync(StreamBody::new(stream.boxed())))
                    .unwrap();
            }
            let items = state.lists[&collection].clone();
            let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items});
            return full(200, &list);
        }

        // Kubernetes Events are published in the background; they are accepted and kept apart.
        if path.starts_with("/apis/events.k8s.io/") {
            state.events.push(body.clone());
            return full(201, &body);
        }

        state.recorded.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            query,
            content_type,
            body,
        });
        let next = state
            .script
            .iter()
            .position(|(m, p, _, _)| *m == method && *p == path);
        match next.and_then(|i| state.script.remove(i)) {
            Some((_, _, code, answer)) => full(code, &answer),
            None => {
                state.unexpected.push(format!("{method} {path}"));
                full(
                    StatusCode::NOT_IMPLEMENTED.as_u16(),
                    &status(501, "Unscripted", "no scripted response"),
                )
            }
        }
    }
}

/// A client whose requests the returned [`FakeApi`] answers.
pub fn client() -> (Client, FakeApi) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<ResponseBody>>();
    let api = FakeApi::default();
    let server = api.clone();

    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let server = server.clone();
            tokio::spawn(async move { send.send_response(server.answer(request).await) });
        }
    });

    (Client::new(service, "default"), api)
}

/// Seeds empty lists for every collection the backends watch.
pub fn seed_empty(api: &FakeApi) {
    for collection in [UPDATE_REQUESTS, DEPLOYMENTS, STATEFULSETS, DAEMONSETS] {
        api.seed(collection, Vec::new());
    }
}

/// Polls `check` every 20 ms for up to 5 s.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn deployment(name: &str, rv: &str, image: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "resourceVersion": rv, "generation": 1, "annotations": annotations},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "sidecar", "image": "envoyproxy/envoy:v1.30.1"},
            {"name": "app", "image": image},
        ]}}},
        "status": {"observedGeneration": 1, "updatedReplicas": 1, "availableReplicas": 1},
    })
}

pub fn update_request(name: &str, rv: &str, phase: &str) -> Value {
    json!({
        "apiVersion": "headwind.sh/v1alpha1",
        "kind": "UpdateRequest",
        "metadata": {"name": name, "namespace": "shop", "resourceVersion": rv, "creationTimestamp": "2025-11-06T01:00:00Z"},
        "spec": {
            "targetRef": {"kind": "Deployment", "name": "web", "namespace": "shop"},
            "containerName": "app",
            "currentImage": "nginx:1.25.0",
            "newImage": "nginx:1.26.0",
            "policy": "minor",
        },
        "status": {"phase": phase, "createdAt": "2025-11-06T01:00:00Z"},
    })
}
