//! Metric time series: the catalogue (`metrics.toml`), the rows of each gold metrics table
//! held per tenant, and the query that buckets them into a grain and splits them by a
//! dimension.
//!
//! Invariant: a value is only ever combined by its declared rollup; a `split` dimension is
//! never added up across (no sum of pounds and euros), and ratios are recomputed from their
//! summed parts, never averaged.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, TimeUnit, TimestampMicrosecondType};
use chrono::{DateTime, Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::page::given;

/// How values combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rollup {
    /// Added up.
    Sum,
    /// Mean of the values combined.
    Mean,
    /// Largest value: an upper bound, for percentiles.
    Max,
    /// Sum of the `of` columns over sum of the `per` column, recomputed, never averaged.
    Ratio,
}

/// One measure of a metric.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Measure {
    /// Name in each point's `values`; the table's column too, unless a ratio.
    pub name: String,
    /// How rows combine across dimensions, and into coarser grains unless `over_time`.
    pub rollup: Rollup,
    /// Rollup into coarser grains, when not `rollup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_time: Option<Rollup>,
    /// A ratio's numerator columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub of: Vec<String>,
    /// A ratio's denominator column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<String>,
}

/// One metric of the catalogue.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Metric {
    /// Unique name in the catalogue and in `/v1/metrics/{name}`.
    pub name: String,
    /// The gold table, without the `gold.` prefix.
    pub table: String,
    /// What the metric counts, for people.
    pub description: String,
    /// The table's time column (a date or timestamp, read as µs UTC).
    #[serde(skip_serializing)]
    pub time: String,
    /// Native grain: `hour`, `day` or `period`.
    pub grain: String,
    /// String columns a series can be split by (`?dimension=`).
    pub dimensions: Vec<String>,
    /// Dimensions never added up across (currencies): every series is split by them.
    #[serde(default)]
    pub split: Vec<String>,
    /// The values of each point.
    pub measures: Vec<Measure>,
}

impl Metric {
    /// The grains a series can be asked in.
    pub fn grains(&self) -> &'static [&'static str] {
        match self.grain.as_str() {
            "hour" => &["hour", "day", "week", "month"],
            "day" => &["day", "week", "month"],
            _ => &["period"],
        }
    }

    /// The columns held per row: every measure's and every ratio part's, once.
    fn columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let parts = self.measures.iter().flat_map(|m| {
            let own = (m.rollup != Rollup::Ratio).then_some(&m.name);
            own.into_iter().chain(&m.of).chain(&m.per)
        });
        for c in parts {
            if !out.contains(c) {
                out.push(c.clone());
            }
        }
        out
    }
}

#[derive(Deserialize)]
struct CatalogueFile {
    metric: Vec<Metric>,
}

/// The built-in catalogue.
pub fn catalogue() -> &'static [Metric] {
    static CATALOGUE: OnceLock<Vec<Metric>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        toml::from_str::<CatalogueFile>(include_str!("metrics.toml"))
            .expect("metrics.toml is valid (checked by a unit test)")
            .metric
    })
}

/// The metric called `name`.
pub fn find(name: &str) -> Option<&'static Metric> {
    catalogue().iter().find(|m| m.name == name)
}

/// One row: time (µs since the epoch), dimension values, column values.
#[derive(Debug)]
struct Row {
    t: i64,
    dims: Box<[Arc<str>]>,
    values: Box<[Option<f64>]>,
}

/// A tenant's rows of one metric, in time order, with a fingerprint of their content.
#[derive(Debug, Default)]
pub struct Rows {
    rows: Vec<Row>,
    /// Hash of every row's time, dimensions and values; a `metrics:` topic's change notice
    /// carries it, so subscribers are told exactly when the rows change.
    pub fingerprint: u64,
}

