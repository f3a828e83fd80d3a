//! The `eventlake` binary: parses the command line, loads the configuration once, sets up
//! logging, and calls the library cores. No logic lives here beyond wiring.

mod args;
mod commands;
mod output;
mod progress;

use anyhow::Result;
use clap::Parser;
use eventlake_lake::telemetry::{self, LogFormat};
use eventlake_lake::{Config, Lake};

use crate::args::{Cli, Command, IngestCommand};

/// Default lake location: a folder in the working directory.
const DEFAULT_LAKE: &str = "./data";

/// What every command gets: the lake and the configuration.
pub struct Context {
    pub lake_uri: String,
    pub config: Config,
}

impl Context {
    pub fn lake(&self) -> Result<Lake> {
        Ok(Lake::new(&self.lake_uri)?)
    }
}

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
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    let lake_uri = cli
        .lake
        .or_else(|| config.lake.clone())
        .unwrap_or_else(|| DEFAULT_LAKE.to_owned());
    let ctx = Context { lake_uri, config };
    match cli.command {
        Command::Generate(args) => commands::generate::run(&args).await,
        Command::Ingest(IngestCommand::File(args)) => commands::ingest::file(&ctx, &args).await,
        Command::Ingest(IngestCommand::Http(args)) => commands::ingest::http(&ctx, &args).await,
        Command::Ingest(IngestCommand::Kinesis(args)) => {
            commands::ingest::kinesis(&ctx, &args).await
        }
        Command::Sql(args) => commands::sql::run(&ctx, &args).await,
        Command::Jobs(command) => commands::jobs::run(&ctx, command).await,
        Command::Demo(args) => commands::demo::run(&ctx, &args).await,
        Command::Serve(args) => commands::serve::run(&ctx, &args).await,
        Command::Matching(args::MatchingCommand::Evaluate(args)) => {
            commands::matching::evaluate(&ctx, &args).await
        }
        Command::Bench(args::BenchCommand::Matching(args)) => {
            commands::bench::matching::run(&ctx, &args).await
        }
        Command::Bench(args::BenchCommand::Serve(args)) => commands::bench::serve::run(&args).await,
        Command::Bench(args::BenchCommand::Ingest(args)) => {
            commands::bench::ingest::run(&ctx, &args).await
        }
        Command::Bench(args::BenchCommand::Kinesis(args)) => {
            commands::bench::kinesis::run(&ctx, &args).await
        }
        Command::Bench(args::BenchCommand::Collector(args)) => {
            commands::bench::collector::run(&args).await
        }
        Command::Bench(args::BenchCommand::Jobs(args)) => {
            commands::bench::jobs::run(&ctx, &args).await
        }
    }
}
