//! Deployments, StatefulSets and DaemonSets as core [`Workload`]s, with their rollout health.
//!
//! All three are read as [`DynamicObject`]s of `apps/v1`: headwind needs the same few fields of
//! each (metadata, `spec.template.spec.containers`, rollout status), so one path serves the three
//! kinds and the pod template's JSON paths are identical for the patches.

use std::collections::BTreeMap;

use headwind_core::annotations::{BLOCKED_IMAGES, UPDATE_HISTORY};
use headwind_core::types::{
    Block, Container, HistoryEntry, RolloutHealth, Workload, WorkloadKind, WorkloadRef,
};
use kube::api::{ApiResource, DynamicObject};
use serde::Deserialize;

use crate::cache::Entry;

/// The API resource of a workload kind.
#[must_use]
pub(crate) fn api_resource(kind: WorkloadKind) -> ApiResource {
    let plural = match kind {
        WorkloadKind::Deployment => "deployments",
        WorkloadKind::StatefulSet => "statefulsets",
        WorkloadKind::DaemonSet => "daemonsets",
    };

    ApiResource {
        group: "apps".to_owned(),
        version: "v1".to_owned(),
        api_version: "apps/v1".to_owned(),
        kind: kind.as_str().to_owned(),
        plural: plural.to_owned(),
    }
}

/// A workload as cached: core's view, its version, health, history and blocks.
#[derive(Clone, Debug)]
pub(crate) struct Cached {
    pub(crate) workload: Workload,
    pub(crate) resource_version: Option<String>,
    pub(crate) health: RolloutHealth,
}

impl Entry for Cached {
    type Key = WorkloadRef;

    fn key(&self) -> WorkloadRef {
        self.workload.reference.clone()
    }

    fn version(&self) -> Option<&str> {
        self.resource_version.as_deref()
    }

    fn workload(&self) -> Option<&Workload> {
        Some(&self.workload)
    }
}

impl Cached {
    /// The history annotation, newest first; an unreadable annotation reads as empty (and is
    /// replaced on the next write).
    pub(crate) fn history(&self) -> Vec<HistoryEntry> {
        read_annotation(&self.workload.annotations, UPDATE_HISTORY)
    }

    /// The blocked-images annotation.
    pub(crate) fn blocks(&self) -> Vec<Block> {
        read_annotation(&self.workload.annotations, BLOCKED_IMAGES)
    }
}

/// Reads a JSON list annotation for display, skipping entries that do not parse (and logging
/// them), so one bad entry does not hide the others.
pub(crate) fn read_annotation<T: serde::de::DeserializeOwned>(
    annotations: &BTreeMap<String, String>,
    key: &str,
) -> Vec<T> {
    let Some(text) = annotations.get(key) else {
        return Vec::new();
    };
    let Ok(items) = serde_json::from_str::<Vec<serde_json::Value>>(text) else {
        tracing::warn!(
            annotation = key,
            "annotation is not a JSON list; reading it as empty"
        );
        return Vec::new();
    };

    items
        .into_iter()
        .filter_map(|item| match serde_json::from_value(item) {
            Ok(entry) => Some(entry),
            Err(error) => {
                tracing::warn!(annotation = key, %error, "skipping an unreadable entry");
                None
            }
        })
        .collect()
}

