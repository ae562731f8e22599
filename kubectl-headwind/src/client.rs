//! [`HeadwindClient`]: a typed async client for headwind's approval and rollback API.
//!
//! Every method validates the names it puts in a URL with [`headwind_core::name`] before any
//! request is sent, so a path can never be bent by a `/` or `..` in a name, and answers with the
//! types the server serialises. Error answers (`{"error": "...", "code": N}`) become
//! [`Error::Api`]; a server that cannot be reached is [`Error::Unreachable`]. Choosing what to
//! do with an answer, printing it or retrying, is left to the caller.

use std::time::Duration;

use headwind_core::name::{self, InvalidName};
use headwind_core::types::UpdateRequest;
use headwind_http::ErrorBody;
use headwind_http::routes::rollback::{HistoryResponse, RollbackResponse};
use headwind_http::routes::updates::DecisionResponse;
use headwind_http::routes::workloads::WorkloadResponse;
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How long connecting may take before the API counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one request may take, answer included, before the API counts as unreachable.
///
/// An approval applies the image before it answers, so this leaves room for a slow deploy.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest part of an unexpected body kept in an error.
const BODY_EXCERPT_LEN: usize = 200;

/// What went wrong talking to the API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The base URL does not parse, or uses a scheme this client cannot speak.
    #[error("invalid API URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A namespace, name or container name is not a valid Kubernetes name; nothing was sent.
    #[error(transparent)]
    InvalidName(#[from] InvalidName),

    /// No answer came: connection refused, the host does not resolve, or the request timed out.
    #[error("cannot reach the headwind API at {url}")]
    Unreachable {
        /// The URL requested.
        url: String,
        /// The transport's error.
        #[source]
        source: reqwest::Error,
    },

    /// The connection broke while the request was sent or the answer read.
    #[error("request to {url} failed")]
    Transport {
        /// The URL requested.
        url: String,
        /// The transport's error.
        #[source]
        source: reqwest::Error,
    },

    /// The API answered with an error status; `message` is its `error` field.
    #[error("{message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// What the API said went wrong (or, for a body that is not the API's error shape, the
        /// status and the start of the body).
        message: String,
    },

    /// The API answered with a success status and a body that is not what it documents.
    #[error("unexpected answer from {url} (HTTP {status}): {excerpt}")]
    Decode {
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        excerpt: String,
        /// Why it does not decode.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// The HTTP status of an [`Error::Api`] answer.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the server could not be reached at all.
    #[must_use]
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

/// The result of a client call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A client of the headwind API at one base URL, such as `http://localhost:8081`.
///
/// Cloning is cheap: clones share one connection pool.
///
/// # Limitations
///
/// Only `http://` URLs are supported: the client is built without TLS, as the API is reached
/// through `kubectl port-forward` or from inside the cluster.
#[derive(Clone, Debug)]
pub struct HeadwindClient {
    base: Url,
    http: reqwest::Client,
}

#[derive(Serialize)]
struct ApproverBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    approver: Option<&'a str>,
}

#[derive(Serialize)]
struct RejectBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    approver: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

impl HeadwindClient {
    /// A client of the API at `base_url`, with [`CONNECT_TIMEOUT`] and [`DEFAULT_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] when `base_url` does not parse or is not `http://`.
    pub fn new(base_url: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(DEFAULT_TIMEOUT)
            .build()
            .map_err(|e| invalid_url(base_url, &e.to_string()))?;

        Self::with_client(base_url, http)
    }

    /// A client of the API at `base_url` sending through `http` (for custom timeouts or
    /// headers, such as those of an authenticating proxy).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] when `base_url` does not parse or is not `http://`.
    pub fn with_client(base_url: &str, http: reqwest::Client) -> Result<Self> {
        let mut base = Url::parse(base_url).map_err(|e| invalid_url(base_url, &e.to_string()))?;
        if base.scheme() != "http" {
            let reason = format!(
                "scheme {} is not supported, only http (use kubectl port-forward)",
                base.scheme()
            );
            return Err(invalid_url(base_url, &reason));
        }
        if base.cannot_be_a_base() || base.host().is_none() {
            return Err(invalid_url(base_url, "it has no host"));
        }

        // A base with a path prefix (behind a proxy) keeps it: joining appends to it.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }

        Ok(Self { base, http })
    }

