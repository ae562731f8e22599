//! The domain model: update requests, workload references and history entries.
//!
//! These types serialise to the JSON of the HTTP API and of the `UpdateRequest` custom resource
//! (camelCase, RFC 3339 UTC timestamps). Validation of names lives in [`crate::name`]; the
//! transitions between phases live in [`crate::approval::transition`].

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::name::{self, InvalidName};
use crate::policy::Policy;

/// The namespace and name that identify a namespaced object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    /// Namespace of the object.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
}

impl ObjectKey {
    /// Builds a key after checking both parts are valid Kubernetes names.
    ///
    /// # Errors
    ///
    /// [`InvalidName`] when the namespace is not a DNS-1123 label or the name is not a DNS-1123
    /// subdomain.
    pub fn new(namespace: &str, name: &str) -> Result<Self, InvalidName> {
        name::validate_namespace(namespace)?;
        name::validate_name(name)?;

        Ok(Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Object metadata of an [`UpdateRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Name of the request, a DNS-1123 subdomain.
    pub name: String,
    /// Namespace of the request, a DNS-1123 label.
    pub namespace: String,
    /// Opaque version token for optimistic concurrency, set by the store on every write.
    ///
    /// A status write carries the token the caller read; the store refuses it when the stored
    /// token differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// When the store first accepted the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<DateTime<Utc>>,
}

/// The kinds of workload headwind can update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WorkloadKind {
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` StatefulSet.
    StatefulSet,
    /// `apps/v1` DaemonSet.
    DaemonSet,
}

impl WorkloadKind {
    /// The kind as Kubernetes spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for WorkloadKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Deployment" => Ok(Self::Deployment),
            "StatefulSet" => Ok(Self::StatefulSet),
            "DaemonSet" => Ok(Self::DaemonSet),
            other => Err(UnknownKind(other.to_owned())),
        }
    }
}

/// A workload kind other than Deployment, StatefulSet or DaemonSet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported workload kind {0:?}: expected Deployment, StatefulSet or DaemonSet")]
pub struct UnknownKind(pub String);

/// The workload an update request targets, as stored in `spec.targetRef`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TargetRef {
    /// API version of the workload, `apps/v1` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the workload.
    pub kind: WorkloadKind,
    /// Name of the workload.
    pub name: String,
    /// Namespace of the workload.
    pub namespace: String,
}

impl TargetRef {
    /// The workload this reference points at.
    #[must_use]
    pub fn workload(&self) -> WorkloadRef {
        WorkloadRef {
            kind: self.kind,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

/// The identity of a workload: kind, namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WorkloadRef {
    /// Kind of the workload.
    pub kind: WorkloadKind,
    /// Namespace of the workload.
    pub namespace: String,
    /// Name of the workload.
    pub name: String,
}

impl WorkloadRef {
    /// Builds a reference after validating namespace and name.
    ///
    /// # Errors
    ///
    /// [`InvalidName`] when either part is not a valid Kubernetes name.
    pub fn new(kind: WorkloadKind, namespace: &str, name: &str) -> Result<Self, InvalidName> {
        let key = ObjectKey::new(namespace, name)?;

        Ok(Self {
            kind,
            namespace: key.namespace,
            name: key.name,
        })
    }

    /// A `Deployment` reference, validated.
    ///
    /// # Errors
    ///
    /// [`InvalidName`] when either part is not a valid Kubernetes name.
    pub fn deployment(namespace: &str, name: &str) -> Result<Self, InvalidName> {
        Self::new(WorkloadKind::Deployment, namespace, name)
    }

    /// The `targetRef` form of this reference.
    #[must_use]
    pub fn target_ref(&self) -> TargetRef {
        TargetRef {
            api_version: Some("apps/v1".to_owned()),
            kind: self.kind,
            name: self.name.clone(),
            namespace: self.namespace.clone(),
        }
    }
}

impl fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// What an update request asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpdateRequestSpec {
    /// The workload to update.
    pub target_ref: TargetRef,
    /// The container whose image changes.
    pub container_name: String,
    /// The image the container ran when the request was made.
    pub current_image: String,
    /// The image to apply.
    pub new_image: String,
    /// The policy that allowed the update.
    pub policy: Policy,
    /// Why the update was proposed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether a person must approve the update; `false` means it was applied directly.
    #[serde(default = "default_true")]
    pub require_approval: bool,
    /// After this time the request can no longer be approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// How many distinct approvers must approve before the update is applied.
    #[serde(default = "default_one", skip_serializing_if = "is_one")]
    pub required_approvals: u32,
}

fn default_true() -> bool {
    true
}

fn default_one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// The phases of an update request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Phase {
    /// Waiting for approval.
    #[default]
    Pending,
    /// Approved; the image is being applied.
    Approved,
    /// The image was applied.
    Completed,
    /// Applying the image failed; `status.message` says why.
    Failed,
    /// A person rejected the update.
    Rejected,
    /// Nobody approved the update before `spec.expiresAt`.
    Expired,
}

impl Phase {
    /// The phase as the API spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Approved => "Approved",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
            Self::Rejected => "Rejected",
            Self::Expired => "Expired",
        }
    }

    /// Whether no transition leads out of this phase.
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Rejected | Self::Expired
        )
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One approver's vote on a request that needs several approvals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// Who approved.
    pub approver: String,
    /// When.
    pub approved_at: DateTime<Utc>,
}

