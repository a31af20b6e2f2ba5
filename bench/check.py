"""`rulebot check` time as the rule count grows: it must grow linearly, <= 2 s at 10,000 rules.

    python bench/check.py

Generated rule sets of 1,000, 2,500, 5,000 and 10,000 rules (3 keywords each, Hebrew and
English, every rule with an example, some rules sharing a keyword, some with `when:`), in a
folder of files of at most 2,500 rules (a file may not pass 1 MiB), are checked the way
`rulebot check` checks them: read, compile, lint (shadowed rules, keywords taken, contacts,
every example). Prints the time and the time per rule at each size, and the
ratio of the per-rule time at 10,000 to the one at 1,000 (1.0 is perfectly linear; the old
pairwise shadowing check grew quadratically: 21 s at 4,000 rules). Times are the process's
CPU time, which other work on a shared machine does not inflate as it does the wall time
(printed too). Asserts nothing.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core.lint import check_rules

SIZES = (1_000, 2_500, 5_000, 10_000)
_LETTERS = "אבגדהוזחטיכלמנסעפצקרשת"


def _word(rng: random.Random, n: int) -> str:
    if n % 2:
        return "".join(rng.choice(_LETTERS) for _ in range(rng.randint(4, 7)))
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(5, 9)))


PER_FILE = 2_500


def write_rules(folder: Path, count: int, seed: int = 7) -> None:
    """`count` rules in files of PER_FILE, as a shop with a very large catalogue might write."""
    rng = random.Random(seed)
    head = [
        "timezone: Asia/Jerusalem",
        'business_hours: {sun-thu: "09:00-18:00", fri: "09:00-13:00"}',
        "contacts:",
    ]
    for c in range(20):
        head.append(f'  c{c}: {{name: "Desk {c}", phone: "+972 3 555 {1000 + c}"}}')
    used: list[str] = []
    for first in range(0, count, PER_FILE):
        lines = head if first == 0 else []
        lines = [*lines, "rules:", *_rules(rng, used, first, min(count, first + PER_FILE))]
        (folder / f"rules-{first // PER_FILE:02d}.yaml").write_text(
            "\n".join(lines) + "\n", encoding="utf-8"
        )


def _rules(rng: random.Random, used: list[str], first: int, end: int) -> list[str]:
    lines = []
    for n in range(first, end):
        words = [f"{_word(rng, n + k)}{n}" for k in range(3)]
        if used and n % 50 == 0:  # some rules share a keyword with an earlier one
            words.append(rng.choice(used))
        used.extend(words[:1])
        lines.append(f"  - name: rule {n}")
        lines.append(f"    keywords: [{', '.join(words)}]")
        if n % 10 == 0:
            lines.append("    when: {inside: business_hours}")
        lines.append(f"    reply: {{contact: c{n % 20}}}")
        lines.append(f'    examples: ["I need {words[0]} please"]')
    return lines


def main() -> int:
    header = f"{'rules':>7} {'wall s':>9} {'cpu s':>7} {'cpu us/rule':>11} {'warnings':>9}"
    print(header + f" {'errors':>7}")
    per_rule: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for count in SIZES:
            path = Path(folder) / f"set-{count}"
            path.mkdir()
            write_rules(path, count)
            started, cpu = time.perf_counter(), time.process_time()
            report = check_rules(path)
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            per_rule[count] = cpu / count
            print(
                f"{count:>7} {seconds:>9.2f} {cpu:>7.2f} {cpu / count * 1e6:>11.0f} "
                f"{report.warnings:>9} {report.errors:>7}"
            )
    ratio = per_rule[SIZES[-1]] / per_rule[SIZES[0]]
    total = per_rule[SIZES[-1]] * SIZES[-1]
    print(f"\nCPU per rule at {SIZES[-1]:,} / at {SIZES[0]:,}: {ratio:.2f}x (1.0 = linear)")
    print(f"check of {SIZES[-1]:,} rules: {total:.2f} s of CPU (target <= 2 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
