"""The dashboard in a real headless Chromium: sign in, the week's chart, the playground.

Screenshots go to the test's temporary folder; with RULEBOT_UPDATE_SCREENSHOTS=1 they also
replace docs/img/dashboard.png and docs/img/playground.png (the ones docs/operations.md shows).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import FaultPlan
from tests.conftest import Bot, Clock

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_TOKEN = "browser-admin-token-7"
DOCS_IMG = Path(__file__).resolve().parent.parent / "docs" / "img"
BotFactory = Callable[..., Awaitable[Bot]]
HOUR = 3600

RULES = """\
contacts:
  sales: {name: "Dana (sales)", phone: "+972 52 555 0123"}
  support: {name: "Support desk", phone: "+972 3 555 0101"}
rules:
  - name: sales
    keywords: [sales, price, מחיר]
    reply: {contact: sales}
  - name: support
    keywords: [support, broken, תקלה]
    reply: {contact: support}
"""


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    """Debian's Chromium driven by Playwright (no downloaded browsers)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def shop(bot_factory: BotFactory, tmp_path: Path, clock: Clock) -> Bot:
    """A bot with a week of traffic: busier in the day, a few unanswered, one failure."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    bot = await bot_factory(rules=rules, max_attempts=1, admin_token=ADMIN_TOKEN)
    texts = ["hi, what's the price?", "my order is broken, support please", "are you open?",
             "מה המחיר?", "sales please", "תקלה במוצר"]  # fmt: skip
    start = -7 * 24 + 2
    client = 0
    for hour in range(start, 1, 2):
        clock.offset = hour * HOUR
        local_hour = (hour + 7 * 24 + 10) % 24  # a daily rhythm, whatever the time zone
        busy = 3 if 8 <= local_hour <= 18 else 1 if 6 <= local_hour <= 21 else 0
        for _ in range(busy + (client % 2)):
            client += 1
            await bot.client_writes(f"9725410{client:05d}", texts[client % len(texts)])
        await bot.settle()
    clock.offset = 0
    bot.sandbox.gateway.faults = FaultPlan(rate=1.0, kinds=("http500",))
    await bot.client_writes("972549999999", "price please")
    await bot.settle()
    bot.sandbox.gateway.faults = FaultPlan()
    return bot


def keep_screenshot(path: Path) -> None:
    if os.environ.get("RULEBOT_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMG / path.name)


async def test_dashboard_signs_in_renders_the_chart_and_answers_in_the_playground(
    chromium: Any, shop: Bot, tmp_path: Path
) -> None:
    page = await chromium.new_page(viewport={"width": 1180, "height": 900})
    base = shop.service.url

    # Sign in with the form.
    answer = await page.goto(f"{base}/admin")
    assert answer is not None and answer.status == 401
    await page.fill("#token", ADMIN_TOKEN)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#today")
    assert page.url == f"{base}/admin"

    # Today at a glance, in plain words.
    assert int(await page.inner_text("#messages-in")) >= 1
    assert int(await page.inner_text("#failures")) == 1
    assert "failed after every retry" in await page.inner_text("#failure-reasons")

    # The chart: one bar per hour for 7 days, and the replies' line.
    chart = page.locator("svg#activity-chart")
    box = await chart.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 100
    assert await page.locator("svg#activity-chart rect.bar").count() == 7 * 24
    tall = await page.eval_on_selector_all(
        "svg#activity-chart rect.bar", "bars => bars.filter(b => b.getBBox().height > 0).length"
    )
    assert tall > 20
    line = await page.get_attribute("svg#activity-chart path.replies", "d")
    assert line is not None and line.startswith("M") and line.count("L") == 7 * 24 - 1

    # Rules with hits, recent messages with masked clients, rule file status.
    hits = await page.inner_text("#rule-hits")
    assert "sales" in hits and "support" in hits
    recent = await page.inner_text("#recent-messages")
    assert "9725****9999" in recent and "972549999999" not in recent
    assert shop.service.rulebook.current.version in await page.inner_text("#rules-status")

    shot = tmp_path / "dashboard.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    keep_screenshot(shot)

    # The playground: a message and a time, the rule and the card; nothing is sent.
    sent_before = len(shop.sent)
    await page.click("text=Try a message")
    await page.wait_for_selector("#playground")
    await page.fill("#text", "hi, what's the price for 2?")
    await page.fill("#at", "2026-03-02T10:30")
    await page.click("#try")
    await page.wait_for_selector("#playground-result")
    result = await page.inner_text("#playground-result")
    assert "Answers with a contact card" in result
    assert "Dana (sales)" in result
    assert await page.inner_text("#playground-result code.rule") == "sales"
    assert await page.input_value("#at") == "2026-03-02T10:30"

    shot = tmp_path / "playground.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    keep_screenshot(shot)
    assert len(shop.sent) == sent_before


async def test_dashboard_shows_a_broken_rule_file_with_its_line(
    chromium: Any, shop: Bot, tmp_path: Path
) -> None:
    rules = shop.service.config.rules
    rules.write_text(RULES + "  - name: extra\n    keywords: [x]\n    reply: {contact: nobody}\n")
    assert shop.service.rulebook.reload_now() is False
    page = await chromium.new_page()
    await page.goto(f"{shop.service.url}/admin?token={ADMIN_TOKEN}")
    await page.wait_for_selector("#rules-error")
    assert ADMIN_TOKEN not in page.url
    error = await page.inner_text("#rules-error")
    assert error.startswith(f"{rules}:")
    assert "nobody" in error
    assert "keeps using the previous rules" in await page.inner_text("#rules-status")