/// (tenant, metric name) → rows.
pub type Store = HashMap<(Box<str>, &'static str), Rows>;

/// Reads one metrics table, a batch at a time.
pub struct Loader {
    metric: &'static Metric,
    columns: Vec<String>,
    by_tenant: HashMap<Box<str>, Vec<Row>>,
    strings: HashMap<Box<str>, Arc<str>>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn column(batch: &RecordBatch, name: &str, to: &DataType) -> Result<Arc<dyn Array>, BoxError> {
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| format!("the metrics table has no column {name}"))?;
    Ok(cast(array, to)?)
}

impl Loader {
    /// A loader for `metric`'s table, holding no rows yet.
    pub fn new(metric: &'static Metric) -> Self {
        Self {
            metric,
            columns: metric.columns(),
            by_tenant: HashMap::new(),
            strings: HashMap::new(),
        }
    }

    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(v) = self.strings.get(s) {
            return Arc::clone(v);
        }
        let v: Arc<str> = Arc::from(s);
        self.strings.insert(s.into(), Arc::clone(&v));
        v
    }

    /// Takes the rows of one batch, skipping rows without tenant or time; fails when the batch
    /// lacks a column the metric names or one does not cast to its type.
    pub fn add(&mut self, batch: &RecordBatch) -> Result<(), BoxError> {
        let micros = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let tenant = column(batch, "tenant_id", &DataType::Utf8)?;
        let tenant = tenant.as_string::<i32>();
        let time = column(batch, &self.metric.time, &micros)?;
        let time = time.as_primitive::<TimestampMicrosecondType>();
        let dims = self
            .metric
            .dimensions
            .iter()
            .map(|d| column(batch, d, &DataType::Utf8))
            .collect::<Result<Vec<_>, _>>()?;
        let values = self
            .columns
            .iter()
            .map(|c| column(batch, c, &DataType::Float64))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..batch.num_rows() {
            if tenant.is_null(i) || time.is_null(i) {
                continue;
            }
            let row_dims = dims
                .iter()
                .map(|d| {
                    let d = d.as_string::<i32>();
                    self.intern(if d.is_null(i) { "" } else { d.value(i) })
                })
                .collect();
            let row_values = values
                .iter()
                .map(|v| {
                    let v = v.as_primitive::<Float64Type>();
                    (!v.is_null(i)).then(|| v.value(i))
                })
                .collect();
            self.by_tenant
                .entry(tenant.value(i).into())
                .or_default()
                .push(Row {
                    t: time.value(i),
                    dims: row_dims,
                    values: row_values,
                });
        }
        Ok(())
    }

    /// Moves the rows into `store`; returns their estimated heap bytes.
    pub fn finish(self, store: &mut Store) -> usize {
        let mut bytes: usize = self.strings.keys().map(|s| 2 * s.len() + 48).sum();
        for (tenant, mut rows) in self.by_tenant {
            rows.sort_by(|a, b| (a.t, &a.dims).cmp(&(b.t, &b.dims)));
            let mut h = DefaultHasher::new();
            for r in &rows {
                r.t.hash(&mut h);
                r.dims.hash(&mut h);
                for v in &r.values {
                    v.map(f64::to_bits).hash(&mut h);
                }
                bytes += std::mem::size_of::<Row>() + 16 * r.dims.len() + 16 * r.values.len();
            }
            bytes += tenant.len();
            store.insert(
                (tenant, self.metric.name.as_str()),
                Rows {
                    rows,
                    fingerprint: h.finish(),
                },
            );
        }
        bytes
    }
}

/// What a series request asks for.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// First day (`YYYY-MM-DD`) or instant (RFC 3339) included.
    pub from: Option<String>,
    /// Last day (`YYYY-MM-DD`, included whole) or instant (RFC 3339, excluded).
    pub to: Option<String>,
    /// `hour`, `day`, `week`, `month` (from the metric's native grain up), or `period`.
    pub grain: Option<String>,
    /// A dimension to split the series by.
    pub dimension: Option<String>,
}

/// One point of a series.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Point {
    /// Bucket start: `YYYY-MM-DD`, or RFC 3339 for the hour grain.
    pub t: String,
    /// Measure → its rolled-up value; `null` when the bucket has no value for it (or a ratio's
    /// denominator sums to 0).
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, Option<f64>>,
}

/// One series: the dimension values it is for, and its points in time order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Series {
    /// Dimension → value for the `split` dimensions and the one asked for; a null is `""`.
    #[schema(value_type = Object)]
    pub labels: BTreeMap<String, String>,
    /// One point per bucket that has rows, in time order.
    pub points: Vec<Point>,
}

