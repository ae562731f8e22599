//! `/health`, `/ready` and `/metrics`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};

/// The body of `/health` and of a ready `/ready`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusBody {
    /// `healthy` or `ready`.
    pub status: String,
}

/// Liveness: the process serves requests.
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    responses((status = 200, description = "The process is alive", body = StatusBody)),
)]
pub async fn health() -> Json<StatusBody> {
    Json(StatusBody {
        status: "healthy".to_owned(),
    })
}

/// Readiness: the backends can answer (on Kubernetes, the watch cache has synced).
#[utoipa::path(
    get,
    path = "/ready",
    tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = StatusBody),
        (status = 503, description = "The backends are not ready yet", body = ErrorBody),
    ),
)]
pub async fn ready(State(state): State<ApiState>) -> Result<Json<StatusBody>, ApiError> {
    if !state.updates.is_ready() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the update store has not finished its initial sync",
        ));
    }

    Ok(Json(StatusBody {
        status: "ready".to_owned(),
    }))
}

/// The metrics in the Prometheus (OpenMetrics) text format.
pub async fn metrics(State(state): State<ApiState>) -> Response {
    // The pending gauge is read at scrape time, so it is right whoever changed a request.
    match state.updates.list(None).await {
        Ok(all) => {
            let pending = all
                .iter()
                .filter(|r| r.status.phase == headwind_core::types::Phase::Pending)
                .count();
            state.metrics.set_pending(pending);
        }
        Err(error) => tracing::warn!(%error, "could not count pending requests for /metrics"),
    }

    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    (
        [(header::CONTENT_TYPE, content_type)],
        state.metrics.encode(),
    )
        .into_response()
}
