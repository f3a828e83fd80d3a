//! `bootstrap`: the Lambda function (custom runtime, `provided.al2023`) behind a Kinesis
//! event-source mapping. Each batch goes through the same ingest core as `ingest kinesis`,
//! with the shard checkpoints committed beside the records; the answer is the partial-batch
//! response (enable `ReportBatchItemFailures` on the mapping, parallelization factor 1).
//!
//! Configuration from the environment: `EVENTLAKE_LAKE` (the lake URI, e.g. `s3://bucket/lake`),
//! the standard AWS variables Lambda sets, `RUST_LOG`.

use std::sync::Arc;

use eventlake_ingest::source::lambda::{BatchResponse, Handler, KinesisEvent};
use eventlake_lake::telemetry::{self, LogFormat};
use eventlake_lake::{IngestConfig, Lake};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tokio::sync::Mutex;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init(LogFormat::Json);
    let uri = std::env::var("EVENTLAKE_LAKE")
        .map_err(|_| "EVENTLAKE_LAKE must name the lake (for example s3://bucket/lake)")?;
    let lake = Lake::new(&uri)?;
    let handler = Arc::new(Mutex::new(Handler::new(lake, IngestConfig::default())));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<KinesisEvent>| {
        let handler = handler.clone();
        async move {
            let (response, report) = handler.lock().await.handle(event.payload).await?;
            tracing::info!(
                accepted = report.accepted,
                rejected = report.rejected_total(),
                already_committed = report.already_committed,
                failures = response.batch_item_failures.len(),
                "batch handled"
            );
            Ok::<BatchResponse, Error>(response)
        }
    }))
    .await
}
