//! Shard leases in DynamoDB, so several consumer processes share one stream, each shard read by
//! one of them at a time.
//!
//! One item per shard: `lease_key` (`<source id>/<shard>`), `owner`, `counter`. The owner bumps
//! `counter` on every heartbeat with a conditional write (`owner` and `counter` unchanged), so
//! a lease whose counter has not moved for the lease duration, as seen by this process's own
//! clock, is expired and may be taken (no clock comparison between machines). Workers balance by
//! count: each aims at `ceil(eligible shards / live workers)`, taking free or expired leases
//! first and stealing one at a time from the busiest worker otherwise.
//!
//! Invariant: every change is a conditional write on the counter last seen, so two workers never
//! both believe they took the same lease. A lease is a liveness device, not the safety one: a
//! worker that lost its lease unknowingly is still stopped by the Delta checkpoint check and the
//! commit's transaction conflict.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TableStatus,
};
use tokio::time::Instant;

use crate::error::{Error, Result};

const KEY: &str = "lease_key";

/// What this process knows of one lease.
#[derive(Debug, Clone)]
struct Seen {
    owner: String,
    counter: u64,
    /// When this process last saw the counter move.
    since: Instant,
}

/// This worker's leases on one source's shards.
pub struct Leases {
    client: Client,
    table: String,
    source_id: String,
    worker: String,
    duration: Duration,
    /// Shard → counter this worker last wrote.
    held: HashMap<String, u64>,
    seen: HashMap<String, Seen>,
}

fn fail<E>(call: &'static str, table: &str) -> impl FnOnce(SdkError<E>) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    let table = table.to_owned();
    move |e| Error::Leases {
        call,
        table,
        message: DisplayErrorContext(&e).to_string(),
    }
}

