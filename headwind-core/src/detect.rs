//! Update detection: a registry says a tag exists; decide, for each workload that runs the
//! repository, whether to open an update request or apply the tag directly.
//!
//! One event costs one [`WorkloadIndex::by_repository`] lookup. For each managed workload and
//! each tracked container on that repository, the steps are:
//!
//! 1. The workload's policy compares the running tag with the pushed one ([`crate::policy`]).
//! 2. An image that was rejected or rolled back for that container is skipped (the block list of
//!    the [`HistoryStore`]).
//! 3. The request gets a deterministic name from workload, container and tag
//!    ([`request_name`]), so a repeated event finds it exists and creates nothing.
//! 4. With `require-approval: true` the request is created Pending, expiring after
//!    [`DetectConfig::approval_ttl`]. Older Pending requests for the same container are
//!    superseded: they become Expired with a message naming the new request, and their image
//!    is not blocked. A Pending request for a newer tag wins instead, and the event is skipped.
//! 5. With `require-approval: false` the request is created and approved as `webhook` through
//!    the [`ApprovalService`], so direct updates take the same race-free path and leave the same
//!    history; unless the last applied update of the workload is more recent than
//!    `min-update-interval`, in which case the event is skipped.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::{debug, info, warn};

use crate::annotations::WorkloadSettings;
use crate::approval::{self, ApprovalService, ApproveOutcome};
use crate::events::{Event, NoopObserver, Observer};
use crate::image::{self, ImageRef};
use crate::name;
use crate::policy::{self, Decision};
use crate::store::{HistoryStore, StoreError, UpdateStore, WorkloadIndex, find_block};
use crate::types::{
    BlockCause, Container, EntryKind, ObjectKey, Phase, UpdateRequest, Workload, WorkloadKind,
    WorkloadRef,
};

/// The approver recorded for updates applied without approval.
pub const WEBHOOK_APPROVER: &str = "webhook";

/// Where an event came from; a workload's `headwind.sh/event-source` picks which it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A registry webhook.
    Webhook,
    /// Registry polling.
    Polling,
}

/// A new tag in a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushEvent {
    /// The normalised repository (registry host and path, as [`ImageRef::repository`]).
    pub repository: String,
    /// The tag pushed.
    pub tag: String,
    /// The manifest digest, when the registry sent one.
    pub digest: Option<String>,
}

impl PushEvent {
    /// An event for `host/path:tag`, normalised (`docker.io` when `host` is `None`).
    ///
    /// # Errors
    ///
    /// [`image::InvalidImage`] when the three parts do not make a valid reference.
    pub fn new(host: Option<&str>, path: &str, tag: &str) -> Result<Self, image::InvalidImage> {
        let reference = match host {
            Some(host) => format!("{host}/{path}:{tag}"),
            None => format!("{path}:{tag}"),
        };
        let parsed = ImageRef::parse(&reference)?;

        Ok(Self {
            repository: parsed.repository(),
            tag: tag.to_owned(),
            digest: None,
        })
    }

    /// Sets the digest.
    #[must_use]
    pub fn with_digest(mut self, digest: Option<&str>) -> Self {
        self.digest = digest.map(str::to_owned);
        self
    }
}

/// Settings of detection.
#[derive(Clone, Debug)]
pub struct DetectConfig {
    /// How long a created request stays approvable; `None` for no deadline.
    pub approval_ttl: Option<Duration>,
}

impl Default for DetectConfig {
    fn default() -> Self {
        Self {
            approval_ttl: Some(Duration::from_secs(7 * 24 * 3600)),
        }
    }
}

/// What detection did for one container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// A Pending request was created.
    Created,
    /// The update was applied without approval.
    Applied,
    /// The request for this tag exists already; nothing changed.
    Exists,
    /// Nothing was done; `reason` says why.
    Skipped,
    /// Applying without approval failed; the request is Failed.
    Failed,
}

/// The result for one container of one workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Kind of the workload.
    pub kind: WorkloadKind,
    /// Namespace of the workload.
    pub namespace: String,
    /// Name of the workload.
    pub name: String,
    /// The container, when the finding is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// What happened.
    pub outcome: Outcome,
    /// A short label of the reason (for metrics), such as `created` or `min_update_interval`.
    pub label: &'static str,
    /// The reason, for a person.
    pub reason: String,
    /// The update request involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_request: Option<String>,
}

