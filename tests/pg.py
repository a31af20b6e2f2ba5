"""PostgreSQL for tests: a fresh schema per test on RULEBOT_TEST_POSTGRES, or a skip.

When the server cannot be reached the test is skipped with the reason, except under CI
(`CI=true`), where a missing database is a broken setup and fails the test instead.

    from tests.pg import postgres_schema

    async with postgres_schema() as url:  # skips (or fails under CI) when unreachable
        store = await open_store(url)
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
_CONNECT_TIMEOUT_S = 5.0
#: None: not tried yet; "": reachable; otherwise why not
_unreachable: str | None = None


def postgres_base_url() -> str:
    """The server the tests use (RULEBOT_TEST_POSTGRES, else the local default)."""
    return os.environ.get("RULEBOT_TEST_POSTGRES") or DEFAULT_URL


def with_search_path(url: str, schema: str) -> str:
    """The URL with `search_path` set, so every connection of a pool works in `schema`."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "search_path"]
    query.append(("search_path", schema))
    return urlunsplit(parts._replace(query=urlencode(query)))


async def postgres_url_or_skip() -> str:
    """The base URL if the server answers; otherwise skip the test (fail it under CI)."""
    global _unreachable
    url = postgres_base_url()
    if _unreachable is None:
        try:
            conn = await asyncpg.connect(url, timeout=_CONNECT_TIMEOUT_S)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            _unreachable = f"{type(exc).__name__}: {exc}"
        else:
            await conn.close()
            _unreachable = ""
    if _unreachable:
        reason = f"PostgreSQL at {url} is unreachable ({_unreachable}); set RULEBOT_TEST_POSTGRES"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {reason}", pytrace=False)
        pytest.skip(reason)
    return url


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A new, empty schema for one test; yields a URL that works in it; dropped afterwards."""
    base = await postgres_url_or_skip()
    schema = f"rulebot_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(base, timeout=_CONNECT_TIMEOUT_S)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    try:
        yield with_search_path(base, schema)
    finally:
        conn = await asyncpg.connect(base, timeout=_CONNECT_TIMEOUT_S)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh schema's URL (import this fixture into a test module to use it)."""
    async with postgres_schema() as url:
        yield url
