"""What SQLite and PostgreSQL spell differently; every statement is written once, in SQLite's
words (`?` placeholders), and each dialect renders it.

PostgreSQL gets `$1..$n` for `?`, DOUBLE PRECISION for REAL, GREATEST for the two-argument MAX,
and row locks (`FOR UPDATE`) where several instances could race; SQLite needs none, since one
process holds the file and its writes run one at a time on one thread.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dialect:
    """One database's spelling of the differences."""

    name: str  #: "sqlite" or "postgresql"
    #: the schema's column types (migrations.py) -> this database's
    types: Mapping[str, str]
    #: the larger of two values (SQLite's MAX takes two arguments; PostgreSQL's is an aggregate)
    greatest: str
    #: appended to a read whose rows must stay as read until commit
    for_update: str
    numbered_placeholders: bool

    def sql(self, statement: str) -> str:
        """`statement` (with `?` placeholders) as this database takes it."""
        if self.numbered_placeholders and "?" in statement:
            return to_numbered_placeholders(statement)
        return statement


SQLITE = Dialect(
    name="sqlite",
    types={
        "ID": "INTEGER PRIMARY KEY",
        "TEXT": "TEXT",
        "INTEGER": "INTEGER",
        "SECONDS": "REAL",
        "BYTES": "BLOB",
    },
    greatest="MAX",
    for_update="",
    numbered_placeholders=False,
)

POSTGRES = Dialect(
    name="postgresql",
    types={
        "ID": "BIGSERIAL PRIMARY KEY",
        "TEXT": "TEXT",
        "INTEGER": "INTEGER",
        "SECONDS": "DOUBLE PRECISION",
        "BYTES": "BYTEA",
    },
    greatest="GREATEST",
    for_update=" FOR UPDATE",
    numbered_placeholders=True,
)


@functools.lru_cache(maxsize=1024)
def to_numbered_placeholders(sql: str) -> str:
    """SQLite's `?` placeholders -> PostgreSQL's `$1..$n`; quoted text and comments kept as is."""
    out: list[str] = []
    number = 0
    i = 0
    while i < len(sql):
        char = sql[i]
        if char in "'\"":
            end = sql.find(char, i + 1)
            while end != -1 and sql[end + 1 : end + 2] == char:  # doubled quote: an escape
                end = sql.find(char, end + 2)
            end = len(sql) if end == -1 else end + 1
            out.append(sql[i:end])
            i = end
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = len(sql) if end == -1 else end
            out.append(sql[i:end])
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = len(sql) if end == -1 else end + 2
            out.append(sql[i:end])
            i = end
        elif char == "?":
            number += 1
            out.append(f"${number}")
            i += 1
        else:
            out.append(char)
            i += 1
    return "".join(out)
