//! The auth matrix, tenant isolation on every route, roles, rate limits, paging and the
//! event collector, over a real HTTP server and a real lake.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{SECRET, bearer, call, claims, fixture, get, start};
use eventlake_serving_api::Config;
use eventlake_serving_api::auth::{Auth, sign};

/// Every data route, with tenant A's id and tenant B's id.
const ROUTES: [(&str, &str, &str); 6] = [
    ("/v1/opportunities/{}/matches", "opp-a", "opp-b"),
    ("/v1/opportunities/{}/teams", "opp-a", "opp-b"),
    ("/v1/parties/{}/matches", "pty-1", "pty-3"),
    ("/v1/parties/{}/barter-cycles", "pty-1", "pty-3"),
    ("/v1/mentorship/{}", "pty-1", "pty-3"),
    ("/v1/users/{}/context", "sup-a", "sup-b"),
];

fn unlimited() -> Config {
    Config {
        rate_per_second: 0.0,
        ..Config::default()
    }
}

/// Tokens that must all be refused.
fn bad_tokens() -> Vec<(&'static str, Option<String>)> {
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
    let payload = serde_json::to_string(&claims("tenant-a", &["analyst"], 600)).unwrap();
    let hs = |header: &str, secret: &[u8]| {
        use jsonwebtoken::{EncodingKey, Header};
        let header: Header = serde_json::from_str(header).unwrap();
        let claims: serde_json::Value = serde_json::from_str(&payload).unwrap();
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap()
    };
    let signed = |claims: &serde_json::Value| {
        let key = jsonwebtoken::EncodingKey::from_secret(SECRET);
        let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(), claims, &key).unwrap();
        Some(format!("Bearer {token}"))
    };
    let now = chrono::Utc::now().timestamp();
    let no_tenant = serde_json::json!({"sub": "u", "exp": now + 600});
    let early = serde_json::json!({"sub": "u", "tenant_id": "tenant-a", "exp": now + 7200, "nbf": now + 3600});
    vec![
        ("missing", None),
        ("not bearer", Some("Basic abc".into())),
        ("malformed", Some("Bearer not.a.jwt".into())),
        ("empty bearer", Some("Bearer ".into())),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                sign(SECRET, &claims("tenant-a", &["analyst"], -600))
            )),
        ),
        (
            "wrong secret",
            Some(format!(
                "Bearer {}",
                sign(b"another-secret-42", &claims("tenant-a", &[], 600))
            )),
        ),
        (
            "alg none",
            Some(format!(
                "Bearer {}.{}.",
                b64(r#"{"alg":"none","typ":"JWT"}"#),
                b64(&payload)
            )),
        ),
        (
            "HS512",
            Some(format!(
                "Bearer {}",
                hs(r#"{"alg":"HS512","typ":"JWT"}"#, SECRET)
            )),
        ),
        ("no tenant", signed(&no_tenant)),
        ("nbf an hour ahead", signed(&early)),
    ]
}

#[tokio::test]
async fn every_bad_token_is_401_on_every_data_route() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture(dir.path()).await;
    let (base, _) = start(&lake, Auth::hs256(SECRET), unlimited(), true).await;
    let mut paths: Vec<(&str, String)> = ROUTES
        .iter()
        .map(|(route, a, _)| ("GET", route.replace("{}", a)))
        .collect();
    paths.extend([
        ("GET", "/v1/metrics".to_owned()),
        ("GET", "/v1/metrics/active_users".to_owned()),
        ("POST", "/v1/events".to_owned()),
        ("GET", "/v1/ws".to_owned()),
    ]);
    for (name, token) in bad_tokens() {
        for (method, path) in &paths {
            let a = call(method, &base, path, token.as_deref(), Some(String::new())).await;
            assert_eq!(a.status, 401, "{name} on {method} {path}: {}", a.body);
            assert_eq!(
                a.body["errors"][0]["code"], "UNAUTHENTICATED",
                "{name} on {path}"
            );
            assert_eq!(a.body["success"], false);
            assert!(a.headers.contains_key("x-request-id"));
        }
    }
    // Public routes need no token.
    for path in [
        "/v1/health",
        "/v1/ready",
        "/v1/openapi.json",
        "/",
        "/metrics",
    ] {
        assert_eq!(get(&base, path, None).await.status, 200, "{path}");
    }
}

