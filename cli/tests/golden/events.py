#!/usr/bin/env python3
"""Writes events.ndjson: the hand-made fixture behind the golden job tests (*.slt).

Each case uses its own tenant so the cases cannot disturb each other. Rerun after editing:
    python3 tests/golden/events.py > tests/golden/events.ndjson
"""
import json

events = []


def event(tenant, event_type, subject, at, payload, source):
    events.append({
        "event_id": f"{tenant}-{len(events):04d}",
        "event_type": event_type,
        "source": source,
        "tenant_id": tenant,
        "subject_id": subject,
        "occurred_at": at if "T" in at else at + "T12:00:00Z",
        "schema_version": 1,
        "payload": payload,
    })


def supporter(tenant, sid, marketing=True, at="2023-01-01"):
    event(tenant, "supporter.registered", sid, at, {
        "supporter_id": sid, "interests": ["health"], "preferred_channel": "email",
        "consent": {"email": True, "sms": False, "post": False, "phone": False, "marketing": marketing},
        "country": "GB",
    }, "supporter")


def gift(tenant, sid, day, amount, campaign="camp-a", cause="health", recurring=False, channel="online"):
    event(tenant, "donation.made", sid, day, {
        "donation_id": f"d-{len(events)}", "amount_minor": amount, "currency": "GBP",
        "campaign_id": campaign, "cause": cause, "channel": channel,
        "recurring": recurring, "gift_aid": False,
    }, "supporter")


# --- lifecycle and RFM, as of 2026-06-30 (tenant "life") ---------------------------------
# CY = (2025-06-30, 2026-06-30], LY = (2024-06-30, 2025-06-30]
T = "life"
for sid in ["new", "retained", "recaptured", "lybunt", "sybunt", "lapsing", "edge_ly", "edge_cy", "prospect"]:
    supporter(T, sid, marketing=(sid != "retained"))
gift(T, "new", "2026-03-01", 1000)
gift(T, "retained", "2025-03-01", 2000)
gift(T, "retained", "2026-04-01", 3000, cause="children")
gift(T, "recaptured", "2024-01-01", 500)
gift(T, "recaptured", "2026-05-01", 500)
gift(T, "lybunt", "2025-06-15", 4000)
gift(T, "sybunt", "2024-02-01", 700)
gift(T, "lapsing", "2024-12-01", 800)
gift(T, "edge_ly", "2025-06-30", 900)      # exactly 12 months before as_of: last year
gift(T, "edge_cy", "2025-07-01", 600)      # one day later: this year
event(T, "interaction.logged", "new", "2026-06-30", {"interaction_id": "i1", "kind": "agent_chat", "message": "hello"}, "supporter")
event(T, "interaction.logged", "new", "2026-05-31", {"interaction_id": "i2", "kind": "search", "query": "wills"}, "supporter")

# --- donor retention by month (tenant "ret") ---------------------------------------------
T = "ret"
gift(T, "a", "2026-01-31", 100)   # a: Jan and Feb -> retained in Feb
gift(T, "a", "2026-02-01", 100)
gift(T, "b", "2026-01-15", 200)   # b: Jan only -> lapsed in Feb
gift(T, "c", "2026-01-10", 300)   # c: Jan, then Mar -> recaptured in Mar
gift(T, "c", "2026-03-05", 300)
gift(T, "d", "2026-02-28", 400)   # d: first gift in Feb -> new in Feb, retained in Mar
gift(T, "d", "2026-03-01", 400)

# --- daily metrics (tenant "met") ---------------------------------------------------------
T = "met"
for day, subject in [("2026-03-01", "x"), ("2026-03-08", "x"), ("2026-03-02", "y"), ("2026-03-08", "y"),
                     ("2026-02-07", "z"), ("2026-03-08", "w"), ("2026-02-06", "v")]:
    event(T, "session.started", subject, day, {"session_id": f"s-{len(events)}", "user_id": subject}, "saas")
gift(T, "p", "2026-03-08", 1500, campaign="spring")
gift(T, "q", "2026-03-08", 500, campaign="spring")
gift(T, "p", "2026-03-09", 1000, campaign="spring")
# Two responses at the contract's maximum of 5 GiB, one without a body size: bytes_out sums to
# 10 GiB + 120 exactly.
for i, (status, latency, size) in enumerate([(200, 10.0, 5368709120), (200, 20.0, 5368709120),
                                             (500, 30.0, None), (404, 40.0, 120)]):
    payload = {"request_id": f"r{i}", "route": "/v1/things", "method": "GET", "status": status,
               "latency_ms": latency, "tier": "pro", "api_key_id": "key-1"}
    if size is not None:
        payload["bytes_out"] = size
    event(T, "api.request", "key-1", f"2026-03-08T10:{i:02d}:00Z", payload, "saas")

for e in events:
    print(json.dumps(e, separators=(",", ":")))
