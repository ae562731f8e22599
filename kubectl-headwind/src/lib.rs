//! kubectl-headwind: a typed client for headwind's HTTP API, and the parts of its kubectl plugin.
//!
//! [`HeadwindClient`] speaks the approval and rollback API (port 8081) with the request and
//! answer types of `headwind-core` and `headwind-http`, so programs that embed headwind can use
//! it as well as the plugin. The other modules hold what the `kubectl-headwind` binary needs
//! and can be tested without a terminal or a server:
//!
//! - [`client`]: the client and its [`client::Error`];
//! - [`kubeconfig`]: the namespace of the current kubeconfig context;
//! - [`age`]: ages as `kubectl get` prints them (`5s`, `3m20s`, `2h`, `4d`);
//! - [`table`]: `kubectl get`-style tables, coloured or not;
//! - [`choose`]: picking one container of a workload, on a terminal or not.
//!
//! # Example
//!
//! ```no_run
//! use kubectl_headwind::HeadwindClient;
//!
//! # async fn run() -> Result<(), kubectl_headwind::client::Error> {
//! let client = HeadwindClient::new("http://localhost:8081")?;
//! for request in client.list_updates(Some("default")).await? {
//!     println!("{} {}", request.metadata.name, request.status.phase);
//! }
//! client
//!     .approve("default", "nginx-update-1-26-0", Some("admin@example.com"))
//!     .await?;
//! # Ok(())
//! # }
//! ```

pub mod age;
pub mod choose;
pub mod client;
pub mod kubeconfig;
pub mod table;

pub use client::HeadwindClient;
