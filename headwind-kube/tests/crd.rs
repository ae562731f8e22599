//! The committed CRD matches the Rust type, and carries the names users rely on.

use headwind_kube::crd::{self, UpdateRequest, UpdateRequestSpec};
use kube::CustomResourceExt;

const COMMITTED: &str = include_str!("../../deploy/crds/updaterequest.yaml");

#[test]
fn committed_crd_is_what_the_code_generates() {
    let generated = crd::crd_yaml().unwrap();

    assert!(
        generated == COMMITTED,
        "deploy/crds/updaterequest.yaml is stale; regenerate it with \
         `cargo run --example crdgen > deploy/crds/updaterequest.yaml`"
    );
}

#[test]
fn crd_has_the_identity_short_names_columns_and_status() {
    let crd = serde_json::to_value(UpdateRequest::crd()).unwrap();
    let spec = &crd["spec"];

    assert_eq!(crd["metadata"]["name"], "updaterequests.headwind.sh");
    assert_eq!(spec["group"], "headwind.sh");
    assert_eq!(spec["scope"], "Namespaced");
    assert_eq!(spec["names"]["kind"], "UpdateRequest");
    assert_eq!(spec["names"]["plural"], "updaterequests");
    assert_eq!(
        spec["names"]["shortNames"],
        serde_json::json!(["ur", "upd"])
    );
    let version = &spec["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert!(version["subresources"]["status"].is_object());
    let columns: Vec<_> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["jsonPath"].as_str().unwrap()))
        .collect();
    assert_eq!(
        columns,
        [
            ("Target", ".spec.targetRef.name"),
            ("Container", ".spec.containerName"),
            ("Current", ".spec.currentImage"),
            ("New", ".spec.newImage"),
            ("Policy", ".spec.policy"),
            ("Phase", ".status.phase"),
            ("Age", ".metadata.creationTimestamp"),
        ]
    );
    let spec_schema = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
    // Pins approval of a spec edited after review: the API server refuses spec changes.
    assert_eq!(
        spec_schema["x-kubernetes-validations"][0]["rule"],
        "self == oldSelf"
    );
    let properties = &spec_schema["properties"];
    for field in [
        "targetRef",
        "containerName",
        "currentImage",
        "newImage",
        "policy",
        "requireApproval",
        "expiresAt",
    ] {
        assert!(
            properties[field].is_object(),
            "spec.{field} missing from the schema"
        );
    }
}

#[test]
fn resource_and_core_model_map_one_to_one() {
    let json = serde_json::json!({
        "apiVersion": "headwind.sh/v1alpha1",
        "kind": "UpdateRequest",
        "metadata": {"name": "u1", "namespace": "shop", "resourceVersion": "9", "creationTimestamp": "2025-11-06T01:00:00Z"},
        "spec": {"targetRef": {"kind": "Deployment", "name": "web", "namespace": "shop"}, "containerName": "app",
                 "currentImage": "nginx:1.25.0", "newImage": "nginx:1.26.0", "policy": "minor"},
        "status": {"phase": "Approved", "createdAt": "2025-11-06T01:00:00Z", "approvedBy": "ann"},
    });
    let resource: UpdateRequest = serde_json::from_value(json).unwrap();

    let core = crd::to_core(&resource);
    let back = serde_json::to_value(crd::from_core(&core)).unwrap();

    assert_eq!(core.metadata.resource_version.as_deref(), Some("9"));
    assert_eq!(
        core.metadata.creation_timestamp.unwrap().to_rfc3339(),
        "2025-11-06T01:00:00+00:00"
    );
    assert_eq!(core.spec.new_image, "nginx:1.26.0");
    assert_eq!(core.status.approved_by.as_deref(), Some("ann"));
    assert_eq!(
        back["spec"],
        serde_json::to_value(&UpdateRequestSpec { inner: core.spec }).unwrap()
    );
    assert_eq!(back["status"]["phase"], "Approved");
    assert_eq!(back["metadata"]["resourceVersion"], "9");
}
