//! The `UpdateRequest` custom resource (`headwind.sh/v1alpha1`).
//!
//! Spec and status are core's [`headwind_core::types::UpdateRequestSpec`] and
//! [`headwind_core::types::UpdateRequestStatus`], flattened, so the resource and the HTTP API
//! carry the same JSON and [`to_core`] / [`from_core`] are one-to-one.

use headwind_core::types::{self, ObjectMeta as CoreMeta};
use kube::CustomResource;
use kube::api::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The spec of the custom resource: core's spec, flattened. The API server refuses any change
/// to it after creation (a CEL rule in the CRD), so approvers vote on what will be applied.
#[expect(
    clippy::duplicated_attributes,
    reason = "each printcolumn(..) of kube's derive is one column, so type_ repeats"
)]
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "headwind.sh",
    version = "v1alpha1",
    kind = "UpdateRequest",
    plural = "updaterequests",
    namespaced,
    status = "UpdateRequestStatus",
    shortname = "ur",
    shortname = "upd",
    printcolumn(name = "Target", type_ = "string", json_path = ".spec.targetRef.name"),
    printcolumn(
        name = "Container",
        type_ = "string",
        json_path = ".spec.containerName"
    ),
    printcolumn(name = "Current", type_ = "string", json_path = ".spec.currentImage"),
    printcolumn(name = "New", type_ = "string", json_path = ".spec.newImage"),
    printcolumn(name = "Policy", type_ = "string", json_path = ".spec.policy"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "self == oldSelf",
    "message": "spec is immutable: what was reviewed is what is applied; create a new UpdateRequest instead"
}]))]
pub struct UpdateRequestSpec {
    /// Core's spec.
    #[serde(flatten)]
    pub inner: types::UpdateRequestSpec,
}

/// The status of the custom resource: core's status, flattened.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UpdateRequestStatus {
    /// Core's status.
    #[serde(flatten)]
    pub inner: types::UpdateRequestStatus,
}

/// Core's view of a custom resource. Objects without name or namespace (which the API server
/// never returns) map to empty strings.
#[must_use]
pub fn to_core(object: &UpdateRequest) -> types::UpdateRequest {
    let meta = &object.metadata;

    types::UpdateRequest {
        metadata: CoreMeta {
            name: meta.name.clone().unwrap_or_default(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            resource_version: meta.resource_version.clone(),
            creation_timestamp: meta.creation_timestamp.as_ref().and_then(|t| {
                let nanos = u32::try_from(t.0.subsec_nanosecond()).unwrap_or(0);
                chrono::DateTime::from_timestamp(t.0.as_second(), nanos)
            }),
        },
        spec: object.spec.inner.clone(),
        status: object.status.clone().map(|s| s.inner).unwrap_or_default(),
    }
}

/// The custom resource for a core request, to create it. The creation time is left to the API
/// server.
#[must_use]
pub fn from_core(request: &types::UpdateRequest) -> UpdateRequest {
    let mut object = UpdateRequest::new(
        &request.metadata.name,
        UpdateRequestSpec {
            inner: request.spec.clone(),
        },
    );
    object.metadata = ObjectMeta {
        name: Some(request.metadata.name.clone()),
        namespace: Some(request.metadata.namespace.clone()),
        resource_version: request.metadata.resource_version.clone(),
        ..ObjectMeta::default()
    };
    object.status = Some(UpdateRequestStatus {
        inner: request.status.clone(),
    });

    object
}

/// The CustomResourceDefinition as YAML, as committed in `deploy/crds/updaterequest.yaml`.
///
/// # Errors
///
/// The serializer's error (which does not happen for this type).
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    use kube::CustomResourceExt;

    serde_yaml::to_string(&UpdateRequest::crd())
}
