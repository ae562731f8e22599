//! [`KubeEvents`]: Kubernetes Events for each transition, so `kubectl describe` tells the story.
//!
//! An [`Observer`] runs inline and must not block, so each event is published from a spawned
//! task; a failure to publish is logged and never affects the transition, which has already
//! happened.

use headwind_core::events::{Event, Observer};
use headwind_core::types::{ObjectKey, WorkloadRef};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};

/// Publishes Kubernetes Events on UpdateRequests and workloads.
#[derive(Clone)]
pub struct KubeEvents {
    recorder: Recorder,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for KubeEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubeEvents")
    }
}

impl KubeEvents {
    /// Events reported as `controller` (the Deployment's name) from `instance` (the pod).
    /// Must be called inside a tokio runtime.
    #[must_use]
    pub fn new(client: Client, controller: &str, instance: Option<String>) -> Self {
        let reporter = Reporter {
            controller: controller.to_owned(),
            instance,
        };

        Self {
            recorder: Recorder::new(client, reporter),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    fn publish(&self, regarding: ObjectReference, type_: EventType, reason: &str, note: String) {
        let recorder = self.recorder.clone();
        let event = KubeEvent {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: reason.to_owned(),
            secondary: None,
        };

        self.runtime.spawn(async move {
            if let Err(error) = recorder.publish(&event, &regarding).await {
                tracing::warn!(%error, reason = %event.reason, "could not publish a Kubernetes event");
            }
        });
    }
}

fn request(key: &ObjectKey) -> ObjectReference {
    ObjectReference {
        api_version: Some("headwind.sh/v1alpha1".to_owned()),
        kind: Some("UpdateRequest".to_owned()),
        namespace: Some(key.namespace.clone()),
        name: Some(key.name.clone()),
        ..ObjectReference::default()
    }
}

fn workload(workload: &WorkloadRef) -> ObjectReference {
    ObjectReference {
        api_version: Some("apps/v1".to_owned()),
        kind: Some(workload.kind.as_str().to_owned()),
        namespace: Some(workload.namespace.clone()),
        name: Some(workload.name.clone()),
        ..ObjectReference::default()
    }
}

impl Observer for KubeEvents {
    fn observe(&self, event: &Event<'_>) {
        match *event {
            Event::Approved { key, approver } => {
                self.publish(
                    request(key),
                    EventType::Normal,
                    "Approved",
                    format!("approved by {approver}"),
                );
            }
            Event::Rejected { key, approver } => {
                self.publish(
                    request(key),
                    EventType::Normal,
                    "Rejected",
                    format!("rejected by {approver}"),
                );
            }
            Event::Expired { key } => {
                self.publish(
                    request(key),
                    EventType::Normal,
                    "Expired",
                    "expired; nothing was applied".to_owned(),
                );
            }
            Event::Applied {
                key,
                workload: target,
                container,
                image,
            } => {
                let note = format!("container {container} now runs {image}");
                self.publish(request(key), EventType::Normal, "Applied", note.clone());
                self.publish(
                    workload(target),
                    EventType::Normal,
                    "ImageUpdated",
                    format!("{note} ({key})"),
                );
            }
            Event::Failed { key, cause } => {
                self.publish(request(key), EventType::Warning, "Failed", cause.to_owned());
            }
            Event::RolledBack {
                workload: target,
                container,
                from,
                to,
            } => {
                let note = format!("container {container} rolled back from {from} to {to}");
                self.publish(workload(target), EventType::Normal, "RolledBack", note);
            }
            Event::RollbackFailed {
                workload: target,
                container,
            } => {
                let note = format!("rollback of container {container} failed");
                self.publish(workload(target), EventType::Warning, "RollbackFailed", note);
            }
            Event::Created { key } => {
                self.publish(
                    request(key),
                    EventType::Normal,
                    "Created",
                    "proposed by update detection".to_owned(),
                );
            }
            _ => {}
        }
    }
}
