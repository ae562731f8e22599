//! Embedding headwind's API in another program's axum router.
//!
//! The program has its own route (`/hello`) and mounts headwind's approval and rollback API
//! beside it, over in-memory backends it owns (replace them with your own implementations of
//! `UpdateStore`, `Deployer` and `HistoryStore`). An authentication layer of the program's own
//! sets [`AuthenticatedIdentity`], which headwind then records as the approver.
//!
//! ```text
//! cargo run --example embed
//! curl http://127.0.0.1:3000/hello
//! curl http://127.0.0.1:3000/api/v1/updates
//! ```

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use headwind::core::memory::{MemoryDeployer, MemoryHistoryStore, MemoryUpdateStore};
use headwind::http::extract::AuthenticatedIdentity;
use headwind::http::{ApiState, Limits, api_router, layers};

/// Stands in for real authentication: every caller is `ops@example.com`.
async fn authenticate(mut request: Request, next: Next) -> Response {
    let identity = AuthenticatedIdentity("ops@example.com".to_owned());
    request.extensions_mut().insert(identity);
    next.run(request).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let state = ApiState::new(
        Arc::new(MemoryUpdateStore::new()),
        Arc::new(MemoryDeployer::new()),
        Arc::new(MemoryHistoryStore::new()),
    );

    let app = Router::new()
        .route("/hello", get(|| async { "hello from the host program\n" }))
        .merge(api_router(state))
        .layer(middleware::from_fn(authenticate));
    let app = layers(app, &Limits::default());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;

    Ok(())
}
