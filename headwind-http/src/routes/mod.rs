//! Route handlers, one module per resource.

pub mod health;
pub mod rollback;
pub mod updates;
pub mod workloads;
