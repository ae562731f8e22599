//! tower Services serving headwind's HTTP APIs.
//!
//! Three routers, one per listener of the server:
//!
//! - [`api_router`] (port 8081): the approval and rollback APIs under `/api/v1`, the OpenAPI
//!   document at `/api/v1/openapi.json`, `/health` and `/ready`;
//! - [`webhook_router`] (port 8080): the registry webhooks under `/webhook`, `/health` and
//!   `/ready`;
//! - [`metrics_router`] (port 9090): `/metrics` and `/health`.
//!
//! Each is an axum [`Router`], which is a tower `Service`, built from an [`ApiState`] over
//! `Arc<dyn UpdateStore>`, `Arc<dyn Deployer>` and `Arc<dyn HistoryStore>`, so an operator can
//! mount them in its own server (see `examples/embed.rs`). [`layers`] adds the standard
//! middleware: a tracing span per request, a timeout, a body limit, a concurrency limit, and
//! JSON answers for unknown routes (404) and methods (405).
//!
//! # Example
//!
//! ```
//! use std::sync::{Arc, LazyLock};
//!
//! use headwind_core::memory::{MemoryDeployer, MemoryHistoryStore, MemoryUpdateStore};
//! use headwind_http::{ApiState, Limits, api_router, layers};
//!
//! let state = ApiState::new(
//!     Arc::new(MemoryUpdateStore::new()),
//!     Arc::new(MemoryDeployer::new()),
//!     Arc::new(MemoryHistoryStore::new()),
//! );
//! let app: axum::Router = layers(api_router(state), &Limits::default());
//! ```

pub mod error;
pub mod extract;
pub mod metrics;
pub mod routes;
pub mod webhook;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{BoxError, Json, Router};
use headwind_core::detect::{DetectConfig, Detector};
use headwind_core::events::{Fanout, Observer};
use headwind_core::store::{Deployer, HistoryStore, UpdateStore, WorkloadIndex};
use headwind_core::types::{Workload, WorkloadRef};
use headwind_core::{ApprovalService, RollbackService};
use tower::ServiceBuilder;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorBody};
pub use metrics::Metrics;
pub use webhook::{Source, WebhookConfig};

/// The largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Shared state of the handlers: the backends and the services over them.
#[derive(Clone, Debug)]
pub struct ApiState {
    updates: Arc<dyn UpdateStore>,
    deployer: Arc<dyn Deployer>,
    history: Arc<dyn HistoryStore>,
    approvals: ApprovalService,
    rollbacks: RollbackService,
    metrics: Arc<Metrics>,
    observer: Arc<dyn Observer>,
    detection: Option<(Arc<dyn WorkloadIndex>, DetectConfig)>,
    detector: Option<Detector>,
    webhooks: Arc<WebhookConfig>,
}

impl ApiState {
    /// State over the three backends, with a fresh metrics registry.
    #[must_use]
    pub fn new(
        updates: Arc<dyn UpdateStore>,
        deployer: Arc<dyn Deployer>,
        history: Arc<dyn HistoryStore>,
    ) -> Self {
        Self::with_metrics(updates, deployer, history, Arc::new(Metrics::new()))
    }

    /// State over the three backends, reporting to `metrics`.
    #[must_use]
    pub fn with_metrics(
        updates: Arc<dyn UpdateStore>,
        deployer: Arc<dyn Deployer>,
        history: Arc<dyn HistoryStore>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let approvals = ApprovalService::new(updates.clone(), deployer.clone(), history.clone());
        let rollbacks = RollbackService::new(deployer.clone(), history.clone());
        let state = Self {
            updates,
            deployer,
            history,
            approvals,
            rollbacks,
            observer: metrics.clone(),
            metrics,
            detection: None,
            detector: None,
            webhooks: Arc::new(WebhookConfig::new()),
        };

        state.rebuild()
    }

    /// Reports every event to `observer` too (Kubernetes Events, say), after the metrics.
    #[must_use]
    pub fn with_events(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Arc::new(Fanout(vec![self.metrics.clone(), observer]));
        self.rebuild()
    }

    /// Turns on update detection for the webhooks: workloads are found through `index`.
    #[must_use]
    pub fn with_detection(mut self, index: Arc<dyn WorkloadIndex>, config: DetectConfig) -> Self {
        self.detection = Some((index, config));
        self.rebuild()
    }

    /// Sets the webhook secrets and registry host.
    #[must_use]
    pub fn with_webhooks(mut self, webhooks: WebhookConfig) -> Self {
        self.webhooks = Arc::new(webhooks);
        self
    }

