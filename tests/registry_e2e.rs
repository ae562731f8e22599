//! End to end with a real registry: Debian's `docker-registry` (the CNCF distribution registry)
//! runs on loopback with its notifications pointed at the server's `/webhook/registry`; an image
//! tag is pushed to it over the OCI distribution API, and the server must open exactly one
//! Pending request, for the workload that runs that repository and no other.
//!
//! `bash .ci/run` installs the package; elsewhere, `apt-get install docker-registry`.

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use headwind::core::types::{Container, Workload, WorkloadRef};
use headwind::server::{Config, Running};
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{api, get, start_with};

const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

/// Stops the registry when the test ends, however it ends.
struct Registry {
    child: Child,
    url: String,
    host: String,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "headwind-registry-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn start_registry(dir: &Path, notify: &str) -> Registry {
    assert!(
        Path::new(REGISTRY_BINARY).exists(),
        "{REGISTRY_BINARY} is missing: run `bash .ci/run`, which installs Debian's docker-registry"
    );
    let port = free_port();
    let config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root}\n\
         http:\n  addr: 127.0.0.1:{port}\nnotifications:\n  endpoints:\n    - name: headwind\n\
         \x20     url: {notify}\n      timeout: 5s\n      threshold: 3\n      backoff: 1s\n",
        root = dir.join("data").display(),
    );
    let config_path = dir.join("config.yml");
    std::fs::write(&config_path, config).unwrap();

    let child = Command::new(REGISTRY_BINARY)
        .arg("serve")
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry starts");
    let registry = Registry {
        child,
        url: format!("http://127.0.0.1:{port}"),
        host: format!("127.0.0.1:{port}"),
    };

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let up = reqwest::get(format!("{}/v2/", registry.url)).await;
        if up.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "docker-registry did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    registry
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Uploads a blob with the monolithic POST-then-PUT flow of the distribution API.
async fn upload(client: &reqwest::Client, registry: &Registry, repo: &str, blob: &[u8]) -> String {
    let started = client
        .post(format!("{}/v2/{repo}/blobs/uploads/", registry.url))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let location = if location.starts_with('/') {
        format!("{}{location}", registry.url)
    } else {
        location
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    let digest = digest(blob);

    let done = client
        .put(format!("{location}{separator}digest={digest}"))
        .header("content-type", "application/octet-stream")
        .body(blob.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 201, "blob upload");

    digest
}

/// Pushes a one-layer image under `repo:tag`.
async fn push_image(registry: &Registry, repo: &str, tag: &str) {
    let client = reqwest::Client::new();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer = format!("layer of {repo}").into_bytes();
    let config_digest = upload(&client, registry, repo, config).await;
    let layer_digest = upload(&client, registry, repo, &layer).await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}],
    });

    let put = client
        .put(format!("{}/v2/{repo}/manifests/{tag}", registry.url))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201, "manifest push");
}

fn workload(name: &str, image: &str) -> Workload {
    let reference = WorkloadRef::deployment("shop", name).unwrap();
    let container = Container {
        name: "app".into(),
        image: image.into(),
    };
    Workload::new(reference, vec![container]).with_annotation("headwind.sh/policy", "minor")
}

async fn requests(running: &Running) -> Vec<Value> {
    let body = get(&api(running, "/api/v1/updates?namespace=shop"))
        .await
        .body;
    body.as_array().unwrap().clone()
}

/// The value of one metric series, 0 when absent.
async fn metric(running: &Running, series: &str) -> f64 {
    let url = format!("http://{}/metrics", running.metrics_addr);
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    let line = text.lines().find(|l| l.starts_with(series));

    line.and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Polls `check` every 100 ms for up to 20 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_push_opens_one_request_for_the_exact_repository() {
    let running = start_with(Config {
        demo: false,
        ..Config::default()
    })
    .await;
    let dir = scratch_dir();
    let notify = format!("http://{}/webhook/registry", running.webhook_addr);
    let registry = start_registry(&dir, &notify).await;
    let memory = running.memory.as_ref().unwrap();
    memory.deployer.insert(workload(
        "web",
        &format!("{}/demo/app:1.1.0", registry.host),
    ));
    memory.deployer.insert(workload(
        "web-exporter",
        &format!("{}/demo/app-exporter:1.1.0", registry.host),
    ));

    push_image(&registry, "demo/app", "1.2.0").await;
    eventually("a request for shop/web", || async {
        !requests(&running).await.is_empty()
    })
    .await;

    let found = requests(&running).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let request = &found[0];
    assert_eq!(
        request["spec"]["targetRef"]["name"], "web",
        "the prefix-sharing exporter is not matched"
    );
    assert_eq!(
        request["spec"]["newImage"],
        format!("{}/demo/app:1.2.0", registry.host)
    );
    assert_eq!(request["status"]["phase"], "Pending");

    // The same tag again: the registry notifies, the server finds the request exists, and
    // nothing new appears.
    let exists = r#"headwind_updates_skipped_total{reason="exists"}"#;
    assert_eq!(metric(&running, exists).await, 0.0);
    push_image(&registry, "demo/app", "1.2.0").await;
    eventually("the repeated push to be processed", || async {
        metric(&running, exists).await >= 1.0
    })
    .await;

    assert_eq!(requests(&running).await.len(), 1);
    drop(registry);
    let _ = std::fs::remove_dir_all(&dir);
}