/// Decides and acts on push events.
#[derive(Clone, Debug)]
pub struct Detector {
    index: Arc<dyn WorkloadIndex>,
    updates: Arc<dyn UpdateStore>,
    history: Arc<dyn HistoryStore>,
    approvals: ApprovalService,
    config: DetectConfig,
    observer: Arc<dyn Observer>,
}

impl Detector {
    /// A detector over the index, the stores and the approval service that applies direct
    /// updates.
    #[must_use]
    pub fn new(
        index: Arc<dyn WorkloadIndex>,
        updates: Arc<dyn UpdateStore>,
        history: Arc<dyn HistoryStore>,
        approvals: ApprovalService,
    ) -> Self {
        Self {
            index,
            updates,
            history,
            approvals,
            config: DetectConfig::default(),
            observer: Arc::new(NoopObserver),
        }
    }

    /// Uses these settings.
    #[must_use]
    pub fn with_config(mut self, config: DetectConfig) -> Self {
        self.config = config;
        self
    }

    /// Reports events to `observer`.
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// Handles one push event and answers a finding per workload container considered.
    ///
    /// # Errors
    ///
    /// The index's error, when the workloads running the repository cannot be found. Failures
    /// for single workloads are findings, not errors.
    pub async fn on_push(
        &self,
        event: &PushEvent,
        origin: Origin,
    ) -> Result<Vec<Finding>, crate::store::DeployError> {
        let workloads = self.index.by_repository(&event.repository).await?;
        debug!(repository = %event.repository, tag = %event.tag, workloads = workloads.len(), "push event");
        let mut findings = Vec::new();

        for workload in &workloads {
            let settings = match WorkloadSettings::from_annotations(&workload.annotations) {
                Ok(Some(settings)) => settings,
                Ok(None) => {
                    findings.push(skip(
                        workload,
                        None,
                        "not_managed",
                        "no headwind.sh/policy annotation".into(),
                    ));
                    continue;
                }
                Err(error) => {
                    warn!(workload = %workload.reference, %error, "workload annotation invalid");
                    findings.push(skip(
                        workload,
                        None,
                        "invalid_annotation",
                        error.to_string(),
                    ));
                    continue;
                }
            };
            let takes = match origin {
                Origin::Webhook => settings.event_source.takes_webhooks(),
                Origin::Polling => matches!(
                    settings.event_source,
                    crate::annotations::EventSource::Polling
                        | crate::annotations::EventSource::Both
                ),
            };
            if !takes {
                let reason = format!("headwind.sh/event-source does not take {origin:?} events");
                findings.push(skip(workload, None, "event_source", reason));
                continue;
            }

            for container in &workload.containers {
                let on_repository = ImageRef::parse(&container.image)
                    .is_ok_and(|image| image.repository() == event.repository);
                if !on_repository || !settings.tracks(&container.name) {
                    continue;
                }
                let finding = self.consider(workload, &settings, container, event).await;
                self.report(workload, &finding);
                findings.push(finding);
            }
        }

        Ok(findings)
    }

    fn report(&self, workload: &Workload, finding: &Finding) {
        let container = finding.container.as_deref().unwrap_or_default();
        match finding.outcome {
            Outcome::Created => {
                if let Some(name) = &finding.update_request {
                    let key = ObjectKey {
                        namespace: workload.reference.namespace.clone(),
                        name: name.clone(),
                    };
                    self.observer.observe(&Event::Created { key: &key });
                }
                let request = finding.update_request.as_deref().unwrap_or_default();
                info!(workload = %workload.reference, container, request, "update request created");
            }
            Outcome::Skipped | Outcome::Exists => {
                let reference = &workload.reference;
                self.observer.observe(&Event::Skipped {
                    workload: reference,
                    container,
                    reason: finding.label,
                });
                debug!(workload = %reference, container, reason = %finding.reason, "update skipped");
            }
            Outcome::Applied | Outcome::Failed => {}
        }
    }

