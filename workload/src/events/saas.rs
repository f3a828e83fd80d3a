//! Multi-tenant SaaS events: sessions, API requests and generated artifacts.
//!
//! Invariant: requests and artifacts belong to an open session and carry that session's user;
//! a user's plan (tier) and a session's client derive from their ids, so they never change
//! between events.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{Ctx, EventType, Generator, id_field, log_normal, weighted};
use crate::entities::{Kind, pick_hot};
use crate::taxonomy::ROUTES;

fn tier(user_key: u64) -> &'static str {
    match (user_key >> 12) % 100 {
        0..8 => "enterprise",
        8..35 => "pro",
        _ => "free",
    }
}

fn client(session_key: u64) -> Option<&'static str> {
    match (session_key >> 28) % 100 {
        0..50 => Some("web"),
        50..62 => Some("desktop"),
        62..72 => Some("ios"),
        72..80 => Some("android"),
        80..88 => Some("cli"),
        _ => None,
    }
}

impl Generator {
    pub(super) fn saas(&mut self, rng: &mut ChaCha8Rng, ty: EventType, ctx: Ctx) {
        use EventType::*;
        let ids = self.ids;
        let t = ctx.tenant;
        let user = |i: u64| ids.entity(Kind::SaasUser, t, i);
        let session = |i: u64| ids.entity(Kind::Session, t, i);
        let pools = &mut self.pools[t];
        let (s, u) = match ty {
            SessionStarted => {
                let u = if pools.saas_users == 0 || rng.random_bool(0.2) {
                    pools.saas_users += 1;
                    pools.saas_users - 1
                } else {
                    pick_hot(rng, pools.saas_users)
                };
                let s = pools.sessions;
                pools.sessions += 1;
                pools.open_sessions.push((s, u));
                (s, u)
            }
            SessionEnded => {
                let i = rng.random_range(0..pools.open_sessions.len());
                pools.open_sessions.swap_remove(i)
            }
            _ => pools.open_sessions[rng.random_range(0..pools.open_sessions.len())],
        };
        let (session_id, user_id) = (session(s), user(u));
        self.open(rng, ty, ctx, user_id);
        let w = &mut self.writer;
        match ty {
            SessionStarted | SessionEnded => {
                id_field(w, "session_id", session_id);
                id_field(w, "user_id", user_id);
                if let Some(client) = client(session_id.key) {
                    w.key("client");
                    w.str(client);
                }
                if ty == SessionEnded {
                    w.key("duration_ms");
                    w.int(log_normal(rng, 1_200_000.0, 1.0).min(86_400_000.0) as i64);
                }
            }
            ApiRequest => {
                let (route, method) = weighted(
                    rng,
                    &ROUTES.map(|(route, method, share)| ((route, method), share)),
                );
                let roll: f64 = rng.random();
                let status = if roll < 0.006 {
                    super::one(rng, &[500, 502, 503, 504])
                } else if roll < 0.051 {
                    super::one(rng, &[400, 401, 403, 404, 404, 409, 422, 429])
                } else if method == "POST" {
                    201
                } else if method == "DELETE" {
                    204
                } else {
                    200
                };
                let slow = if status >= 500 { 5.0 } else { 1.0 };
                id_field(w, "request_id", ids.line(Kind::Request, ctx.seq));
                w.key("route");
                w.str(route);
                w.key("method");
                w.str(method);
                w.key("status");
                w.int(status);
                w.key("latency_ms");
                w.float(log_normal(rng, 35.0, 0.8) * slow, 3);
                w.key("tier");
                w.str(tier(user_id.key));
                id_field(w, "api_key_id", ids.entity(Kind::ApiKey, t, u));
                if status != 204 && rng.random_bool(0.92) {
                    let median = if method == "GET" { 4_000.0 } else { 300.0 };
                    w.key("bytes_out");
                    w.int(log_normal(rng, median, 1.2) as i64);
                }
            }
            ArtifactGenerated => {
                id_field(w, "artifact_id", ids.line(Kind::Artifact, ctx.seq));
                w.key("kind");
                w.str(weighted(
                    rng,
                    &[
                        ("report", 35),
                        ("export", 30),
                        ("dashboard", 15),
                        ("document", 15),
                        ("image", 5),
                    ],
                ));
                w.key("size_bytes");
                w.int(log_normal(rng, 250_000.0, 1.3) as i64);
                if rng.random_bool(0.9) {
                    id_field(w, "session_id", session_id);
                }
            }
            _ => unreachable!("{ty:?} is not a saas event"),
        }
        self.close();
    }
}
