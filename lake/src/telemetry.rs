//! Logging setup, done once per process by the binaries: human-readable or JSON lines on
//! stderr (stdout stays free for command output), filtered by `RUST_LOG` (default: `info` for eventlake's
//! own crates, `warn` for libraries; deltalake's commit loop is silent, since a commit that loses
//! the race for its version is expected with several writers and handled by ingest, and any
//! commit failure reaches the log with its cause through the caller's error).

use tracing_subscriber::EnvFilter;

/// The two log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Compact human-readable lines, for a terminal.
    Pretty,
    /// One JSON object per line, for a log collector.
    Json,
}

/// Installs the global subscriber; a second call is a no-op.
pub fn init(format: LogFormat) {
    // An empty RUST_LOG counts as unset.
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let filter = from_env
        .map(EnvFilter::new)
        .unwrap_or_else(|| EnvFilter::new(
            "warn,eventlake=info,eventlake_ingest=info,eventlake_lake=info,buoyant_kernel=off,deltalake_core::writer::stats=error,deltalake_core::operations::merge=error,deltalake_core::kernel::transaction=off",
        ));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Pretty => builder.compact().try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
