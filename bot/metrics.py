"""Prometheus metrics: what the service did, by outcome. Exposed at GET /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

WEBHOOKS = Counter(
    "rulebot_webhooks_total",
    "Webhook requests by outcome (message, duplicate, status, outgoing, ignored, rejected).",
    ["outcome"],
    registry=REGISTRY,
)
DECISIONS = Counter(
    "rulebot_decisions_total",
    "Client messages decided, by outcome (reply, no_match, group, rate_limited, ...).",
    ["outcome"],
    registry=REGISTRY,
)
DEFERRED = Counter(
    "rulebot_decisions_deferred_total",
    "Client messages left for a later round: their client sent more than a round decides.",
    registry=REGISTRY,
)
MATCHES = Counter(
    "rulebot_rule_matches_total", "Replies decided, by rule.", ["rule"], registry=REGISTRY
)
SENDS = Counter(
    "rulebot_sends_total",
    "Send Contact attempts by outcome (sent, retry, failed, refused, window_expired) and reason.",
    ["outcome", "reason"],
    registry=REGISTRY,
)
SEND_LATENCY = Histogram(
    "rulebot_send_latency_seconds",
    "Duration of Send Contact calls.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge(
    "rulebot_outbox_depth", "Sends waiting or in flight (as of the last look).", registry=REGISTRY
)
INBOX_DEPTH = Gauge(
    "rulebot_inbox_depth",
    "Messages waiting to be decided (as of the last look).",
    registry=REGISTRY,
)
RULE_RELOADS = Counter(
    "rulebot_rule_reloads_total",
    "Rule file reloads by result (ok, error).",
    ["result"],
    registry=REGISTRY,
)