    /// Builds the services from the backends, the observer and the detection settings.
    fn rebuild(mut self) -> Self {
        let (updates, deployer, history) = (&self.updates, &self.deployer, &self.history);
        self.approvals = ApprovalService::new(updates.clone(), deployer.clone(), history.clone())
            .with_observer(self.observer.clone());
        self.rollbacks = RollbackService::new(deployer.clone(), history.clone())
            .with_observer(self.observer.clone());
        self.detector = self.detection.as_ref().map(|(index, config)| {
            Detector::new(
                index.clone(),
                updates.clone(),
                history.clone(),
                self.approvals.clone(),
            )
            .with_config(config.clone())
            .with_observer(self.observer.clone())
        });

        self
    }

    /// The approval service the handlers use.
    #[must_use]
    pub fn approvals(&self) -> &ApprovalService {
        &self.approvals
    }

    /// The metrics registry.
    #[must_use]
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    async fn require_workload(&self, workload: &WorkloadRef) -> Result<Workload, ApiError> {
        use headwind_core::store::DeployError;

        match self.deployer.workload(workload).await {
            Ok(found) => Ok(found),
            Err(DeployError::WorkloadNotFound { .. }) => {
                Err(ApiError::not_found(format!("{workload} not found")))
            }
            Err(error) => Err(ApiError::internal(
                StatusCode::BAD_GATEWAY,
                format!("{workload} could not be read; try again"),
                &error,
            )),
        }
    }
}

/// Settings of the standard middleware.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Longest time a request may take, queueing included.
    pub timeout: Duration,
    /// Most requests served at once; further ones wait for a slot (within the timeout).
    pub concurrency: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            concurrency: 1024,
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "headwind",
        description = "Approval-gated container image updates on Kubernetes",
        license(name = "Apache-2.0"),
    ),
    tags(
        (name = "updates", description = "UpdateRequests and their approval"),
        (name = "rollback", description = "History and rollbacks of workloads"),
        (name = "health", description = "Liveness and readiness"),
    ),
)]
struct ApiDoc;

/// The approval and rollback APIs, `/health`, `/ready` and `/api/v1/openapi.json`.
pub fn api_router(state: ApiState) -> Router {
    let metrics = state.metrics.clone();
    let (router, _) = api_routes().with_state(state).split_for_parts();

    router.layer(axum::middleware::from_fn_with_state(
        metrics,
        metrics::track,
    ))
}

/// The OpenAPI document of [`api_router`], generated from the handlers.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, spec) = api_routes().split_for_parts();
    spec
}

fn api_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(routes::updates::list))
        .routes(routes!(routes::updates::get))
        .routes(routes!(routes::updates::approve))
        .routes(routes!(routes::updates::reject))
        .routes(routes!(routes::rollback::history))
        .routes(routes!(routes::rollback::rollback))
        .routes(routes!(routes::rollback::blocks))
        .routes(routes!(routes::rollback::unblock))
        .routes(routes!(routes::workloads::workload))
        .routes(routes!(routes::health::health))
        .routes(routes!(routes::health::ready))
        .routes(routes!(openapi_json))
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "health",
    responses((status = 200, description = "The OpenAPI 3 document of this API")),
)]
async fn openapi_json() -> Json<&'static utoipa::openapi::OpenApi> {
    static SPEC: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(openapi);

    Json(&SPEC)
}

/// The registry webhooks (`POST /webhook/{source}`), `/health` and `/ready`, for the webhook
/// listener.
pub fn webhook_router(state: ApiState) -> Router {
    let metrics = state.metrics.clone();
    let mut router = Router::new()
        .route("/health", get(routes::health::health))
        .route("/ready", get(routes::health::ready));

    for source in Source::ALL {
        let handler = move |state, headers, query, body| {
            webhook::receive(source, state, headers, query, body)
        };
        router = router.route(
            &format!("/webhook/{}", source.label()),
            axum::routing::post(handler),
        );
    }

    router
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
}

/// `/metrics` and `/health`, for the metrics listener.
pub fn metrics_router(state: ApiState) -> Router {
    Router::new()
        .route("/metrics", get(routes::health::metrics))
        .route("/health", get(routes::health::health))
        .with_state(state)
}

/// Adds the standard middleware to a router: JSON 404 and 405 answers, a body limit of
/// [`BODY_LIMIT`], a concurrency limit and a timeout (both answered as JSON 503), and a
/// tracing span per request.
pub fn layers(router: Router, limits: &Limits) -> Router {
    let guard = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overloaded))
        .timeout(limits.timeout)
        .concurrency_limit(limits.concurrency);

    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(guard)
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
}

/// The span of one request: method and path only. The query is left out because webhook
/// tokens travel in it (`?token=`) for registries that cannot set headers.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} is not allowed on {}", uri.path()),
    )
}

async fn overloaded(error: BoxError) -> axum::response::Response {
    if error.is::<tower::timeout::error::Elapsed>() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "request timed out; try again",
        )
        .into_response();
    }

    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("request not served: {error}"),
    )
    .into_response()
}
