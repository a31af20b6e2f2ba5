"""Messages about what no service is for: an item left behind, a job.

"שכחתי את המשקפיים על השולחן אתמול" is about glasses left behind, not about booking a table;
"رجعت للبيت ونسيت كيس الدوا عندكم" about a bag left at the counter, not home delivery;
"מחפשים עבודה בתור שליח?" asks for a job, not for a delivery. In the clause that says so, the
keywords name where the thing was or what the job is, so they do not count. What was forgotten
still counts ("نسيت موعدي", I forgot my appointment), "forgot to…" is not an item left behind,
and other clauses of the message count as ever. A rule whose own keyword is the cue (a "lost
and found" rule listing "שכחתי") still matches it.
"""

from __future__ import annotations

import dataclasses

from bot.core import cues
from bot.core.evidence import NOT_WORDS, Evidence, clause_ids, is_cue
from bot.core.forms import script_of
from bot.core.text import PREFIXES

LEFT_BEHIND = "an item left behind"
#: letters that put a preposition before a Hebrew or Arabic word (the article is no preposition)
_PREPOSITIONS = ("ב", "ל", "מ", "כ", "ب", "ل", "ك", "ع")
JOB = "a job"
#: the job-seeking phrases by their first word, so a message is read once, not once a phrase
_JOB_PHRASES: dict[str, list[tuple[str, ...]]] = {}
for _phrase in sorted(cues.JOB_SEEKING, key=len, reverse=True):
    _JOB_PHRASES.setdefault(_phrase[0], []).append(_phrase)
#: every word that may open an aside, with any prefix: most messages hold none, and one set
#: test says so (looking each word up as a cue cost as much as matching the message)
_OPENERS = frozenset(
    {prefix + word for word in cues.LEFT_BEHIND for prefix in ("", *PREFIXES)} | set(_JOB_PHRASES)
)


def mark_asides(folded: str, tokens: list[str], found: dict[int, list[Evidence]]) -> None:
    """Mark evidence in a clause about an item left behind or a job (it then does not count)."""
    if not found or _OPENERS.isdisjoint(tokens):
        return
    spans = _aside_spans(tokens)
    if not spans:
        return
    clauses = clause_ids(folded, len(tokens))
    cue_words = {p for _, first, last, _ in spans for p in range(first, last)}
    for evidence in found.values():
        if any(e.start in cue_words for e in evidence):
            continue  # the rule's own keyword is the cue: it is about this
        for i, item in enumerate(evidence):
            if item.how in NOT_WORDS:
                continue
            for clause_at, first, last, kept in spans:
                if clauses[item.start] != clauses[clause_at] or first <= item.start < last:
                    continue
                if kept <= item.start <= kept + 1 and _names_the_thing(tokens, kept, item.start):
                    continue  # what was forgotten ("כרטיס הביטוח", the insurance card)
                about = LEFT_BEHIND if kept >= 0 else JOB
                evidence[i] = dataclasses.replace(item, aside=about)
                break


def _aside_spans(tokens: list[str]) -> list[tuple[int, int, int, int]]:
    """(a word of the clause, the cue's first word, one past its last, the word that stays
    evidence: what was forgotten, or -1) for every cue of an aside in `tokens`."""
    spans = []
    for n, token in enumerate(tokens):
        if is_cue(token, cues.LEFT_BEHIND):
            thing = _thing_after(tokens, n + 1)
            if thing is not None:
                spans.append((n, n, n + 1, thing))
            continue
        for phrase in _JOB_PHRASES.get(token, ()):
            if tuple(tokens[n : n + len(phrase)]) == phrase:
                spans.append((n, n, n + len(phrase), -1))
                break
    return spans


def _names_the_thing(tokens: list[str], thing: int, position: int) -> bool:
    """Whether the word at `position` is the thing forgotten or, right after it, the word that
    says which in Hebrew or Arabic ("כרטיס הביטוח", "كيس الدوا"): not behind a preposition
    ("על השולחן", "بالبيت") nor a small word."""
    if position == thing:
        return True
    word = tokens[position]
    if script_of(word) not in ("he", "ar") or is_cue(word, cues.FUNCTION_WORDS):
        return False
    return not word.startswith(_PREPOSITIONS)


def _thing_after(tokens: list[str], start: int) -> int | None:
    """Where the thing forgotten is named after the verb; None for "forgot to…"."""
    for n in range(start, min(start + 4, len(tokens))):
        token = tokens[n]
        if token in cues.FORGOT_TO or (token.startswith("ל") and len(token) >= 4):
            return None  # "forgot to book", "שכחתי לבטל", "نسيت اني…"
        if not is_cue(token, cues.FUNCTION_WORDS):
            return n
    return None
