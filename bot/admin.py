"""The /admin dashboard: server-rendered pages a shop owner reads without training.

Off unless `admin_token` is set. Sign-in is by that token (its own, never the webhook's): typed
into the sign-in form, or once as `?token=` (then swapped for a cookie and removed from the
URL). The cookie holds a value derived from the token, not the token itself. Pages: today at a
glance, messages and replies per hour over 7 days (inline SVG, no scripts), rules and their
hits, recent messages, rule file status, and a playground that runs the same code as
`rulebot try`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2
from aiohttp import web

from bot.config import Config
from bot.core import RuleSet
from bot.core.tryout import parse_at, try_messages
from bot.errors import RuleError
from bot.rulebook import RuleBook
from bot.status import PLAIN_WORDS, start_of_day
from bot.store import Store, reports

COOKIE = "rulebot_admin"
_SESSION_LABEL = b"rulebot admin session v1"
_COOKIE_MAX_AGE_S = 12 * 3600
#: wrong admin tokens one address may try in SIGN_IN_WINDOW_S before it is refused for a while
SIGN_IN_ATTEMPTS = 5
SIGN_IN_WINDOW_S = 15 * 60
#: a playground run is capped: it is a page, not a batch tool
_PLAYGROUND_MAX_MESSAGES = 10
_PLAYGROUND_MAX_CHARS = 2000
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
    """A client's number for the screen: only the last 4 digits (…4567)."""
    digits = "".join(ch for ch in address if ch.isdigit())
    if len(digits) < 6:
        return "client"
    return "…" + digits[-4:]


