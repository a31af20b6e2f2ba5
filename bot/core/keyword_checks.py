"""A rule's own words, read as the owner probably meant them: lists typed as one phrase,
words separated by ';' or '/', and an `exclude:` that cancels one of the rule's keywords.

Each finding is a warning at the word's `file:line:column`; the words still load as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.core.diagnostics import Diagnostics, SourceMap
from bot.core.diagnostics import Path as NodePath
from bot.core.matcher import key_of

#: characters people separate list items with, which YAML keeps inside one keyword
_SEPARATORS = re.compile(r"\s*[,;/|،؛、\\]\s*")
#: this many words in one keyword, alone in its list, is a list typed without commas
_LIST_WORDS = 3


def check_keywords(
    keywords: Sequence[str],
    exclude: Sequence[str],
    source: SourceMap,
    path: NodePath,
    diagnostics: Diagnostics,
) -> None:
    """Warn about keywords that were probably meant as several, and excludes that cancel one."""
    for position, word in enumerate(keywords):
        _one_keyword(word, len(keywords), source, (*path, "keywords", position), diagnostics)
    if not exclude:
        return
    own = {key_of(word): word for word in keywords}
    for position, word in enumerate(exclude):
        cancelled = own.get(key_of(word))
        if cancelled is not None and key_of(word):
            diagnostics.warning(
                f"exclude '{word}' is also a keyword of this rule: '{cancelled}' can never answer",
                source,
                (*path, "exclude", position),
                hint="remove it from one of the two lists",
            )


def _one_keyword(
    word: str, count: int, source: SourceMap, path: NodePath, diagnostics: Diagnostics
) -> None:
    parts = [part for part in _SEPARATORS.split(word.strip()) if part]
    if len(parts) > 1 and all(key_of(part) for part in parts) and not _is_number(word):
        separator = _SEPARATORS.search(word.strip())
        shown = separator[0].strip() if separator else ","
        diagnostics.warning(
            f"keyword '{word}' is one phrase with '{shown}' inside: "
            "a message must contain all of it",
            source,
            path,
            hint=f"separate keywords with commas: [{', '.join(parts)}]",
        )
        return
    words = word.split()
    if count == 1 and len(words) >= _LIST_WORDS:
        diagnostics.warning(
            f"keyword '{word}' is one phrase of {len(words)} words: "
            "a message must contain them all, in this order",
            source,
            path,
            hint=f"if they are separate keywords, put commas between them: [{', '.join(words)}]",
        )


def _is_number(word: str) -> bool:
    """'24/7', '1/2', '3,500': digits around the separator are one thing, not a list."""
    return bool(re.fullmatch(r"[\d\s,;/|\\.:-]+", word))