/// The answer to a series request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SeriesSet {
    /// The metric's name.
    pub metric: String,
    /// The grain the points are bucketed in (the metric's native one unless asked).
    pub grain: String,
    /// The `from` bound as given; `None` when unbounded.
    pub from: Option<String>,
    /// The `to` bound as given; `None` when unbounded.
    pub to: Option<String>,
    /// The dimension asked to split by, if any (`split` dimensions always are).
    pub dimension: Option<String>,
    /// Measure names, in catalogue order: the keys of every point's `values`.
    pub measures: Vec<String>,
    /// One series per combination of label values, ordered by labels.
    pub series: Vec<Series>,
}

const DAY: i64 = 86_400_000_000;
const HOUR: i64 = 3_600_000_000;

/// Parses a bound: a date (whole day) or an RFC 3339 instant. `end` makes a date exclusive
/// of the next day.
fn bound(text: &str, name: &str, end: bool) -> Result<i64, ApiError> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let days = i64::from((date - NaiveDate::default()).num_days() as i32);
        return Ok((days + i64::from(end)) * DAY);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_micros())
        .map_err(|_| {
            ApiError::validation(format!(
                "{name} must be YYYY-MM-DD or an RFC 3339 instant, got {text:?}"
            ))
        })
}

/// The start of the `grain` bucket holding `t`.
fn bucket(t: i64, grain: &str) -> i64 {
    let day = t.div_euclid(DAY);
    match grain {
        "hour" => t - t.rem_euclid(HOUR),
        "day" => day * DAY,
        // 1970-01-01 was a Thursday: Mondays are days ≡ 4 (mod 7).
        "week" => (day - (day - 4).rem_euclid(7)) * DAY,
        "month" => {
            let date = NaiveDate::default() + chrono::Days::new(day.max(0) as u64);
            let first = date.with_day(1).unwrap_or(date);
            (first - NaiveDate::default()).num_days() * DAY
        }
        _ => t,
    }
}

fn label(t: i64, grain: &str) -> String {
    let at = DateTime::from_timestamp_micros(t).unwrap_or_default();
    if grain == "hour" {
        at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        at.format("%Y-%m-%d").to_string()
    }
}

/// Running combination of one measure.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    sum: f64,
    n: u32,
    max: Option<f64>,
    num: f64,
    den: f64,
}

impl Acc {
    fn add(&mut self, v: f64) {
        self.sum += v;
        self.n += 1;
        self.max = Some(self.max.map_or(v, |m| m.max(v)));
    }

    fn value(&self, rollup: Rollup) -> Option<f64> {
        match rollup {
            Rollup::Sum => (self.n > 0).then_some(self.sum),
            Rollup::Mean => (self.n > 0).then(|| self.sum / f64::from(self.n)),
            Rollup::Max => self.max,
            Rollup::Ratio => (self.den > 0.0).then(|| self.num / self.den),
        }
    }
}

