"""Run every benchmark in turn and print their figures (quality, matching, check, webhook,
e2e, flood)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = 0
    for name in (
        "quality.py",
        "matching.py",
        "check.py",
        "webhook.py",
        "end_to_end.py",
        "flood.py",
    ):
        print(f"\n=== bench/{name}\n", flush=True)
        failed |= subprocess.call([sys.executable, str(HERE / name)]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
