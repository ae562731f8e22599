//! The core of headwind: approval-gated container image updates.
//!
//! This crate owns the domain model ([`types`]), the three backend traits ([`store`]), the
//! approval and rollback state machines ([`approval`], [`rollback`]), the policy engine
//! ([`policy`]) and in-memory backends ([`memory`]). It knows nothing of Kubernetes or HTTP:
//! `headwind-kube` implements the traits on a cluster and `headwind-http` serves the API.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use chrono::Utc;
//! use headwind_core::approval::{ApprovalService, ApproveOutcome};
//! use headwind_core::memory::{MemoryDeployer, MemoryHistoryStore, MemoryUpdateStore};
//! use headwind_core::policy::Policy;
//! use headwind_core::store::UpdateStore;
//! use headwind_core::types::{Container, UpdateRequest, Workload, WorkloadRef};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let web = WorkloadRef::deployment("default", "web")?;
//! let deployer = Arc::new(MemoryDeployer::new());
//! deployer.insert(Workload::new(web.clone(), vec![Container {
//!     name: "app".into(),
//!     image: "nginx:1.25.0".into(),
//! }]));
//! let updates = Arc::new(MemoryUpdateStore::new());
//! let request = UpdateRequest::pending(
//!     "web-app-1-26-0", &web, "app", ("nginx:1.25.0", "nginx:1.26.0"), Policy::Minor, Utc::now(),
//! );
//! let key = updates.create(request).await?.key();
//!
//! let service = ApprovalService::new(updates, deployer, Arc::new(MemoryHistoryStore::new()));
//! let outcome = service.approve(&key, "ann@example.com").await?;
//!
//! assert!(matches!(outcome, ApproveOutcome::Applied(_)));
//! # Ok(())
//! # }
//! ```

pub mod annotations;
pub mod approval;
pub mod detect;
pub mod events;
pub mod image;
pub mod index;
pub mod memory;
pub mod name;
pub mod policy;
pub mod rollback;
pub mod store;
pub mod types;

/// mockall mocks of the three backend traits, for tests of code built on them.
#[cfg(feature = "mock")]
pub mod mock {
    pub use crate::store::{MockDeployer, MockHistoryStore, MockUpdateStore};
}

pub use approval::ApprovalService;

/// An error and its sources, joined with `: `, for a message a person can act on.
#[must_use]
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();

    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }

    text
}

pub use rollback::RollbackService;
pub use store::{Deployer, HistoryStore, UpdateStore};
