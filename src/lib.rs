//! headwind: approval-gated container image updates on Kubernetes.
//!
//! This facade re-exports the member crates and holds the server that the example binary runs:
//!
//! - [`core`] (`headwind-core`): the domain model, the backend traits, the approval and rollback
//!   state machines, the policy engine and the in-memory backends;
//! - [`http`] (`headwind-http`): the HTTP APIs as tower Services;
//! - [`kube`] (`headwind-kube`): the Kubernetes backends;
//! - [`server`]: the three listeners over one set of backends;
//! - [`workloads`]: loading workloads from Kubernetes manifests into the memory backend.

pub use headwind_core as core;
pub use headwind_http as http;
pub use headwind_kube as kube;

pub mod server;
pub mod workloads;
