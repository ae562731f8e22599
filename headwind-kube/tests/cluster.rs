//! Against a real cluster: the CRD, the backends and an approval end to end.
//!
//! Ignored in the normal run; see "Testing against a cluster" in README.md for kind and k3d.

use std::time::Duration;

use chrono::Utc;
use headwind_core::ApprovalService;
use headwind_core::approval::ApproveOutcome;
use headwind_core::policy::Policy;
use headwind_core::store::{HistoryStore, UpdateStore};
use headwind_core::types::{UpdateRequest, WorkloadRef};
use headwind_kube::KubeBackends;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};

const NAMESPACE: &str = "headwind-e2e";

#[tokio::test]
#[ignore = "needs a Kubernetes cluster in the current kubeconfig context with deploy/crds applied"]
async fn approval_applies_the_image_on_a_real_cluster() {
    let client = Client::try_default()
        .await
        .expect("a kubeconfig for a test cluster");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": NAMESPACE}})).unwrap();
    let _ = namespaces.create(&PostParams::default(), &namespace).await;

    // Zero replicas: the image is never pulled, so the test needs no registry access.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let web = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.25.0"}]}}},
    }))
    .unwrap();
    deployments
        .create(&PostParams::default(), &web)
        .await
        .expect("deployment created");

    let backends = KubeBackends::start(client.clone());
    for _ in 0..100 {
        if backends.updates.is_ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let workload = WorkloadRef::deployment(NAMESPACE, "web").unwrap();
    let request = UpdateRequest::pending(
        "web-app-1-26-0",
        &workload,
        "app",
        ("nginx:1.25.0", "nginx:1.26.0"),
        Policy::Minor,
        Utc::now(),
    );
    let key = backends
        .updates
        .create(request)
        .await
        .expect("request created")
        .key();
    let approvals = ApprovalService::new(
        backends.updates.clone(),
        backends.deployer.clone(),
        backends.history.clone(),
    );

    let outcome = approvals
        .approve(&key, "e2e@example.com")
        .await
        .expect("approved");

    assert!(matches!(outcome, ApproveOutcome::Applied(_)));
    let live = deployments.get("web").await.unwrap();
    let image = live.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone();
    assert_eq!(image.as_deref(), Some("nginx:1.26.0"));
    assert_eq!(backends.history.history(&workload).await.unwrap().len(), 2);

    let _ = namespaces.delete(NAMESPACE, &DeleteParams::default()).await;
}
