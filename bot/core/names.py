"""Keywords inside a name: "the 'Color Protect' shampoo", "the Party Platter", «משלוח מנות».

A product, course or place name that contains a keyword is usually not about the keyword's topic:
"the Party Platter for takeaway" asks about takeaway, "the 'Error Handling in Python' lesson" is
not a support request. A name is a quoted span of two words or more ("…", “…”, '…', «…»), or, in
Latin script, a run of two or more Capitalised words that does not start a sentence. A keyword
that is the name's last word is its head ("Express Delivery" is a delivery) and counts; one
earlier in the name only describes it and does not, unless every word of the name is a keyword
of that same rule ("Gel Manicure" for the nails rule).
"""

from __future__ import annotations

import dataclasses
import re

from bot.core.evidence import NOT_WORDS, Evidence

#: a quote opening after a space or the start, closing before punctuation, a space or the end
_QUOTED = re.compile(
    r"""(?:^|(?<=[\s(]))(["'“‘«„])([^"“”‘’«»\n]{3,80}?)(["'”’»“])(?=[\s.,!?;:)،؟]|$)"""
)
# a quote opening a word, or two Capitalised words in a row: else there is no name to find
_QUOTES = "\"'“‘«„"
_QUOTE_SET = frozenset(_QUOTES)
_OPENING_QUOTE = re.compile(r"(?:^|[\s(])[\"'“‘«„]\w")
_TWO_CAPITALS = re.compile(r"[A-Z][a-z]+\s+[A-Z][a-z]")
_INNER_QUOTE = re.compile(r"(?<=\w)['’`׳״\"](?=\w)")
_WORD = re.compile(r"[^\W_]+")
_CAPITALISED = re.compile(r"[A-Z][a-z]+(?:[A-Z][a-z]*)*")
_SENTENCE_END = re.compile(r"[.!?]\s*$")


def name_spans(text: str, count: int) -> list[tuple[int, int, str]]:
    """(first word, one past the last word, the name as written) of every name in `text`,
    whose words `text.tokenize` counts `count`; none when the two counts disagree."""
    if not _TWO_CAPITALS.search(text) and not (
        not _QUOTE_SET.isdisjoint(text) and _OPENING_QUOTE.search(text)
    ):
        return []
    raw = _INNER_QUOTE.sub("", text)
    words = list(_WORD.finditer(raw))
    if len(words) != count:
        return []
    spans = [*_quoted(raw, words), *_capitalised_runs(raw, words)]
    return [span for span in spans if span[1] - span[0] >= 2]


def mark_names(text: str, tokens: list[str], found: dict[int, list[Evidence]]) -> None:
    """Mark evidence that only describes a name it stands in (it then does not count)."""
    spans = name_spans(text, len(tokens))
    if not spans:
        return
    for evidence in found.values():
        for i, item in enumerate(evidence):
            if item.how in NOT_WORDS:
                continue
            for first, last, name in spans:
                inside = first <= item.start and item.end <= last
                if not inside or item.end == last:
                    continue  # outside the name, or its head
                covered = {p for e in evidence for p in range(e.start, e.end) if e.how != "typo"}
                if all(p in covered for p in range(first, last)):
                    continue  # "Gel Manicure": every word of the name is this rule's
                evidence[i] = dataclasses.replace(item, named=name)
                break


def _quoted(raw: str, words: list[re.Match[str]]) -> list[tuple[int, int, str]]:
    spans = []
    for match in _QUOTED.finditer(raw):
        start, end = match.start(2), match.end(2)
        inside = [n for n, w in enumerate(words) if start <= w.start() and w.end() <= end]
        if inside:
            spans.append((inside[0], inside[-1] + 1, match.group(2)))
    return spans


def _capitalised_runs(raw: str, words: list[re.Match[str]]) -> list[tuple[int, int, str]]:
    latin = [w for w in words if w.group().isascii() and w.group().isalpha()]
    if not latin:
        return []
    capitalised = [bool(_CAPITALISED.fullmatch(w.group())) for w in words]
    # Title Case Writing or SHOUTING is a style, not a name
    if sum(capitalised) * 2 > len(latin) or sum(w.group().isupper() for w in latin) * 2 > len(
        latin
    ):
        return []
    spans = []
    n = 0
    while n < len(words):
        if not capitalised[n] or _starts_sentence(raw, words, n):
            n += 1
            continue
        end = n + 1
        while (
            end < len(words)
            and capitalised[end]
            and raw[words[end - 1].end() : words[end].start()] == " "
        ):
            end += 1
        if end - n >= 2:
            spans.append((n, end, raw[words[n].start() : words[end - 1].end()]))
        n = end
    return spans


def _starts_sentence(raw: str, words: list[re.Match[str]], n: int) -> bool:
    if n == 0:
        return True
    return bool(_SENTENCE_END.search(raw[words[n - 1].end() : words[n].start()]))
