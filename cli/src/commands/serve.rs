//! `eventlake serve`: the serving API over the lake's gold tables, reloading the snapshot when
//! a table gets a new version, until Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use eventlake_serving_api::auth::Auth;
use eventlake_serving_api::{AppState, refresh, router, snapshot};

use crate::Context;
use crate::args::ServeArgs;

pub async fn run(ctx: &Context, args: &ServeArgs) -> Result<()> {
    anyhow::ensure!(
        args.jwt_secret.len() >= 16,
        "--jwt-secret must be at least 16 bytes"
    );
    anyhow::ensure!(args.reload_ms >= 10, "--reload-ms must be at least 10");
    let lake = ctx.lake()?;
    let first = snapshot::load(&lake)
        .await
        .map_err(|e| anyhow::anyhow!("loading the snapshot: {e}"))?;
    println!(
        "serving {} on http://{} (snapshot {})",
        lake.root(),
        args.listen,
        first.version()
    );
    let state = AppState::new(first, Auth::hs256(args.jwt_secret.as_bytes()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let poller = tokio::spawn(refresh::run(
        lake.clone(),
        Arc::clone(&state),
        Duration::from_millis(args.reload_ms),
        {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.changed().await;
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    axum::serve(listener, router(state))
        .with_graceful_shutdown(crate::commands::ingest::shutdown_signal())
        .await?;
    let _ = stop.send(true);
    poller.await?;
    Ok(())
}
