//! Supporter-app events of the charity: sign-ups, profile changes, donations, interactions and
//! ratings of the personalisation agent.
//!
//! Invariant: a supporter's country (and so the currency and Gift Aid eligibility of their
//! donations) derives from their id; a campaign's cause derives from its index, so the same
//! campaign always reports the same cause.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{Ctx, EventType, Generator, distinct, id_field, log_normal, one, weighted};
use crate::entities::{Kind, pick_hot};
use crate::json::JsonWriter;
use crate::taxonomy::{AGENT_MESSAGES, CAUSES, SEARCH_QUERIES};

/// Campaigns each tenant runs at a time.
const CAMPAIGNS: u64 = 12;
/// Content items (articles, stories, appeals) each tenant publishes.
const CONTENT_ITEMS: u64 = 800;

fn country(key: u64) -> &'static str {
    match (key >> 20) % 100 {
        0..85 => "GB",
        85..92 => "IE",
        92..96 => "US",
        96..98 => "DE",
        _ => "NL",
    }
}

fn currency(country: &str) -> &'static str {
    match country {
        "GB" => "GBP",
        "US" => "USD",
        _ => "EUR",
    }
}

/// Supporter profile fields in contract order.
#[derive(Clone, Copy)]
enum SupporterField {
    Interests,
    PreferredChannel,
    Consent,
    Country,
    BirthYear,
}

fn write_supporter_field(
    w: &mut JsonWriter,
    rng: &mut ChaCha8Rng,
    field: SupporterField,
    key: u64,
) {
    match field {
        SupporterField::Interests => {
            let want = rng.random_range(1..=3);
            let (causes, n) = distinct::<3>(rng, want, |rng| rng.random_range(0..CAUSES.len()));
            w.key("interests");
            w.begin_array();
            for &c in &causes[..n] {
                w.str(CAUSES[c]);
            }
            w.end_array();
        }
        SupporterField::PreferredChannel => {
            w.key("preferred_channel");
            w.str(preferred_channel(key));
        }
        SupporterField::Consent => {
            let preferred = preferred_channel(key);
            w.key("consent");
            w.begin_object();
            for (channel, share) in [("email", 0.7), ("sms", 0.35), ("post", 0.5), ("phone", 0.2)] {
                w.key(channel);
                w.bool(channel == preferred || rng.random_bool(share));
            }
            w.key("marketing");
            w.bool(rng.random_bool(0.45));
            w.end_object();
        }
        SupporterField::Country => {
            w.key("country");
            w.str(country(key));
        }
        SupporterField::BirthYear => {
            w.key("birth_year");
            let u: f64 = rng.random();
            w.int(1940 + (u.powf(0.8) * 66.0) as i64);
        }
    }
}

fn preferred_channel(key: u64) -> &'static str {
    match (key >> 36) % 100 {
        0..45 => "email",
        45..65 => "app",
        65..80 => "sms",
        80..92 => "post",
        _ => "phone",
    }
}

