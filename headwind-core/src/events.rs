//! Facts the approval and rollback services report as they happen.
//!
//! Services hand each [`Event`] to an [`Observer`] right after the write that made it true
//! succeeded, so an event is reported once per transition, whichever replica or caller won.
//! The HTTP crate turns events into Prometheus counters; a Kubernetes adapter can turn them
//! into Kubernetes Events.

use std::fmt;

use crate::types::{ObjectKey, WorkloadRef};

/// Something that happened to an update request or a workload.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A controller reconciled one request.
    Reconciled {
        /// How long it took.
        seconds: f64,
        /// The error label when it failed.
        error: Option<&'static str>,
    },
    /// Detection created a request.
    Created {
        /// The request.
        key: &'a ObjectKey,
    },
    /// Detection did not act on a container; `reason` is a short snake_case label.
    Skipped {
        /// The workload.
        workload: &'a WorkloadRef,
        /// The container.
        container: &'a str,
        /// Why, as a metric label (`min_update_interval`, `blocked`, `downgrade`, ...).
        reason: &'static str,
    },
    /// A vote was recorded; the request stays Pending.
    VoteRecorded {
        /// The request.
        key: &'a ObjectKey,
        /// Who voted.
        approver: &'a str,
        /// Votes still missing.
        missing: u32,
    },
    /// The request moved to Approved.
    Approved {
        /// The request.
        key: &'a ObjectKey,
        /// The deciding approver.
        approver: &'a str,
    },
    /// The request was rejected.
    Rejected {
        /// The request.
        key: &'a ObjectKey,
        /// Who rejected it.
        approver: &'a str,
    },
    /// The request passed its deadline.
    Expired {
        /// The request.
        key: &'a ObjectKey,
    },
    /// The request's image is in place and the request is Completed.
    Applied {
        /// The request.
        key: &'a ObjectKey,
        /// The workload changed.
        workload: &'a WorkloadRef,
        /// The container changed.
        container: &'a str,
        /// The image now running.
        image: &'a str,
    },
    /// Applying failed and the request is Failed.
    Failed {
        /// The request.
        key: &'a ObjectKey,
        /// What went wrong.
        cause: &'a str,
    },
    /// A container was rolled back.
    RolledBack {
        /// The workload.
        workload: &'a WorkloadRef,
        /// The container.
        container: &'a str,
        /// The image it ran.
        from: &'a str,
        /// The image it runs now.
        to: &'a str,
    },
    /// A rollback was attempted and failed.
    RollbackFailed {
        /// The workload.
        workload: &'a WorkloadRef,
        /// The container.
        container: &'a str,
    },
}

/// Receives [`Event`]s. Implementations must be cheap and must not block: they run inline.
pub trait Observer: Send + Sync + fmt::Debug {
    /// Called once per event.
    fn observe(&self, event: &Event<'_>);
}

/// An [`Observer`] that hands each event to several others, in order.
#[derive(Clone, Debug, Default)]
pub struct Fanout(pub Vec<std::sync::Arc<dyn Observer>>);

impl Observer for Fanout {
    fn observe(&self, event: &Event<'_>) {
        for observer in &self.0 {
            observer.observe(event);
        }
    }
}

/// An [`Observer`] that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopObserver;

impl Observer for NoopObserver {
    fn observe(&self, _event: &Event<'_>) {}
}