    async fn consider(
        &self,
        workload: &Workload,
        settings: &WorkloadSettings,
        container: &Container,
        event: &PushEvent,
    ) -> Finding {
        let here = |label, reason| skip(workload, Some(container), label, reason);
        let current_tag = ImageRef::parse(&container.image)
            .ok()
            .and_then(|i| i.tag().map(str::to_owned))
            .unwrap_or_else(|| "latest".to_owned());

        match settings.policy.decide(&current_tag, &event.tag) {
            Decision::Update => {}
            Decision::Skip(why) => return here(why.label(), why.to_string()),
            Decision::NotComparable(why) => return here("not_comparable", why),
        }
        let new_image = match image::retag(&container.image, &event.tag) {
            Ok(image) => image,
            Err(error) => return here("invalid_image", error.to_string()),
        };

        let reference = &workload.reference;
        match self.history.blocks(reference).await {
            Ok(blocks) => match find_block(&blocks, &container.name, &new_image) {
                Some(BlockCause::Rejected) => {
                    return here(
                        "blocked",
                        format!("{new_image} was rejected for this container"),
                    );
                }
                Some(BlockCause::RolledBack) => {
                    return here(
                        "blocked",
                        format!("{new_image} was rolled back for this container"),
                    );
                }
                None => {}
            },
            Err(error) => return here("history_unavailable", crate::error_chain(&error)),
        }

        let name = request_name(reference, &container.name, &new_image);
        let reason = format!(
            "{new_image} is allowed by policy {} from {}",
            settings.policy.policy, container.image
        );
        let now = Utc::now();
        let mut request = UpdateRequest::pending(
            &name,
            reference,
            &container.name,
            (&container.image, &new_image),
            settings.policy.policy,
            now,
        )
        .with_reason(&reason);
        if let Some(ttl) = self
            .config
            .approval_ttl
            .and_then(|t| chrono::TimeDelta::from_std(t).ok())
        {
            request = request.with_expiry(now + ttl);
        }

        if settings.require_approval {
            self.propose(workload, container, request).await
        } else {
            request.spec.require_approval = false;
            self.apply_directly(workload, settings, container, request, now)
                .await
        }
    }

    /// Creates a Pending request, superseding older Pending ones for the same container.
    async fn propose(
        &self,
        workload: &Workload,
        container: &Container,
        request: UpdateRequest,
    ) -> Finding {
        let name = request.metadata.name.clone();
        let tag = ImageRef::parse(&request.spec.new_image)
            .ok()
            .and_then(|i| i.tag().map(str::to_owned));
        let finding = |outcome, label, reason: String| Finding {
            update_request: Some(name.clone()),
            ..found(workload, Some(container), outcome, label, reason)
        };

        let others = match self
            .pending_for(&workload.reference, &container.name, &name)
            .await
        {
            Ok(others) => others,
            Err(error) => {
                return finding(
                    Outcome::Skipped,
                    "store_unavailable",
                    crate::error_chain(&error),
                );
            }
        };
        let newer = others
            .iter()
            .find(|other| is_newer(&other.spec.new_image, tag.as_deref()));
        if let Some(newer) = newer {
            let reason = format!(
                "{} for the newer {} is already pending",
                newer.metadata.name, newer.spec.new_image
            );
            return finding(Outcome::Skipped, "newer_pending", reason);
        }

        match self.updates.create(request.clone()).await {
            Ok(_) => {}
            Err(StoreError::AlreadyExists { .. }) => {
                let existing = match self.updates.get(&request.key()).await {
                    Ok(existing) => existing,
                    // Created by another writer and not yet readable here: the next event
                    // finds it.
                    Err(error) => {
                        return finding(
                            Outcome::Skipped,
                            "store_unavailable",
                            crate::error_chain(&error),
                        );
                    }
                };
                if same_proposal(&existing, &request) {
                    return finding(Outcome::Exists, "exists", format!("{name} exists already"));
                }
                warn!(request = %name, "a different request holds this name; not proposing");
                return finding(
                    Outcome::Skipped,
                    "name_collision",
                    format!("{name} holds another proposal"),
                );
            }
            Err(error) => {
                return finding(
                    Outcome::Skipped,
                    "store_unavailable",
                    crate::error_chain(&error),
                );
            }
        }

        for old in others {
            if let Err(error) = self.approvals.supersede(&old.key(), &name).await {
                // It left Pending meanwhile (approved or rejected): its own outcome stands.
                debug!(old = %old.key(), %error, "older request not superseded");
            }
        }

        finding(
            Outcome::Created,
            "created",
            format!("{name} awaits approval"),
        )
    }

