"""What the rule commands share: which config, which rule files, and printing any script."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from bot.config import load_config

__all__ = ["load_config_of", "print_line", "rules_and_region"]

_FALLBACK_RULES = Path("rules/example.yaml")


def load_config_of(args: argparse.Namespace) -> Any:
    """The config named by `--config` (embedded defaults without one)."""
    return load_config(getattr(args, "config", None))


def rules_and_region(path: str | None, config: Any) -> tuple[Path, str]:
    """The rule file or folder to read (PATH, else the config's) and the default phone region."""
    region = getattr(config, "default_region", None) or "IL"
    if path:
        return Path(path), region
    configured = getattr(config, "rules", None)
    return (Path(configured) if configured else _FALLBACK_RULES), region


def print_line(stream: TextIO, line: str) -> None:
    """Print `line`; a terminal that cannot show Hebrew/Arabic gets it with replacements."""
    try:
        print(line, file=stream)
    except UnicodeEncodeError:  # a terminal that cannot show Hebrew/Arabic: keep the line
        encoding = getattr(stream, "encoding", None) or "ascii"
        print(line.encode(encoding, "replace").decode(encoding), file=stream)