    /// The base URL requests are sent under.
    #[must_use]
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Every update request, or those of one namespace (`GET /api/v1/updates`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] for an invalid namespace, otherwise as [`Error`] describes.
    pub async fn list_updates(&self, namespace: Option<&str>) -> Result<Vec<UpdateRequest>> {
        let mut url = self.url("api/v1/updates");
        if let Some(namespace) = namespace {
            name::validate_namespace(namespace)?;
            url.query_pairs_mut().append_pair("namespace", namespace);
        }

        self.send(Method::GET, url, None::<&()>).await
    }

    /// One update request (`GET /api/v1/updates/{namespace}/{name}`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] for an invalid namespace or name; [`Error::Api`] with status 404
    /// for an unknown request.
    pub async fn get_update(&self, namespace: &str, name: &str) -> Result<UpdateRequest> {
        let url = self.request_url(namespace, name, "")?;

        self.send(Method::GET, url, None::<&()>).await
    }

    /// Approves a request; the API applies it once enough approvers have approved
    /// (`POST /api/v1/updates/{namespace}/{name}/approve`).
    ///
    /// Without an approver the server records a placeholder saying none was given.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] with status 404 for an unknown request, 409 for one that is not Pending
    /// (or expired, or already approved by this approver), 500 for a failed deploy.
    pub async fn approve(
        &self,
        namespace: &str,
        name: &str,
        approver: Option<&str>,
    ) -> Result<DecisionResponse> {
        let url = self.request_url(namespace, name, "/approve")?;
        let body = ApproverBody { approver };

        self.send(Method::POST, url, Some(&body)).await
    }

    /// Rejects a request; its image is not proposed again for that container
    /// (`POST /api/v1/updates/{namespace}/{name}/reject`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] with status 404 for an unknown request, 409 for one that is not Pending,
    /// 400 for a reason over 1024 bytes.
    pub async fn reject(
        &self,
        namespace: &str,
        name: &str,
        reason: Option<&str>,
        approver: Option<&str>,
    ) -> Result<DecisionResponse> {
        let url = self.request_url(namespace, name, "/reject")?;
        let body = RejectBody { approver, reason };

        self.send(Method::POST, url, Some(&body)).await
    }

    /// The last images applied to a Deployment, newest first
    /// (`GET /api/v1/rollback/{namespace}/{deployment}/history`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] with status 404 for an unknown workload.
    pub async fn history(&self, namespace: &str, deployment: &str) -> Result<HistoryResponse> {
        let url = self.workload_url("api/v1/rollback", namespace, deployment, "/history")?;

        self.send(Method::GET, url, None::<&()>).await
    }

    /// Rolls a container of a Deployment back to the image before its current one
    /// (`POST /api/v1/rollback/{namespace}/{deployment}/{container}`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] for an invalid container name; [`Error::Api`] with status 404 for
    /// an unknown workload or container, 409 when there is nothing to roll back to.
    pub async fn rollback(
        &self,
        namespace: &str,
        deployment: &str,
        container: &str,
        approver: Option<&str>,
    ) -> Result<RollbackResponse> {
        name::validate_container(container)?;
        let suffix = format!("/{container}");
        let url = self.workload_url("api/v1/rollback", namespace, deployment, &suffix)?;
        let body = ApproverBody { approver };

        self.send(Method::POST, url, Some(&body)).await
    }

    /// A Deployment's containers and the images they run
    /// (`GET /api/v1/workloads/{namespace}/{name}`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] with status 404 for an unknown workload.
    pub async fn workload(&self, namespace: &str, name: &str) -> Result<WorkloadResponse> {
        let url = self.workload_url("api/v1/workloads", namespace, name, "")?;

        self.send(Method::GET, url, None::<&()>).await
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}{path}", self.base.path());
        url.set_path(&joined);