    async fn apply_directly(
        &self,
        workload: &Workload,
        settings: &WorkloadSettings,
        container: &Container,
        request: UpdateRequest,
        now: DateTime<Utc>,
    ) -> Finding {
        let key = request.key();
        let name = key.name.clone();
        let finding = |outcome, label, reason: String| Finding {
            update_request: Some(name.clone()),
            ..found(workload, Some(container), outcome, label, reason)
        };

        match self.last_applied(&workload.reference).await {
            Ok(Some(last)) => {
                let since = (now - last).to_std().unwrap_or_default();
                if since < settings.min_update_interval {
                    let reason = format!(
                        "the last update was {}s ago, less than headwind.sh/min-update-interval {}s",
                        since.as_secs(),
                        settings.min_update_interval.as_secs()
                    );
                    return finding(Outcome::Skipped, "min_update_interval", reason);
                }
            }
            Ok(None) => {}
            Err(error) => {
                return finding(
                    Outcome::Skipped,
                    "history_unavailable",
                    crate::error_chain(&error),
                );
            }
        }

        match self.updates.create(request.clone()).await {
            Ok(_) => {}
            Err(StoreError::AlreadyExists { .. }) => match self.updates.get(&key).await {
                Ok(existing) if !same_proposal(&existing, &request) => {
                    warn!(request = %name, "a different request holds this name; not applying");
                    let reason = format!("{name} holds another proposal");
                    return finding(Outcome::Skipped, "name_collision", reason);
                }
                // Created by an earlier attempt that stopped before approving.
                Ok(existing) if existing.status.phase == Phase::Pending => {}
                Ok(_) => {
                    return finding(Outcome::Exists, "exists", format!("{name} exists already"));
                }
                Err(error) => {
                    return finding(
                        Outcome::Skipped,
                        "store_unavailable",
                        crate::error_chain(&error),
                    );
                }
            },
            Err(error) => {
                return finding(
                    Outcome::Skipped,
                    "store_unavailable",
                    crate::error_chain(&error),
                );
            }
        }

        match self.approvals.approve(&key, WEBHOOK_APPROVER).await {
            Ok(ApproveOutcome::Applied(_)) => finding(
                Outcome::Applied,
                "applied",
                format!("{} applied", container.name),
            ),
            Ok(ApproveOutcome::VoteRecorded { missing, .. }) => finding(
                Outcome::Created,
                "created",
                format!("{missing} more approval(s) needed"),
            ),
            Err(approval::Error::ApplyFailed { cause, .. }) => {
                finding(Outcome::Failed, "apply_failed", cause)
            }
            Err(error) => finding(Outcome::Skipped, error.label(), error.to_string()),
        }
    }

    async fn pending_for(
        &self,
        workload: &WorkloadRef,
        container: &str,
        except: &str,
    ) -> Result<Vec<UpdateRequest>, StoreError> {
        let in_namespace = self.updates.list(Some(workload.namespace.clone())).await?;

        Ok(in_namespace
            .into_iter()
            .filter(|r| {
                r.status.phase == Phase::Pending
                    && r.metadata.name != except
                    && r.spec.container_name == container
                    && r.spec.target_ref.workload() == *workload
            })
            .collect())
    }

    async fn last_applied(
        &self,
        workload: &WorkloadRef,
    ) -> Result<Option<DateTime<Utc>>, crate::store::HistoryError> {
        let history = self.history.history(workload).await?;

        Ok(history
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::Update | EntryKind::Rollback))
            .map(|e| e.timestamp)
            .max())
    }
}

/// Whether `image`'s tag is a version at least as new as `tag`.
fn is_newer(image: &str, tag: Option<&str>) -> bool {
    let other = ImageRef::parse(image)
        .ok()
        .and_then(|i| i.tag().and_then(policy::parse_version));
    let ours = tag.and_then(policy::parse_version);

    match (other, ours) {
        (Some(other), Some(ours)) => other.cmp_precedence(&ours).is_ge(),
        _ => false,
    }
}

fn found(
    workload: &Workload,
    container: Option<&Container>,
    outcome: Outcome,
    label: &'static str,
    reason: String,
) -> Finding {
    Finding {
        kind: workload.reference.kind,
        namespace: workload.reference.namespace.clone(),
        name: workload.reference.name.clone(),
        container: container.map(|c| c.name.clone()),
        outcome,
        label,
        reason,
        update_request: None,
    }
}

fn skip(
    workload: &Workload,
    container: Option<&Container>,
    label: &'static str,
    reason: String,
) -> Finding {
    found(workload, container, Outcome::Skipped, label, reason)
}