def session_value(admin_token: str) -> str:
    """The cookie's value: derived from the admin token, so the cookie never carries it."""
    return hmac.new(admin_token.encode(), _SESSION_LABEL, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Bar:
    """One hour of the chart, in SVG coordinates."""

    x: float
    y: float
    height: float
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    """Messages (bars) and replies (a line) per hour, laid out for an inline SVG."""

    width: int
    height: int
    bars: list[Bar]
    replies_path: str
    labels: list[tuple[float, str]]  #: (x, day name) at each local midnight
    peak: int
    messages: int
    replies: int


_CHART_W, _CHART_H, _BAR_W = 840, 180, 5.0


def build_chart(hours: list[reports.HourCount], tz: Any) -> Chart:
    """Lay out the hourly counts: one 5-px column per hour, scaled to the busiest hour."""
    peak = max([1, *(h.messages for h in hours), *(h.replies for h in hours)])
    scale = (_CHART_H - 20) / peak
    bars: list[Bar] = []
    points: list[str] = []
    labels: list[tuple[float, str]] = []
    for i, hour in enumerate(hours):
        x = i * _BAR_W
        local = datetime.fromtimestamp(hour.start, tz)
        height = hour.messages * scale
        title = f"{local:%a %H:00}: {hour.messages} messages, {hour.replies} cards sent"
        bars.append(Bar(x, _CHART_H - height, height, title))
        points.append(f"{x + _BAR_W / 2:.1f},{_CHART_H - hour.replies * scale:.1f}")
        if local.hour == 0:
            labels.append((x, f"{local:%a %d}"))
    path = "M" + " L".join(points) if points else ""
    return Chart(
        width=int(len(hours) * _BAR_W),
        height=_CHART_H,
        bars=bars,
        replies_path=path,
        labels=labels,
        peak=peak,
        messages=sum(h.messages for h in hours),
        replies=sum(h.replies for h in hours),
    )


class SignInThrottle:
    """Refuses an address that got the admin token wrong too often (guessing the token)."""

    def __init__(
        self,
        *,
        attempts: int = SIGN_IN_ATTEMPTS,
        window_s: float = SIGN_IN_WINDOW_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._attempts = attempts
        self._window_s = window_s
        self._clock = clock
        self._failures: dict[str, list[float]] = {}

    def wait_s(self, address: str) -> float:
        """Seconds this address must wait before trying again (0: it may try now)."""
        recent = self._recent(address)
        if len(recent) < self._attempts:
            return 0.0
        return max(0.0, recent[0] + self._window_s - self._clock())

    def failed(self, address: str) -> None:
        """Note a wrong token from this address."""
        self._failures[address] = [*self._recent(address), self._clock()][-self._attempts :]

    def _recent(self, address: str) -> list[float]:
        since = self._clock() - self._window_s
        recent = [at for at in self._failures.get(address, ()) if at > since]
        if recent:
            self._failures[address] = recent
        else:
            self._failures.pop(address, None)
        return recent


class AdminPages:
    """The dashboard's handlers."""

    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        rulebook: RuleBook,
        clock: Callable[[], float] = time.time,
    ) -> None:
        assert config.admin_token is not None
        self._token = config.admin_token.get_secret_value().encode()
        self._session = session_value(config.admin_token.get_secret_value()).encode()
        self._store = store
        self._rulebook = rulebook
        self._clock = clock
        self._throttle = SignInThrottle(clock=clock)

    # -- authentication ---------------------------------------------------------------------

    def _signed_in(self, request: web.Request) -> bool:
        cookie = request.cookies.get(COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self._session)

    def _check_token(self, request: web.Request, given: object) -> web.Response | None:
        """None when the token is right; else the page to answer (401, or 429 when guessing)."""
        address = request.remote or "?"
        wait = self._throttle.wait_s(address)
        if wait > 0:
            minutes = max(1, round(wait / 60))
            return self._login_page(
                f"Too many wrong tokens from this address: try again in {minutes} min.",
                status=429,
            )
        if (
            isinstance(given, str)
            and self._token
            and hmac.compare_digest(given.encode(), self._token)
        ):
            return None
        self._throttle.failed(address)
        return self._login_page("That token is not right.", status=401)

    def _start_session(self, response: web.StreamResponse, request: web.Request) -> None:
        response.set_cookie(
            COOKIE,
            self._session.decode(),
            path="/admin",
            httponly=True,
            samesite="Strict",
            secure=request.secure,
            max_age=_COOKIE_MAX_AGE_S,
        )

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
                self._start_session(response, request)
                return _secure(response)
            if not self._signed_in(request):
                return self._login_page(None, status=401)
            return _secure(await page(request))

        return handler

    async def login_form(self, request: web.Request) -> web.StreamResponse:
        """GET /admin/login."""
        if self._signed_in(request):
            return _secure(_see_other("/admin"))
        return self._login_page(None, status=200)

    async def login(self, request: web.Request) -> web.StreamResponse:
        """POST /admin/login: the token from the form -> the session cookie."""
        form = await request.post()
        refused = self._check_token(request, form.get("token"))
        if refused is not None:
            return refused
        response = _see_other("/admin")
        self._start_session(response, request)
        return _secure(response)

    async def logout(self, request: web.Request) -> web.StreamResponse:
        """POST /admin/logout."""
        response = _see_other("/admin/login")
        response.del_cookie(COOKIE, path="/admin")
        return _secure(response)

    def _login_page(self, error: str | None, *, status: int) -> web.Response:
        return _secure(_render("login.html", status=status, error=error))

    # -- pages ------------------------------------------------------------------------------

    async def dashboard(self, request: web.Request) -> web.Response:
        """GET /admin: today at a glance, the week's chart, rules, recent messages."""
        now = self._clock()
        rules = self._rules()
        tz = rules.timezone if rules is not None else datetime.now().astimezone().tzinfo
        today = start_of_day(now, tz)
        week = now - 7 * 86400
        stats = await self._store.stats(since=today, now=now)
        store = _queryable(self._store)
        failures = await reports.failures(store, since=today)
        unanswered = await reports.unanswered_count(store, since=today)
        hours = await reports.hourly_activity(store, now=now)
        hits = await reports.rule_hits(
            store, rules.rule_names if rules else (), today=today, week=week
        )
        recent = await reports.recent_messages(store, limit=20)
        failed_total = sum(stats.sends.get(s, 0) for s in reports.FAILED_STATES)
        return _render(
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
            failures=[(PLAIN_WORDS.get(f.state, f.state), f.error, f.count) for f in failures],
            chart=build_chart(hours, tz),
            hits=hits,
            recent=[
                {
                    "when": datetime.fromtimestamp(m.received_at, tz),
                    "client": mask_client(m.address),
                    "text": m.text,
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
        at_text = request.query.get("at", "")
        result = None
        error = None
        if rules is None:
            error = "No rules are loaded."
        tz = rules.timezone if rules is not None else None
        now = datetime.fromtimestamp(self._clock(), tz)
        at = now
        if at_text and tz is not None:
            try:
                at = parse_at(at_text, tz)  # read as `rulebot try --at` reads it
            except ValueError:
                error = f"'{at_text}' is not a date and time (use the picker)."
        messages = [line.strip() for line in text.splitlines() if line.strip()]
        messages = messages[:_PLAYGROUND_MAX_MESSAGES]
        if messages and rules is not None and error is None:
            result = _playground_view(try_messages(rules, messages, at=at))
        return _render(
            "playground.html",
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
            "error": error.location_text() if error is not None else None,
        }


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
