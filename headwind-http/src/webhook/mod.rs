//! Registry webhooks: `POST /webhook/{source}` on the webhook listener (8080).
//!
//! Each source has its own route and payload parser ([`payloads`]). When a secret is set for a
//! source, a request must prove it knows it, or it gets 401 and changes nothing:
//!
//! - GitHub (`ghcr`) signs the body: `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>`.
//! - Every other source sends a token, as `Authorization: Bearer <token>`, as the bare
//!   `Authorization` value (Harbor sends its configured header verbatim), or as `?token=` in the
//!   URL for registries that cannot set headers (Docker Hub, Quay).
//!
//! The answer comes after the event was processed: 200 with a finding per workload container,
//! 400 for a malformed payload. Comparisons of secrets take constant time.

pub mod payloads;

use std::collections::HashMap;
use std::fmt;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use headwind_core::detect::{Finding, Origin};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::ApiState;
use crate::error::ApiError;
use payloads::{Parsed, PayloadError};

/// A registry that can send webhooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Docker Hub.
    DockerHub,
    /// The CNCF distribution registry (and GitLab's, and others built on it).
    Registry,
    /// Harbor.
    Harbor,
    /// Quay.
    Quay,
    /// GitHub Container Registry.
    Ghcr,
    /// Azure Container Registry.
    Acr,
}

impl Source {
    /// Every source.
    pub const ALL: [Self; 6] = [
        Self::DockerHub,
        Self::Registry,
        Self::Harbor,
        Self::Quay,
        Self::Ghcr,
        Self::Acr,
    ];

    /// The route segment and metric label: `/webhook/{label}`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::DockerHub => "dockerhub",
            Self::Registry => "registry",
            Self::Harbor => "harbor",
            Self::Quay => "quay",
            Self::Ghcr => "ghcr",
            Self::Acr => "acr",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Settings of the webhook endpoints.
#[derive(Clone, Default)]
pub struct WebhookConfig {
    secrets: HashMap<Source, String>,
    registry_host: Option<String>,
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secrets stay out of logs and debug output.
        let protected: Vec<_> = self.secrets.keys().map(|s| s.label()).collect();
        f.debug_struct("WebhookConfig")
            .field("protected", &protected)
            .field("registry_host", &self.registry_host)
            .finish()
    }
}

impl WebhookConfig {
    /// No secrets, registry host from each event.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires `secret` on the endpoint of `source` (an HMAC key for `ghcr`, a token for the
    /// others). An empty secret is ignored.
    #[must_use]
    pub fn with_secret(mut self, source: Source, secret: &str) -> Self {
        if !secret.is_empty() {
            self.secrets.insert(source, secret.to_owned());
        }
        self
    }

    /// The registry host of distribution and ACR events, instead of their `request.host`.
    #[must_use]
    pub fn with_registry_host(mut self, host: &str) -> Self {
        self.registry_host = Some(host.to_owned()).filter(|h| !h.is_empty());
        self
    }

    /// The sources whose endpoint takes requests without a secret.
    #[must_use]
    pub fn unprotected(&self) -> Vec<&'static str> {
        Source::ALL
            .iter()
            .filter(|s| !self.secrets.contains_key(s))
            .map(|s| s.label())
            .collect()
    }

    fn authorize(
        &self,
        source: Source,
        headers: &HeaderMap,
        token: Option<&str>,
        body: &[u8],
    ) -> bool {
        let Some(secret) = self.secrets.get(&source) else {
            return true;
        };
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());

        if source == Source::Ghcr {
            let Some(signature) =
                header("x-hub-signature-256").and_then(|s| s.strip_prefix("sha256="))
            else {
                return false;
            };
            let Ok(signature) = hex::decode(signature) else {
                return false;
            };
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
                return false;
            };
            mac.update(body);
            return mac.verify_slice(&signature).is_ok();
        }

        let presented = header("authorization")
            .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim())
            .or(token);
        presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(secret.as_bytes())))
    }
}

/// `?token=` for registries that cannot set headers.
#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// The answer to a webhook.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookResponse {
    /// The source, as in the route.
    pub source: String,
    /// Tag pushes found in the payload.
    pub pushes: usize,
    /// Other events in the payload (blob pushes, pulls, ...), ignored.
    pub ignored: usize,
    /// What was done for each workload container that runs a pushed repository.
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<Finding>,
}

/// Handles one webhook request of `source`.
pub(crate) async fn receive(
    source: Source,
    State(state): State<ApiState>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> Result<Json<WebhookResponse>, ApiError> {
    state.metrics.webhook_received(source.label());
    let token = query.ok().and_then(|Query(q)| q.token);
    if !state
        .webhooks
        .authorize(source, &headers, token.as_deref(), &body)
    {
        tracing::warn!(%source, "webhook refused: missing or invalid secret");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!("the {source} webhook needs a valid secret"),
        ));
    }
    let Some(detector) = state.detector.as_ref() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "update detection is not configured on this server",
        ));
    };

    let host = state.webhooks.registry_host.as_deref();
    let parsed: Parsed = match source {
        Source::DockerHub => payloads::docker_hub(&body),
        Source::Registry => payloads::distribution(&body, host),
        Source::Harbor => payloads::harbor(&body),
        Source::Quay => payloads::quay(&body),
        Source::Ghcr => payloads::ghcr(&body),
        Source::Acr => payloads::acr(&body, host),
    }
    .map_err(|e: PayloadError| ApiError::bad_request(e.to_string()))?;

    let mut results = Vec::new();
    for push in &parsed.pushes {
        tracing::info!(%source, repository = %push.repository, tag = %push.tag, "image pushed");
        match detector.on_push(push, Origin::Webhook).await {
            Ok(found) => results.extend(found),
            Err(error) => {
                return Err(ApiError::internal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the workloads could not be looked up; the registry may retry",
                    &error,
                ));
            }
        }
    }
    state.metrics.webhook_processed(source.label());

    Ok(Json(WebhookResponse {
        source: source.label().to_owned(),
        pushes: parsed.pushes.len(),
        ignored: parsed.ignored,
        results,
    }))
}
