"""Per-message matching cost as the keyword count grows, against a plain per-rule loop.

    python bench/matching.py

Generated rule sets of 10, 100, 1,000 and 10,000 keywords (10 per rule, Hebrew and English)
are loaded the way the server loads them. For each, a typical ~80-character message is
matched (one lookup per word in the keyword index, then the candidates ranked) and decided
(`engine.decide`, conditions and once_per included). The baseline is what one would write
first: for each rule in file order, one compiled word-boundary alternation of its keywords
searched over the normalised message. Prints figures and ratios; asserts nothing.
Targets: <= 2x growth from 10 to 10,000 keywords, >= 100x faster than the loop at 10,000,
< 20 us for a typical 80-character message.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import regex

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core import RuleSet, load_rules
from bot.core.engine import decide
from bot.core.text import PREFIXES, normalize
from bot.core.values import ClientState, InboundMessage

SIZES = (10, 100, 1_000, 10_000)
PER_RULE = 10
HEBREW = "אבגדהוזחטיכלמנסעפצקרשת"
ENGLISH = "abcdefghijklmnopqrstuvwxyz"
MESSAGES = {
    "english": "Hi there, I would like to know the price of the large blue box, thanks a lot!!",
    "hebrew": "שלום, רציתי לשאול מה המחיר של הקופסה הכחולה הגדולה ואם יש משלוח עד הבית?",
}


def words(rng: random.Random, alphabet: str, count: int) -> list[str]:
    found: set[str] = set()
    while len(found) < count:
        found.add("".join(rng.choice(alphabet) for _ in range(rng.randint(4, 9))))
    return sorted(found)


def rule_file(size: int, folder: Path) -> Path:
    rng = random.Random(size)
    half = max(1, size // 2)
    keywords = words(rng, ENGLISH, half) + words(rng, HEBREW, size - half)
    rng.shuffle(keywords)
    # the words real messages contain sit in the LAST rule: the worst case for a loop
    keywords[-2:] = ["price", "מחיר"]
    lines = ['contacts:\n  sales: {name: Sales, phone: "052-555-0123"}\nrules:\n']
    for start in range(0, size, PER_RULE):
        chunk = ", ".join(f'"{w}"' for w in keywords[start : start + PER_RULE])
        lines.append(f"  - {{name: r{start}, keywords: [{chunk}], reply: {{contact: sales}}}}\n")
    path = folder / f"bench-{size}.yaml"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def per_rule_loop(rules: RuleSet) -> Callable[[str], str | None]:
    # same semantics as the index: whole normalised words, optionally behind a known prefix
    prefix = "(?:" + "|".join(sorted(PREFIXES, key=len, reverse=True)) + ")?"
    patterns = []
    for rule in rules.rules:
        words = "|".join(regex.escape(normalize(w)) for w in rule.words.keywords)
        patterns.append(regex.compile(r"(?<!\S)" + prefix + "(?:" + words + r")(?!\S)"))
    names = rules.rule_names

    def first_rule(text: str) -> str | None:
        line = normalize(text)
        for name, pattern in zip(names, patterns, strict=True):
            if pattern.search(line):
                return name
        return None

    return first_rule


def indexed(rules: RuleSet) -> Callable[[str], str | None]:
    def first_rule(text: str) -> str | None:
        scan = rules.match(text)
        for index in scan.candidates():
            if scan.rule_match(index) is not None:
                return rules.rules[index].name
        return None

    return first_rule


def microseconds(function: Callable[[], object], budget_s: float = 0.3) -> float:
    """Median per-call time over several rounds, in microseconds."""
    function()
    calls = 1
    while True:
        started = time.perf_counter()
        for _ in range(calls):
            function()
        elapsed = time.perf_counter() - started
        if elapsed > 0.02:
            break
        calls *= 2
    rounds = max(3, int(budget_s / max(elapsed, 1e-9)))
    samples = []
    for _ in range(min(rounds, 15)):
        started = time.perf_counter()
        for _ in range(calls):
            function()
        samples.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(samples)


def measure(
    rules: RuleSet,
    ours: Callable[[str], str | None],
    loop: Callable[[str], str | None],
    text: str,
    client: ClientState,
    now: datetime,
) -> tuple[float, float, float]:
    """(index match µs, full decide µs, per-rule loop µs) for one message."""
    message = InboundMessage("m", "c", "c", text, "text", 0.0)
    return (
        microseconds(lambda: ours(text)),
        microseconds(lambda: decide(message, rules, client, now)),
        microseconds(lambda: loop(text)),
    )


def main() -> None:
    now = datetime(2026, 11, 25, 10, tzinfo=UTC)
    client = ClientState("972520000000")
    results: dict[tuple[str, int], tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for size in SIZES:
            started = time.perf_counter()
            rules = load_rules(rule_file(size, Path(folder)))
            load_ms = (time.perf_counter() - started) * 1000
            ours, loop = indexed(rules), per_rule_loop(rules)
            for language, text in MESSAGES.items():
                assert ours(text) == loop(text), (size, language)
                results[(language, size)] = measure(rules, ours, loop, text, client, now)
            print(f"loaded {size:>6} keywords ({len(rules.rules)} rules) in {load_ms:7.1f} ms")
    print()
    for language, text in MESSAGES.items():
        print(f"{language} message ({len(text)} chars): {text}")
        print(
            f"{'keywords':>9} {'match µs':>9} {'decide µs':>10} {'loop µs':>10} {'loop/match':>11}"
        )
        for size in SIZES:
            match, decided, loop = results[(language, size)]
            print(f"{size:>9} {match:>9.2f} {decided:>10.2f} {loop:>10.1f} {loop / match:>10.0f}x")
        small, large = results[(language, SIZES[0])][0], results[(language, SIZES[-1])][0]
        print(
            f"growth 10 -> 10,000 keywords: {large / small:.2f}x (target <= 2x); "
            f"speed-up over the loop at 10,000: {results[(language, SIZES[-1])][2] / large:.0f}x "
            f"(target >= 100x); match at 10,000: {large:.1f} µs (target < 20 µs)"
        )
        print()


if __name__ == "__main__":
    main()
