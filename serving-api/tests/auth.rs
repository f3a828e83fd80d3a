//! The auth matrix and tenant isolation over a real HTTP server and a real lake.

use std::sync::Arc;

use eventlake_lake::{Lake, TableName};
use eventlake_matching::output::{MatchRow, ReasonRow, matches_schema, to_batches};
use eventlake_serving_api::auth::{Auth, Claims, sign};
use eventlake_serving_api::{AppState, router, snapshot};

const SECRET: &[u8] = b"test-secret";

fn row(tenant: &str, opportunity: &str, candidate: &str, rank: i64) -> MatchRow {
    MatchRow {
        tenant_id: tenant.into(),
        opportunity_id: opportunity.into(),
        candidate_id: candidate.into(),
        model: "project".into(),
        sub_model: "standard".into(),
        role: "Engineer".into(),
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

/// A lake with `gold.matches` for two tenants.
async fn fixture(dir: &std::path::Path) -> Lake {
    let lake = Lake::new(dir.to_str().unwrap()).unwrap();
    let table = TableName::new("gold", "matches").unwrap();
    let schema = matches_schema();
    let delta = lake
        .open_or_create(&table, &schema, &[], "test")
        .await
        .unwrap();
    let rows = vec![
        row("tenant-a", "opp-a", "pty-1", 1),
        row("tenant-a", "opp-a", "pty-2", 2),
        row("tenant-b", "opp-b", "pty-3", 1),
    ];
    delta
        .write(to_batches(&schema, rows).unwrap())
        .await
        .unwrap();
    lake
}

async fn server(dir: &std::path::Path) -> String {
    let lake = fixture(dir).await;
    let snapshot = snapshot::load(&lake).await.unwrap();
    let state = AppState::new(snapshot, Auth::hs256(SECRET));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });
    format!("http://{addr}")
}

fn claims(tenant: &str, exp_offset: i64) -> Claims {
    Claims {
        sub: "user-1".into(),
        tenant_id: tenant.into(),
        roles: vec![],
        exp: (chrono::Utc::now().timestamp() + exp_offset) as u64,
    }
}

async fn get(base: &str, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(t) = token {
        req = req.header("authorization", t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn every_bad_token_is_401_and_tenants_never_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let base = server(dir.path()).await;
    let good = format!("Bearer {}", sign(SECRET, &claims("tenant-a", 600)));
    let expired = format!("Bearer {}", sign(SECRET, &claims("tenant-a", -600)));
    let wrong = format!(
        "Bearer {}",
        sign(b"another-secret", &claims("tenant-a", 600))
    );
    // alg "none": header {"alg":"none","typ":"JWT"}, the claims, and no signature.
    let b64 = |s: &str| {
        use std::fmt::Write;
        // URL-safe base64 without padding, written out to avoid a dependency.
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let bytes = s.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n =
                chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                write!(out, "{}", A[(n >> (18 - 6 * i) & 63) as usize] as char).unwrap();
            }
        }
        out
    };
    let none = format!(
        "Bearer {}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&serde_json::to_string(&claims("tenant-a", 600)).unwrap())
    );
    let path = "/v1/opportunities/opp-a/matches";
    for (name, token) in [
        ("missing", None),
        ("not bearer", Some("Basic abc")),
        ("malformed", Some("Bearer not.a.jwt")),
        ("expired", Some(expired.as_str())),
        ("wrong signature", Some(wrong.as_str())),
        ("alg none", Some(none.as_str())),
    ] {
        let (status, body) = get(&base, path, token).await;
        assert_eq!(status, 401, "{name}");
        assert_eq!(body["errors"][0]["code"], "UNAUTHENTICATED", "{name}");
        assert_eq!(body["success"], false);
    }

    let (status, body) = get(&base, path, Some(&good)).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"][0]["candidate_id"], "pty-1");
    assert!(
        body["meta"]["snapshot_version"]
            .as_str()
            .unwrap()
            .contains("gold.matches@")
    );

    // Another tenant's opportunity answers exactly like a missing one.
    let (theirs, theirs_body) = get(&base, "/v1/opportunities/opp-b/matches", Some(&good)).await;
    let (missing, missing_body) = get(&base, "/v1/opportunities/opp-x/matches", Some(&good)).await;
    assert_eq!((theirs, missing), (404, 404));
    assert_eq!(theirs_body["errors"][0]["code"], "NOT_FOUND");
    assert_eq!(
        theirs_body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .replace("opp-b", "ID"),
        missing_body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .replace("opp-x", "ID")
    );
    let (status, _) = get(&base, "/v1/parties/pty-3/matches", Some(&good)).await;
    assert_eq!(status, 404, "tenant A read tenant B's party");

    let (status, body) = get(&base, "/v1/opportunities/opp-a/matches?k=0", Some(&good)).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["code"], "VALIDATION_ERROR");
    let (status, body) = get(&base, "/v1/opportunities/opp-a/matches?k=1", Some(&good)).await;
    assert_eq!((status, body["data"].as_array().unwrap().len()), (200, 1));
}

#[tokio::test]
async fn a_new_table_version_is_swapped_in() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture(dir.path()).await;
    let state = AppState::new(snapshot::load(&lake).await.unwrap(), Auth::hs256(SECRET));
    let before = state.current().version();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(eventlake_serving_api::refresh::run(
        lake.clone(),
        Arc::clone(&state),
        std::time::Duration::from_millis(20),
        async {
            let _ = stopped.await;
        },
    ));
    let table = TableName::new("gold", "matches").unwrap();
    let delta = lake.open(&table).await.unwrap();
    delta
        .write(
            to_batches(
                &matches_schema(),
                vec![row("tenant-a", "opp-new", "pty-9", 1)],
            )
            .unwrap(),
        )
        .await
        .unwrap();
    // Wait (generously) for the poller; no timing is asserted.
    for _ in 0..500 {
        if state.current().version() != before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let snapshot = state.current();
    assert_ne!(
        snapshot.version(),
        before,
        "the new version was never swapped in"
    );
    assert!(
        snapshot
            .by_opportunity
            .contains_key(&("tenant-a".to_owned(), "opp-new".to_owned()))
    );
    stop.send(()).unwrap();
    task.await.unwrap();
}
