//! Shared fixtures: a lake with every gold table the API serves, for two tenants, and a
//! real server on a loopback port.

#![allow(dead_code)]

use std::sync::Arc;

use arrow::array::{Date32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use eventlake_lake::{Lake, TableName};
use eventlake_matching::output::{
    CycleRow, MatchRow, MemberRow, MentorshipRow, ReasonRow, StepRow, TeamRow, cycles_schema,
    matches_schema, mentorship_schema, teams_schema, to_batches,
};
use eventlake_serving_api::auth::{Auth, Claims, sign};
use eventlake_serving_api::{AppState, Config, router, snapshot};

pub const SECRET: &[u8] = b"test-secret-0123456789";

pub fn match_row(
    tenant: &str,
    opportunity: &str,
    candidate: &str,
    role: &str,
    rank: i64,
) -> MatchRow {
    MatchRow {
        tenant_id: tenant.into(),
        opportunity_id: opportunity.into(),
        candidate_id: candidate.into(),
        model: "project".into(),
        sub_model: "standard".into(),
        role: role.into(),
        score: 0.9 - rank as f64 / 100.0,
        fit: 0.9,
        interest: None,
        rank,
        reasons: vec![ReasonRow {
            factor: "skills".into(),
            score: 1.0,
            weight: 0.3,
            text: "covers 2 of 2 required skills at the level asked".into(),
        }],
        run_id: "r1".into(),
    }
}

/// The matches of the fixture: tenant A has opp-a (two roles), tenant B has opp-b.
pub fn matches() -> Vec<MatchRow> {
    vec![
        match_row("tenant-a", "opp-a", "pty-1", "Engineer", 1),
        match_row("tenant-a", "opp-a", "pty-2", "Engineer", 2),
        match_row("tenant-a", "opp-a", "pty-4", "Designer", 1),
        match_row("tenant-b", "opp-b", "pty-3", "Engineer", 1),
    ]
}

async fn write(lake: &Lake, name: &str, batches: Vec<RecordBatch>, overwrite: bool) {
    let table = TableName::new("gold", name).unwrap();
    let schema = batches[0].schema();
    let delta = lake
        .open_or_create(&table, &schema, &[], "test")
        .await
        .unwrap();
    let mode = if overwrite {
        deltalake::protocol::SaveMode::Overwrite
    } else {
        deltalake::protocol::SaveMode::Append
    };
    delta.write(batches).with_save_mode(mode).await.unwrap();
}

/// Publishes `rows` as the new `gold.matches` (a whole-table replace, as the job does).
pub async fn publish_matches(lake: &Lake, rows: Vec<MatchRow>) {
    write(
        lake,
        "matches",
        to_batches(&matches_schema(), rows).unwrap(),
        true,
    )
    .await;
}

fn team(tenant: &str, opportunity: &str, party: &str) -> TeamRow {
    TeamRow {
        tenant_id: tenant.into(),
        opportunity_id: opportunity.into(),
        model: "project".into(),
        team_rank: 1,
        score: 0.8,
        coverage: 1.0,
        complete: true,
        members: vec![MemberRow {
            party_id: party.into(),
            role: "Engineer".into(),
            score: 0.8,
        }],
        run_id: "r1".into(),
    }
}

fn cycle(tenant: &str, id: &str, parties: [&str; 2]) -> CycleRow {
    let step = |from: &str, to: &str| StepRow {
        giver_id: from.into(),
        giver_opportunity_id: format!("{from}-offer"),
        receiver_id: to.into(),
        receiver_opportunity_id: format!("{to}-need"),
        resources: vec!["crane".into()],
        distance_km: Some(3.0),
    };
    CycleRow {
        tenant_id: tenant.into(),
        cycle_id: id.into(),
        rank: 1,
        length: 2,
        score: 0.7,
        balance: 1.0,
        distance_km: 3.0,
        party_ids: parties.iter().map(|p| (*p).to_owned()).collect(),
        steps: vec![step(parties[0], parties[1]), step(parties[1], parties[0])],
        run_id: "r1".into(),
    }
}

fn pair(tenant: &str, mentee: &str, mentor: &str) -> MentorshipRow {
    MentorshipRow {
        tenant_id: tenant.into(),
        opportunity_id: format!("{mentee}-mentoring"),
        mentee_id: mentee.into(),
        mentor_id: mentor.into(),
        score: 0.6,
        mentee_choice: 1,
        mentor_choice: 1,
        run_id: "r1".into(),
    }
}

fn strings(values: &[&str]) -> Arc<StringArray> {
    Arc::new(StringArray::from(values.to_vec()))
}

/// A lake holding every gold table the API serves, for tenants A and B.
pub async fn fixture(dir: &std::path::Path) -> Lake {
    let lake = Lake::new(dir.to_str().unwrap()).unwrap();
    publish_matches(&lake, matches()).await;
    let teams = vec![
        team("tenant-a", "opp-a", "pty-1"),
        team("tenant-b", "opp-b", "pty-3"),
    ];
    write(
        &lake,
        "team_suggestions",
        to_batches(&teams_schema(), teams).unwrap(),
        false,
    )
    .await;
    let cycles = vec![
        cycle("tenant-a", "cyc-a", ["pty-1", "pty-5"]),
        cycle("tenant-b", "cyc-b", ["pty-3", "pty-6"]),
    ];
    write(
        &lake,
        "barter_cycles",
        to_batches(&cycles_schema(), cycles).unwrap(),
        false,
    )
    .await;
    let pairs = vec![
        pair("tenant-a", "pty-1", "pty-2"),
        pair("tenant-b", "pty-3", "pty-6"),
    ];
    write(
        &lake,
        "mentorship_pairs",
        to_batches(&mentorship_schema(), pairs).unwrap(),
        false,
    )
    .await;
    let context = Schema::new(vec![
        Field::new("tenant_id", DataType::Utf8, false),
        Field::new("supporter_id", DataType::Utf8, false),
        Field::new("prompt_context", DataType::Utf8, true),
    ]);
    let batch = RecordBatch::try_new(
        Arc::new(context),
        vec![
            strings(&["tenant-a", "tenant-b"]),
            strings(&["sup-a", "sup-b"]),
            strings(&["Supporter A gives monthly.", "Supporter B gave once."]),
        ],
    )
    .unwrap();
    write(&lake, "user_context", vec![batch], false).await;
    let metric = Schema::new(vec![
        Field::new("tenant_id", DataType::Utf8, false),
        Field::new("application", DataType::Utf8, false),
        Field::new("day", DataType::Date32, false),
        Field::new("dau", DataType::Int64, false),
        Field::new("wau", DataType::Int64, false),
        Field::new("mau", DataType::Int64, false),
    ]);
    // 2026-11-02 (a Monday) is day 20759.
    let batch = RecordBatch::try_new(
        Arc::new(metric),
        vec![
            strings(&["tenant-a", "tenant-a", "tenant-a", "tenant-b"]),
            strings(&["chat", "marketplace", "chat", "chat"]),
            Arc::new(Date32Array::from(vec![20759, 20759, 20760, 20759])),
            Arc::new(Int64Array::from(vec![3, 4, 5, 100])),
            Arc::new(Int64Array::from(vec![6, 8, 7, 200])),
            Arc::new(Int64Array::from(vec![9, 12, 9, 300])),
        ],
    )
    .unwrap();
    write(&lake, "metrics_active_users", vec![batch], false).await;
    lake
}

/// A server on a loopback port over `lake`.
pub async fn start(
    lake: &Lake,
    auth: Auth,
    config: Config,
    collect: bool,
) -> (String, Arc<AppState>) {
    let collector = if collect {
        let (collector, _writer) =
            eventlake_ingest::source::http::Collector::start(lake, Default::default())
                .await
                .unwrap();
        Some(collector)
    } else {
        None
    };
    let snapshot = snapshot::load(lake).await.unwrap();
    let state = AppState::new(snapshot, auth, config, collector);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(Arc::clone(&state));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), state)
}

pub fn claims(tenant: &str, roles: &[&str], exp_offset: i64) -> Claims {
    Claims {
        sub: "user-1".into(),
        tenant_id: tenant.into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        exp: (chrono::Utc::now().timestamp() + exp_offset) as u64,
    }
}

/// `Bearer <HS256 token>` of `tenant` with `roles`, valid for ten minutes.
pub fn bearer(tenant: &str, roles: &[&str]) -> String {
    format!("Bearer {}", sign(SECRET, &claims(tenant, roles, 600)))
}

pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
    pub headers: reqwest::header::HeaderMap,
}

pub async fn call(
    method: &str,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Answer {
    let client = reqwest::Client::new();
    let url = format!("{base}{path}");
    let mut req = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    };
    if let Some(t) = token {
        req = req.header("authorization", t);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    Answer {
        status,
        body,
        headers,
    }
}

pub async fn get(base: &str, path: &str, token: Option<&str>) -> Answer {
    call("GET", base, path, token, None).await
}
