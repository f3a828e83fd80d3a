//! `eventlake serve`: the serving API, WebSocket layer, dashboard and event collector over the
//! lake, reloading the snapshot when a gold table gets a new version, until Ctrl-C or SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use eventlake_ingest::source::http::Collector;
use eventlake_lake::Lake;
use eventlake_serving_api::auth::Auth;
use eventlake_serving_api::{AppState, Config, WsConfig, refresh, router, snapshot};

use crate::Context;
use crate::args::{FlushArgs, ServeArgs};
use crate::commands::ingest;

pub async fn run(ctx: &Context, args: &ServeArgs) -> Result<()> {
    let lake = ctx.lake()?;
    let auth = match (&args.jwks_url, &args.jwt_secret) {
        (Some(url), _) => Auth::rs256(url, args.issuer.as_deref(), args.audience.as_deref())
            .await
            .context("setting up RS256 verification")?,
        (None, Some(secret)) => {
            anyhow::ensure!(secret.len() >= 16, "--jwt-secret must be at least 16 bytes");
            Auth::hs256(secret.as_bytes())
        }
        (None, None) => anyhow::bail!("give --jwt-secret or --jwks-url"),
    };
    serve(ctx, &lake, args, auth, |_| {}).await
}

/// The server's settings from the command line.
fn config(args: &ServeArgs) -> Config {
    Config {
        rate_per_second: args.rate_limit,
        burst: args.burst,
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_millis(args.request_timeout_ms),
        ws: WsConfig {
            max_connections_per_tenant: args.ws_max_connections,
            max_subscriptions_per_tenant: args.ws_max_subscriptions,
            heartbeat: Duration::from_millis(args.ws_heartbeat_ms),
            send_timeout: Duration::from_millis(args.ws_send_timeout_ms),
            ..WsConfig::default()
        },
    }
}

/// Serves `lake` until Ctrl-C or SIGTERM; `ready` is called with the snapshot once listening.
pub async fn serve(
    ctx: &Context,
    lake: &Lake,
    args: &ServeArgs,
    auth: Auth,
    ready: impl FnOnce(&snapshot::Snapshot),
) -> Result<()> {
    anyhow::ensure!(args.reload_ms >= 10, "--reload-ms must be at least 10");
    let first = snapshot::load(lake)
        .await
        .map_err(|e| anyhow::anyhow!("loading the snapshot: {e}"))?;
    let (collector, writer) = if args.no_collect {
        (None, None)
    } else {
        let config = ingest::http_config(ctx, &FlushArgs::default());
        let (collector, writer) = Collector::start(lake, config).await?;
        (Some(collector), Some(writer))
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    println!(
        "serving {} on http://{} (snapshot {}, {:.1} MB)",
        lake.root(),
        listener.local_addr()?,
        first.version(),
        first.bytes as f64 / 1e6
    );
    ready(&first);
    let state = AppState::new(first, auth, config(args), collector);
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
    axum::serve(listener, router(Arc::clone(&state)))
        .with_graceful_shutdown(ingest::shutdown_signal())
        .await?;
    let _ = stop.send(true);
    state.close();
    poller.await?;
    // The collector's writer flushes what is buffered once its last handle is gone.
    drop(state);
    if let Some(writer) = writer {
        writer.await??;
    }
    Ok(())
}