/// The deterministic name of the request to move `container` of `workload` to `tag`:
/// `{workload}-{container}-{tag}-{hash}`, lowercased with other characters as `-`, with `sts-` or
/// `ds-` before StatefulSets and DaemonSets, cut to fit 253 characters. The readable part alone
/// is ambiguous (workload `web` with container `app-api`, and workload `web-app` with
/// container `api`; tags `1.0.0` and `1-0-0`; one tag of two repositories), so an 8-digit hash
/// of the exact kind, workload, container and normalised image always follows it.
#[must_use]
pub fn request_name(workload: &WorkloadRef, container: &str, new_image: &str) -> String {
    let parsed = ImageRef::parse(new_image).ok();
    let tag = parsed.as_ref().and_then(ImageRef::tag).unwrap_or("latest");
    let image = parsed
        .as_ref()
        .map_or_else(|| new_image.to_owned(), ToString::to_string);
    let prefix = match workload.kind {
        WorkloadKind::Deployment => "",
        WorkloadKind::StatefulSet => "sts-",
        WorkloadKind::DaemonSet => "ds-",
    };
    let hash = fnv1a(&format!(
        "{}/{}/{container}/{image}",
        workload.kind, workload.name
    ));

    let mut readable = format!(
        "{prefix}{}-{}-{}",
        workload.name,
        container,
        name::sanitize(tag)
    );
    readable.truncate(253 - 9);
    let readable = readable.trim_end_matches(['-', '.']);
    let mut out = String::with_capacity(readable.len() + 9);
    let _ = write!(out, "{readable}-{hash:08x}");

    out
}

/// Whether an existing request with the name detection wanted is the same proposal (same
/// workload, container and new image), rather than another proposal whose name collided.
fn same_proposal(existing: &UpdateRequest, wanted: &UpdateRequest) -> bool {
    existing.spec.target_ref.workload() == wanted.spec.target_ref.workload()
        && existing.spec.container_name == wanted.spec.container_name
        && ImageRef::same(&existing.spec.new_image, &wanted.spec.new_image)
}

/// FNV-1a, 32 bits: stable across Rust versions and platforms, unlike `DefaultHasher`.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_names_are_deterministic_and_valid() {
        let web = WorkloadRef::deployment("default", "web").unwrap();
        let db = WorkloadRef::new(WorkloadKind::StatefulSet, "default", "web").unwrap();

        let name = request_name(&web, "app", "app:1.26.0");
        assert!(
            name.starts_with("web-app-1-26-0-") && name.len() == 23,
            "{name}"
        );
        assert_eq!(name, request_name(&web, "app", "app:1.26.0"));
        assert!(request_name(&db, "app", "app:1.26.0").starts_with("sts-web-app-1-26-0-"));
        // Pins readable names that collide: web + app-api and web-app + api.
        let web_app = WorkloadRef::deployment("default", "web-app").unwrap();
        assert_ne!(
            request_name(&web, "app-api", "app:1"),
            request_name(&web_app, "api", "app:1")
        );
        assert_ne!(
            request_name(&web, "app", "app:1.0.0"),
            request_name(&web, "app", "app:1-0-0")
        );
        assert_ne!(
            request_name(&web, "app", "app:1.0_a"),
            request_name(&web, "app", "app:1.0-a")
        );
        assert_ne!(
            request_name(&web, "app", "app:V1"),
            request_name(&web, "app", "app:v1")
        );

        let long = request_name(&web, "app", &format!("app:{}", "x".repeat(128)));
        assert!(long.len() <= 253 && name::is_subdomain(&long), "{long}");
        let odd = request_name(&web, "app", "app:_weird__tag_");
        assert!(name::is_subdomain(&odd), "{odd}");
        // One tag of two repositories (a container moved to a mirror) is two proposals.
        assert_ne!(
            request_name(&web, "app", "nginx:1.0"),
            request_name(&web, "app", "mirror.example.com/nginx:1.0")
        );
    }

    #[test]
    fn push_events_normalise_the_repository() {
        let hub = PushEvent::new(None, "library/nginx", "1.27.0").unwrap();
        let local = PushEvent::new(Some("127.0.0.1:5000"), "demo/app", "1.2.0").unwrap();

        assert_eq!(hub.repository, "docker.io/library/nginx");
        assert_eq!(local.repository, "127.0.0.1:5000/demo/app");
        assert!(PushEvent::new(None, "Bad Repo", "1").is_err());
    }
}