fn conditional_failed<E: ProvideErrorMetadata>(e: &SdkError<E>) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl Leases {
    /// Connects to the lease table (creating it, on-demand billing, if missing).
    pub async fn connect(
        table: &str,
        source_id: &str,
        worker: &str,
        duration: Duration,
    ) -> Result<Self> {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let leases = Self {
            client: Client::new(&config),
            table: table.to_owned(),
            source_id: source_id.to_owned(),
            worker: worker.to_owned(),
            duration,
            held: HashMap::new(),
            seen: HashMap::new(),
        };
        leases.ensure_table().await?;
        Ok(leases)
    }

    /// This worker's name in the lease table.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// How often to heartbeat: a third of the lease duration.
    pub fn heartbeat(&self) -> Duration {
        self.duration / 3
    }

    async fn ensure_table(&self) -> Result<()> {
        let described = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await;
        match described {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceNotFoundException") => {
                let created = self
                    .client
                    .create_table()
                    .table_name(&self.table)
                    .billing_mode(BillingMode::PayPerRequest)
                    .attribute_definitions(
                        AttributeDefinition::builder()
                            .attribute_name(KEY)
                            .attribute_type(ScalarAttributeType::S)
                            .build()
                            .expect("name and type are set"),
                    )
                    .key_schema(
                        KeySchemaElement::builder()
                            .attribute_name(KEY)
                            .key_type(KeyType::Hash)
                            .build()
                            .expect("name and type are set"),
                    )
                    .send()
                    .await;
                match created {
                    Ok(_) => {}
                    Err(e) if e.code() == Some("ResourceInUseException") => {}
                    Err(e) => return Err(fail("CreateTable", &self.table)(e)),
                }
            }
            Err(e) => return Err(fail("DescribeTable", &self.table)(e)),
        }
        for _ in 0..120 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(fail("DescribeTable", &self.table))?;
            if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(Error::Leases {
            call: "DescribeTable",
            table: self.table.clone(),
            message: "the lease table did not become ACTIVE within 60 s".into(),
        })
    }

    fn key(&self, shard: &str) -> String {
        format!("{}/{shard}", self.source_id)
    }

    /// Whether this worker holds `shard`'s lease.
    pub fn holds(&self, shard: &str) -> bool {
        self.held.contains_key(shard)
    }

    /// The shards this worker holds.
    pub fn held(&self) -> impl Iterator<Item = &str> {
        self.held.keys().map(String::as_str)
    }

    /// Every lease of this source: shard → (owner, counter).
    async fn scan(&self) -> Result<HashMap<String, (String, u64)>> {
        let prefix = format!("{}/", self.source_id);
        let mut leases = HashMap::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .filter_expression("begins_with(#k, :p)")
                .expression_attribute_names("#k", KEY)
                .expression_attribute_values(":p", s(prefix.clone()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(fail("Scan", &self.table))?;
            for item in out.items() {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
                let Some(key) = text(KEY) else { continue };
                let shard = key[prefix.len()..].to_owned();
                let counter = item
                    .get("counter")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                leases.insert(shard, (text("owner").unwrap_or_default(), counter));
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(leases),
            }
        }
    }

    /// Looks at every lease, notices the ones lost to another worker, and takes leases of
    /// `eligible` shards until this worker holds its share. Returns (taken, lost).
    pub async fn balance(&mut self, eligible: &[String]) -> Result<(Vec<String>, Vec<String>)> {
        let now = Instant::now();
        let leases = self.scan().await?;
        for (shard, (owner, counter)) in &leases {
            let moved = self
                .seen
                .get(shard)
                .is_none_or(|s| s.counter != *counter || s.owner != *owner);
            if moved {
                let seen = Seen {
                    owner: owner.clone(),
                    counter: *counter,
                    since: now,
                };
                self.seen.insert(shard.clone(), seen);
            }
        }
        let mut lost = Vec::new();
        self.held.retain(|shard, counter| {
            let kept = leases
                .get(shard)
                .is_some_and(|(o, c)| *o == self.worker && c == counter);
            if !kept {
                lost.push(shard.clone());
            }
            kept
        });
        let expired = |shard: &str| -> bool {
            self.seen
                .get(shard)
                .is_none_or(|s| s.owner.is_empty() || now - s.since >= self.duration)
        };
        let mut owners: HashMap<&str, usize> = HashMap::new();
        for shard in eligible {
            if let Some((owner, _)) = leases.get(shard)
                && !expired(shard)
                && *owner != self.worker
            {
                *owners.entry(owner).or_default() += 1;
            }
        }
        let workers = owners.len() + 1;
        let target = eligible.len().div_ceil(workers);
        let mut taken = Vec::new();
        let free: Vec<String> = eligible
            .iter()
            .filter(|s| !self.held.contains_key(*s) && expired(s))
            .cloned()
            .collect();
        for shard in free {
            if self.held.len() >= target {
                break;
            }
            let observed = leases.get(&shard).map(|(_, c)| *c);
            if self.take(&shard, observed).await? {
                taken.push(shard);
            }
        }
        if self.held.len() < target
            && let Some((victim, count)) = owners.iter().max_by_key(|(o, c)| (**c, *o))
            && *count > target
        {
            let victim = victim.to_string();
            let shard = eligible
                .iter()
                .find(|s| leases.get(*s).is_some_and(|(o, _)| *o == victim))
                .cloned();
            if let Some(shard) = shard {
                let observed = leases.get(&shard).map(|(_, c)| *c);
                if self.take(&shard, observed).await? {
                    tracing::info!(%shard, from = %victim, "lease stolen to balance workers");
                    taken.push(shard);
                }
            }
        }
        Ok((taken, lost))
    }

    /// Takes `shard`'s lease if it is still as observed (`None`: no item yet).
    async fn take(&mut self, shard: &str, observed: Option<u64>) -> Result<bool> {
        let key = self.key(shard);
        let (counter, result) = match observed {
            None => (
                1,
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .item(KEY, s(key))
                    .item("owner", s(self.worker.clone()))
                    .item("counter", n(1))
                    .condition_expression("attribute_not_exists(#k)")
                    .expression_attribute_names("#k", KEY)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| (conditional_failed(&e), fail("PutItem", &self.table)(e))),
            ),
            Some(c) => (
                c + 1,
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key(KEY, s(key))
                    .update_expression("SET #o = :me, #c = :next")
                    .condition_expression("#c = :seen")
                    .expression_attribute_names("#o", "owner")
                    .expression_attribute_names("#c", "counter")
                    .expression_attribute_values(":me", s(self.worker.clone()))
                    .expression_attribute_values(":next", n(c + 1))
                    .expression_attribute_values(":seen", n(c))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| (conditional_failed(&e), fail("UpdateItem", &self.table)(e))),
            ),
        };
        match result {
            Ok(()) => {
                tracing::info!(shard, worker = %self.worker, counter, "lease taken");
                self.held.insert(shard.to_owned(), counter);
                Ok(true)
            }
            Err((true, _)) => Ok(false),
            Err((false, e)) => Err(e),
        }
    }

    /// Bumps the counter of every held lease; returns the shards whose lease was lost.
    pub async fn renew(&mut self) -> Result<Vec<String>> {
        let mut lost = Vec::new();
        let held: Vec<(String, u64)> = self.held.iter().map(|(k, v)| (k.clone(), *v)).collect();
        for (shard, counter) in held {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(KEY, s(self.key(&shard)))
                .update_expression("SET #c = :next")
                .condition_expression("#o = :me AND #c = :mine")
                .expression_attribute_names("#o", "owner")
                .expression_attribute_names("#c", "counter")
                .expression_attribute_values(":me", s(self.worker.clone()))
                .expression_attribute_values(":mine", n(counter))
                .expression_attribute_values(":next", n(counter + 1))
                .send()
                .await;
            match result {
                Ok(_) => {
                    self.held.insert(shard, counter + 1);
                }
                Err(e) if conditional_failed(&e) => {
                    tracing::warn!(%shard, worker = %self.worker, "lease lost");
                    self.held.remove(&shard);
                    lost.push(shard);
                }
                Err(e) => return Err(fail("UpdateItem", &self.table)(e)),
            }
        }
        Ok(lost)
    }

    /// Gives up `shard`'s lease (its shard ended, or this worker is stopping).
    pub async fn release(&mut self, shard: &str) -> Result<()> {
        let Some(counter) = self.held.remove(shard) else {
            return Ok(());
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, s(self.key(shard)))
            .update_expression("SET #o = :nobody, #c = :next")
            .condition_expression("#o = :me AND #c = :mine")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_names("#c", "counter")
            .expression_attribute_values(":me", s(self.worker.clone()))
            .expression_attribute_values(":nobody", s(""))
            .expression_attribute_values(":mine", n(counter))
            .expression_attribute_values(":next", n(counter + 1))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Ok(()),
            Err(e) => Err(fail("UpdateItem", &self.table)(e)),
        }
    }
}
