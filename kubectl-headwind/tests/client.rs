//! [`HeadwindClient`] against the example server, as a program embedding it would use it: typed
//! answers, and typed errors for each way a call fails.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use headwind::core::types::{Phase, WorkloadKind};
use kubectl_headwind::HeadwindClient;
use kubectl_headwind::client::Error;
use support::{DEMO_DEPLOYMENT, DEMO_REQUEST, Server, dead_address};

fn client(server: &Server) -> HeadwindClient {
    HeadwindClient::new(&server.url()).unwrap()
}

/// A server that answers one request with `status_line` and `body`, then stops.
fn canned(status_line: &'static str, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());

    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
            line.clear();
        }

        let answer = format!(
            "HTTP/1.1 {status_line}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = reader.get_mut().write_all(answer.as_bytes());
    });

    url
}

#[test]
fn list_get_and_approve_answer_with_the_servers_types() {
    let server = Server::start();
    let client = client(&server);

    let listed = server.block_on(client.list_updates(None)).unwrap();
    let got = server
        .block_on(client.get_update("default", DEMO_REQUEST))
        .unwrap();
    let approved = server
        .block_on(client.approve("default", DEMO_REQUEST, Some("ann@example.com")))
        .unwrap();

    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0], got);
    assert_eq!(got.status.phase, Phase::Pending);
    assert_eq!(approved.update_request.status.phase, Phase::Completed);
    assert_eq!(
        approved.update_request.status.approved_by.as_deref(),
        Some("ann@example.com")
    );
}

#[test]
fn list_updates_of_a_namespace_leaves_out_the_others() {
    let server = Server::start();
    server.add_request("staging", "web-update-1-1-0");
    let client = client(&server);

    let staging = server
        .block_on(client.list_updates(Some("staging")))
        .unwrap();
    let all = server.block_on(client.list_updates(None)).unwrap();

    assert_eq!(staging.len(), 1);
    assert_eq!(staging[0].metadata.name, "web-update-1-1-0");
    assert_eq!(all.len(), 2);
}

#[test]
fn reject_sends_the_reason_and_approver() {
    let server = Server::start();
    let client = client(&server);

    let answer = server
        .block_on(client.reject("default", DEMO_REQUEST, Some("Not ready"), Some("bob")))
        .unwrap();

    assert_eq!(answer.message, "Update rejected");
    let status = server.request("default", DEMO_REQUEST).status;
    assert_eq!(status.phase, Phase::Rejected);
    assert_eq!(status.reason.as_deref(), Some("Not ready"));
    assert_eq!(status.approved_by.as_deref(), Some("bob"));
}

#[test]
fn workload_history_and_rollback_answer_with_the_servers_types() {
    let server = Server::start();
    let client = client(&server);
    server
        .block_on(client.approve("default", DEMO_REQUEST, None))
        .unwrap();

    let workload = server
        .block_on(client.workload("default", DEMO_DEPLOYMENT))
        .unwrap();
    let history = server
        .block_on(client.history("default", DEMO_DEPLOYMENT))
        .unwrap();
    let rollback = server
        .block_on(client.rollback("default", DEMO_DEPLOYMENT, "nginx", Some("ops")))
        .unwrap();

    assert_eq!(workload.kind, WorkloadKind::Deployment.as_str());
    assert_eq!(workload.containers.len(), 1);
    assert_eq!(workload.containers[0].image, "nginx:1.26.0");
    let images: Vec<&str> = history.history.iter().map(|e| e.image.as_str()).collect();
    assert_eq!(images, ["nginx:1.26.0", "nginx:1.25.0"]);
    assert_eq!(rollback.previous_image, "nginx:1.26.0");
    assert_eq!(rollback.rolled_back_to, "nginx:1.25.0");
}

#[test]
fn unknown_request_is_an_api_error_with_status_404_and_the_servers_message() {
    let server = Server::start();

    let err = server
        .block_on(client(&server).get_update("default", "missing"))
        .unwrap_err();

    assert_eq!(err.status(), Some(404));
    assert_eq!(err.to_string(), "UpdateRequest default/missing not found");
}

#[test]
fn approving_twice_is_an_api_error_with_status_409() {
    let server = Server::start();
    let client = client(&server);
    server
        .block_on(client.approve("default", DEMO_REQUEST, None))
        .unwrap();

    let err = server
        .block_on(client.approve("default", DEMO_REQUEST, None))
        .unwrap_err();

    assert!(
        matches!(&err, Error::Api { status: 409, message } if message.contains("Completed")),
        "{err:?}"
    );
}

#[test]
fn server_not_listening_is_unreachable() {
    let dead = format!("http://{}", dead_address());
    let client = HeadwindClient::new(&dead).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let err = runtime.block_on(client.list_updates(None)).unwrap_err();

    assert!(err.is_unreachable(), "{err:?}");
    assert!(err.to_string().contains(&dead), "{err}");
}

#[test]
fn invalid_container_name_is_refused_without_a_request() {
    let dead = format!("http://{}", dead_address());
    let client = HeadwindClient::new(&dead).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let err = runtime
        .block_on(client.rollback("default", "web", "history/../x", None))
        .unwrap_err();

    assert!(matches!(err, Error::InvalidName(_)), "{err:?}");
}

#[test]
fn success_with_a_body_that_is_not_the_documented_one_is_a_decode_error() {
    let url = canned("200 OK", r#"{"unexpected": true}"#);
    let client = HeadwindClient::new(&url).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let err = runtime
        .block_on(client.get_update("default", "x"))
        .unwrap_err();

    let Error::Decode {
        status, excerpt, ..
    } = &err
    else {
        panic!("not a decode error: {err:?}");
    };
    assert_eq!(*status, 200);
    assert!(excerpt.contains("unexpected"), "{excerpt}");
}

#[test]
fn error_status_with_a_foreign_body_is_an_api_error_naming_the_status() {
    let url = canned("502 Bad Gateway", "upstream down");
    let client = HeadwindClient::new(&url).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let err = runtime.block_on(client.list_updates(None)).unwrap_err();

    assert_eq!(err.status(), Some(502));
    assert_eq!(err.to_string(), "HTTP 502 Bad Gateway: upstream down");
}
