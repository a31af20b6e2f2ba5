"""Signing in to the dashboard: the admin token, server-side sessions, CSRF, slowing guessers.

- A session is a random id the server keeps with its expiry; the cookie carries only that id
  (HttpOnly, SameSite=Strict, Secure when the browser reached us over TLS). Signing out
  forgets the id, so the old cookie opens nothing. Sessions live in this process: a restart
  signs everyone out (see docs/operations.md for several instances).
- Every POST carries a CSRF token: the value of a second cookie (random, SameSite=Strict) that
  the form repeats; a cross-site page can neither read it nor make the browser send it.
- Wrong tokens are counted per client address (behind `server.trusted_proxies`, the address
  the proxy reports) and across all addresses. Five wrong from one address, or too many from
  everyone, make sign-in wait; an address that signed in before is not held up by the others'
  guesses, so a guesser cannot lock the owner out, and every wait ends. The tables are bounded.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from bot.admin.proxies import ProxyView, throttle_key

COOKIE = "rulebot_admin"
CSRF_COOKIE = "rulebot_csrf"
#: the form field that repeats the CSRF cookie
CSRF_FIELD = "csrf"
#: a session ends this long after signing in
SESSION_TTL_S = 12 * 3600
#: sessions kept at once (a shop owner's few browsers); beyond it the oldest is dropped
MAX_SESSIONS = 256
#: wrong admin tokens one address may try in SIGN_IN_WINDOW_S before it waits
SIGN_IN_ATTEMPTS = 5
SIGN_IN_WINDOW_S = 15 * 60
#: wrong admin tokens from all addresses together in SIGN_IN_WINDOW_S before addresses that
#: never signed in wait too (rotating addresses buys no more guesses than this)
GLOBAL_ATTEMPTS = 50
#: addresses whose wrong tokens are remembered; beyond it the least recent is forgotten (the
#: global count still holds)
MAX_TRACKED = 10_000
#: addresses remembered as having signed in (exempt from the global slow-down)
MAX_KNOWN = 64
_ID_BYTES = 32


class Sessions:
    """Random session ids with their expiry, kept server-side."""

    def __init__(self, *, clock: Callable[[], float], ttl_s: float = SESSION_TTL_S) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def create(self) -> str:
        """A new session; the oldest is dropped when MAX_SESSIONS are open."""
        now = self._clock()
        for sid in [s for s, until in self._expiry.items() if until <= now]:
            del self._expiry[sid]
        while len(self._expiry) >= MAX_SESSIONS:
            self._expiry.popitem(last=False)
        sid = secrets.token_urlsafe(_ID_BYTES)
        self._expiry[sid] = now + self._ttl_s
        return sid

    def valid(self, sid: str) -> bool:
        """Whether `sid` is an open session (an expired one is forgotten)."""
        until = self._expiry.get(sid)
        if until is None:
            return False
        if until <= self._clock():
            del self._expiry[sid]
            return False
        return True

    def drop(self, sid: str) -> None:
        """Sign-out: the id opens nothing any more."""
        self._expiry.pop(sid, None)

    def __len__(self) -> int:
        return len(self._expiry)


class SignInThrottle:
    """Slows down guessing the admin token, per address and across all of them."""

    def __init__(
        self,
        *,
        attempts: int = SIGN_IN_ATTEMPTS,
        window_s: float = SIGN_IN_WINDOW_S,
        global_attempts: int = GLOBAL_ATTEMPTS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._attempts = attempts
        self._window_s = window_s
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._everyone: deque[float] = deque(maxlen=global_attempts)
        self._known: OrderedDict[str, None] = OrderedDict()

    def wait_s(self, key: str) -> float:
        """Seconds this address must wait before trying again (0: it may try now)."""
        now = self._clock()
        wait = 0.0
        mine = self._failures.get(key)
        if mine is not None and len(mine) >= self._attempts:
            wait = mine[0] + self._window_s - now
        everyone = self._everyone
        if key not in self._known and len(everyone) == everyone.maxlen:
            wait = max(wait, everyone[0] + self._window_s - now)
        return max(0.0, wait)

    def failed(self, key: str) -> None:
        """Note a wrong token from this address."""
        now = self._clock()
        mine = self._failures.pop(key, None) or deque(maxlen=self._attempts)
        mine.append(now)
        self._failures[key] = mine  # most recent last
        while len(self._failures) > MAX_TRACKED:
            self._failures.popitem(last=False)
        self._everyone.append(now)

    def succeeded(self, key: str) -> None:
        """The right token: this address's guesses are forgotten and it is known from now on."""
        self._failures.pop(key, None)
        self._known.pop(key, None)
        self._known[key] = None
        while len(self._known) > MAX_KNOWN:
            self._known.popitem(last=False)

    @property
    def tracked(self) -> int:
        """Addresses with wrong tokens remembered (bounded by MAX_TRACKED)."""
        return len(self._failures)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a sign-in was refused, in words for the sign-in form, and the HTTP status."""

    message: str
    status: int


class SignIn:
    """Checks the admin token (with the slow-down), keeps sessions, and guards POSTs."""

    def __init__(
        self,
        admin_token: str,
        *,
        trusted_proxies: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._token = admin_token.encode()
        self._sessions = Sessions(clock=clock)
        self._throttle = SignInThrottle(clock=clock)
        self.proxies = ProxyView(trusted_proxies)

    def signed_in(self, request: web.Request) -> bool:
        """Whether the request carries an open session's cookie."""
        return self._sessions.valid(request.cookies.get(COOKIE, ""))

    def check_token(self, request: web.Request, given: object) -> Refusal | None:
        """None when the token is right; else the refusal (401, or 429 while guessing)."""
        key = throttle_key(self.proxies.client_address(request))
        wait = self._throttle.wait_s(key)
        if wait > 0:
            minutes = max(1, round(wait / 60))
            return Refusal(f"Too many wrong tokens: try again in {minutes} min.", 429)
        if isinstance(given, str) and self._token and _same(given, self._token):
            self._throttle.succeeded(key)
            return None
        self._throttle.failed(key)
        return Refusal("That token is not right.", 401)

    def start_session(self, response: web.StreamResponse, request: web.Request) -> None:
        """Open a new session and set its cookie on `response`."""
        old = request.cookies.get(COOKIE)
        if old:
            self._sessions.drop(old)  # a new sign-in never keeps an id someone else set
        self._set_cookie(response, request, COOKIE, self._sessions.create(), SESSION_TTL_S)

    def end_session(self, response: web.StreamResponse, request: web.Request) -> None:
        """Forget the session and delete its cookie."""
        self._sessions.drop(request.cookies.get(COOKIE, ""))
        response.del_cookie(COOKIE, path="/admin")

    def csrf_token(self, request: web.Request) -> tuple[str, bool]:
        """The CSRF token for the forms of a page: the browser's, or a new one (True)."""
        current = request.cookies.get(CSRF_COOKIE, "")
        if len(current) >= 32 and current.isascii():
            return current, False
        return secrets.token_urlsafe(_ID_BYTES), True

    def set_csrf_cookie(
        self, response: web.StreamResponse, request: web.Request, value: str
    ) -> None:
        """Give the browser the CSRF token its forms repeat (for as long as a session lasts)."""
        self._set_cookie(response, request, CSRF_COOKIE, value, SESSION_TTL_S)

    def post_allowed(self, request: web.Request, form: Mapping[str, object]) -> bool:
        """Whether a POST comes from our own page: its form repeats the CSRF cookie, and the
        browser does not call it cross-site."""
        if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
            return False
        # Our pages send no referrer, so a browser may say "Origin: null" for our own forms.
        origin = request.headers.get("Origin", "null")
        if origin != "null" and urlsplit(origin).netloc != request.host:
            return False
        cookie = _utf8(request.cookies.get(CSRF_COOKIE, ""))
        given = form.get(CSRF_FIELD)
        return bool(cookie) and isinstance(given, str) and _same(given, cookie or b"")

    def _set_cookie(
        self, response: web.StreamResponse, request: web.Request, name: str, value: str, age: float
    ) -> None:
        response.set_cookie(
            name,
            value,
            path="/admin",
            httponly=True,
            samesite="Strict",
            secure=self.proxies.is_tls(request),
            max_age=int(age),
        )


def _utf8(text: str) -> bytes | None:
    """The text's bytes; None for text that is not valid UTF-8 (a header's stray bytes)."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return None


def _same(given: str, expected: bytes) -> bool:
    """Constant-time comparison; text that is not valid UTF-8 is simply wrong."""
    raw = _utf8(given)
    return raw is not None and hmac.compare_digest(raw, expected)
