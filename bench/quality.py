"""Answer quality: how often the bot sends the card the owner wanted, against naive "contains".

    python bench/quality.py [--set DIR] [--wrong] [--book NAME]

Every labelled case of the answer-quality set (`../shared/quality/` when present, else the
frozen copy in `bench/quality_set/`) goes through the same code as `rulebot try` (its rule
book, its local time, its burst). A case is right when the first card sent is the expected
rule's (a burst: when the expected card is among those sent; `fallback`/`none`: when nothing
else answered). Wrong means a card the owner did not want was sent; a miss means no card (or
the fallback) where a rule was wanted. The baseline is what Chatwoot automations and
BuilderBot's `addKeyword` do: the first rule in file order one of whose keywords the
lower-cased message contains, conditions applied alike. Prints tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bot.core import RuleSet, load_rules  # noqa: E402
from bot.core.conditions import Moment  # noqa: E402
from bot.core.tryout import parse_at, try_messages  # noqa: E402
from bot.core.values import ClientState  # noqa: E402

SHARED_SET = HERE.parent.parent / "shared" / "quality"
BUNDLED_SET = HERE / "quality_set"
LANGS = ("he", "ar", "en", "mixed")
CATEGORIES = (
    "plain", "prefix", "inflection", "spelling", "typo", "two-topics", "negation", "trap",
    "greeting", "unrelated", "burst", "hours",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Scored:
    """One case: what was expected, what the engine and the baseline sent, and why."""

    case: dict[str, str]
    got: tuple[str, ...]  #: rule names of the cards sent, in order ("fallback" included)
    verdict: str  #: right | wrong | miss
    baseline: str  #: the baseline's verdict
    explanation: str


def verdict(expect: str, sent: tuple[str, ...], burst: bool) -> str:
    """right, wrong (a card the owner did not want) or miss (no card where one was wanted)."""
    if expect == "none":
        return "right" if not sent else "wrong"
    if expect == "fallback":
        if sent == ("fallback",):
            return "right"
        return "miss" if not sent else "wrong"
    if burst:
        if expect in sent:
            return "right"
    elif sent[:1] == (expect,):
        return "right"
    return "miss" if not sent or sent == ("fallback",) else "wrong"


def contains_baseline(rules: RuleSet, text: str, at: datetime) -> tuple[str, ...]:
    """The naive answer: first rule (file order) a keyword of which the text contains."""
    lowered = text.casefold()
    moment = Moment(at.astimezone(rules.timezone), at, ClientState(client="baseline"))
    for rule in rules.rules:
        words = rule.words
        hit = words.catch_all or any(k.casefold() in lowered for k in words.keywords)
        if hit and (rule.condition is None or rule.condition.failure(moment) is None):
            return (rule.name,)
    fallback = rules.fallback
    if fallback is not None and (
        fallback.condition is None or fallback.condition.failure(moment) is None
    ):
        return ("fallback",)
    return ()


def score(set_dir: Path, book: str | None = None) -> list[Scored]:
    """Run every case of the set (of one book, if named) through the engine and the baseline."""
    books: dict[str, RuleSet] = {}
    cases = [
        json.loads(line)
        for line in (set_dir / "cases.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    results = []
    for case in cases:
        if book and case["book"] != book:
            continue
        rules = books.get(case["book"])
        if rules is None:
            rules = books[case["book"]] = load_rules(set_dir / "books" / f"{case['book']}.yaml")
        at = parse_at(case["at"], rules.timezone)
        texts = case.get("burst") or [case["text"]]
        tried = try_messages(rules, texts, at=at)
        sent = tuple(r.rule for b in tried.bursts for r in b.decision.replies)
        explanation = " / ".join(b.decision.explanation for b in tried.bursts)
        burst = "burst" in case
        naive = contains_baseline(rules, " | ".join(texts), at)
        results.append(
            Scored(
                case,
                sent,
                verdict(case["expect"], sent, burst),
                verdict(case["expect"], naive, burst),
                explanation,
            )
        )
    return results


def _row(label: str, group: list[Scored]) -> str:
    n = len(group)
    right = sum(s.verdict == "right" for s in group)
    wrong = sum(s.verdict == "wrong" for s in group)
    miss = sum(s.verdict == "miss" for s in group)
    base = sum(s.baseline == "right" for s in group)
    base_wrong = sum(s.baseline == "wrong" for s in group)
    return (
        f"{label:<12}{n:>5}  {100 * right / n:>6.1f}% {100 * wrong / n:>6.1f}% "
        f"{100 * miss / n:>6.1f}%   {100 * base / n:>6.1f}% {100 * base_wrong / n:>6.1f}%"
    )


def report(results: list[Scored], show_wrong: bool) -> str:
    """The tables (per language, per category, total) and, if asked, every case not right."""
    header = (
        f"{'':<12}{'cases':>5}  {'right':>7} {'wrong':>7} {'miss':>7}   "
        f"{'contains':>7} {'wrong':>7}"
    )
    lines = []
    for key, order in (("lang", LANGS), ("category", CATEGORIES)):
        lines += [f"per {key}:", header]
        groups: dict[str, list[Scored]] = defaultdict(list)
        for s in results:
            groups[s.case[key]].append(s)
        lines += [_row(name, groups[name]) for name in order if groups[name]]
        lines.append("")
    lines += [header, _row("TOTAL", results)]
    if show_wrong:
        lines.append("")
        lines.append("cases not right (id, category, expected -> sent: the engine's explanation):")
        for s in results:
            if s.verdict != "right":
                sent = ", ".join(s.got) or "nothing"
                lines.append(
                    f"  {s.case['id']} [{s.case['category']}] {s.verdict}: "
                    f"{s.case['text']!r}\n      expected {s.case['expect']} -> {sent}: "
                    f"{s.explanation}"
                )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=None, help="the set's folder")
    parser.add_argument("--book", default=None, help="only this book")
    parser.add_argument("--wrong", action="store_true", help="list every case not right")
    args = parser.parse_args()
    set_dir = args.set or (SHARED_SET if (SHARED_SET / "cases.jsonl").exists() else BUNDLED_SET)
    started = time.perf_counter()
    results = score(set_dir, args.book)
    took = time.perf_counter() - started
    print(f"answer quality on {set_dir} ({len(results)} cases, {took:.2f} s)\n")
    print(report(results, args.wrong))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
