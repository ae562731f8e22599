//! Prometheus metrics: the names existing dashboards use, each moved by the event it counts.
//!
//! [`Metrics`] is an [`Observer`] of the approval and rollback services, so each counter moves
//! exactly once per transition. `headwind_updates_pending` is read from the update store when
//! `/metrics` is scraped, so it is right whoever created or finished a request. HTTP requests
//! are counted per route by [`track`], a middleware on the API and webhook routers.
//!
//! Only metrics whose events exist in this crate are registered: a counter that can never move
//! would mislead a dashboard.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use headwind_core::events::{Event, Observer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::InternalCause;

/// Labels of the HTTP request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

/// Labels of the webhook counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

/// Labels of the skipped-updates counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

/// Labels of the HTTP latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

/// The registry and every metric headwind exposes.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    approved: Counter,
    rejected: Counter,
    expired: Counter,
    applied: Counter,
    failed: Counter,
    rollbacks: Counter,
    rollbacks_manual: Counter,
    rollbacks_failed: Counter,
    pending: Gauge,
    created: Counter,
    reconcile_errors: Counter,
    reconcile_duration: Histogram,
    skipped: Family<ReasonLabels, Counter>,
    skipped_interval: Counter,
    webhook_events: Family<SourceLabels, Counter>,
    webhook_processed: Family<SourceLabels, Counter>,
    http_requests: Family<RequestLabels, Counter>,
    http_latency: HistogramFamily,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let mut counter = |name: &str, help: &str| {
            let counter = Counter::default();
            registry.register(name, help, counter.clone());
            counter
        };

        let approved = counter("headwind_updates_approved", "Update requests approved");
        let rejected = counter("headwind_updates_rejected", "Update requests rejected");
        let expired = counter(
            "headwind_updates_expired",
            "Update requests that passed their deadline",
        );
        let applied = counter("headwind_updates_applied", "Updates applied to workloads");
        let failed = counter(
            "headwind_updates_failed",
            "Approved updates that failed to apply",
        );
        let rollbacks = counter("headwind_rollbacks", "Rollbacks performed");
        let rollbacks_manual = counter(
            "headwind_rollbacks_manual",
            "Rollbacks asked for by a person",
        );
        let rollbacks_failed = counter("headwind_rollbacks_failed", "Rollbacks that failed");

        let created = counter(
            "headwind_updates_created",
            "Update requests created by detection",
        );
        let skipped_interval = counter(
            "headwind_updates_skipped_interval",
            "Direct updates skipped because of headwind.sh/min-update-interval",
        );

        let reconcile_errors = counter(
            "headwind_reconcile_errors",
            "Reconciles of update requests that failed",
        );
        let reconcile_duration = latency_histogram();
        registry.register(
            "headwind_reconcile_duration_seconds",
            "Time to reconcile one update request",
            reconcile_duration.clone(),
        );

        let skipped = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "headwind_updates_skipped",
            "Proposed updates not acted on, by reason",
            skipped.clone(),
        );
        let webhook_events = Family::<SourceLabels, Counter>::default();
        registry.register(
            "headwind_webhook_events",
            "Registry webhook requests received",
            webhook_events.clone(),
        );
        let webhook_processed = Family::<SourceLabels, Counter>::default();
        registry.register(
            "headwind_webhook_events_processed",
            "Registry webhook requests processed to the end",
            webhook_processed.clone(),
        );

        let pending = Gauge::default();
        registry.register(
            "headwind_updates_pending",
            "Update requests waiting for approval",
            pending.clone(),
        );

        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "headwind_http_requests",
            "HTTP requests by route and status",
            http_requests.clone(),
        );
        let http_latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "headwind_http_request_duration_seconds",
            "HTTP request latency by route",
            http_latency.clone(),
        );

        Self {
            registry,
            approved,
            rejected,
            expired,
            applied,
            failed,
            rollbacks,
            rollbacks_manual,
            rollbacks_failed,
            pending,
            created,
            reconcile_errors,
            reconcile_duration,
            skipped,
            skipped_interval,
            webhook_events,
            webhook_processed,
            http_requests,
            http_latency,
        }
    }

    /// Counts a webhook request received from `source`.
    pub fn webhook_received(&self, source: &str) {
        self.webhook_events
            .get_or_create(&SourceLabels {
                source: source.to_owned(),
            })
            .inc();
    }

    /// Counts a webhook request of `source` processed to the end.
    pub fn webhook_processed(&self, source: &str) {
        self.webhook_processed
            .get_or_create(&SourceLabels {
                source: source.to_owned(),
            })
            .inc();
    }

    /// Sets the pending gauge.
    pub fn set_pending(&self, pending: usize) {
        self.pending.set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// The metrics in the OpenMetrics text format.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }

    fn record_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let labels = RequestLabels {
            method: method.to_owned(),
            route: route.to_owned(),
            status,
        };
        self.http_requests.get_or_create(&labels).inc();

        let route = RouteLabels {
            method: labels.method,
            route: labels.route,
        };
        self.http_latency.get_or_create(&route).observe(seconds);
    }
}

impl Observer for Metrics {
    fn observe(&self, event: &Event<'_>) {
        match event {
            Event::VoteRecorded { .. } => {}
            Event::Approved { .. } => {
                self.approved.inc();
            }
            Event::Rejected { .. } => {
                self.rejected.inc();
            }
            Event::Expired { .. } => {
                self.expired.inc();
            }
            Event::Applied { .. } => {
                self.applied.inc();
            }
            Event::Failed { .. } => {
                self.failed.inc();
            }
            Event::RolledBack { .. } => {
                self.rollbacks.inc();
                self.rollbacks_manual.inc();
            }
            Event::RollbackFailed { .. } => {
                self.rollbacks_failed.inc();
            }
            Event::Created { .. } => {
                self.created.inc();
            }
            Event::Reconciled { seconds, error } => {
                self.reconcile_duration.observe(*seconds);
                if error.is_some() {
                    self.reconcile_errors.inc();
                }
            }
            Event::Skipped { reason, .. } => {
                self.skipped
                    .get_or_create(&ReasonLabels {
                        reason: (*reason).to_owned(),
                    })
                    .inc();
                if *reason == "min_update_interval" {
                    self.skipped_interval.inc();
                }
            }
            _ => {}
        }
    }
}

/// Middleware: counts and times each request by route, and logs 5xx answers once with their
/// internal cause.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    // Clients choose the method; only the standard ones become label values, so a client cannot
    // create series without bound.
    let method = match request.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m,
        _ => "other",
    }
    .to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();

    let response = next.run(request).await;

    let status = response.status();
    metrics.record_request(
        &method,
        &route,
        status.as_u16(),
        started.elapsed().as_secs_f64(),
    );
    if status.is_server_error() {
        let cause = response
            .extensions()
            .get::<InternalCause>()
            .map(|c| c.0.as_str());
        tracing::error!(%method, %route, status = status.as_u16(), cause, "request failed");
    }

    response
}
