//! The `eventlake` command as a library: the command line ([`args`]), one module per
//! subcommand ([`commands`]) and the dispatch between them ([`run`]). `main.rs` only parses and
//! calls [`run`]; the benchmark harness (`eventlake-bench`) reuses the same commands.

pub mod args;
pub mod commands;
pub mod output;
pub mod progress;

use anyhow::Result;
use eventlake_lake::{Config, Lake};

use crate::args::{Cli, Command, IngestCommand};

/// Default lake location: a folder in the working directory.
pub const DEFAULT_LAKE: &str = "./data";

/// What every command gets: the lake and the configuration.
pub struct Context {
    /// Where the lake is: `--lake`, else the configuration's `lake`, else [`DEFAULT_LAKE`].
    pub lake_uri: String,
    /// The loaded configuration file (defaults when there is none).
    pub config: Config,
}

impl Context {
    /// Loads the configuration and resolves the lake location.
    pub fn load(lake: Option<String>, config: Option<&std::path::Path>) -> Result<Self> {
        let config = Config::load(config)?;
        let lake_uri = lake
            .or_else(|| config.lake.clone())
            .unwrap_or_else(|| DEFAULT_LAKE.to_owned());
        Ok(Self { lake_uri, config })
    }

    /// Opens the lake. With `[catalog]` configured (and the `catalog` feature), an `s3://`
    /// lake registers in Glue every table a writer creates or changes.
    pub fn lake(&self) -> Result<Lake> {
        let lake = Lake::new(&self.lake_uri)?;
        #[cfg(feature = "catalog")]
        if let Some(catalog) = &self.config.catalog
            && lake.root().scheme() == "s3"
        {
            let registrar = eventlake_catalog::glue::Registrar::new(&catalog.database);
            return Ok(lake.with_catalog(std::sync::Arc::new(registrar)));
        }
        Ok(lake)
    }
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    let ctx = Context::load(cli.lake, cli.config.as_deref())?;
    match cli.command {
        Command::Generate(args) => commands::generate::run(&args).await,
        Command::Ingest(IngestCommand::File(args)) => commands::ingest::file(&ctx, &args).await,
        Command::Ingest(IngestCommand::Http(args)) => commands::ingest::http(&ctx, &args).await,
        #[cfg(feature = "kinesis")]
        Command::Ingest(IngestCommand::Kinesis(args)) => {
            commands::kinesis::ingest(&ctx, &args).await
        }
        #[cfg(not(feature = "kinesis"))]
        Command::Ingest(IngestCommand::Kinesis(_)) => {
            Err(commands::without("kinesis", "ingest kinesis"))
        }
        Command::Sql(args) => commands::sql::run(&ctx, &args).await,
        Command::Jobs(command) => commands::jobs::run(&ctx, command).await,
        Command::Demo(args) => commands::demo::run(&ctx, &args).await,
        Command::Serve(args) => commands::serve::run(&ctx, &args).await,
        Command::Matching(args::MatchingCommand::Evaluate(args)) => {
            commands::matching::evaluate(&ctx, &args).await
        }
        Command::Maintain(args) => commands::maintain::run(&ctx, &args).await,
        #[cfg(feature = "catalog")]
        Command::Catalog(args::CatalogCommand::Sync(args)) => {
            commands::catalog::sync(&ctx, &args).await
        }
        #[cfg(feature = "catalog")]
        Command::Athena(args::AthenaCommand::Query(args)) => {
            commands::catalog::query(&ctx, &args).await
        }
        #[cfg(feature = "catalog")]
        Command::Athena(args::AthenaCommand::Views(args)) => {
            commands::catalog::views(&ctx, &args).await
        }
        #[cfg(not(feature = "catalog"))]
        Command::Catalog(_) => Err(commands::without("catalog", "catalog")),
        #[cfg(not(feature = "catalog"))]
        Command::Athena(_) => Err(commands::without("catalog", "athena")),
    }
}
