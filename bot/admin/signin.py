"""Signing in to the dashboard: the admin token, the session cookie, the lockout after guesses.

The cookie holds a value derived from the admin token (an HMAC), never the token itself. An
address that gets the token wrong SIGN_IN_ATTEMPTS times within SIGN_IN_WINDOW_S is refused,
even with the right token, until the window has passed.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

COOKIE = "rulebot_admin"
_SESSION_LABEL = b"rulebot admin session v1"
_COOKIE_MAX_AGE_S = 12 * 3600
#: wrong admin tokens one address may try in SIGN_IN_WINDOW_S before it is refused for a while
SIGN_IN_ATTEMPTS = 5
SIGN_IN_WINDOW_S = 15 * 60


def session_value(admin_token: str) -> str:
    """The cookie's value: derived from the admin token, so the cookie never carries it."""
    return hmac.new(admin_token.encode(), _SESSION_LABEL, hashlib.sha256).hexdigest()


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


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a sign-in was refused, in words for the sign-in form, and the HTTP status."""

    message: str
    status: int


class SignIn:
    """Checks the admin token (with the lockout) and keeps the session in a cookie."""

    def __init__(self, admin_token: str, *, clock: Callable[[], float] = time.time) -> None:
        self._token = admin_token.encode()
        self._session = session_value(admin_token).encode()
        self._throttle = SignInThrottle(clock=clock)

    def signed_in(self, request: web.Request) -> bool:
        """Whether the request carries this dashboard's session cookie."""
        cookie = request.cookies.get(COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self._session)

    def check_token(self, request: web.Request, given: object) -> Refusal | None:
        """None when the token is right; else the refusal (401, or 429 when guessing)."""
        address = request.remote or "?"
        wait = self._throttle.wait_s(address)
        if wait > 0:
            minutes = max(1, round(wait / 60))
            return Refusal(
                f"Too many wrong tokens from this address: try again in {minutes} min.", 429
            )
        if (
            isinstance(given, str)
            and self._token
            and hmac.compare_digest(given.encode(), self._token)
        ):
            return None
        self._throttle.failed(address)
        return Refusal("That token is not right.", 401)

    def start_session(self, response: web.StreamResponse, request: web.Request) -> None:
        """Set the session cookie on `response` (Secure when the request came over TLS)."""
        response.set_cookie(
            COOKIE,
            self._session.decode(),
            path="/admin",
            httponly=True,
            samesite="Strict",
            secure=request.secure,
            max_age=_COOKIE_MAX_AGE_S,
        )

    @staticmethod
    def end_session(response: web.StreamResponse) -> None:
        """Delete the session cookie."""
        response.del_cookie(COOKIE, path="/admin")