        url
    }

    fn request_url(&self, namespace: &str, name: &str, suffix: &str) -> Result<Url> {
        name::validate_namespace(namespace)?;
        name::validate_name(name)?;

        // Validated names are DNS-1123 labels and subdomains: nothing in them needs encoding.
        Ok(self.url(&format!("api/v1/updates/{namespace}/{name}{suffix}")))
    }

    fn workload_url(&self, prefix: &str, namespace: &str, name: &str, suffix: &str) -> Result<Url> {
        name::validate_namespace(namespace)?;
        name::validate_name(name)?;

        Ok(self.url(&format!("{prefix}/{namespace}/{name}{suffix}")))
    }

    async fn send<B, T>(&self, method: Method, url: Url, body: Option<&B>) -> Result<T>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let shown = url.to_string();
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }

        let response = request.send().await.map_err(|source| {
            if source.is_connect() || source.is_timeout() {
                Error::Unreachable {
                    url: shown.clone(),
                    source,
                }
            } else {
                Error::Transport {
                    url: shown.clone(),
                    source,
                }
            }
        })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|source| Error::Transport {
            url: shown.clone(),
            source,
        })?;

        if !status.is_success() {
            return Err(api_error(status, &bytes));
        }

        serde_json::from_slice(&bytes).map_err(|source| Error::Decode {
            url: shown,
            status: status.as_u16(),
            excerpt: excerpt(&bytes),
            source,
        })
    }
}

fn invalid_url(url: &str, reason: &str) -> Error {
    Error::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    }
}

/// The API's own message when the body is its error shape, else the status and the body.
fn api_error(status: reqwest::StatusCode, body: &[u8]) -> Error {
    let message = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => parsed.error,
        Err(_) => {
            let text = excerpt(body);
            if text.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {text}")
            }
        }
    };

    Error::Api {
        status: status.as_u16(),
        message,
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);

    text.trim().chars().take(BODY_EXCERPT_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_without_trailing_slash_keeps_its_path_prefix() {
        let client = HeadwindClient::new("http://proxy.local:8080/headwind").unwrap();

        let url = client.url("api/v1/updates");

        assert_eq!(
            url.as_str(),
            "http://proxy.local:8080/headwind/api/v1/updates"
        );
    }

    #[test]
    fn plain_base_url_joins_api_paths_at_the_root() {
        let client = HeadwindClient::new("http://localhost:8081").unwrap();

        let url = client.request_url("default", "nginx-update-1-26-0", "/approve");

        assert_eq!(
            url.unwrap().as_str(),
            "http://localhost:8081/api/v1/updates/default/nginx-update-1-26-0/approve"
        );
    }

    #[test]
    fn https_and_garbage_base_urls_are_refused() {
        for bad in [
            "https://headwind:8081",
            "localhost:8081",
            "not a url",
            "file:///x",
        ] {
            let err = HeadwindClient::new(bad).unwrap_err();

            assert!(matches!(err, Error::InvalidUrl { .. }), "{bad}: {err:?}");
        }
    }

    #[test]
    fn names_that_could_bend_the_path_are_refused_before_sending() {
        let client = HeadwindClient::new("http://localhost:8081").unwrap();

        for (namespace, name) in [("default", "../x"), ("a/b", "n"), ("default", "a?b=c")] {
            let err = client.request_url(namespace, name, "").unwrap_err();

            assert!(matches!(err, Error::InvalidName(_)), "{namespace}/{name}");
        }
    }

    #[test]
    fn api_error_body_gives_its_message_and_status() {
        let body = br#"{"error":"UpdateRequest default/x not found","code":404}"#;

        let err = api_error(reqwest::StatusCode::NOT_FOUND, body);

        assert_eq!(err.status(), Some(404));
        assert_eq!(err.to_string(), "UpdateRequest default/x not found");
    }

    #[test]
    fn error_status_with_foreign_body_names_the_status_and_body() {
        let err = api_error(
            reqwest::StatusCode::BAD_GATEWAY,
            b"<html>bad gateway</html>\n",
        );

        assert_eq!(err.status(), Some(502));
        assert_eq!(
            err.to_string(),
            "HTTP 502 Bad Gateway: <html>bad gateway</html>"
        );
    }
}
