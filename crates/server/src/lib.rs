//! `slipway serve`: webhooks and the API queue builds in SQLite; a dispatcher runs them
//! (each `slipway steps` in its own process) within the concurrency limits; pages and a
//! JSON API show them live.

pub mod auth;
pub mod build_events;
pub mod builds;
pub mod config;
pub mod db;
pub mod dispatcher;
pub mod git;
pub mod hooks;
pub mod http;
pub mod live;
pub mod pages;
pub mod runner;
pub mod shutdown;
pub mod state;
pub mod view_models;
pub mod workspaces;

use std::time::Duration;

pub use config::{Overrides, ServerConfig};
pub use state::{Server, Shared};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Start(#[from] state::StartError),
    #[error("cannot listen on {address}: {source} (choose another with --listen)")]
    Listen { address: std::net::SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("the HTTP server stopped: {0}")]
    Http(std::io::Error),
}

/// Open the data dir, requeue interrupted builds, start the dispatcher and serve HTTP
/// until `shutdown` completes; then stop the running builds and wait for their clean-up.
pub async fn serve(
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let address = config.listen;
    let server = Server::open(config)?;
    dispatcher::recover(&server)?;
    // Before any build starts, so that none of its files can be taken for a leftover.
    workspaces::remove_stale(&server).await;
    remove_leftovers(&server);
    tokio::spawn(dispatcher::dispatch(server.clone()));
    let listener =
        tokio::net::TcpListener::bind(address).await.map_err(|source| ServeError::Listen { address, source })?;
    let local = listener.local_addr().unwrap_or(address);
    tracing::info!("slipway serve: listening on http://{local}, data in {}", server.paths.data.display());
    eprintln!("slipway serve: listening on http://{local}");
    let stop = tokio_util::sync::CancellationToken::new();
    let stopping = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopping.cancel();
    });
    // The builds are told at once, while HTTP winds down beside them.
    let builds_stopped = tokio::spawn({
        let (server, stop) = (server.clone(), stop.clone());
        async move {
            stop.cancelled().await;
            shutdown::stop_builds(&server, shutdown::BUILDS_CLEAN_UP_TIMEOUT).await;
        }
    });
    let graceful = stop.clone();
    let http = axum::serve(listener, http::router(server.clone()))
        .with_graceful_shutdown(async move { graceful.cancelled().await });
    let result = tokio::select! {
        result = http => result.map_err(ServeError::Http),
        // Live-log viewers never hang up by themselves: do not wait for them for long.
        () = async { stop.cancelled().await; tokio::time::sleep(Duration::from_secs(2)).await } => Ok(()),
    };
    // HTTP may also have failed on its own: the builds still get a clean stop.
    stop.cancel();
    let _ = builds_stopped.await;
    // Tasks still hold the databases open: move what their write-ahead logs hold into the
    // database files, so that a copy of the data dir's `.db` files is a whole backup.
    server.db.checkpoint();
    server.store.checkpoint();
    result
}

/// `slipway gc` in the background: containers of builds whose process is gone (the
/// server was killed, or the machine rebooted) are removed.
fn remove_leftovers(server: &Shared) {
    let bin = server.slipway_bin.clone();
    tokio::spawn(async move {
        let run = tokio::process::Command::new(bin)
            .arg("gc")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        match tokio::time::timeout(Duration::from_secs(300), run).await {
            Ok(Ok(status)) if status.success() => {}
            other => tracing::warn!("removing leftovers of earlier builds (slipway gc): {other:?}"),
        }
    });
}
