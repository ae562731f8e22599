//! `/api/v1/rollback`: a workload's history, rollbacks, and the blocks rollbacks leave.
//!
//! The path names the workload `deployment`, as the API has always done; `?kind=StatefulSet`
//! or `?kind=DaemonSet` selects another kind.

use axum::Extension;
use axum::Json;
use axum::extract::{Query, State};
use headwind_core::name;
use headwind_core::types::{Block, HistoryEntry, WorkloadKind, WorkloadRef};
use serde::{Deserialize, Serialize};

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Approver, AuthenticatedIdentity, OptionalJson, PathParams, ValidPath};

/// How many entries the history answer holds at most.
pub const HISTORY_LIMIT: usize = 10;

/// `{namespace}/{deployment}` of a workload.
#[derive(Clone, Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct WorkloadPath {
    /// Namespace of the workload.
    pub namespace: String,
    /// Name of the workload.
    pub deployment: String,
}

impl PathParams for WorkloadPath {
    fn validate(&self) -> Result<(), ApiError> {
        name::validate_namespace(&self.namespace)?;
        name::validate_name(&self.deployment)?;
        Ok(())
    }
}

/// `{namespace}/{deployment}/{container}` of a workload's container.
#[derive(Clone, Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ContainerPath {
    /// Namespace of the workload.
    pub namespace: String,
    /// Name of the workload.
    pub deployment: String,
    /// Name of the container.
    pub container: String,
}

impl PathParams for ContainerPath {
    fn validate(&self) -> Result<(), ApiError> {
        name::validate_namespace(&self.namespace)?;
        name::validate_name(&self.deployment)?;
        name::validate_container(&self.container)?;
        Ok(())
    }
}

/// The kind of workload a rollback path names.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KindQuery {
    /// `Deployment` (the default), `StatefulSet` or `DaemonSet`.
    pub kind: Option<String>,
}

/// Which block to lift.
#[derive(Clone, Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnblockQuery {
    /// The blocked image.
    pub image: String,
    /// `Deployment` (the default), `StatefulSet` or `DaemonSet`.
    pub kind: Option<String>,
}

/// Optional body of a rollback.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackBody {
    /// Who rolls back. When absent a placeholder saying so is recorded.
    pub approver: Option<String>,
}

/// Answer of the history endpoint.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryResponse {
    /// Name of the workload.
    pub deployment: String,
    /// Namespace of the workload.
    pub namespace: String,
    /// The last applied images, newest first, at most 10.
    pub history: Vec<HistoryEntry>,
}

/// Answer of a rollback.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RollbackResponse {
    /// `Rollback successful`.
    pub message: String,
    /// Name of the workload.
    pub deployment: String,
    /// Namespace of the workload.
    pub namespace: String,
    /// The container rolled back.
    pub container: String,
    /// The image it ran.
    pub previous_image: String,
    /// The image it runs now.
    pub rolled_back_to: String,
}

/// Answer of the blocks endpoint.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlocksResponse {
    /// Name of the workload.
    pub deployment: String,
    /// Namespace of the workload.
    pub namespace: String,
    /// Images that are not proposed again, per container.
    pub blocks: Vec<Block>,
}

/// Answer of lifting a block.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnblockResponse {
    /// What happened.
    pub message: String,
}

pub(crate) fn workload_ref(
    namespace: &str,
    name: &str,
    kind: Option<&str>,
) -> Result<WorkloadRef, ApiError> {
    let kind = match kind {
        None => WorkloadKind::Deployment,
        Some(kind) => kind
            .parse()
            .map_err(|e: headwind_core::types::UnknownKind| ApiError::bad_request(e.to_string()))?,
    };

    Ok(WorkloadRef::new(kind, namespace, name)?)
}

/// The workload a path and its `?kind=` name.
pub(crate) fn target(
    namespace: &str,
    name: &str,
    kind: Result<Query<KindQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<WorkloadRef, ApiError> {
    let kind = parse_query(kind)?;

    workload_ref(namespace, name, kind.kind.as_deref())
}

pub(crate) fn parse_query<T>(
    query: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))
}

