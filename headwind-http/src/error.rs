//! [`ApiError`]: every error the HTTP API answers, as `{"error": "...", "code": N}`.
//!
//! One `match` per source error picks the status. Client mistakes are 4xx with a message a
//! person can act on. Server-side failures are 5xx; their internal cause travels to the logging
//! middleware in a response extension ([`InternalCause`]) and stays out of the body, except for
//! a failed deploy, whose cause is the answer the caller needs (it is also stored in the
//! request's `status.message`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use headwind_core::approval::{self, transition::TransitionError};
use headwind_core::error_chain;
use headwind_core::name::InvalidName;
use headwind_core::rollback;
use headwind_core::store::{HistoryError, StoreError};
use serde::{Deserialize, Serialize};

/// The JSON body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
    /// The HTTP status code, repeated.
    pub code: u16,
}

/// The internal cause of a 5xx answer, attached to the response for the logging middleware.
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    internal: Option<String>,
}

impl ApiError {
    /// An answer with this status and message.
    #[must_use]
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            internal: None,
        }
    }

    /// 400 Bad Request.
    #[must_use]
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 Not Found.
    #[must_use]
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409 Conflict.
    #[must_use]
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// A 5xx answer whose body says `message` and whose cause is only logged.
    #[must_use]
    pub fn internal(
        status: StatusCode,
        message: impl Into<String>,
        cause: &dyn std::error::Error,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            internal: Some(error_chain(cause)),
        }
    }

    /// The status of the answer.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message of the answer.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            code: self.status.as_u16(),
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(cause) = self.internal {
            response.extensions_mut().insert(InternalCause(cause));
        }

        response
    }
}

impl From<InvalidName> for ApiError {
    fn from(error: InvalidName) -> Self {
        Self::bad_request(error.to_string())
    }
}

impl From<approval::Error> for ApiError {
    fn from(error: approval::Error) -> Self {
        use approval::Error as E;

        match &error {
            E::NotFound { key } => Self::not_found(format!("UpdateRequest {key} not found")),
            E::Transition { key, source } => match source {
                TransitionError::InvalidTransition { phase, action } => Self::conflict(format!(
                    "cannot {action} UpdateRequest {key}: it is {phase}, not Pending"
                )),
                other => Self::conflict(format!("UpdateRequest {key}: {other}")),
            },
            E::Expired { .. } | E::Conflict { .. } => Self::conflict(error.to_string()),
            E::ForeignTarget { .. } => Self::new(StatusCode::FORBIDDEN, error.to_string()),
            E::DeployUnavailable { key, .. } => Self::internal(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "UpdateRequest {key} is approved but the workload could not be reached to \
                     apply it; it stays Approved and is applied when headwind retries"
                ),
                &error,
            ),
            E::ApplyFailed { key, cause, .. } => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("UpdateRequest {key} failed: {cause}"),
            ),
            E::Store { key, .. } => Self::internal(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the update store could not be reached for {key}; try again"),
                &error,
            ),
            E::History { key, .. } => Self::internal(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "UpdateRequest {key} was applied but its history could not be recorded; \
                     it stays Approved and is finished on the next resume"
                ),
                &error,
            ),
        }
    }
}

impl From<rollback::Error> for ApiError {
    fn from(error: rollback::Error) -> Self {
        use rollback::Error as E;

        match &error {
            E::WorkloadNotFound { .. } | E::ContainerNotFound { .. } => {
                Self::not_found(error.to_string())
            }
            E::NothingToRollBack { .. } | E::Conflict { .. } => Self::conflict(error.to_string()),
            E::Deploy { workload, .. } => Self::internal(
                StatusCode::BAD_GATEWAY,
                format!("the image of {workload} could not be changed; try again"),
                &error,
            ),
            E::History { workload, .. } => Self::internal(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the history of {workload} could not be read or written"),
                &error,
            ),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::NotFound { key } => {
                Self::not_found(format!("UpdateRequest {key} not found"))
            }
            StoreError::AlreadyExists { .. } | StoreError::Conflict { .. } => {
                Self::conflict(error.to_string())
            }
            StoreError::Backend { .. } => Self::internal(
                StatusCode::SERVICE_UNAVAILABLE,
                "the update store could not be reached; try again",
                &error,
            ),
        }
    }
}

impl From<HistoryError> for ApiError {
    fn from(error: HistoryError) -> Self {
        match &error {
            HistoryError::WorkloadNotFound { .. } => Self::not_found(error.to_string()),
            HistoryError::Corrupt { workload, .. } => Self::internal(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the history of {workload} is unreadable and needs repair"),
                &error,
            ),
            HistoryError::Backend { workload, .. } => Self::internal(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the history of {workload} could not be read or written"),
                &error,
            ),
        }
    }
}
