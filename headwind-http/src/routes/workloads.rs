//! `/api/v1/workloads`: what a workload runs, so clients can pick a container.

use axum::Json;
use axum::extract::{Query, State};
use headwind_core::types::Container;
use serde::{Deserialize, Serialize};

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ValidPath;
use crate::routes::rollback::{KindQuery, WorkloadPath, target};

/// Answer of the workload endpoint.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkloadResponse {
    /// `Deployment`, `StatefulSet` or `DaemonSet`.
    pub kind: String,
    /// Namespace of the workload.
    pub namespace: String,
    /// Name of the workload.
    pub name: String,
    /// Its containers and the images they run, in pod template order.
    pub containers: Vec<Container>,
}

/// A workload's containers and images.
#[utoipa::path(
    get,
    path = "/api/v1/workloads/{namespace}/{deployment}",
    tag = "rollback",
    params(WorkloadPath, KindQuery),
    responses(
        (status = 200, description = "The workload", body = WorkloadResponse),
        (status = 400, description = "Invalid path or kind", body = ErrorBody),
        (status = 404, description = "No such workload", body = ErrorBody),
    ),
)]
pub async fn workload(
    State(state): State<ApiState>,
    ValidPath(path): ValidPath<WorkloadPath>,
    kind: Result<Query<KindQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<WorkloadResponse>, ApiError> {
    let target = target(&path.namespace, &path.deployment, kind)?;
    let found = state.require_workload(&target).await?;

    Ok(Json(WorkloadResponse {
        kind: target.kind.to_string(),
        namespace: target.namespace,
        name: target.name,
        containers: found.containers,
    }))
}
