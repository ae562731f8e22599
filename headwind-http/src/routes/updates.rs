//! `/api/v1/updates`: list, read, approve and reject update requests.

use axum::Extension;
use axum::Json;
use axum::extract::{Query, State};
use headwind_core::approval::ApproveOutcome;
use headwind_core::name;
use headwind_core::types::{ObjectKey, Phase, UpdateRequest};
use serde::{Deserialize, Serialize};

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Approver, AuthenticatedIdentity, OptionalJson, PathParams, ValidPath};

/// The longest accepted rejection reason.
const MAX_REASON_LEN: usize = 1024;

/// `{namespace}/{name}` of an update request.
#[derive(Clone, Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RequestPath {
    /// Namespace of the UpdateRequest.
    pub namespace: String,
    /// Name of the UpdateRequest.
    pub name: String,
}

impl PathParams for RequestPath {
    fn validate(&self) -> Result<(), ApiError> {
        name::validate_namespace(&self.namespace)?;
        name::validate_name(&self.name)?;
        Ok(())
    }
}

impl RequestPath {
    fn key(&self) -> ObjectKey {
        ObjectKey {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

/// Filters of the list.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only requests in this namespace.
    pub namespace: Option<String>,
    /// Only requests in this phase (`Pending`, `Approved`, `Completed`, `Failed`, `Rejected`,
    /// `Expired`).
    pub phase: Option<Phase>,
}

/// Body of an approval.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// Who approves. When absent a placeholder saying so is recorded.
    pub approver: Option<String>,
}

/// Body of a rejection.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Who rejects. When absent a placeholder saying so is recorded.
    pub approver: Option<String>,
    /// Why.
    pub reason: Option<String>,
}

/// Answer of approve and reject.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionResponse {
    /// What happened.
    pub message: String,
    /// The request as stored afterwards.
    pub update_request: UpdateRequest,
}

/// Every UpdateRequest, across all namespaces unless filtered.
#[utoipa::path(
    get,
    path = "/api/v1/updates",
    tag = "updates",
    params(ListQuery),
    responses(
        (status = 200, description = "The requests, by namespace then name", body = [UpdateRequest]),
        (status = 400, description = "Invalid filter", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<ApiState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<UpdateRequest>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    if let Some(ns) = &query.namespace {
        name::validate_namespace(ns)?;
    }

    let mut requests = state.updates.list(query.namespace).await?;
    if let Some(phase) = query.phase {
        requests.retain(|r| r.status.phase == phase);
    }

    Ok(Json(requests))
}

/// One UpdateRequest.
#[utoipa::path(
    get,
    path = "/api/v1/updates/{namespace}/{name}",
    tag = "updates",
    params(RequestPath),
    responses(
        (status = 200, description = "The request", body = UpdateRequest),
        (status = 400, description = "Invalid namespace or name", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
    ),
)]
pub async fn get(
    State(state): State<ApiState>,
    ValidPath(path): ValidPath<RequestPath>,
) -> Result<Json<UpdateRequest>, ApiError> {
    let request = state.updates.get(&path.key()).await?;

    Ok(Json(request))
}

/// Approves the request and, once enough distinct approvers have approved, applies it.
#[utoipa::path(
    post,
    path = "/api/v1/updates/{namespace}/{name}/approve",
    tag = "updates",
    params(RequestPath),
    request_body(content = ApproveBody, description = "Optional"),
    responses(
        (status = 200, description = "Approved and applied, or the vote recorded", body = DecisionResponse),
        (status = 400, description = "Malformed body or invalid path", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "Not Pending, expired, or this approver voted already", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 500, description = "The deploy failed; the request is Failed", body = ErrorBody),
    ),
)]
pub async fn approve(
    State(state): State<ApiState>,
    identity: Option<Extension<AuthenticatedIdentity>>,
    ValidPath(path): ValidPath<RequestPath>,
    OptionalJson(body): OptionalJson<ApproveBody>,
) -> Result<Json<DecisionResponse>, ApiError> {
    let identity = identity.map(|Extension(id)| id);
    let Approver(approver) = Approver::resolve(identity.as_ref(), body.approver.as_deref())?;

    let response = match state.approvals.approve(&path.key(), &approver).await? {
        ApproveOutcome::Applied(request) => DecisionResponse {
            message: "Update approved and applied successfully".to_owned(),
            update_request: request,
        },
        ApproveOutcome::VoteRecorded { request, missing } => DecisionResponse {
            message: format!("Approval recorded; {missing} more approval(s) needed"),
            update_request: request,
        },
    };

    Ok(Json(response))
}

/// Rejects the request; its image is not proposed again for that container.
#[utoipa::path(
    post,
    path = "/api/v1/updates/{namespace}/{name}/reject",
    tag = "updates",
    params(RequestPath),
    request_body(content = RejectBody, description = "Optional"),
    responses(
        (status = 200, description = "Rejected", body = DecisionResponse),
        (status = 400, description = "Malformed body or invalid path", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "Not Pending", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
    ),
)]
pub async fn reject(
    State(state): State<ApiState>,
    identity: Option<Extension<AuthenticatedIdentity>>,
    ValidPath(path): ValidPath<RequestPath>,
    OptionalJson(body): OptionalJson<RejectBody>,
) -> Result<Json<DecisionResponse>, ApiError> {
    let identity = identity.map(|Extension(id)| id);
    let Approver(approver) = Approver::resolve(identity.as_ref(), body.approver.as_deref())?;
    if body
        .reason
        .as_ref()
        .is_some_and(|r| r.len() > MAX_REASON_LEN)
    {
        return Err(ApiError::bad_request(format!(
            "reason must be at most {MAX_REASON_LEN} bytes"
        )));
    }

    let request = state
        .approvals
        .reject(&path.key(), &approver, body.reason.as_deref())
        .await?;

    Ok(Json(DecisionResponse {
        message: "Update rejected".to_owned(),
        update_request: request,
    }))
}
