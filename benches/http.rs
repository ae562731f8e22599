//! Benchmarks of the HTTP API over real loopback sockets, beside a minimal hyper server.
//!
//! Two parts, both against the example server's code on the memory backend:
//!
//! 1. A load report printed first: for each case, a fixed number of requests sent by
//!    [`CONCURRENCY`] keep-alive connections; throughput and p50/p99 latency. The baseline is a
//!    bare hyper server answering a constant JSON body, run in the same process and measured
//!    the same way, so the ratio shows how far headwind is from the limit of this machine.
//!    Cases: `GET /api/v1/updates` with 100, 1,000 and 10,000 requests stored, `GET` of one
//!    request, and approve (each approval applies a different workload's request).
//! 2. criterion benchmarks of single requests on one connection, for the same cases.
//!
//! Run with `cargo bench --bench http`. Set `HEADWIND_BENCH_QUICK=1` for a short load report.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use criterion::Criterion;
use headwind::core::policy::Policy;
use headwind::core::store::UpdateStore;
use headwind::core::types::{Container, UpdateRequest, Workload, WorkloadRef};
use headwind::server::{self, Config, MemoryBackends, Running};
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

/// Connections sending requests at once in the load report.
const CONCURRENCY: usize = 16;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A hyper server that answers every request with the same small JSON body.
async fn baseline_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();

    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    let body = Full::new(Bytes::from_static(br#"{"status":"healthy"}"#));
                    Ok::<_, Infallible>(
                        Response::builder()
                            .header("content-type", "application/json")
                            .body(body)
                            .unwrap(),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    addr
}

/// The server with `stored` Pending requests, each for its own workload.
async fn headwind_with(stored: usize) -> Running {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let config = Config {
        webhook_addr: loopback,
        api_addr: loopback,
        metrics_addr: loopback,
        demo: false,
        ..Config::default()
    };
    let running = server::start(config).await.unwrap();
    let memory = running.memory.clone().unwrap();
    for i in 0..stored {
        add_request(&memory, i).await;
    }

    running
}

async fn add_request(memory: &MemoryBackends, i: usize) -> String {
    let workload = WorkloadRef::deployment("bench", &format!("app-{i}")).unwrap();
    let container = Container {
        name: "app".into(),
        image: "app:1.0.0".into(),
    };
    memory
        .deployer
        .insert(Workload::new(workload.clone(), vec![container]));
    let name = format!("app-{i}-update-1-1-0");
    let request = UpdateRequest::pending(
        &name,
        &workload,
        "app",
        ("app:1.0.0", "app:1.1.0"),
        Policy::Minor,
        Utc::now(),
    );
    memory.updates.create(request).await.unwrap();

    name
}

async fn send(client: &HttpClient, method: Method, url: &str) -> Duration {
    let started = Instant::now();
    let request = Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    let _ = response.into_body().collect().await.unwrap();

    started.elapsed()
}

struct Load {
    requests: usize,
    seconds: f64,
    p50: Duration,
    p99: Duration,
}

/// Sends `urls` (one request each) over [`CONCURRENCY`] connections and measures.
async fn load(method: Method, urls: Vec<String>) -> Load {
    let client = client();
    let requests = urls.len();
    let queue = Arc::new(std::sync::Mutex::new(urls));
    let started = Instant::now();

    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, queue, method) = (client.clone(), queue.clone(), method.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let next = queue.lock().unwrap().pop();
                let Some(url) = next else { break };
                latencies.push(send(&client, method.clone(), &url).await);
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();

    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Load {
        requests,
        seconds,
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn print(case: &str, load: &Load, baseline: Option<f64>) {
    let rps = load.requests as f64 / load.seconds;
    let ratio = baseline.map_or_else(String::new, |b| format!("{:>7.1}%", 100.0 * rps / b));
    println!(
        "{case:<34} {:>7} req {rps:>10.0} req/s   p50 {:>9.3?}   p99 {:>9.3?} {ratio}",
        load.requests, load.p50, load.p99
    );
}

fn load_report(runtime: &Runtime) {
    let quick = std::env::var_os("HEADWIND_BENCH_QUICK").is_some();
    let scale = if quick { 10 } else { 1 };
    println!(
        "load report: {CONCURRENCY} connections, loopback; last column: throughput vs baseline"
    );

    runtime.block_on(async {
        let base = baseline_server().await;
        let urls = vec![format!("http://{base}/health"); 50_000 / scale];
        let baseline = load(Method::GET, urls).await;
        print("baseline hyper constant JSON", &baseline, None);
        let base_rps = baseline.requests as f64 / baseline.seconds;

        for (stored, count) in [(100, 20_000), (1_000, 5_000), (10_000, 500)] {
            let running = headwind_with(stored).await;
            let urls = vec![format!("http://{}/api/v1/updates", running.api_addr); count / scale];
            print(
                &format!("GET /api/v1/updates ({stored} stored)"),
                &load(Method::GET, urls).await,
                Some(base_rps),
            );
            running.shutdown().await.unwrap();
        }

        let running = headwind_with(1_000).await;
        let one = format!(
            "http://{}/api/v1/updates/bench/app-7-update-1-1-0",
            running.api_addr
        );
        print(
            "GET one request",
            &load(Method::GET, vec![one; 50_000 / scale]).await,
            Some(base_rps),
        );
        running.shutdown().await.unwrap();

        let approvals = 20_000 / scale;
        let running = headwind_with(approvals).await;
        let urls = (0..approvals)
            .map(|i| {
                format!(
                    "http://{}/api/v1/updates/bench/app-{i}-update-1-1-0/approve",
                    running.api_addr
                )
            })
            .collect();
        print(
            "POST approve (applies)",
            &load(Method::POST, urls).await,
            Some(base_rps),
        );
        running.shutdown().await.unwrap();
    });
}

fn criterion_benches(c: &mut Criterion, runtime: &Runtime) {
    let client = client();
    let get = |url: String| {
        let client = client.clone();
        move || {
            let (client, url) = (client.clone(), url.clone());
            async move { send(&client, Method::GET, &url).await }
        }
    };

    let base = runtime.block_on(baseline_server());
    c.bench_function("http/baseline_constant_json", |b| {
        b.to_async(runtime)
            .iter(get(format!("http://{base}/health")));
    });

    for stored in [100, 1_000, 10_000] {
        let running = runtime.block_on(headwind_with(stored));
        let url = format!("http://{}/api/v1/updates", running.api_addr);
        c.bench_function(&format!("http/list_{stored}"), |b| {
            b.to_async(runtime).iter(get(url.clone()))
        });
        runtime.block_on(running.shutdown()).unwrap();
    }

    let running = runtime.block_on(headwind_with(1_000));
    let url = format!(
        "http://{}/api/v1/updates/bench/app-7-update-1-1-0",
        running.api_addr
    );
    c.bench_function("http/get_one", |b| {
        b.to_async(runtime).iter(get(url.clone()))
    });

    let memory = running.memory.clone().unwrap();
    let api = running.api_addr;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(1_000));
    c.bench_function("http/approve", |b| {
        b.to_async(runtime).iter(|| {
            let (client, memory, next) = (client.clone(), memory.clone(), next.clone());
            async move {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let name = add_request(&memory, i).await;
                send(
                    &client,
                    Method::POST,
                    &format!("http://{api}/api/v1/updates/bench/{name}/approve"),
                )
                .await
            }
        });
    });
    runtime.block_on(running.shutdown()).unwrap();
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    load_report(&runtime);

    let mut criterion = Criterion::default().configure_from_args();
    criterion_benches(&mut criterion, &runtime);
    criterion.final_summary();
}
