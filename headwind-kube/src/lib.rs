//! Kubernetes backends of headwind's core traits.
//!
//! This crate will hold the `UpdateRequest` custom resource and the Kubernetes implementations
//! of `UpdateStore`, `Deployer` and `HistoryStore`. It is an empty shell for now: the server runs
//! on the in-memory backends of `headwind-core` (see "Limitations" in README.md).
