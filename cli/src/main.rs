//! The `eventlake` binary: parses the command line, sets up logging, and runs the command.
//! No logic lives here beyond wiring.

use clap::Parser;
use eventlake::args::{self, Cli};
use eventlake_lake::telemetry::{self, LogFormat};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    telemetry::init(match cli.log_format {
        args::LogFormat::Pretty => LogFormat::Pretty,
        args::LogFormat::Json => LogFormat::Json,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(eventlake::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
