//! The command line: global options on every command, then one subcommand.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "eventlake",
    version,
    about = "Events from every application into one Delta lake, exactly once."
)]
pub struct Cli {
    /// Lake location: a local folder or s3://bucket/prefix.
    #[arg(long, global = true, env = "EVENTLAKE_LAKE")]
    pub lake: Option<String>,

    /// Configuration file (TOML); docs/commands.md lists the keys.
    #[arg(long, global = true, env = "EVENTLAKE_CONFIG")]
    pub config: Option<PathBuf>,

    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "pretty",
        env = "EVENTLAKE_LOG_FORMAT"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a seeded, reproducible workload of events from all five applications as NDJSON.
    Generate(GenerateArgs),
    /// Ingest events into bronze.events / bronze.events_rejected.
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// Run a SQL query over every lake table (`layer.name`); `SHOW TABLES` lists them.
    Sql(SqlArgs),
    /// Run, list, inspect and schedule the jobs that build silver and gold tables.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Generate a workload, ingest it, run the jobs, show the results, then serve them (API,
    /// dashboard, collector) with ready-made tokens.
    Demo(DemoArgs),
    /// Serve the gold tables over REST /v1 and WebSocket, with the dashboard at /.
    Serve(ServeArgs),
    /// Matching quality: evaluate gold.matches against planted ground truth.
    #[command(subcommand)]
    Matching(MatchingCommand),
    /// Keep tables fast and storage bounded: compact small files, vacuum files no retained
    /// version needs, checkpoint the log. Safe beside ingest, jobs and serve.
    Maintain(MaintainArgs),
    /// The AWS Glue Data Catalog: register the lake's tables so Athena and QuickSight see
    /// them (a build with `--features catalog` or `aws`).
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Amazon Athena over the registered tables (a build with `--features catalog` or `aws`).
    #[command(subcommand)]
    Athena(AthenaCommand),
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Register every table of an s3:// lake in Glue as a native Delta table (creating the
    /// database if missing); a second sync writes nothing.
    Sync(CatalogArgs),
}

#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// The Glue database (default: `[catalog] database`, else `eventlake`).
    #[arg(long, env = "EVENTLAKE_GLUE_DATABASE")]
    pub database: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AthenaCommand {
    /// Run one statement in the workgroup and print its rows; Ctrl-C stops it in Athena.
    Query(AthenaQueryArgs),
    /// Create or replace the dashboard views (`jobs/views/*.sql`) in the Glue database, each
    /// whose tables the lake holds.
    Views(AthenaArgs),
}

/// Where Athena statements run.
#[derive(Debug, Args)]
pub struct AthenaArgs {
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// The workgroup (default: `[catalog] workgroup`, else `primary`).
    #[arg(long, env = "EVENTLAKE_ATHENA_WORKGROUP")]
    pub workgroup: Option<String>,
    /// `s3://…/` for result files (default: `[catalog] results`, else the workgroup's).
    #[arg(long, env = "EVENTLAKE_ATHENA_RESULTS")]
    pub results: Option<String>,
}

