"""The dashboard's pages and routes: today at a glance, the week's chart, rules and their hits,
recent messages, rule file status, and a playground that runs the same code as `rulebot try`.

Every page is rendered from `bot/templates/` (shipped as package data), has no scripts, and
goes out with the security headers below.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import jinja2
from aiohttp import web

from bot.admin.chart import build_chart
from bot.admin.signin import SignIn
from bot.config import Config
from bot.core import RuleSet
from bot.core.tryout import parse_at, try_messages
from bot.errors import RuleError
from bot.logs import mask_number, mask_phone_numbers
from bot.rulebook import RuleBook
from bot.status import PLAIN_WORDS, start_of_day
from bot.store import Store, reports

#: a message's text on the dashboard is cut after this many characters (the store keeps it all)
_SHOWN_CHARS = 300
#: a playground run is capped: it is a page, not a batch tool
_PLAYGROUND_MAX_MESSAGES = 10
_PLAYGROUND_MAX_CHARS = 2000
_FORM_REFUSED = (
    "This form is out of date or was sent from another site: nothing was done. Sign in again here."
)
_SECURITY_HEADERS = {
    # No scripts at all; styles are inline in the page; forms post back to us only.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_DELIVERY_WORDS = {
    "pending": "waiting to be sent",
    "sending": "being sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read by the client",
    "played": "read by the client",
    "failed": "failed",
    "refused": "refused by the gateway",
    "window_expired": "not sent: 24 h window closed",
}

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("bot", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def mask_client(address: str) -> str:
    """A client for the screen: a number as the logs show it (9725****4567); a hidden-number
    id such as IL.1605856887361213 by its last 4 digits only (…1213)."""
    if address.isdigit():
        return mask_number(address)
    digits = "".join(ch for ch in address if ch.isdigit())
    if len(digits) < 6:
        return "client"
    return "…" + digits[-4:]


class AdminPages:
    """The dashboard's handlers: sign-in and sign-out, and the pages behind them."""

    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        rulebook: RuleBook,
        clock: Callable[[], float] = time.time,
    ) -> None:
        assert config.admin_token is not None
        self._sign_in = SignIn(
            config.admin_token.get_secret_value(),
            trusted_proxies=config.server.trusted_proxies,
            clock=clock,
        )
        self._store = store
        self._rulebook = rulebook
        self._clock = clock
        #: the week's hours already counted: a view counts only the new ones
        self._week_counts = reports.WeekCounts()

    # -- signing in -------------------------------------------------------------------------

    def _check_token(self, request: web.Request, given: object) -> web.Response | None:
        """None when the token is right; else the sign-in form with the refusal."""
        refused = self._sign_in.check_token(request, given)
        if refused is None:
            return None
        return self._login_page(request, refused.message, status=refused.status)

    def guarded(
        self, page: Callable[[web.Request], Awaitable[web.Response]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wrap a page: signed in -> the page; `?token=` right -> cookie and a clean URL;
        otherwise the sign-in form with 401."""

        async def handler(request: web.Request) -> web.StreamResponse:
            given = request.query.get("token")
            if given is not None:
                refused = self._check_token(request, given)
                if refused is not None:
                    return refused
                # Keep the token out of the address bar, history and proxies' logs.
                query = {k: v for k, v in request.query.items() if k != "token"}
                clean = request.rel_url.with_query(query)
                response = _see_other(str(clean))
                self._sign_in.start_session(response, request)
                return _secure(response)
            if not self._sign_in.signed_in(request):
                return self._login_page(request, None, status=401)
            return _secure(await page(request))

        return handler

    async def login_form(self, request: web.Request) -> web.StreamResponse:
        """GET /admin/login."""
        if self._sign_in.signed_in(request):
            return _secure(_see_other("/admin"))
        return self._login_page(request, None, status=200)

    async def login(self, request: web.Request) -> web.StreamResponse:
        """POST /admin/login: the token from the form -> a new session."""
        form = await request.post()
        if not self._sign_in.post_allowed(request, form):
            return self._login_page(request, _FORM_REFUSED, status=403)
        refused = self._check_token(request, form.get("token"))
        if refused is not None:
            return refused
        response = _see_other("/admin")
        self._sign_in.start_session(response, request)
        return _secure(response)

    async def logout(self, request: web.Request) -> web.StreamResponse:
        """POST /admin/logout: the session is forgotten, its cookie deleted."""
        form = await request.post()
        if not self._sign_in.post_allowed(request, form):
            return self._login_page(request, _FORM_REFUSED, status=403)
        response = _see_other("/admin/login")
        self._sign_in.end_session(response, request)
        return _secure(response)

    def _login_page(self, request: web.Request, error: str | None, *, status: int) -> web.Response:
        return _secure(self._page(request, "login.html", status=status, error=error))

    def _page(self, request: web.Request, name: str, *, status: int = 200, **context: Any) -> Any:
        """A page with the CSRF token its forms repeat (the cookie set if the browser has none)."""
        csrf, new = self._sign_in.csrf_token(request)
        response = _render(name, status=status, csrf=csrf, **context)
        if new:
            self._sign_in.set_csrf_cookie(response, request, csrf)
        return response

    # -- pages ------------------------------------------------------------------------------

    async def dashboard(self, request: web.Request) -> web.Response:
        """GET /admin: today at a glance, the week's chart, rules, recent messages."""
        now = self._clock()
        rules = self._rules()
        tz = rules.timezone if rules is not None else datetime.now().astimezone().tzinfo
        today = start_of_day(now, tz)  # as `rulebot status` counts it (bot.status)
        week = now - 7 * 86400
        stats = await self._store.stats(since=today, now=now)
        store = _queryable(self._store)
        # Today's failures and unanswered messages come with the kept figures (stats).
        failures = sorted(stats.failures.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        unanswered = sum(stats.outcomes.get(o, 0) for o in reports.UNANSWERED_OUTCOMES)
        hours = await reports.hourly_activity(store, now=now, counts=self._week_counts)
        hits = await reports.rule_hits(
            store,
            rules.rule_names if rules else (),
            today=today,
            week=week,
            now=now,
            counts=self._week_counts,
        )
        recent = await reports.recent_messages(store, limit=20)
        failed_total = sum(stats.sends.get(s, 0) for s in reports.FAILED_STATES)
        return self._page(
            request,
            "dashboard.html",
            now=datetime.fromtimestamp(now, tz),
            stats=stats,
            sent=stats.sends.get("sent", 0),
            unanswered=unanswered,
            unanswered_parts=[
                (PLAIN_WORDS[o], stats.outcomes.get(o, 0))
                for o in reports.UNANSWERED_OUTCOMES
                if stats.outcomes.get(o, 0)
            ],
            failed_total=failed_total,
            # The gateway's explanations name the client: shown masked, as the logs show them.
            failures=[
                (PLAIN_WORDS.get(state, state), mask_phone_numbers(error), count)
                for (state, error), count in failures
            ],
            chart=build_chart(hours, tz),
            hits=hits,
            recent=[
                {
                    "when": datetime.fromtimestamp(m.received_at, tz),
                    "client": mask_client(m.address),
                    "text": _shortened(m.text),
                    "answer": _answer_words(m),
                    "rule": m.rule,
                    "delivery": _delivery_words(m),
                }
                for m in recent
            ],
            rules=self._rule_status(rules),
        )

    async def playground(self, request: web.Request) -> web.Response:
        """GET /admin/playground?text=...&at=YYYY-MM-DDTHH:MM: what the bot would answer."""
        rules = self._rules()
        text = request.query.get("text", "")[:_PLAYGROUND_MAX_CHARS]
        at_text = request.query.get("at", "")[:64]
        result = None
        error = None
        status = 200
        if rules is None:
            error = "No rules are loaded."
        tz = rules.timezone if rules is not None else None
        now = datetime.fromtimestamp(self._clock(), tz)
        at = now
        if at_text and tz is not None:
            try:
                at = parse_at(at_text, tz)  # read as `rulebot try --at` reads it
            except ValueError as exc:
                error = f"{str(exc).removeprefix('--at ')} (use the picker)."
                status = 400
        messages = [line.strip() for line in text.splitlines() if line.strip()]
        messages = messages[:_PLAYGROUND_MAX_MESSAGES]
        if messages and rules is not None and error is None:
            result = _playground_view(try_messages(rules, messages, at=at))
        return self._page(
            request,
            "playground.html",
            status=status,
            text=text,
            at=at.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
            timezone=str(tz) if tz is not None else "",
            result=result,
            error=error,
            rules=self._rule_status(rules),
        )

    def _rules(self) -> RuleSet | None:
        try:
            return self._rulebook.current
        except RuntimeError:
            return None

    def _rule_status(self, rules: RuleSet | None) -> dict[str, Any]:
        error: RuleError | None = self._rulebook.last_error
        loaded = self._rulebook.loaded_at
        return {
            "version": rules.version if rules else None,
            "count": len(rules.rules) if rules else 0,
            "files": [str(p) for p in rules.files] if rules else [],
            "loaded_at": (
                datetime.fromtimestamp(loaded, rules.timezone) if rules and loaded else None
            ),
            "error": self._errors_text(error),
            #: the warnings of the rules in force (and their failing examples), in file order
            "warnings": [p.text() for p in self._rulebook.problems if error is None],
        }

    def _errors_text(self, error: RuleError | None) -> str | None:
        """Every error of the last edit, one per line (the first alone if none are listed)."""
        if error is None:
            return None
        errors = [p.to_error().location_text() for p in self._rulebook.problems]
        errors = [
            e for e, p in zip(errors, self._rulebook.problems, strict=True) if p.severity == "error"
        ]
        return "\n".join(errors) if errors else error.location_text()


def _shortened(text: str | None) -> str | None:
    if text is None or len(text) <= _SHOWN_CHARS:
        return text
    return text[:_SHOWN_CHARS] + "…"


def _playground_view(result: Any) -> list[dict[str, Any]]:
    data = result.to_dict()
    for burst in data["bursts"]:
        burst["outcome_words"] = PLAIN_WORDS.get(burst["outcome"], burst["outcome"])
    return list(data["bursts"])


def _answer_words(message: reports.RecentMessage) -> str:
    if message.state == "pending" or message.outcome is None:
        return "not decided yet"
    return PLAIN_WORDS.get(message.outcome, message.outcome)


def _delivery_words(message: reports.RecentMessage) -> str:
    status = message.delivery_status or message.send_state
    if status is None:
        return ""
    return _DELIVERY_WORDS.get(status, status)


def _queryable(store: Store) -> reports.QueryableStore:
    if not hasattr(store, "query"):
        raise web.HTTPServiceUnavailable(text="this store cannot run the dashboard's queries")
    return store


def _render(name: str, *, status: int = 200, **context: Any) -> web.Response:
    html = _templates.get_template(name).render(**context)
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status)


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _secure(response: web.StreamResponse) -> Any:
    response.headers.update(_SECURITY_HEADERS)
    return response


def add_admin_routes(
    app: web.Application,
    *,
    config: Config,
    store: Store,
    rulebook: RuleBook,
    clock: Callable[[], float] = time.time,
) -> AdminPages:
    """Register the dashboard under /admin (call only when `admin_token` is set)."""
    pages = AdminPages(config=config, store=store, rulebook=rulebook, clock=clock)
    app.router.add_get("/admin", pages.guarded(pages.dashboard))
    app.router.add_get("/admin/playground", pages.guarded(pages.playground))
    app.router.add_get("/admin/login", pages.login_form)
    app.router.add_post("/admin/login", pages.login)
    app.router.add_post("/admin/logout", pages.logout)
    return pages
