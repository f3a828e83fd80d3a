//! The WebSocket layer over a real server: change-only pushes after a published table
//! version, slow clients, malformed messages and per-tenant limits.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{SECRET, fixture, match_row, matches, publish_matches, start};
use eventlake_serving_api::auth::{Auth, sign};
use eventlake_serving_api::{AppState, Config, WsConfig, refresh};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Generous bound for anything that should happen; never asserted as a duration.
const PATIENCE: Duration = Duration::from_secs(20);

async fn connect(base: &str, tenant: &str, roles: &[&str]) -> Socket {
    let token = sign(SECRET, &common::claims(tenant, roles, 600));
    let url = format!("{}/v1/ws?access_token={token}", base.replace("http", "ws"));
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

async fn send(socket: &mut Socket, json: serde_json::Value) {
    socket
        .send(Message::Text(json.to_string().into()))
        .await
        .unwrap();
}

/// The next JSON text frame (pings are answered by the client library).
async fn next(socket: &mut Socket) -> serde_json::Value {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("no message in time")
            .expect("socket closed")
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

async fn subscribe(socket: &mut Socket, topics: &[&str]) -> Vec<serde_json::Value> {
    send(
        socket,
        serde_json::json!({"op": "subscribe", "topics": topics}),
    )
    .await;
    let mut out = Vec::new();
    for _ in topics {
        let m = next(socket).await;
        assert_eq!(m["type"], "subscribed", "{m}");
        out.push(m);
    }
    out
}

/// Asks for a pong and says whether anything else came first.
async fn only_pong(socket: &mut Socket) -> serde_json::Value {
    send(socket, serde_json::json!({"op": "ping"})).await;
    next(socket).await
}

fn polling(lake: &eventlake_lake::Lake, state: &Arc<AppState>) {
    tokio::spawn(refresh::run(
        lake.clone(),
        Arc::clone(state),
        Duration::from_millis(20),
        std::future::pending(),
    ));
}

async fn wait_for_generation(state: &AppState, generation: u64) {
    tokio::time::timeout(PATIENCE, async {
        while state.current().generation < generation {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the new version was never swapped in");
}

#[tokio::test]
async fn a_published_change_reaches_only_the_subscribers_of_changed_data() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture(dir.path()).await;
    let (base, state) = start(&lake, Auth::hs256(SECRET), Config::default(), false).await;
    polling(&lake, &state);
    let mut changed = connect(&base, "tenant-a", &[]).await;
    let first = subscribe(&mut changed, &["matches:opportunity:opp-a"]).await;
    assert_eq!(first[0]["data"].as_array().unwrap().len(), 3);
    let mut unchanged = connect(&base, "tenant-a", &[]).await;
    subscribe(
        &mut unchanged,
        &["matches:party:pty-1", "context:user:sup-a"],
    )
    .await;
    let mut idle = connect(&base, "tenant-a", &[]).await;
    let mut other_tenant = connect(&base, "tenant-b", &[]).await;
    // Tenant B asks for tenant A's opportunity: it sees nothing, as for a missing id.
    let foreign = subscribe(
        &mut other_tenant,
        &["matches:opportunity:opp-a", "matches:opportunity:opp-b"],
    )
    .await;
    assert!(foreign[0]["data"].is_null());

    // A job run publishes: opp-a's second engineer is now pty-7; nothing else moves but
    // the run id, which is no change.
    let mut rows = matches();
    rows[1] = match_row("tenant-a", "opp-a", "pty-7", "Engineer", 2);
    for row in &mut rows {
        row.run_id = "r2".into();
    }
    publish_matches(&lake, rows).await;
    wait_for_generation(&state, 1).await;

    let update = next(&mut changed).await;
    assert_eq!(update["type"], "update");
    assert_eq!(update["topic"], "matches:opportunity:opp-a");
    assert!(update["data"].to_string().contains("pty-7"));
    assert_eq!(update["snapshot_version"], state.current().version());
    // Give a wrong push every chance to arrive, then check that a pong is the next frame.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for socket in [&mut unchanged, &mut idle, &mut other_tenant, &mut changed] {
        assert_eq!(only_pong(socket).await, serde_json::json!({"type": "pong"}));
    }
}

#[tokio::test]
async fn a_slow_client_never_delays_a_fast_one_and_holds_one_message_at_most() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture(dir.path()).await;
    let config = Config {
        ws: WsConfig {
            send_timeout: Duration::from_millis(1500),
            ..WsConfig::default()
        },
        ..Config::default()
    };
    let (base, state) = start(&lake, Auth::hs256(SECRET), config, false).await;
    polling(&lake, &state);
    // A big topic: 3000 matches, about 1.5 MB per push.
    let big = |round: i64| -> Vec<eventlake_matching::output::MatchRow> {
        (1..=3000)
            .map(|rank| {
                let mut row = match_row(
                    "tenant-a",
                    "opp-a",
                    &format!("pty-{rank}"),
                    "Engineer",
                    rank,
                );
                row.run_id = format!("round-{round}");
                row.reasons[0].text = format!("{round} {}", "x".repeat(300));
                row
            })
            .collect()
    };
    publish_matches(&lake, big(0)).await;
    wait_for_generation(&state, 1).await;
    let topic = "matches:opportunity:opp-a";
    let mut slow = connect(&base, "tenant-a", &[]).await;
    send(
        &mut slow,
        serde_json::json!({"op": "subscribe", "topics": [topic]}),
    )
    .await;
    let mut fast = connect(&base, "tenant-a", &[]).await;
    let first = subscribe(&mut fast, &[topic]).await;
    let message_bytes = first[0].to_string().len() as u64;
    let mut most_pending = 0;
    let rounds = 30;
    for round in 1..=rounds {
        publish_matches(&lake, big(round)).await;
        // The fast client gets this round's data (or, if swaps collapsed, a later one).
        loop {
            let m = next(&mut fast).await;
            if m["type"] == "update" {
                let run = m["data"][0]["run_id"].as_str().unwrap().to_owned();
                let got: i64 = run.trim_start_matches("round-").parse().unwrap();
                if got >= round {
                    break;
                }
            }
        }
        most_pending = most_pending.max(state.stats.ws_pending_bytes.load(Ordering::Relaxed));
    }
    // The slow client, which read nothing, was cut off; at no point did the server hold more
    // than one message per connection in flight.
    tokio::time::timeout(PATIENCE, async {
        while state.stats.ws_slow_disconnects.load(Ordering::Relaxed) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the slow client was never disconnected");
    assert!(
        most_pending <= 2 * message_bytes + 1024,
        "{most_pending} > 2 × {message_bytes}"
    );
    assert_eq!(state.stats.ws_connections.load(Ordering::Relaxed), 1);
    drop(slow);
}

#[tokio::test]
async fn malformed_messages_get_error_frames_and_the_connection_lives() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture(dir.path()).await;
    let (base, _state) = start(&lake, Auth::hs256(SECRET), Config::default(), false).await;
    let mut socket = connect(&base, "tenant-a", &[]).await;
    for (frame, code) in [
        (Message::Text("not json".into()), "VALIDATION_ERROR"),
        (
            Message::Text(r#"{"op":"dance"}"#.into()),
            "VALIDATION_ERROR",
        ),
        (
            Message::Text(r#"{"op":"subscribe","topics":["chat:room:1"]}"#.into()),
            "VALIDATION_ERROR",
        ),
        (
            Message::Text(r#"{"op":"subscribe","topics":["metrics:active_users"]}"#.into()),
            "FORBIDDEN",
        ),
        (Message::Binary(vec![1, 2, 3].into()), "VALIDATION_ERROR"),
    ] {
        socket.send(frame).await.unwrap();
        let m = next(&mut socket).await;
        assert_eq!(
            (m["type"].as_str(), m["code"].as_str()),
            (Some("error"), Some(code)),
            "{m}"
        );
    }
    assert_eq!(only_pong(&mut socket).await["type"], "pong");
    let mut analyst = connect(&base, "tenant-a", &["analyst"]).await;
    let m = subscribe(&mut analyst, &["metrics:active_users"]).await;
    assert_eq!(m[0]["data"]["metric"], "active_users");
    send(
        &mut analyst,
        serde_json::json!({"op": "unsubscribe", "topics": ["metrics:active_users"]}),
    )
    .await;
    assert_eq!(
        next(&mut analyst).await["topics"][0],
        "metrics:active_users"
    );
}

#[tokio::test]
async fn connections_and_subscriptions_are_limited_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let lake = fixture(dir.path()).await;
    let config = Config {
        ws: WsConfig {
            max_connections_per_tenant: 2,
            max_subscriptions_per_tenant: 2,
            ..WsConfig::default()
        },
        ..Config::default()
    };
    let (base, _state) = start(&lake, Auth::hs256(SECRET), config, false).await;
    let mut one = connect(&base, "tenant-a", &[]).await;
    let _two = connect(&base, "tenant-a", &[]).await;
    let token = sign(SECRET, &common::claims("tenant-a", &[], 600));
    let url = format!("{}/v1/ws?access_token={token}", base.replace("http", "ws"));
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 429);
        }
        other => panic!("a third connection was not refused: {other:?}"),
    }
    let _b = connect(&base, "tenant-b", &[]).await;
    subscribe(&mut one, &["matches:party:pty-1", "matches:party:pty-2"]).await;
    send(
        &mut one,
        serde_json::json!({"op": "subscribe", "topics": ["matches:party:pty-4"]}),
    )
    .await;
    assert_eq!(next(&mut one).await["code"], "TOO_MANY_SUBSCRIPTIONS");
    let bad = format!("{}/v1/ws?access_token=nope", base.replace("http", "ws"));
    match tokio_tungstenite::connect_async(bad).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 401);
        }
        other => panic!("a bad token was not refused: {other:?}"),
    }
}
