"""The dashboard's sign-in against a real server: sessions, cookie flags, CSRF, the slow-down
for guessers behind a reverse proxy, and tables that stay bounded."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.admin.signin import (
    COOKIE,
    CSRF_COOKIE,
    GLOBAL_ATTEMPTS,
    MAX_SESSIONS,
    MAX_TRACKED,
    SESSION_TTL_S,
    Sessions,
    SignInThrottle,
)
from bot.rulebook import RuleBook
from bot.service import create_app
from bot.store import open_store
from tests.conftest import Bot, RunningSandbox, make_config
from tests.test_admin import ADMIN_TOKEN, form_csrf, post_form, signed_in

BotFactory = Callable[..., Awaitable[Bot]]
PROXY_HOP = "127.0.0.1"  # the test's requests come from here: the "reverse proxy"


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


@pytest.fixture
async def admin_bot(bot_factory: BotFactory) -> Bot:
    return await bot_factory(admin_token=ADMIN_TOKEN)


@pytest.fixture
async def proxied_bot(bot_factory: BotFactory, tmp_path: Path, sandbox: RunningSandbox) -> Bot:
    """The dashboard behind the documented reverse proxy on the same machine."""
    config = make_config(tmp_path, sandbox, admin_token=ADMIN_TOKEN)
    server = config.server.model_copy(update={"trusted_proxies": (PROXY_HOP,)})
    return await bot_factory(config=config.model_copy(update={"server": server}))


def _session_cookie(browser: aiohttp.ClientSession) -> str:
    return next(c.value for c in browser.cookie_jar if c.key == COOKIE)


async def _status(bot: Bot, path: str = "/admin", **headers: str) -> int:
    async with bot.http.get(f"{bot.service.url}{path}", headers=headers) as response:
        return response.status


async def test_after_sign_out_the_old_cookie_opens_nothing(
    admin_bot: Bot, browser: aiohttp.ClientSession
) -> None:
    await signed_in(admin_bot, browser)
    old = _session_cookie(browser)
    assert await _status(admin_bot, Cookie=f"{COOKIE}={old}") == 200
    response = await post_form(admin_bot, browser, "/admin/logout")
    assert response.status == 303
    assert await _status(admin_bot, Cookie=f"{COOKIE}={old}") == 401


async def test_each_sign_in_gets_a_new_random_session_that_expires(
    admin_bot: Bot, browser: aiohttp.ClientSession
) -> None:
    await signed_in(admin_bot, browser)
    first = _session_cookie(browser)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        await signed_in(admin_bot, other)
        second = _session_cookie(other)
    assert first != second
    assert ADMIN_TOKEN not in first
    assert await _status(admin_bot, Cookie=f"{COOKIE}={second}") == 200
    admin_bot.clock.advance(SESSION_TTL_S + 1)
    assert await _status(admin_bot, Cookie=f"{COOKIE}={second}") == 401


async def test_cookies_are_http_only_strict_and_secure_only_over_tls(
    proxied_bot: Bot, admin_bot: Bot
) -> None:
    login = "/admin/login"
    cases = [
        (admin_bot, {}, False),  # plain http, nobody in front
        (admin_bot, {"X-Forwarded-Proto": "https"}, False),  # anyone can send the header
        (proxied_bot, {}, False),
        (proxied_bot, {"X-Forwarded-Proto": "https"}, True),  # the trusted proxy says so
    ]
    for bot, headers, secure in cases:
        async with bot.http.get(f"{bot.service.url}{login}", headers=headers) as response:
            cookie = response.cookies[CSRF_COOKIE]
            assert cookie["httponly"]
            assert cookie["samesite"] == "Strict"
            assert bool(cookie["secure"]) is secure, (headers, bot is proxied_bot)


async def test_a_cross_site_post_to_sign_in_or_sign_out_is_refused(
    admin_bot: Bot, browser: aiohttp.ClientSession
) -> None:
    url = admin_bot.service.url
    csrf = await form_csrf(admin_bot, browser)
    # No token in the form (a cross-site form cannot know it): refused, even with the right token.
    async with admin_bot.http.post(f"{url}/admin/login", data={"token": ADMIN_TOKEN}) as response:
        assert response.status == 403
        assert COOKIE not in response.cookies
    # Another site's page, even one that somehow had the token, is refused.
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        data = {"token": ADMIN_TOKEN, "csrf": csrf}
        async with browser.post(f"{url}/admin/login", data=data, headers=headers) as response:
            assert response.status == 403, headers
    await signed_in(admin_bot, browser)
    session = _session_cookie(browser)
    # A cross-site sign-out (no CSRF token) does nothing: the session still works.
    cookie = f"{COOKIE}={session}"
    async with admin_bot.http.post(f"{url}/admin/logout", headers={"Cookie": cookie}) as response:
        assert response.status == 403
    assert await _status(admin_bot, Cookie=cookie) == 200


async def sign_in_through_proxy(
    bot: Bot, browser: aiohttp.ClientSession
) -> Callable[[str, str], Awaitable[int]]:
    """A sign-in attempt with a token, arriving through the trusted proxy from a client
    address: the status it gets."""
    csrf = await form_csrf(bot, browser)
    login = f"{bot.service.url}/admin/login"

    async def attempt(token: str, client: str) -> int:
        data = {"token": token, "csrf": csrf}
        headers = {"X-Forwarded-For": client}
        async with browser.post(
            login, data=data, headers=headers, allow_redirects=False
        ) as response:
            return response.status

    return attempt


async def test_wrong_tokens_through_the_proxy_do_not_lock_out_the_owner(
    proxied_bot: Bot, browser: aiohttp.ClientSession
) -> None:
    attempt = await sign_in_through_proxy(proxied_bot, browser)
    for k in range(5):
        assert await attempt(f"guess-{k}", "203.0.113.5") == 401
    assert await attempt(ADMIN_TOKEN, "203.0.113.5") == 429  # the guesser waits
    assert await attempt(ADMIN_TOKEN, "198.51.100.7") == 303  # the owner, elsewhere, does not
    # A client cannot pose as another by writing the header itself: the proxy appends the real
    # address last, and that is the one counted.
    assert await attempt(ADMIN_TOKEN, "198.51.100.7, 203.0.113.5") == 429


async def test_forwarded_addresses_from_an_untrusted_peer_are_ignored(
    admin_bot: Bot, browser: aiohttp.ClientSession
) -> None:
    csrf = await form_csrf(admin_bot, browser)
    login = f"{admin_bot.service.url}/admin/login"
    for k in range(6):
        headers = {"X-Forwarded-For": f"192.0.2.{k}"}  # rotating made-up addresses
        data = {"token": f"guess-{k}", "csrf": csrf}
        async with browser.post(login, data=data, headers=headers) as response:
            assert response.status == (401 if k < 5 else 429)


async def test_guessing_from_rotated_addresses_is_slowed_down_for_everyone_but_known_owners(
    proxied_bot: Bot, browser: aiohttp.ClientSession
) -> None:
    attempt = await sign_in_through_proxy(proxied_bot, browser)
    assert await attempt(ADMIN_TOKEN, "198.51.100.7") == 303  # the owner signed in before
    statuses = [await attempt(f"guess-{k}", f"10.9.{k // 200}.{k % 200}") for k in range(200)]
    assert statuses.count(401) == GLOBAL_ATTEMPTS  # 40 addresses x 5 no longer buy 200 guesses
    assert set(statuses[GLOBAL_ATTEMPTS:]) == {429}
    assert await attempt(ADMIN_TOKEN, "192.0.2.99") == 429  # a new address waits too ...
    assert await attempt(ADMIN_TOKEN, "198.51.100.7") == 303  # ... the owner's does not
    proxied_bot.clock.advance(15 * 60 + 1)
    assert await attempt(ADMIN_TOKEN, "192.0.2.99") == 303  # and every wait ends


async def test_a_cookie_or_token_that_is_not_utf8_is_refused_with_401(admin_bot: Bot) -> None:
    url = f"{admin_bot.service.url}/admin"
    raw_cookie = f"{COOKIE}=".encode() + b"\xff\xfe"
    async with admin_bot.http.get(url, headers={"Cookie": raw_cookie.decode("latin-1")}) as resp:
        assert resp.status == 401


def test_the_tables_stay_bounded() -> None:
    now = [1_000_000.0]
    throttle = SignInThrottle(clock=lambda: now[0])
    for k in range(MAX_TRACKED + 500):
        throttle.failed(f"10.{k // 65536}.{k // 256 % 256}.{k % 256}")
    assert throttle.tracked == MAX_TRACKED
    sessions = Sessions(clock=lambda: now[0])
    ids = [sessions.create() for _ in range(MAX_SESSIONS + 10)]
    assert len(sessions) == MAX_SESSIONS
    assert not sessions.valid(ids[0])  # the oldest went first
    assert sessions.valid(ids[-1])


async def test_cookies_are_secure_when_the_bot_itself_serves_tls(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    config = make_config(tmp_path, sandbox, admin_token=ADMIN_TOKEN)
    rulebook = RuleBook(config.rules, default_region=config.default_region)
    rulebook.load()
    store = await open_store(config.store)
    runner = web.AppRunner(
        create_app(config=config, store=store, on_message=lambda: None, rulebook=rulebook)
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http:
            url = f"https://127.0.0.1:{port}/admin/login"
            async with http.get(url, ssl=False) as response:
                cookie = response.cookies[CSRF_COOKIE]
        assert cookie["secure"]
        assert cookie["httponly"]
        assert cookie["samesite"] == "Strict"
    finally:
        await runner.cleanup()
        await store.close()
