//! Extractors that turn every malformed input into an [`ApiError`] instead of axum's plain-text
//! rejections.
//!
//! - [`OptionalJson`] reads a JSON body that may be absent (approve, reject and rollback all work
//!   without one), enforces the body limit (413) and reports parse errors with the field
//!   (400).
//! - [`ValidPath`] reads path parameters and validates them as Kubernetes names (400).
//! - [`Approver`] decides who acts: an authenticated identity when an authentication layer put
//!   one in the request extensions, otherwise the body's `approver`, otherwise a placeholder.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The approver recorded when the request names none.
pub const ANONYMOUS_APPROVER: &str = "anonymous (no approver given)";

/// The largest accepted approver name.
const MAX_APPROVER_LEN: usize = 253;

/// A JSON body that may be empty, in which case `T::default()` is used.
#[derive(Debug, Clone, Default)]
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "request body is larger than the limit of {} bytes",
                        crate::BODY_LIMIT
                    ),
                )
            } else {
                ApiError::bad_request(format!("request body could not be read: {rejection}"))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }

        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))
    }
}

/// Path parameters, validated by [`PathParams::validate`].
#[derive(Debug, Clone)]
pub struct ValidPath<T>(pub T);

/// Path parameter sets that know how to validate themselves.
pub trait PathParams: DeserializeOwned + Send {
    /// Checks each parameter.
    ///
    /// # Errors
    ///
    /// An [`ApiError`] (400) naming the first invalid parameter.
    fn validate(&self) -> Result<(), ApiError>;
}

impl<T, S> FromRequestParts<S> for ValidPath<T>
where
    T: PathParams,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("invalid path: {e}")))?;
        params.validate()?;

        Ok(Self(params))
    }
}

/// An identity established by an authentication layer. When this extension is present on a
/// request it is the approver, and a different `approver` in the body is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthenticatedIdentity(pub String);

/// Who approves, rejects or rolls back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approver(pub String);

impl Approver {
    /// Decides the approver from the authenticated identity, if any, and the body's `approver`.
    ///
    /// # Errors
    ///
    /// 400 when the given name is empty, too long or holds control characters; 403 when it
    /// differs from the authenticated identity.
    pub fn resolve(
        identity: Option<&AuthenticatedIdentity>,
        claimed: Option<&str>,
    ) -> Result<Self, ApiError> {
        if let Some(claimed) = claimed {
            let bad = claimed.trim().is_empty()
                || claimed.len() > MAX_APPROVER_LEN
                || claimed.chars().any(char::is_control);
            if bad {
                return Err(ApiError::bad_request(format!(
                    "approver must be 1 to {MAX_APPROVER_LEN} printable characters"
                )));
            }
        }

        match (identity, claimed) {
            (Some(AuthenticatedIdentity(id)), Some(claimed)) if claimed != id => {
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!("authenticated as {id}; cannot act as {claimed}"),
                ))
            }
            (Some(AuthenticatedIdentity(id)), _) => Ok(Self(id.clone())),
            (None, Some(claimed)) => Ok(Self(claimed.to_owned())),
            (None, None) => Ok(Self(ANONYMOUS_APPROVER.to_owned())),
        }
    }
}
