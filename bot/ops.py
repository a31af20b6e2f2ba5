"""Operations routes: GET /healthz (process up), GET /readyz (store and rules), GET /metrics.

/readyz answers 503 while the bot cannot do its job: the store does not answer or no rules are
loaded. A broken rule *edit* does not make the bot unready: it keeps answering with the last
good rules, and /readyz says that the files have an error next to the version in force. It
needs no sign-in, so it gives a status only: the error's text (which names files and folders)
is on the dashboard and in the log, the store's failure in the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import Gauge, generate_latest

from bot.core import RuleSet
from bot.metrics import INBOX_DEPTH, OUTBOX_DEPTH, REGISTRY, RULE_RELOADS
from bot.rulebook import RuleBook
from bot.store import Store

log = logging.getLogger("rulebot.ops")

#: what generate_latest() writes; newer clients advertise 1.0.0, which old Prometheus servers
#: do not negotiate
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: a readiness or metrics probe never waits longer than this on the store
STORE_PROBE_TIMEOUT_S = 2.0

RULES_ERROR = Gauge(
    "rulebot_rules_error",
    "1 while the rule files have an error (the last good rules stay in force).",
    registry=REGISTRY,
)
RULES_LOADED_AT = Gauge(
    "rulebot_rules_loaded_timestamp_seconds",
    "When the rules in force were loaded (unix seconds).",
    registry=REGISTRY,
)
RULES_COUNT = Gauge("rulebot_rules", "Rules in force.", registry=REGISTRY)


def _rules_in_force(rulebook: RuleBook | None) -> RuleSet | None:
    if rulebook is None:
        return None
    try:
        return rulebook.current
    except RuntimeError:  # load() never succeeded
        return None


class OpsHandlers:
    """The three probes, sharing the store and the rule book."""

    def __init__(
        self,
        *,
        store: Store,
        rulebook: RuleBook | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._rulebook = rulebook
        self._clock = clock
        # Counters only go up: remember what was already counted from the rule book.
        self._counted_reloads = 0
        self._counted_error: object = None

    async def healthz(self, request: web.Request) -> web.Response:
        """The process is up and its event loop answers."""
        return web.json_response({"ok": True})

    async def readyz(self, request: web.Request) -> web.Response:
        """Ready to take webhooks: the store answers and rules are loaded."""
        problems: list[str] = []
        body: dict[str, Any] = {}
        try:
            await self._probe_store()
            body["store"] = "ok"
        except Exception as exc:  # any failure means "not ready"; the reason goes to the log
            body["store"] = "unreachable"
            problems.append("store: unreachable")
            log.warning("readyz: the store does not answer: %s", f"{type(exc).__name__}: {exc}")
        rules = _rules_in_force(self._rulebook)
        if rules is None:
            body["rules"] = None
            problems.append("rules: not loaded")
        else:
            body["rules"] = {"version": rules.version, "count": len(rules.rules)}
        error = self._rulebook.last_error if self._rulebook else None
        body["rules_error"] = error is not None
        body["ok"] = not problems
        if problems:
            body["problems"] = problems
        return web.json_response(body, status=200 if not problems else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        """Prometheus text format; queue depths are read from the store at scrape time."""
        try:
            stats = await asyncio.wait_for(
                self._store.stats(since=self._clock(), now=self._clock()),
                timeout=STORE_PROBE_TIMEOUT_S,
            )
        except Exception as exc:  # a scrape must still answer: keep the last depths
            log.warning("metrics: queue depths not updated: %s", exc)
        else:
            INBOX_DEPTH.set(stats.inbox_pending)
            OUTBOX_DEPTH.set(stats.outbox_pending + stats.outbox_in_flight)
        self._update_rule_metrics()
        return web.Response(
            body=generate_latest(REGISTRY), headers={"Content-Type": METRICS_CONTENT_TYPE}
        )

    def _update_rule_metrics(self) -> None:
        book = self._rulebook
        if book is None:
            return
        if book.reloads > self._counted_reloads:
            RULE_RELOADS.labels("ok").inc(book.reloads - self._counted_reloads)
            self._counted_reloads = book.reloads
        error = book.last_error
        # Each failed reload stores a new error object: count each one seen once.
        if error is not None and error is not self._counted_error:
            RULE_RELOADS.labels("error").inc()
        self._counted_error = error
        RULES_ERROR.set(1 if error is not None else 0)
        rules = _rules_in_force(book)
        if rules is not None:
            RULES_COUNT.set(len(rules.rules))
            RULES_LOADED_AT.set(book.loaded_at)

    async def _probe_store(self) -> None:
        query = getattr(self._store, "query", None)
        if query is not None:
            await asyncio.wait_for(query("SELECT 1 AS ok"), timeout=STORE_PROBE_TIMEOUT_S)
        else:
            now = self._clock()
            await asyncio.wait_for(
                self._store.stats(since=now, now=now), timeout=STORE_PROBE_TIMEOUT_S
            )


def add_ops_routes(
    app: web.Application,
    *,
    store: Store,
    rulebook: RuleBook | None,
    clock: Callable[[], float] = time.time,
) -> OpsHandlers:
    """Register GET /healthz, /readyz and /metrics on the bot's application."""
    handlers = OpsHandlers(store=store, rulebook=rulebook, clock=clock)
    app.router.add_get("/healthz", handlers.healthz)
    app.router.add_get("/readyz", handlers.readyz)
    app.router.add_get("/metrics", handlers.metrics)
    return handlers