/// The series of `metric` for `rows`, as `query` asks.
pub fn series(
    metric: &Metric,
    rows: Option<&Rows>,
    query: &SeriesQuery,
) -> Result<SeriesSet, ApiError> {
    let grain = given(&query.grain).unwrap_or(&metric.grain).to_owned();
    if !metric.grains().contains(&grain.as_str()) {
        return Err(ApiError::validation(format!(
            "grain must be one of {:?} for {}, got {grain:?}",
            metric.grains(),
            metric.name
        )));
    }
    let dimension = given(&query.dimension).map(str::to_owned);
    if let Some(d) = &dimension
        && !metric.dimensions.contains(d)
    {
        return Err(ApiError::validation(format!(
            "dimension must be one of {:?} for {}, got {d:?}",
            metric.dimensions, metric.name
        )));
    }
    let from = given(&query.from)
        .map(|t| bound(t, "from", false))
        .transpose()?;
    let to = given(&query.to).map(|t| bound(t, "to", true)).transpose()?;
    let kept: Vec<usize> = metric
        .dimensions
        .iter()
        .enumerate()
        .filter(|(_, d)| metric.split.contains(d) || dimension.as_ref() == Some(d))
        .map(|(i, _)| i)
        .collect();
    let columns = metric.columns();
    let at = |name: &str| columns.iter().position(|c| c == name);
    // Stage 1: across dimensions at each native time; stage 2: into buckets of the grain.
    type Labels = Vec<Arc<str>>;
    let mut native: BTreeMap<(Labels, i64), Vec<Acc>> = BTreeMap::new();
    for row in rows.map_or(&[][..], |r| &r.rows) {
        if from.is_some_and(|f| row.t < f) || to.is_some_and(|t| row.t >= t) {
            continue;
        }
        let labels: Labels = kept.iter().map(|&i| Arc::clone(&row.dims[i])).collect();
        let accs = native
            .entry((labels, row.t))
            .or_insert_with(|| vec![Acc::default(); metric.measures.len()]);
        for (acc, m) in accs.iter_mut().zip(&metric.measures) {
            if m.rollup == Rollup::Ratio {
                let num: Option<f64> = m.of.iter().map(|c| at(c).and_then(|i| row.values[i])).sum();
                let den = m.per.as_deref().and_then(at).and_then(|i| row.values[i]);
                if let (Some(num), Some(den)) = (num, den) {
                    acc.num += num;
                    acc.den += den;
                }
            } else if let Some(v) = at(&m.name).and_then(|i| row.values[i]) {
                acc.add(v);
            }
        }
    }
    let mut buckets: BTreeMap<(Labels, i64), Vec<Acc>> = BTreeMap::new();
    for ((labels, t), accs) in native {
        let target = buckets
            .entry((labels, bucket(t, &grain)))
            .or_insert_with(|| vec![Acc::default(); metric.measures.len()]);
        for ((into, from), m) in target.iter_mut().zip(&accs).zip(&metric.measures) {
            into.num += from.num;
            into.den += from.den;
            if let Some(v) = from.value(m.rollup) {
                into.add(v);
            }
        }
    }
    let mut out: Vec<Series> = Vec::new();
    let mut current: Option<Labels> = None;
    for ((labels, t), accs) in buckets {
        if current.as_ref() != Some(&labels) {
            out.push(Series {
                labels: kept
                    .iter()
                    .zip(&labels)
                    .map(|(&i, v)| (metric.dimensions[i].clone(), v.to_string()))
                    .collect(),
                points: Vec::new(),
            });
            current = Some(labels);
        }
        let values = accs
            .iter()
            .zip(&metric.measures)
            .map(|(acc, m)| {
                let rollup = m.over_time.filter(|_| grain != metric.grain);
                (m.name.clone(), acc.value(rollup.unwrap_or(m.rollup)))
            })
            .collect();
        if let Some(s) = out.last_mut() {
            s.points.push(Point {
                t: label(t, &grain),
                values,
            });
        }
    }
    Ok(SeriesSet {
        metric: metric.name.clone(),
        grain,
        from: given(&query.from).map(str::to_owned),
        to: given(&query.to).map(str::to_owned),
        dimension,
        measures: metric.measures.iter().map(|m| m.name.clone()).collect(),
        series: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_consistent() {
        let all = catalogue();
        assert!(all.len() >= 10);
        for (i, m) in all.iter().enumerate() {
            assert!(
                all[..i].iter().all(|o| o.name != m.name),
                "{} twice",
                m.name
            );
            assert!(
                ["hour", "day", "period"].contains(&m.grain.as_str()),
                "{}",
                m.name
            );
            assert!(
                m.split.iter().all(|d| m.dimensions.contains(d)),
                "{}",
                m.name
            );
            for measure in &m.measures {
                let ratio = measure.rollup == Rollup::Ratio;
                assert_eq!(ratio, measure.per.is_some(), "{}.{}", m.name, measure.name);
                assert_eq!(ratio, !measure.of.is_empty(), "{}.{}", m.name, measure.name);
            }
        }
    }

    #[test]
    fn buckets_start_on_the_hour_day_monday_and_first_of_month() {
        // 2026-11-04T13:45:00Z, a Wednesday.
        let t = DateTime::parse_from_rfc3339("2026-11-04T13:45:00Z")
            .unwrap()
            .timestamp_micros();
        assert_eq!(label(bucket(t, "hour"), "hour"), "2026-11-04T13:00:00Z");
        assert_eq!(label(bucket(t, "day"), "day"), "2026-11-04");
        assert_eq!(label(bucket(t, "week"), "week"), "2026-11-02");
        assert_eq!(label(bucket(t, "month"), "month"), "2026-11-01");
        assert_eq!(
            bound("2026-11-04", "to", true).unwrap(),
            bucket(t, "day") + DAY
        );
    }
}