#[tokio::test]
async fn a_tenant_never_reads_another_tenants_data_on_any_route() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture(dir.path()).await;
    let (base, _) = start(&lake, Auth::hs256(SECRET), unlimited(), false).await;
    for (tenant, other) in [("tenant-a", "tenant-b"), ("tenant-b", "tenant-a")] {
        let token = bearer(tenant, &["analyst"]);
        for (route, a, b) in ROUTES {
            let (mine, theirs) = if tenant == "tenant-a" { (a, b) } else { (b, a) };
            let ok = get(&base, &route.replace("{}", mine), Some(&token)).await;
            assert_eq!(ok.status, 200, "{tenant} {route}: {}", ok.body);
            let text = ok.body["data"].to_string();
            assert!(
                text.contains(tenant) && !text.contains(other),
                "{route}: {text}"
            );
            // Another tenant's id answers exactly as an id that exists nowhere.
            let foreign = get(&base, &route.replace("{}", theirs), Some(&token)).await;
            let missing = get(&base, &route.replace("{}", "ghost"), Some(&token)).await;
            assert_eq!((foreign.status, missing.status), (404, 404), "{route}");
            assert_eq!(
                foreign.body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .replace(theirs, "ID"),
                missing.body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .replace("ghost", "ID"),
            );
            assert_eq!(foreign.body["errors"][0]["code"], "NOT_FOUND");
        }
        // Metrics: only the caller's rows.
        let series = get(&base, "/v1/metrics/active_users", Some(&token)).await;
        assert_eq!(series.status, 200);
        let dau: Vec<f64> = series.body["data"]["series"][0]["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["values"]["dau"].as_f64().unwrap())
            .collect();
        let expected = if tenant == "tenant-a" {
            vec![7.0, 5.0]
        } else {
            vec![100.0]
        };
        assert_eq!(dau, expected, "{tenant}");
    }
}