/// The last 10 images applied to a workload, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/rollback/{namespace}/{deployment}/history",
    tag = "rollback",
    params(WorkloadPath, KindQuery),
    responses(
        (status = 200, description = "The history, newest first", body = HistoryResponse),
        (status = 400, description = "Invalid path or kind", body = ErrorBody),
        (status = 404, description = "No such workload", body = ErrorBody),
    ),
)]
pub async fn history(
    State(state): State<ApiState>,
    ValidPath(path): ValidPath<WorkloadPath>,
    kind: Result<Query<KindQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<HistoryResponse>, ApiError> {
    let target = target(&path.namespace, &path.deployment, kind)?;
    state.require_workload(&target).await?;

    let mut history = state.history.history(&target).await?;
    history.truncate(HISTORY_LIMIT);

    Ok(Json(HistoryResponse {
        deployment: path.deployment,
        namespace: path.namespace,
        history,
    }))
}

/// Rolls a container back to the image before its current one, and blocks the current image
/// from being proposed again.
#[utoipa::path(
    post,
    path = "/api/v1/rollback/{namespace}/{deployment}/{container}",
    tag = "rollback",
    params(ContainerPath, KindQuery),
    request_body(content = RollbackBody, description = "Optional"),
    responses(
        (status = 200, description = "Rolled back", body = RollbackResponse),
        (status = 400, description = "Invalid path, kind or body", body = ErrorBody),
        (status = 404, description = "No such workload or container", body = ErrorBody),
        (status = 409, description = "Nothing to roll back to, or the workload changed meanwhile", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
    ),
)]
pub async fn rollback(
    State(state): State<ApiState>,
    identity: Option<Extension<AuthenticatedIdentity>>,
    ValidPath(path): ValidPath<ContainerPath>,
    kind: Result<Query<KindQuery>, axum::extract::rejection::QueryRejection>,
    OptionalJson(body): OptionalJson<RollbackBody>,
) -> Result<Json<RollbackResponse>, ApiError> {
    let target = target(&path.namespace, &path.deployment, kind)?;
    let identity = identity.map(|Extension(id)| id);
    let Approver(by) = Approver::resolve(identity.as_ref(), body.approver.as_deref())?;

    let done = state
        .rollbacks
        .rollback(&target, &path.container, &by)
        .await?;

    Ok(Json(RollbackResponse {
        message: "Rollback successful".to_owned(),
        deployment: path.deployment,
        namespace: path.namespace,
        container: path.container,
        previous_image: done.previous_image,
        rolled_back_to: done.rolled_back_to,
    }))
}

/// The images blocked from re-proposal for a workload (rejected or rolled back from).
#[utoipa::path(
    get,
    path = "/api/v1/rollback/{namespace}/{deployment}/blocks",
    tag = "rollback",
    params(WorkloadPath, KindQuery),
    responses(
        (status = 200, description = "The blocks", body = BlocksResponse),
        (status = 400, description = "Invalid path or kind", body = ErrorBody),
        (status = 404, description = "No such workload", body = ErrorBody),
    ),
)]
pub async fn blocks(
    State(state): State<ApiState>,
    ValidPath(path): ValidPath<WorkloadPath>,
    kind: Result<Query<KindQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<BlocksResponse>, ApiError> {
    let target = target(&path.namespace, &path.deployment, kind)?;
    state.require_workload(&target).await?;

    let blocks = state.history.blocks(&target).await?;

    Ok(Json(BlocksResponse {
        deployment: path.deployment,
        namespace: path.namespace,
        blocks,
    }))
}

/// Lifts the block of an image for a container, so it may be proposed again.
#[utoipa::path(
    delete,
    path = "/api/v1/rollback/{namespace}/{deployment}/{container}/blocks",
    tag = "rollback",
    params(ContainerPath, UnblockQuery),
    responses(
        (status = 200, description = "The block is gone", body = UnblockResponse),
        (status = 400, description = "Invalid path or query", body = ErrorBody),
        (status = 404, description = "No such workload, or no such block", body = ErrorBody),
    ),
)]
pub async fn unblock(
    State(state): State<ApiState>,
    ValidPath(path): ValidPath<ContainerPath>,
    unblock: Result<Query<UnblockQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UnblockResponse>, ApiError> {
    let unblock = parse_query(unblock)?;
    let target = workload_ref(&path.namespace, &path.deployment, unblock.kind.as_deref())?;
    state.require_workload(&target).await?;

    let cleared = state
        .rollbacks
        .clear_block(&target, &path.container, &unblock.image)
        .await?;
    if !cleared {
        return Err(ApiError::not_found(format!(
            "no block of {} for container {:?} of {target}",
            unblock.image, path.container
        )));
    }

    Ok(Json(UnblockResponse {
        message: format!(
            "{} may be proposed again for container {}",
            unblock.image, path.container
        ),
    }))
}