/// Reads a JSON list annotation before rewriting it: anything that does not parse is an error,
/// so that a write never replaces entries it could not read.
pub(crate) fn read_annotation_strict<T: serde::de::DeserializeOwned>(
    annotations: &BTreeMap<String, String>,
    key: &str,
) -> Result<Vec<T>, serde_json::Error> {
    match annotations.get(key) {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(text),
    }
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct View {
    #[serde(default)]
    spec: Spec,
    #[serde(default)]
    status: Status,
}

#[derive(Default, Deserialize)]
struct Spec {
    replicas: Option<i64>,
    #[serde(default)]
    template: Template,
}

#[derive(Default, Deserialize)]
struct Template {
    #[serde(default)]
    spec: PodSpec,
}

#[derive(Default, Deserialize)]
struct PodSpec {
    #[serde(default)]
    containers: Vec<PodContainer>,
}

#[derive(Deserialize)]
struct PodContainer {
    name: String,
    #[serde(default)]
    image: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    observed_generation: Option<i64>,
    updated_replicas: Option<i64>,
    available_replicas: Option<i64>,
    ready_replicas: Option<i64>,
    current_revision: Option<String>,
    update_revision: Option<String>,
    desired_number_scheduled: Option<i64>,
    updated_number_scheduled: Option<i64>,
    number_available: Option<i64>,
    #[serde(default)]
    conditions: Vec<Condition>,
}

#[derive(Deserialize)]
struct Condition {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Core's view of a workload object; `None` for objects without name or namespace.
pub(crate) fn to_cached(kind: WorkloadKind, object: &DynamicObject) -> Option<Cached> {
    let meta = &object.metadata;
    let reference = WorkloadRef {
        kind,
        namespace: meta.namespace.clone()?,
        name: meta.name.clone()?,
    };
    let view: View = serde_json::from_value(object.data.clone()).unwrap_or_default();

    let containers = view
        .spec
        .template
        .spec
        .containers
        .iter()
        .map(|c| Container {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
        })
        .collect();
    let mut workload = Workload::new(reference, containers);
    workload.annotations = meta.annotations.clone().unwrap_or_default();

    Some(Cached {
        workload,
        resource_version: meta.resource_version.clone(),
        health: health(kind, meta.generation, &view),
    })
}

/// How the latest rollout stands. A controller that has not yet observed the latest generation
/// is still progressing, whatever its status says: the status then describes the previous
/// rollout.
fn health(kind: WorkloadKind, generation: Option<i64>, view: &View) -> RolloutHealth {
    let status = &view.status;
    if status.observed_generation < generation {
        return RolloutHealth::Progressing;
    }

    let stuck = status.conditions.iter().find(|c| {
        c.kind == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    if let Some(condition) = stuck {
        let reason = condition
            .message
            .clone()
            .unwrap_or_else(|| "ProgressDeadlineExceeded".to_owned());
        return RolloutHealth::Failed { reason };
    }

    let replicas = view.spec.replicas.unwrap_or(1);
    let done = match kind {
        WorkloadKind::Deployment => {
            status.updated_replicas.unwrap_or(0) >= replicas
                && status.available_replicas.unwrap_or(0) >= replicas
        }
        WorkloadKind::StatefulSet => {
            status.updated_replicas.unwrap_or(0) >= replicas
                && status.ready_replicas.unwrap_or(0) >= replicas
                && status.current_revision == status.update_revision
        }
        WorkloadKind::DaemonSet => {
            let desired = status.desired_number_scheduled.unwrap_or(0);
            status.updated_number_scheduled.unwrap_or(0) >= desired
                && status.number_available.unwrap_or(0) >= desired
        }
    };

    if done {
        RolloutHealth::Healthy
    } else {
        RolloutHealth::Progressing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[expect(
        clippy::needless_pass_by_value,
        reason = "json! takes values by reference"
    )]
    fn deployment(generation: i64, status: serde_json::Value) -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "generation": generation, "resourceVersion": "7"},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.25.0"}]}}},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn converts_containers_and_version() {
        let cached = to_cached(
            WorkloadKind::Deployment,
            &deployment(1, serde_json::json!({})),
        )
        .unwrap();

        assert_eq!(cached.workload.reference.to_string(), "Deployment shop/web");
        assert_eq!(cached.workload.containers[0].image, "nginx:1.25.0");
        assert_eq!(cached.resource_version.as_deref(), Some("7"));
    }

    #[test]
    fn health_follows_generation_replicas_and_deadline() {
        let healthy = serde_json::json!({"observedGeneration": 3, "updatedReplicas": 2, "availableReplicas": 2});
        let unobserved = serde_json::json!({"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 2});
        let rolling = serde_json::json!({"observedGeneration": 3, "updatedReplicas": 1, "availableReplicas": 2});
        let stuck = serde_json::json!({"observedGeneration": 3, "conditions": [
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "web has timed out progressing"}
        ]});
        let health = |status| {
            to_cached(WorkloadKind::Deployment, &deployment(3, status))
                .unwrap()
                .health
        };

        assert_eq!(health(healthy), RolloutHealth::Healthy);
        // Pins reading the previous rollout's status as success.
        assert_eq!(health(unobserved), RolloutHealth::Progressing);
        assert_eq!(health(rolling), RolloutHealth::Progressing);
        assert_eq!(
            health(stuck),
            RolloutHealth::Failed {
                reason: "web has timed out progressing".into()
            }
        );
    }
}
