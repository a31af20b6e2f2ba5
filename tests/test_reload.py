"""Hot reload: a valid edit swaps the rules, a broken one keeps the last good rules."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.errors import RuleError
from bot.rulebook import RuleBook

GOOD = """\
contacts:
  sales: {name: Sales, phone: "052-555-0123"}
rules:
  - {name: sales, keywords: [sales], reply: {contact: sales}}
"""
MORE = GOOD + "  - {name: price, keywords: [price], reply: {contact: sales}}\n"
CHANGED = GOOD.replace("[sales]", "[sales, quote]")
BROKEN = GOOD + "  - {name: oops, keywords: [x], reply: {contact: sale}}\n"


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD, encoding="utf-8")
    return path


@pytest.fixture
async def watched(rules_file: Path) -> AsyncIterator[RuleBook]:
    book = RuleBook(rules_file, debounce_s=0.05)
    book.load()
    stop = asyncio.Event()
    task = asyncio.create_task(book.watch(stop))
    await asyncio.sleep(0.3)  # let the watcher start before the test edits the file
    try:
        yield book
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)


def test_load_refuses_broken_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    book = RuleBook(path)
    with pytest.raises(RuleError, match="unknown contact 'sale'"):
        book.load()


def test_reload_now_swaps_a_valid_edit(rules_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    book = RuleBook(rules_file)
    first = book.load()
    rules_file.write_text(MORE, encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="bot.rulebook"):
        assert book.reload_now() is True
    assert book.current.rule_names == ("sales", "price")
    assert book.reloads == 1
    assert f"rules reloaded: added: 'price'; version {first.version} -> {book.current.version}" in (
        caplog.text
    )


def test_reload_now_without_a_change_keeps_the_rules(rules_file: Path) -> None:
    book = RuleBook(rules_file)
    first = book.load()
    assert book.reload_now() is False
    assert book.current is first and book.reloads == 0


def test_reload_now_keeps_the_last_good_rules_on_error(
    rules_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    book = RuleBook(rules_file)
    first = book.load()
    rules_file.write_text(BROKEN, encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="bot.rulebook"):
        assert book.reload_now() is False
    assert book.current is first
    assert book.last_error is not None
    assert book.last_error.line == 5
    assert "rules.yaml:5:50: unknown contact 'sale' (did you mean 'sales'?)" in caplog.text
    rules_file.write_text(GOOD, encoding="utf-8")
    book.reload_now()
    assert book.last_error is None


def test_describe_change_names_changed_and_removed_rules(rules_file: Path) -> None:
    from bot.rulebook import describe_change

    book = RuleBook(rules_file)
    rules_file.write_text(MORE, encoding="utf-8")
    before = book.load()
    rules_file.write_text(CHANGED, encoding="utf-8")
    book.reload_now()
    assert describe_change(before, book.current) == (
        f"removed: 'price'; changed: 'sales'; version {before.version} -> {book.current.version}"
    )


async def test_watch_swaps_a_valid_edit_within_a_second(
    watched: RuleBook, rules_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = watched.current.version
    caplog.set_level(logging.INFO, logger="bot.rulebook")
    started = time.monotonic()
    rules_file.write_text(MORE, encoding="utf-8")
    await until(lambda: watched.reloads == 1)
    assert time.monotonic() - started < 2.0
    assert watched.current.rule_names == ("sales", "price")
    # the log line is written by the reload thread just after the swap
    await until(lambda: "added: 'price'" in caplog.text)
    assert f"added: 'price'; version {old} -> {watched.current.version}" in caplog.text


async def test_watch_keeps_last_good_rules_on_an_invalid_edit(
    watched: RuleBook, rules_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = watched.current
    caplog.set_level(logging.ERROR, logger="bot.rulebook")
    rules_file.write_text(BROKEN, encoding="utf-8")
    await until(lambda: "rules not reloaded" in caplog.text)
    assert watched.current is good
    assert watched.last_error is not None
    assert "rules.yaml:5:50: unknown contact 'sale'" in caplog.text
    # fixing the file swaps again
    rules_file.write_text(MORE, encoding="utf-8")
    await until(lambda: watched.reloads == 1)
    assert watched.last_error is None
    assert watched.current.rule_names == ("sales", "price")


async def test_watch_keeps_last_good_rules_when_the_file_is_deleted(
    watched: RuleBook, rules_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = watched.current
    caplog.set_level(logging.ERROR, logger="bot.rulebook")
    rules_file.unlink()
    await until(lambda: "rules file not found" in caplog.text)
    assert watched.current is good
    assert watched.last_error is not None
    rules_file.write_text(CHANGED, encoding="utf-8")  # it comes back
    await until(lambda: watched.reloads == 1)
    assert watched.last_error is None


async def test_watch_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "10-contacts.yaml").write_text(GOOD, encoding="utf-8")
    book = RuleBook(folder, debounce_s=0.05)
    book.load()
    stop = asyncio.Event()
    task = asyncio.create_task(book.watch(stop))
    await asyncio.sleep(0.3)
    (folder / "20-more.yaml").write_text(
        "rules:\n  - {name: price, keywords: [price], reply: {contact: sales}}\n", encoding="utf-8"
    )
    (folder / "notes.txt").write_text("ignored", encoding="utf-8")
    await until(lambda: book.reloads == 1)
    assert book.current.rule_names == ("sales", "price")
    stop.set()
    await asyncio.wait_for(task, timeout=5)


async def test_reload_runs_off_the_event_loop(watched: RuleBook, rules_file: Path) -> None:
    import threading

    threads: list[str] = []
    original = watched.reload_now

    def spy() -> bool:
        threads.append(threading.current_thread().name)
        return original()

    watched.reload_now = spy  # type: ignore[method-assign]
    rules_file.write_text(MORE, encoding="utf-8")
    await until(lambda: watched.reloads == 1)
    assert threads and threading.main_thread().name not in threads


def test_a_reload_logs_every_error_not_only_the_first(
    rules_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    book = RuleBook(rules_file)
    book.load()
    rules_file.write_text(
        BROKEN + "  - {name: two, keywords: [y], reply: {contact: nobody}}\n", encoding="utf-8"
    )
    with caplog.at_level(logging.ERROR, logger="bot.rulebook"):
        assert book.reload_now() is False
    assert "rules.yaml:5:50: error: unknown contact 'sale'" in caplog.text
    assert "rules.yaml:6:49: error: unknown contact 'nobody'" in caplog.text
    assert [p.severity for p in book.problems] == ["error", "error"]


def test_a_reload_logs_warnings_and_failing_examples(
    rules_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    book = RuleBook(rules_file)
    book.load()
    rules_file.write_text(
        GOOD
        + "  - {name: price, keywords: [sales], reply: {contact: sales}}\n"
        + "  - {name: quote, keywords: [quote], reply: {contact: sales}, examples: [hello]}\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="bot.rulebook"):
        assert book.reload_now() is True  # warnings and examples do not stop the rules
    assert "warning: rule 'price' can never answer" in caplog.text
    assert "error: example 'hello' is not answered by rule 'quote'" in caplog.text
    assert all(r.levelno == logging.WARNING for r in caplog.records if "rules: " in r.message)


def test_an_empty_file_saved_over_live_rules_keeps_them(rules_file: Path) -> None:
    """Only comments left: that would silently stop every answer, so it is an error."""
    book = RuleBook(rules_file)
    first = book.load()
    rules_file.write_text("# rules\n# (to be written)\n", encoding="utf-8")
    assert book.reload_now() is False
    assert book.current is first
    assert book.last_error is not None
    assert book.last_error.message.startswith("the file is empty (only comments)")
    with pytest.raises(RuleError, match="the file is empty"):
        RuleBook(rules_file).load()  # and a bot started with it refuses to start