impl Generator {
    pub(super) fn supporter(&mut self, rng: &mut ChaCha8Rng, ty: EventType, ctx: Ctx) {
        use EventType::*;
        let ids = self.ids;
        let t = ctx.tenant;
        let pools = &mut self.pools[t];
        let subject = if ty == SupporterRegistered {
            pools.supporters += 1;
            pools.supporters - 1
        } else {
            pick_hot(rng, pools.supporters)
        };
        let id = ids.entity(Kind::Supporter, t, subject);
        self.open(rng, ty, ctx, id);
        let w = &mut self.writer;
        match ty {
            SupporterRegistered => {
                id_field(w, "supporter_id", id);
                use SupporterField::*;
                for field in [Interests, PreferredChannel, Consent, Country] {
                    write_supporter_field(w, rng, field, id.key);
                }
                if rng.random_bool(0.7) {
                    write_supporter_field(w, rng, BirthYear, id.key);
                }
            }
            SupporterUpdated => {
                id_field(w, "supporter_id", id);
                use SupporterField::*;
                let fields = [Interests, Consent, BirthYear];
                let want = rng.random_range(1..=2);
                let (mut picks, n) = distinct::<2>(rng, want, |rng| rng.random_range(0..3));
                picks[..n].sort_unstable();
                for &f in &picks[..n] {
                    write_supporter_field(w, rng, fields[f], id.key);
                }
            }
            DonationMade => {
                let country = country(id.key);
                let campaign = pick_hot(rng, CAMPAIGNS);
                let channel = weighted(
                    rng,
                    &[
                        ("online", 45),
                        ("direct_debit", 25),
                        ("app", 12),
                        ("event", 8),
                        ("phone", 5),
                        ("post", 5),
                    ],
                );
                let recurring = channel == "direct_debit" || rng.random_bool(0.05);
                let amount_minor = if recurring {
                    weighted(
                        rng,
                        &[
                            (300, 10),
                            (500, 30),
                            (1000, 30),
                            (1500, 10),
                            (2000, 12),
                            (5000, 8),
                        ],
                    )
                } else {
                    // Long tail: median £15, most gifts £5–£50, and a few major gifts
                    // (£1 000 and up) that a single log-normal would make too rare.
                    let pounds = if rng.random_bool(0.003) {
                        log_normal(rng, 1_500.0, 0.8)
                    } else {
                        log_normal(rng, 15.0, 1.15)
                    }
                    .clamp(1.0, 250_000.0);
                    if rng.random_bool(0.75) {
                        pounds.round() as i64 * 100
                    } else {
                        (pounds * 100.0).round() as i64
                    }
                };
                id_field(w, "donation_id", ids.line(Kind::Donation, ctx.seq));
                w.key("amount_minor");
                w.int(amount_minor.max(100));
                w.key("currency");
                w.str(currency(country));
                id_field(w, "campaign_id", ids.entity(Kind::Campaign, t, campaign));
                w.key("cause");
                w.str(CAUSES[campaign as usize % CAUSES.len()]);
                w.key("channel");
                w.str(channel);
                w.key("recurring");
                w.bool(recurring);
                w.key("gift_aid");
                w.bool(country == "GB" && rng.random_bool(0.45));
            }
            InteractionLogged => {
                let kind = weighted(
                    rng,
                    &[
                        ("page_view", 45),
                        ("content_click", 20),
                        ("email_open", 15),
                        ("search", 10),
                        ("agent_chat", 10),
                    ],
                );
                id_field(w, "interaction_id", ids.line(Kind::Interaction, ctx.seq));
                w.key("kind");
                w.str(kind);
                match kind {
                    "search" => {
                        w.key("query");
                        w.str(one(rng, &SEARCH_QUERIES));
                    }
                    "agent_chat" => {
                        w.key("message");
                        w.str(one(rng, &AGENT_MESSAGES));
                        w.key("duration_ms");
                        w.int(log_normal(rng, 90_000.0, 0.8).min(3_600_000.0) as i64);
                    }
                    _ => {
                        let content = pick_hot(rng, CONTENT_ITEMS);
                        id_field(w, "content_id", ids.entity(Kind::Content, t, content));
                        if kind == "page_view" && rng.random_bool(0.85) {
                            w.key("duration_ms");
                            w.int(log_normal(rng, 25_000.0, 1.0).min(3_600_000.0) as i64);
                        }
                    }
                }
            }
            AgentResponseRated => {
                id_field(w, "conversation_id", ids.line(Kind::Conversation, ctx.seq));
                id_field(w, "response_id", ids.line(Kind::Response, ctx.seq));
                let rating = weighted(rng, &[(5, 40), (4, 30), (3, 12), (2, 8), (1, 10)]);
                w.key("rating");
                w.int(rating);
                if rng.random_bool(0.15) {
                    w.key("comment");
                    w.str(if rating >= 4 {
                        one(
                            rng,
                            &[
                                "Very helpful, thanks",
                                "Quick and clear",
                                "Exactly what I needed",
                            ],
                        )
                    } else {
                        one(
                            rng,
                            &[
                                "Did not answer my question",
                                "Too generic",
                                "Wrong campaign",
                            ],
                        )
                    });
                }
            }
            _ => unreachable!("{ty:?} is not a supporter event"),
        }
        self.close();
    }
}