/// The observed state of an update request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpdateRequestStatus {
    /// Where the request stands.
    pub phase: Phase,
    /// When the request was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// Who approved or rejected the request (the last vote on approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// When the request was approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<DateTime<Utc>>,
    /// When the request was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_at: Option<DateTime<Utc>>,
    /// The reason given for a rejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What happened, for a person: the cause of a failure, or the outcome of the apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<DateTime<Utc>>,
    /// When the image was applied. Written while the request is still Approved, so that
    /// finishing an interrupted request never applies the image a second time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<DateTime<Utc>>,
    /// The votes cast so far, one per distinct approver.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
}

/// A proposed image update awaiting, or past, a decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateRequest {
    /// Identity and version.
    pub metadata: ObjectMeta,
    /// What is asked for.
    pub spec: UpdateRequestSpec,
    /// Where it stands.
    #[serde(default)]
    pub status: UpdateRequestStatus,
}

impl UpdateRequest {
    /// A new Pending request for `container` of `workload`, created at `now`.
    #[must_use]
    pub fn pending(
        name: &str,
        workload: &WorkloadRef,
        container: &str,
        images: (&str, &str),
        policy: Policy,
        now: DateTime<Utc>,
    ) -> Self {
        let (current_image, new_image) = images;

        Self {
            metadata: ObjectMeta {
                name: name.to_owned(),
                namespace: workload.namespace.clone(),
                resource_version: None,
                creation_timestamp: None,
            },
            spec: UpdateRequestSpec {
                target_ref: workload.target_ref(),
                container_name: container.to_owned(),
                current_image: current_image.to_owned(),
                new_image: new_image.to_owned(),
                policy,
                reason: None,
                require_approval: true,
                expires_at: None,
                required_approvals: 1,
            },
            status: UpdateRequestStatus {
                phase: Phase::Pending,
                created_at: Some(now),
                ..UpdateRequestStatus::default()
            },
        }
    }

    /// Sets `spec.expiresAt`.
    #[must_use]
    pub fn with_expiry(mut self, expires_at: DateTime<Utc>) -> Self {
        self.spec.expires_at = Some(expires_at);
        self
    }

    /// Sets `spec.requiredApprovals`.
    #[must_use]
    pub fn with_required_approvals(mut self, n: u32) -> Self {
        self.spec.required_approvals = n;
        self
    }

    /// Sets `spec.reason`.
    #[must_use]
    pub fn with_reason(mut self, reason: &str) -> Self {
        self.spec.reason = Some(reason.to_owned());
        self
    }

    /// The key of the request.
    #[must_use]
    pub fn key(&self) -> ObjectKey {
        ObjectKey {
            namespace: self.metadata.namespace.clone(),
            name: self.metadata.name.clone(),
        }
    }

    /// The workload the request targets.
    #[must_use]
    pub fn workload(&self) -> WorkloadRef {
        self.spec.target_ref.workload()
    }
}

/// A container of a workload and the image it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Container {
    /// Container name.
    pub name: String,
    /// Image reference, as written in the pod template.
    pub image: String,
}

/// A workload as a [`crate::store::Deployer`] sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    /// Identity.
    pub reference: WorkloadRef,
    /// Annotations on the workload (the `headwind.sh/*` settings among them).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The containers of the pod template, in order.
    pub containers: Vec<Container>,
}

impl Workload {
    /// A workload with the given containers and no annotations.
    #[must_use]
    pub fn new(reference: WorkloadRef, containers: Vec<Container>) -> Self {
        Self {
            reference,
            annotations: BTreeMap::new(),
            containers,
        }
    }

    /// Adds an annotation.
    #[must_use]
    pub fn with_annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.to_owned(), value.to_owned());
        self
    }

    /// The container called `name`, if any.
    #[must_use]
    pub fn container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }
}

/// How far a workload's latest rollout has got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RolloutHealth {
    /// The controller has not yet observed the latest spec, or pods are still being replaced.
    Progressing,
    /// Every replica runs the latest spec and is available.
    Healthy,
    /// The rollout cannot finish (for example `ProgressDeadlineExceeded`).
    Failed {
        /// What Kubernetes reported.
        reason: String,
    },
}

impl EntryKind {
    fn update() -> Self {
        Self::Update
    }
}

/// Why a history entry was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum EntryKind {
    /// The image the container ran before headwind first changed it.
    Baseline,
    /// An image applied for an update request.
    Update,
    /// An image restored by a rollback.
    Rollback,
}

/// One applied image in a workload's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// Container whose image changed.
    pub container: String,
    /// The image it runs from this entry on.
    pub image: String,
    /// When the image was applied (or, for a baseline, recorded).
    pub timestamp: DateTime<Utc>,
    /// The update request that applied the image; `null` for baselines and rollbacks.
    #[serde(default)]
    pub update_request_name: Option<String>,
    /// Who approved the change (`webhook` for automatic updates).
    #[serde(default)]
    pub approved_by: String,
    /// Why the entry exists; `update` for entries written by other Headwind versions, which
    /// have no such field.
    #[serde(default = "EntryKind::update")]
    pub kind: EntryKind,
}

/// An image that detection must not propose again for a container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Block {
    /// Container the block applies to.
    pub container: String,
    /// The blocked image.
    pub image: String,
    /// Why it is blocked.
    pub cause: BlockCause,
    /// Who caused the block.
    pub by: String,
    /// When the block was set.
    pub since: DateTime<Utc>,
}

/// Why an image is blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum BlockCause {
    /// An update request for it was rejected.
    Rejected,
    /// It was rolled back from.
    RolledBack,
}
