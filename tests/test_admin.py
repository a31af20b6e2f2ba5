"""The /admin dashboard over plain HTTP: its own token, the cookie, and what the pages show."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from yarl import URL

from bot.admin.pages import mask_client
from bot.admin.signin import COOKIE
from bot.demo import demo_rules_path
from bot.sandbox import FaultPlan
from bot.status import render_status
from bot.store import open_store, reports
from tests.conftest import TOKEN, Bot
from tests.pg import postgres_schema

BotFactory = Callable[..., Awaitable[Bot]]
ADMIN_TOKEN = "admin-token-for-tests-42"
CLIENT = "972541234567"


@pytest.fixture
async def admin_bot(bot_factory: BotFactory) -> Bot:
    return await bot_factory(admin_token=ADMIN_TOKEN)


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    """A client that keeps cookies for 127.0.0.1 (aiohttp's default jar refuses IP hosts)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


_CSRF_INPUT = re.compile(r'name="csrf" value="([^"]+)"')


async def form_csrf(bot: Bot, browser: aiohttp.ClientSession, path: str = "/admin/login") -> str:
    """The CSRF token the page's forms carry (its cookie lands in the browser's jar)."""
    async with browser.get(f"{bot.service.url}{path}", allow_redirects=False) as response:
        found = _CSRF_INPUT.search(await response.text())
    assert found is not None
    return found.group(1)


async def post_form(
    bot: Bot, browser: aiohttp.ClientSession, path: str, **fields: str
) -> aiohttp.ClientResponse:
    """POST a dashboard form as the page would, its CSRF token included."""
    # Signed in, the login page sends the browser on to the dashboard: its form is there.
    csrf = await form_csrf(bot, browser, "/admin" if path == "/admin/logout" else "/admin/login")
    async with browser.post(
        f"{bot.service.url}{path}", data={"csrf": csrf, **fields}, allow_redirects=False
    ) as response:
        await response.read()
        return response


async def signed_in(bot: Bot, browser: aiohttp.ClientSession) -> None:
    response = await post_form(bot, browser, "/admin/login", token=ADMIN_TOKEN)
    assert response.status == 303


async def page(browser: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with browser.get(url, allow_redirects=False) as response:
        return response.status, await response.text()


async def test_admin_is_off_without_an_admin_token(bot: Bot) -> None:
    async with bot.http.get(f"{bot.service.url}/admin") as response:
        assert response.status == 404


async def test_admin_without_credentials_shows_the_sign_in_form(admin_bot: Bot) -> None:
    async with admin_bot.http.get(f"{admin_bot.service.url}/admin") as response:
        assert response.status == 401
        html = await response.text()
    assert 'action="/admin/login"' in html
    assert "Today at a glance" not in html


async def test_the_webhook_token_does_not_open_the_dashboard(
    admin_bot: Bot, browser: aiohttp.ClientSession
) -> None:
    status, _ = await page(browser, f"{admin_bot.service.url}/admin?token={TOKEN}")
    assert status == 401
    response = await post_form(admin_bot, browser, "/admin/login", token=TOKEN)
    assert response.status == 401
    assert not browser.cookie_jar.filter_cookies(URL(f"{admin_bot.service.url}/admin")).get(COOKIE)


async def test_token_in_the_url_becomes_a_cookie_and_leaves_the_url(
    admin_bot: Bot, browser: aiohttp.ClientSession
) -> None:
    url = f"{admin_bot.service.url}/admin/playground?text=sales&token={ADMIN_TOKEN}"
    async with browser.get(url, allow_redirects=False) as response:
        assert response.status == 303
        location = response.headers["Location"]
        cookie = response.cookies[COOKIE]
    assert ADMIN_TOKEN not in location
    assert location == "/admin/playground?text=sales"
    assert ADMIN_TOKEN not in cookie.value
    assert len(cookie.value) >= 32
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/admin"
    status, _ = await page(browser, admin_bot.service.url + location)
    assert status == 200


async def test_sign_in_form_then_sign_out(admin_bot: Bot, browser: aiohttp.ClientSession) -> None:
    await signed_in(admin_bot, browser)
    status, html = await page(browser, f"{admin_bot.service.url}/admin")
    assert status == 200
    assert "Today at a glance" in html
    response = await post_form(admin_bot, browser, "/admin/logout")
    assert response.status == 303
    status, _ = await page(browser, f"{admin_bot.service.url}/admin")
    assert status == 401


async def test_wrong_token_and_forged_cookie_are_refused(
    admin_bot: Bot, browser: aiohttp.ClientSession
) -> None:
    url = f"{admin_bot.service.url}/admin"
    for cookie in ("", "x", ADMIN_TOKEN, "A" * 43):
        async with admin_bot.http.get(url, headers={"Cookie": f"{COOKIE}={cookie}"}) as response:
            assert response.status == 401, cookie
    csrf = await form_csrf(admin_bot, browser)
    data = {"token": ADMIN_TOKEN[:-1], "csrf": csrf}
    async with browser.post(f"{url}/login", data=data) as response:
        assert response.status == 401
        assert "not right" in await response.text()


async def test_pages_forbid_scripts_framing_and_caching(
    admin_bot: Bot, browser: aiohttp.ClientSession
) -> None:
    await signed_in(admin_bot, browser)
    async with browser.get(f"{admin_bot.service.url}/admin") as response:
        headers = response.headers
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "script-src" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"


async def test_dashboard_shows_today_rules_and_recent_messages_with_masked_clients(
    admin_bot: Bot, browser: aiohttp.ClientSession
) -> None:
    await admin_bot.client_writes(CLIENT, "hi, who handles sales?")
    await admin_bot.client_writes("972541234568", "what's the weather like?")
    await admin_bot.settle()
    await signed_in(admin_bot, browser)
    status, html = await page(browser, f"{admin_bot.service.url}/admin")
    assert status == 200
    assert '<div class="n" id="messages-in">2</div>' in html
    assert '<div class="n" id="cards-sent">1</div>' in html
    assert '<div class="n" id="unanswered">1</div>' in html
    assert "no rule matched" in html
    assert "hi, who handles sales?" in html
    assert "9725****4567" in html
    assert CLIENT not in html
    assert "<svg" in html and 'class="bar"' in html
    assert admin_bot.service.rulebook.current.version in html


async def test_dashboard_explains_failures_in_plain_words(
    bot_factory: BotFactory, browser: aiohttp.ClientSession
) -> None:
    bot = await bot_factory(max_attempts=1, admin_token=ADMIN_TOKEN)
    bot.sandbox.gateway.faults = FaultPlan(rate=1.0, kinds=("http500",))
    await bot.client_writes(CLIENT, "sales please")
    await bot.settle()
    await signed_in(bot, browser)
    _, html = await page(browser, f"{bot.service.url}/admin")
    assert '<div class="n" id="failures">1</div>' in html
    assert "failed after every retry" in html


async def test_playground_answers_with_the_card_as_rulebot_try_does(
    admin_bot: Bot, browser: aiohttp.ClientSession
) -> None:
    await signed_in(admin_bot, browser)
    status, html = await page(
        browser, f"{admin_bot.service.url}/admin/playground?text=sales+please&at=2026-03-02T10:00"
    )
    assert status == 200
    assert "Answers with a contact card" in html
    assert "Demo Sales" in html
    status, html = await page(
        browser, f"{admin_bot.service.url}/admin/playground?text=weather&at=2026-03-02T10:00"
    )
    assert "Sends nothing: no rule matched" in html
    assert not admin_bot.sent  # the playground never sends


async def test_playground_refuses_a_bad_time_with_a_sentence(
    admin_bot: Bot, browser: aiohttp.ClientSession
) -> None:
    await signed_in(admin_bot, browser)
    status, html = await page(
        browser, f"{admin_bot.service.url}/admin/playground?text=sales&at=tomorrow"
    )
    assert status == 400
    assert "is not a date and time" in html


def half_past_next_hour(bot: Bot) -> None:
    """Move the bot's clock to the middle of an hour, so a test's messages and the hour it
    reads cannot straddle an hour's end, whatever the wall clock says."""
    now = time.time()
    bot.clock.advance((now // 3600 + 1) * 3600 + 1800 - now)


async def test_hourly_activity_buckets_messages_and_replies_by_hour(admin_bot: Bot) -> None:
    half_past_next_hour(admin_bot)
    await admin_bot.client_writes(CLIENT, "sales please")
    await admin_bot.client_writes("972541234568", "support please")
    await admin_bot.settle()
    now = admin_bot.clock()
    hours = await reports.hourly_activity(admin_bot.service.store, now=now)  # type: ignore[arg-type]
    assert len(hours) == 7 * 24
    assert hours[-1].start == (now // 3600) * 3600
    assert (hours[-1].messages, hours[-1].replies) == (2, 2)
    assert sum(h.messages for h in hours[:-1]) == 0


#: unix seconds around hour ends, and each one's hour as Python counts it (seconds // 3600)
_AROUND_HOUR_ENDS = (0.0, 0.4, 3599.6, 3600.0, 3600.5, 7199.999, 1_764_000_000.0, 1_764_003_599.9)


@pytest.mark.postgres
async def test_hour_buckets_are_the_hour_number_on_both_databases(tmp_path: Path) -> None:
    expected = [int(t // 3600) for t in _AROUND_HOUR_ENDS]
    async with postgres_schema() as url:
        for store_at in (str(tmp_path / "hours.db"), url):
            store = await open_store(store_at)
            try:
                dialect = reports.dialect_of(store)  # type: ignore[arg-type]
                bucket = reports.hour_bucket("at", dialect)
                for at in _AROUND_HOUR_ENDS:
                    await store.record_event("probe", str(at), at)
                rows = await store.query(f"SELECT {bucket} AS hour FROM events ORDER BY at")
            finally:
                await store.close()
            assert [int(row["hour"]) for row in rows] == expected, dialect


def test_client_numbers_are_masked_as_the_logs_mask_them() -> None:
    assert mask_client("972541234567") == "9725****4567"


def test_hidden_number_ids_show_only_their_last_four_digits() -> None:
    assert mask_client("IL.1605856887361213") == "…1213"
    assert mask_client("IL.123456789") == "…6789"
    assert mask_client("abc") == "client"


@pytest.mark.postgres
async def test_dashboard_queries_run_on_postgresql(
    bot_factory: BotFactory,
    browser: aiohttp.ClientSession,
) -> None:
    async with postgres_schema() as url:
        bot = await bot_factory(store=url, admin_token=ADMIN_TOKEN)
        half_past_next_hour(bot)
        assert reports.dialect_of(bot.service.store) == "postgresql"
        await bot.client_writes(CLIENT, "sales please")
        await bot.client_writes("972541234568", "what's the weather like?")
        await bot.settle()
        now = bot.clock()
        hours = await reports.hourly_activity(bot.service.store, now=now)  # type: ignore[arg-type]
        assert (hours[-1].messages, hours[-1].replies) == (2, 1)
        recent = await reports.recent_messages(bot.service.store)  # type: ignore[arg-type]
        assert {m.text for m in recent} == {"sales please", "what's the weather like?"}
        await signed_in(bot, browser)
        status, html = await page(browser, f"{bot.service.url}/admin")
        assert status == 200
        assert '<div class="n" id="messages-in">2</div>' in html
        assert '<div class="n" id="unanswered">1</div>' in html
        await bot.service.stop()


async def test_guessing_the_admin_token_is_stopped_for_a_while(
    admin_bot: Bot, browser: aiohttp.ClientSession
) -> None:
    login = f"{admin_bot.service.url}/admin/login"
    csrf = await form_csrf(admin_bot, browser)
    for attempt in range(5):
        data = {"token": f"guess-{attempt}", "csrf": csrf}
        async with browser.post(login, data=data) as response:
            assert response.status == 401
    # Slowed down: even the right token is refused from this address until the window passed.
    data = {"token": ADMIN_TOKEN, "csrf": csrf}
    async with browser.post(login, data=data, allow_redirects=False) as response:
        assert response.status == 429
        assert "Too many wrong tokens: try again in 15 min." in await response.text()
    async with browser.get(f"{admin_bot.service.url}/admin?token={ADMIN_TOKEN}") as response:
        assert response.status == 429
    admin_bot.clock.advance(15 * 60 + 1)
    async with browser.post(login, data=data, allow_redirects=False) as response:
        assert response.status == 303


async def test_status_and_the_dashboard_start_today_at_the_same_midnight(
    bot_factory: BotFactory,
    browser: aiohttp.ClientSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The rules' zone: one whose midnight comes within the hour after now. The machine's zone:
    # twelve hours away, so its "today" began long before the message arrives.
    utc = datetime.now(UTC)
    offset = (23 - utc.hour) % 24
    offset = offset - 24 if offset > 14 else offset
    rules_zone = f"Etc/GMT{-offset:+d}" if offset else "UTC"  # POSIX names: the sign inverted
    machine_offset = offset - 12 if offset >= 0 else offset + 12
    monkeypatch.setenv("TZ", f"Etc/GMT{-machine_offset:+d}" if machine_offset else "UTC")
    time.tzset()
    rules = tmp_path / "rules.yaml"
    demo = demo_rules_path().read_text("utf-8")  # its own timezone: line, replaced
    rules.write_text(re.sub(r"(?m)^timezone: .*$", f"timezone: {rules_zone}", demo), "utf-8")
    bot = await bot_factory(admin_token=ADMIN_TOKEN, rules=rules)
    try:
        await bot.client_writes(CLIENT, "sales")
        await bot.settle()
        zone = ZoneInfo(rules_zone)
        local = datetime.now(zone)
        midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        bot.clock.advance(midnight.timestamp() + 60 - time.time())  # a minute into tomorrow
        report = await render_status(bot.service.config, now=bot.clock())
        await signed_in(bot, browser)
        _, html = await page(browser, f"{bot.service.url}/admin")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    # Yesterday's message, in the business's time zone, for both.
    assert "today: 0 messages in" in report
    assert '<div class="n" id="messages-in">0</div>' in html


async def test_dashboard_lists_every_error_of_a_broken_edit_and_the_warnings_of_good_rules(
    bot_factory: BotFactory, browser: aiohttp.ClientSession, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    demo = demo_rules_path().read_text("utf-8")
    rules.write_text(
        demo + "  - {name: dup, keywords: [sales], reply: {contact: sales}}\n", "utf-8"
    )
    bot = await bot_factory(admin_token=ADMIN_TOKEN, rules=rules)
    await signed_in(bot, browser)
    _, html = await page(browser, f"{bot.service.url}/admin")
    assert 'id="rules-warnings"' in html
    assert "warning: rule &#39;dup&#39; can never answer" in html
    rules.write_text(
        demo
        + "  - {name: one, keywords: [x], reply: {contact: nobody}}\n"
        + "  - {name: two, keywords: [y], reply: {contact: noone}}\n",
        "utf-8",
    )
    assert bot.service.rulebook.reload_now() is False
    _, html = await page(browser, f"{bot.service.url}/admin")
    assert "Fix these lines and save again" in html
    assert "unknown contact &#39;nobody&#39;" in html and "unknown contact &#39;noone&#39;" in html