#[derive(Debug, Args)]
pub struct AthenaQueryArgs {
    /// The statement (Athena's SQL, Trino's dialect).
    pub query: String,
    #[command(flatten)]
    pub athena: AthenaArgs,
    /// Output format, as for `eventlake sql`.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, Args, Clone)]
pub struct WorkloadArgs {
    /// Number of events (lines) to generate.
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Random seed: the same seed and options give byte-identical output.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Share of bad records (malformed JSON, missing fields, wrong types, unknown event types,
    /// out-of-range values, repeated event_ids).
    #[arg(long, default_value_t = 0.02)]
    pub bad_ratio: f64,
    /// Days of history the events span.
    #[arg(long, default_value_t = 120)]
    pub days: u32,
    /// Number of tenants.
    #[arg(long, default_value_t = 4)]
    pub tenants: u32,
    /// Which events: all five applications, or the marketplace only (about five party
    /// registrations per posting, for matching).
    #[arg(long, value_enum, default_value = "all")]
    pub mix: MixArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MixArg {
    All,
    Marketplace,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Output file, or `-` for standard output.
    #[arg(long, default_value = "-", conflicts_with = "to")]
    pub out: PathBuf,
    /// Put the events to a Kinesis stream instead (`kinesis://STREAM`), with PutRecords and
    /// the subject id as partition key.
    #[arg(long, value_name = "kinesis://STREAM")]
    pub to: Option<String>,
    /// Also write the planted matching ground truth here (JSON), for `matching evaluate`.
    #[arg(long)]
    pub truth: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081", env = "EVENTLAKE_SERVE_LISTEN")]
    pub listen: SocketAddr,
    /// HS256 secret the bearer tokens are signed with (local use; at least 16 bytes).
    #[arg(
        long,
        env = "EVENTLAKE_JWT_SECRET",
        hide_env_values = true,
        required_unless_present = "jwks_url"
    )]
    pub jwt_secret: Option<String>,
    /// Verify RS256 tokens with the keys at this JWKS URL instead (e.g. a Cognito user
    /// pool's `https://cognito-idp.REGION.amazonaws.com/POOL/.well-known/jwks.json`).
    #[arg(long, env = "EVENTLAKE_JWKS_URL", conflicts_with = "jwt_secret")]
    pub jwks_url: Option<String>,
    /// Required `iss` of RS256 tokens.
    #[arg(long, requires = "jwks_url")]
    pub issuer: Option<String>,
    /// Required `aud` of RS256 tokens.
    #[arg(long, requires = "jwks_url")]
    pub audience: Option<String>,
    /// How often to check the gold tables for new versions, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub reload_ms: u64,
    /// Requests per second per tenant (0: no limit); above it, 429 with Retry-After.
    #[arg(long, default_value_t = 200.0)]
    pub rate_limit: f64,
    /// Requests a tenant may make at once above its rate.
    #[arg(long, default_value_t = 400)]
    pub burst: u32,
    /// Largest request body in bytes (413 above).
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Requests taking longer are answered 408, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub request_timeout_ms: u64,
    /// WebSocket connections per tenant.
    #[arg(long, default_value_t = 100)]
    pub ws_max_connections: usize,
    /// WebSocket subscriptions per tenant, over all its connections.
    #[arg(long, default_value_t = 1000)]
    pub ws_max_subscriptions: usize,
    /// WebSocket ping interval in milliseconds; a client silent for three is dropped.
    #[arg(long, default_value_t = 20_000)]
    pub ws_heartbeat_ms: u64,
    /// A WebSocket client that cannot take a message within this many milliseconds is
    /// disconnected as too slow.
    #[arg(long, default_value_t = 10_000)]
    pub ws_send_timeout_ms: u64,
    /// Do not mount the event collector (`POST /v1/events`).
    #[arg(long)]
    pub no_collect: bool,
}

#[derive(Debug, Subcommand)]
pub enum MatchingCommand {
    /// P@k, R@k and NDCG@k of gold.matches per model against a generator's planted truth,
    /// beside random and skill-Jaccard baselines.
    Evaluate(EvaluateArgs),
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Ground truth written by `eventlake generate --truth FILE`.
    #[arg(long)]
    pub truth: PathBuf,
    /// Cut-off of the ranking.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// NDJSON from a file (or `-` for standard input); resumes from its committed offset.
    File(FileArgs),
    /// HTTP collector: POST /v1/events (NDJSON or a JSON array).
    Http(HttpArgs),
    /// Amazon Kinesis Data Streams consumer (polling, or enhanced fan-out with --efo); shards
    /// shared with other processes through DynamoDB leases with --lease-table.
    Kinesis(KinesisArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum StartArg {
    TrimHorizon,
    Latest,
    AtTimestamp,
}

#[derive(Debug, Args)]
pub struct KinesisArgs {
    /// The stream name.
    #[arg(long)]
    pub stream: String,
    /// Checkpoint name (default: `kinesis:<stream>`).
    #[arg(long)]
    pub source_id: Option<String>,
    /// Where shards without a checkpoint start (children of read shards always start at
    /// their beginning).
    #[arg(long, value_enum, default_value = "trim-horizon")]
    pub start: StartArg,
    /// The instant for `--start at-timestamp` (RFC 3339).
    #[arg(long, required_if_eq("start", "at-timestamp"))]
    pub timestamp: Option<chrono::DateTime<chrono::Utc>>,
    /// Read through enhanced fan-out as this registered consumer (registered if missing).
    #[arg(long, value_name = "CONSUMER_NAME")]
    pub efo: Option<String>,
    /// DynamoDB table of shard leases, to share the stream with other consumer processes
    /// (created if missing). Without it this process reads every shard.
    #[arg(long, env = "EVENTLAKE_LEASE_TABLE")]
    pub lease_table: Option<String>,
    /// A lease not renewed for this long is taken over by another worker.
    #[arg(long, default_value_t = 10_000)]
    pub lease_ms: u64,
    /// This worker's name in the lease table (default: host, process id and start time).
    #[arg(long)]
    pub worker: Option<String>,
    /// How often to list shards, to find children after a reshard.
    #[arg(long, default_value_t = 5_000)]
    pub list_ms: u64,
    /// Stop once every shard read is at its tip, no record arrived for this long, and
    /// everything is committed.
    #[arg(long)]
    pub idle_exit_ms: Option<u64>,
    /// Serve Prometheus metrics (lag, throughput) on this address at /metrics.
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    pub flush: FlushArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct FlushArgs {
    /// Flush after this many records (overrides `ingest.flush_records`).
    #[arg(long)]
    pub flush_records: Option<usize>,
    /// Flush when the oldest buffered record is this old (overrides `ingest.flush_age_ms`).
    #[arg(long)]
    pub flush_age_ms: Option<u64>,
}

#[derive(Debug, Args)]
pub struct FileArgs {
    /// The NDJSON file, or `-` for standard input.
    pub path: PathBuf,
    /// Checkpoint name (default: `file:<absolute path>`, or `stdin`).
    #[arg(long)]
    pub source_id: Option<String>,
    #[command(flatten)]
    pub flush: FlushArgs,
}

#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "EVENTLAKE_LISTEN")]
    pub listen: SocketAddr,
    /// Largest accepted request body in bytes (413 above).
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Requests taking longer, the upload of their body included, are answered 408 and their
    /// connection closed, in milliseconds; a connection whose next request headers take
    /// longer is closed.
    #[arg(long, default_value_t = 30_000)]
    pub request_timeout_ms: u64,
    /// Connections open at once; more wait, unaccepted, until one closes.
    #[arg(long, default_value_t = 256)]
    pub max_connections: usize,
    #[command(flatten)]
    pub flush: FlushArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The query (DataFusion SQL).
    pub query: String,
    /// Output format; CSV has a header row, JSON is an array of objects.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct MaintainArgs {
    /// A table to maintain (`layer.name`); repeat for several. Default: every table.
    #[arg(long = "table", value_name = "TABLE")]
    pub tables: Vec<String>,
    /// Only these steps (comma-separated; default all, in this order).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<StepArg>,
    /// Report what would be compacted and vacuumed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format of the report.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StepArg {
    Compact,
    Vacuum,
    Checkpoint,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of events to generate and ingest.
    #[arg(long, default_value_t = 2_000_000)]
    pub events: u64,
    /// Random seed of the workload.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Exit when the work is done instead of serving the API, dashboard and collector.
    #[arg(long)]
    pub no_serve: bool,
    /// Where the demo serves.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

#[derive(Debug, Args, Clone)]
pub struct ProjectArgs {
    /// Load job definitions from this folder (`*.toml` and `*.sql`) instead of the built-in set.
    #[arg(long, env = "EVENTLAKE_JOBS_DIR")]
    pub jobs_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List the jobs in dependency order with their output, strategy, inputs and schedule.
    List(ProjectArgs),
    /// Run jobs (all, or the selected ones) in dependency order.
    Run(JobsRunArgs),
    /// The last run of each job, from ops.job_runs.
    Status(ProjectArgs),
    /// Run jobs by their cron schedules until Ctrl-C.
    Schedule(ProjectArgs),
    /// Print a SQL job's query with its placeholders filled in (for a full rebuild).
    Compile(JobsCompileArgs),
}

#[derive(Debug, Args, Clone)]
pub struct JobsRunArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Jobs to run: `name`, `name+` (with descendants), `+name` (with ancestors); repeatable.
    #[arg(long, short)]
    pub select: Vec<String>,
    /// Rebuild every selected output from all input rows.
    #[arg(long)]
    pub full_refresh: bool,
    /// Backfill from this day (YYYY-MM-DD), instead of what changed since the last run.
    #[arg(long)]
    pub from: Option<chrono::NaiveDate>,
    /// Backfill up to this day (inclusive).
    #[arg(long)]
    pub to: Option<chrono::NaiveDate>,
    /// The day jobs treat as today (recency, lifecycle windows); default: today (UTC).
    #[arg(long)]
    pub as_of: Option<chrono::NaiveDate>,
}

#[derive(Debug, Args, Clone)]
pub struct JobsCompileArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The job.
    pub name: String,
    /// The day `{{ as_of }}` stands for; default: today (UTC).
    #[arg(long)]
    pub as_of: Option<chrono::NaiveDate>,
}