#[tokio::test]
async fn metrics_need_the_analyst_role_and_roll_up_by_their_rules() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture(dir.path()).await;
    let (base, _) = start(&lake, Auth::hs256(SECRET), unlimited(), false).await;
    let plain = bearer("tenant-a", &[]);
    for path in ["/v1/metrics", "/v1/metrics/active_users"] {
        let a = get(&base, path, Some(&plain)).await;
        assert_eq!(
            (a.status, a.body["errors"][0]["code"].as_str()),
            (403, Some("FORBIDDEN"))
        );
    }
    let analyst = bearer("tenant-a", &["analyst"]);
    let catalogue = get(&base, "/v1/metrics", Some(&analyst)).await;
    let names: Vec<&str> = catalogue.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"active_users") && names.contains(&"donations"),
        "{names:?}"
    );
    // Split by application: one series per application.
    let split = get(
        &base,
        "/v1/metrics/active_users?dimension=application",
        Some(&analyst),
    )
    .await;
    assert_eq!(split.body["data"]["series"].as_array().unwrap().len(), 2);
    // Weekly: distinct counts are averaged over the days (7 and 5 → 6), not added up.
    let week = get(&base, "/v1/metrics/active_users?grain=week", Some(&analyst)).await;
    let point = &week.body["data"]["series"][0]["points"][0];
    assert_eq!(
        (point["t"].as_str(), point["values"]["dau"].as_f64()),
        (Some("2026-11-02"), Some(6.0))
    );
    // Bounds: `to` is a whole day, included.
    let day = get(
        &base,
        "/v1/metrics/active_users?from=2026-11-03&to=2026-11-03",
        Some(&analyst),
    )
    .await;
    assert_eq!(
        day.body["data"]["series"][0]["points"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    for bad in [
        "/v1/metrics/active_users?grain=hour",
        "/v1/metrics/active_users?dimension=nope",
        "/v1/metrics/active_users?from=yesterday",
        "/v1/metrics/active_users?limit=0",
    ] {
        let a = get(&base, bad, Some(&analyst)).await;
        assert_eq!(
            (a.status, a.body["errors"][0]["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{bad}"
        );
    }
    assert_eq!(
        get(&base, "/v1/metrics/nope", Some(&analyst)).await.status,
        404
    );
}

#[tokio::test]
async fn matches_filter_validate_and_page() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture(dir.path()).await;
    let (base, _) = start(&lake, Auth::hs256(SECRET), unlimited(), false).await;
    let token = bearer("tenant-a", &[]);
    let path = "/v1/opportunities/opp-a/matches";
    let all = get(&base, path, Some(&token)).await;
    let ids = |body: &serde_json::Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{}/{}",
                    m["role"].as_str().unwrap(),
                    m["candidate_id"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        ids(&all.body),
        ["Designer/pty-4", "Engineer/pty-1", "Engineer/pty-2"]
    );
    let k1 = get(&base, &format!("{path}?k=1&role=Engineer"), Some(&token)).await;
    assert_eq!(ids(&k1.body), ["Engineer/pty-1"]);
    // Pages of one: every match once, in order, then no cursor.
    let mut seen = Vec::new();
    let mut next = format!("{path}?limit=1");
    loop {
        let page = get(&base, &next, Some(&token)).await;
        seen.extend(ids(&page.body));
        match page.body["meta"]["next_cursor"].as_str() {
            Some(c) => next = format!("{path}?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ids(&all.body));
    for bad in ["?k=0", "?k=abc", "?limit=501", "?cursor=%%%", "?k=1&k=2"] {
        let a = get(&base, &format!("{path}{bad}"), Some(&token)).await;
        assert_eq!(
            (a.status, a.body["errors"][0]["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{bad}"
        );
    }
    let prompt = get(&base, "/v1/users/sup-a/context?format=prompt", Some(&token)).await;
    assert_eq!(prompt.body["data"], "Supporter A gives monthly.");
    let mentor = get(&base, "/v1/mentorship/pty-2", Some(&token)).await;
    assert_eq!(mentor.body["data"]["as_mentor"][0]["mentee_id"], "pty-1");
    assert_eq!(mentor.body["data"]["as_mentee"], serde_json::json!([]));
    let unknown = get(&base, "/v1/nowhere", Some(&token)).await;
    assert_eq!(
        (unknown.status, unknown.body["errors"][0]["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
}

#[tokio::test]
async fn a_tenant_over_its_rate_gets_429_with_retry_after_and_others_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture(dir.path()).await;
    let config = Config {
        rate_per_second: 0.5,
        burst: 3,
        ..Config::default()
    };
    let (base, _) = start(&lake, Auth::hs256(SECRET), config, false).await;
    let a = bearer("tenant-a", &[]);
    let path = "/v1/opportunities/opp-a/matches";
    for _ in 0..3 {
        assert_eq!(get(&base, path, Some(&a)).await.status, 200);
    }
    let limited = get(&base, path, Some(&a)).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.body["errors"][0]["code"], "RATE_LIMITED");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(
        get(
            &base,
            "/v1/opportunities/opp-b/matches",
            Some(&bearer("tenant-b", &[]))
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn events_are_collected_only_for_the_tokens_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture(dir.path()).await;
    let (base, _) = start(&lake, Auth::hs256(SECRET), unlimited(), true).await;
    let config = eventlake_workload::WorkloadConfig {
        events: 50,
        bad_ratio: 0.0,
        ..Default::default()
    };
    let lines: Vec<serde_json::Value> = eventlake_workload::Workload::new(config)
        .map(|l| serde_json::from_slice(&l.bytes).unwrap())
        .collect();
    let tenant = lines[0]["tenant_id"].as_str().unwrap().to_owned();
    let (mine, theirs): (Vec<_>, Vec<_>) = lines
        .iter()
        .partition(|l| l["tenant_id"] == tenant.as_str());
    assert!(!theirs.is_empty());
    let ndjson = |ls: &[&serde_json::Value]| {
        ls.iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let token = bearer(&tenant, &[]);
    let mixed = call(
        "POST",
        &base,
        "/v1/events",
        Some(&token),
        Some(ndjson(&[mine[0], theirs[0]])),
    )
    .await;
    assert_eq!(
        (mixed.status, mixed.body["errors"][0]["code"].as_str()),
        (403, Some("FORBIDDEN"))
    );
    let ok = call(
        "POST",
        &base,
        "/v1/events",
        Some(&token),
        Some(ndjson(&mine)),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        ok.body["data"]["accepted"].as_u64().unwrap() as usize,
        mine.len()
    );
    let again = call(
        "POST",
        &base,
        "/v1/events",
        Some(&token),
        Some(ndjson(&mine)),
    )
    .await;
    assert_eq!(
        again.body["data"]["duplicates"].as_u64().unwrap() as usize,
        mine.len()
    );
    // Nothing of the refused body was stored: only `mine`, once.
    let stored = eventlake_lake::query::session(&lake)
        .await
        .unwrap()
        .sql("SELECT count(*) AS n FROM bronze.events")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let n = stored[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap()
        .value(0);
    assert_eq!(n as usize, mine.len());
}

/// Serves `jwks.json` on a loopback port.
async fn jwks_server() -> String {
    let jwks = include_str!("fixtures/jwks.json");
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || async move { jwks }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/jwks.json")
}

/// An RS256 token signed with the key `jwks.json` publishes, naming `kid`.
fn rs256(kid: &str, claims: &serde_json::Value) -> String {
    let key =
        jsonwebtoken::EncodingKey::from_rsa_pem(include_bytes!("fixtures/rs256-test-key.pem"))
            .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "eventlake-test";

/// A server as `serve --jwks-url --issuer --audience` runs it: RS256 from the test JWKS,
/// [`ISSUER`] and [`AUDIENCE`] configured, the collector mounted.
async fn strict_server(lake: &eventlake_lake::Lake) -> String {
    let auth = Auth::rs256(&jwks_server().await, Some(ISSUER), Some(AUDIENCE))
        .await
        .unwrap();
    start(lake, auth, unlimited(), true).await.0
}

/// Cognito-style claims of `tenant` that [`strict_server`] accepts: the configured `iss` and
/// `aud`, in force since an hour ago (`nbf`) and for ten more minutes.
fn strict_claims(tenant: &str) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    serde_json::json!({"sub": "u", "custom:tenant_id": tenant, "exp": now + 600, "nbf": now - 3600, "iss": ISSUER, "aud": AUDIENCE})
}

#[tokio::test]
async fn tokens_without_the_configured_iss_or_aud_or_before_their_nbf_are_401_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture(dir.path()).await;
    let base = strict_server(&lake).await;
    let good = strict_claims("tenant-a");
    let without = |claim: &str| {
        let mut claims = good.clone();
        claims.as_object_mut().unwrap().remove(claim);
        claims
    };
    let mut early = good.clone();
    let now = chrono::Utc::now().timestamp();
    early["nbf"] = (now + 3600).into();
    early["exp"] = (now + 7200).into();
    let refused = [
        ("no iss", without("iss"), "token has no iss claim"),
        ("no aud", without("aud"), "token has no aud claim"),
        (
            "nbf an hour ahead",
            early,
            "token is not valid yet (its nbf is in the future)",
        ),
    ];
    for (name, claims, message) in refused {
        let token = rs256("test-key-1", &claims);
        let authorization = format!("Bearer {token}");
        for (method, path) in [
            ("GET", "/v1/opportunities/opp-a/matches"),
            ("POST", "/v1/events"),
            ("GET", "/v1/ws"),
        ] {
            // Twice: a refused token is not remembered as verified either.
            for _ in 0..2 {
                let a = call(
                    method,
                    &base,
                    path,
                    Some(&authorization),
                    Some(String::new()),
                )
                .await;
                assert_eq!(a.status, 401, "{name} on {method} {path}: {}", a.body);
                assert_eq!(a.body["success"], false);
                assert_eq!(a.body["errors"][0]["code"], "UNAUTHENTICATED", "{name}");
                assert_eq!(a.body["errors"][0]["message"], message, "{name} on {path}");
            }
        }
        // A real upgrade, with the token where browsers put it.
        let url = format!("{}/v1/ws?access_token={token}", base.replace("http", "ws"));
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 401, "{name}");
            }
            other => panic!("{name}: the upgrade was not refused: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_token_past_its_nbf_with_the_configured_iss_and_aud_is_served_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture(dir.path()).await;
    let base = strict_server(&lake).await;
    let token = rs256("test-key-1", &strict_claims("tenant-a"));
    // Twice: verified, then remembered.
    for _ in 0..2 {
        let a = get(
            &base,
            "/v1/opportunities/opp-a/matches",
            Some(&format!("Bearer {token}")),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let url = format!("{}/v1/ws?access_token={token}", base.replace("http", "ws"));
    let (_socket, response) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(response.status().as_u16(), 101);
    let config = eventlake_workload::WorkloadConfig {
        events: 50,
        bad_ratio: 0.0,
        ..Default::default()
    };
    let line = eventlake_workload::Workload::new(config).next().unwrap();
    let event: serde_json::Value = serde_json::from_slice(&line.bytes).unwrap();
    let tenant = event["tenant_id"].as_str().unwrap();
    let token = rs256("test-key-1", &strict_claims(tenant));
    let posted = call(
        "POST",
        &base,
        "/v1/events",
        Some(&format!("Bearer {token}")),
        Some(event.to_string()),
    )
    .await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    assert_eq!(posted.body["data"]["accepted"].as_u64(), Some(1));
}

#[tokio::test]
async fn rs256_tokens_verify_against_the_jwks_and_nothing_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture(dir.path()).await;
    let url = jwks_server().await;
    let auth = Auth::rs256(&url, Some(ISSUER), None).await.unwrap();
    let (base, _) = start(&lake, auth, unlimited(), false).await;
    let rs = |kid: &str, claims: serde_json::Value| format!("Bearer {}", rs256(kid, &claims));
    let exp = chrono::Utc::now().timestamp() + 600;
    // Cognito's claim names: custom:tenant_id and cognito:groups.
    let cognito = serde_json::json!({"sub": "u", "custom:tenant_id": "tenant-a", "cognito:groups": ["analyst"], "exp": exp, "iss": "https://issuer.test"});
    let path = "/v1/opportunities/opp-a/matches";
    assert_eq!(
        get(&base, path, Some(&rs("test-key-1", cognito.clone())))
            .await
            .status,
        200
    );
    assert_eq!(
        get(
            &base,
            "/v1/metrics",
            Some(&rs("test-key-1", cognito.clone()))
        )
        .await
        .status,
        200
    );
    let mut wrong_issuer = cognito.clone();
    wrong_issuer["iss"] = "https://elsewhere.test".into();
    for (name, token) in [
        ("unknown kid", rs("other-key", cognito.clone())),
        ("wrong issuer", rs("test-key-1", wrong_issuer)),
        // An HS256 token signed with the public key's bytes: the algorithm-confusion attack.
        (
            "HS256 on an RS256 server",
            format!(
                "Bearer {}",
                sign(
                    include_str!("fixtures/jwks.json").as_bytes(),
                    &claims("tenant-a", &[], 600)
                )
            ),
        ),
        ("HS256 with the test secret", bearer("tenant-a", &[])),
    ] {
        assert_eq!(get(&base, path, Some(&token)).await.status, 401, "{name}");
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_in_the_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture(dir.path()).await;
    let config = Config {
        max_body_bytes: 1024,
        ..unlimited()
    };
    let (base, _state) = start(&lake, Auth::hs256(SECRET), config, true).await;
    let a = call(
        "POST",
        &base,
        "/v1/events",
        Some(&bearer("tenant-a", &[])),
        Some("x".repeat(4096)),
    )
    .await;
    assert_eq!(
        (a.status, a.body["errors"][0]["code"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE"))
    );
}
