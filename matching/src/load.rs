//! Reads the engine's inputs from the tables registered in a DataFusion session, turning
//! Arrow rows into typed structs through `arrow-json` and `serde`.
//!
//! Invariant: a row the engine cannot use (an opportunity without model, poster or start day)
//! is skipped and counted in the log, never guessed at; a malformed row is an error naming the
//! table.

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use serde::de::DeserializeOwned;

use crate::engine::Inputs;
use crate::error::{Error, Result};
use crate::feedback::Feedback;
use crate::profile::{OpportunityRow, PartyRow};

/// Rows of `sql` as `T`; `table` names the source in errors.
pub async fn rows<T: DeserializeOwned>(
    ctx: &SessionContext,
    sql: &str,
    table: &str,
) -> Result<Vec<T>> {
    let batches = ctx.sql(sql).await?.collect().await?;
    decode(&batches, table)
}

/// Decodes record batches into `T` through their JSON form.
pub fn decode<T: DeserializeOwned>(batches: &[RecordBatch], table: &str) -> Result<Vec<T>> {
    let bad = |reason: String| Error::Row {
        table: table.to_owned(),
        reason,
    };
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for batch in batches.iter().filter(|b| b.num_rows() > 0) {
        buf.clear();
        let mut writer = arrow_json::LineDelimitedWriter::new(&mut buf);
        writer.write(batch)?;
        writer.finish()?;
        for row in serde_json::Deserializer::from_slice(&buf).into_iter::<T>() {
            out.push(row.map_err(|e| bad(e.to_string()))?);
        }
    }
    Ok(out)
}

const PARTIES: &str = "SELECT tenant_id, party_id, kind, skills, sectors, certifications, location, \
    capacity, availability, rate, languages, verified, preferences FROM silver.parties";
const OPPORTUNITIES: &str = "SELECT tenant_id, opportunity_id, poster_id, collaboration_model, \
    sub_model, required_roles, sectors, budget, location, remote, radius_km, starts_on, ends_on, \
    resources_offered, resources_needed, eligibility FROM silver.opportunities \
    WHERE status = 'open' ORDER BY tenant_id, opportunity_id";
const FEEDBACK: &str =
    "SELECT tenant_id, opportunity_id, candidate_id, event_type FROM silver.match_feedback";

#[derive(serde::Deserialize)]
struct FeedbackRow {
    tenant_id: String,
    opportunity_id: String,
    candidate_id: String,
    event_type: String,
}

/// Parties, open opportunities and feedback (when `silver.match_feedback` is registered).
pub async fn inputs(ctx: &SessionContext) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    let mut parties: Vec<PartyRow> = rows(ctx, PARTIES, "silver.parties").await?;
    // A stable order makes every run reproducible; see `PartyRow::key` for why this one.
    parties.sort_by(|a, b| a.key().cmp(&b.key()));
    for row in parties {
        let party = row.into_party(&mut inputs.vocabs);
        inputs
            .party_index
            .insert((party.tenant, party.id.clone()), inputs.parties.len());
        inputs.parties.push(party);
    }
    let rows_: Vec<OpportunityRow> = rows(ctx, OPPORTUNITIES, "silver.opportunities").await?;
    let total = rows_.len();
    inputs.opportunities = rows_
        .into_iter()
        .filter_map(|r| r.into_opportunity(&mut inputs.vocabs))
        .collect();
    if inputs.opportunities.len() < total {
        tracing::warn!(
            skipped = total - inputs.opportunities.len(),
            "open opportunities without model, poster or start day are not matched"
        );
    }
    if ctx.table_exist("silver.match_feedback")? {
        let mut feedback = Feedback::default();
        for r in rows::<FeedbackRow>(ctx, FEEDBACK, "silver.match_feedback").await? {
            let tenant = inputs.vocabs.tenants.id(&r.tenant_id);
            feedback.add(tenant, &r.opportunity_id, &r.candidate_id, &r.event_type);
        }
        inputs.feedback = feedback;
    }
    Ok(inputs)
}
