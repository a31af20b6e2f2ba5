"""Reading a rule file without trusting it to be one: its type and size are checked on the
open file before reading, and the read is bounded.

A path can name a 700 MB file, /dev/zero (never ends) or a FIFO (opening waits for a writer):
each is refused at once, never read whole into memory.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotAnOrdinaryFile(Exception):
    """The path is a device, a FIFO or a socket: reading it could hang or never end."""


class FileTooLarge(Exception):
    """Over the limit: refused without being read."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def read_bounded(path: Path, limit: int) -> bytes:
    """The file's bytes, if it is an ordinary file of at most `limit` bytes. Opening never
    waits for a FIFO's writer (O_NONBLOCK); OSError as opening or reading raises it."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise NotAnOrdinaryFile(str(path))
        if info.st_size > limit:
            raise FileTooLarge(info.st_size)
        raw = file.read(limit + 1)  # bounded even if the file grew since
        if len(raw) > limit:
            raise FileTooLarge(len(raw))
        return raw
