"""A rule's `examples:` as evidence: a message no keyword reaches, written almost like one of them.

Similarity is the cosine of the letter-trigram counts of the two texts' words (each word padded
with a space at both ends), so it needs no language model and copes with inflection, prefixes and
typos in every script alike: "السيارة وقفت عالطريق بدي مساعدة" is 0.63 from the example
"السيارة وقفت عالشارع بدي ونش". Measured on the answer-quality set, a message that no keyword
reaches resembles an example of the rule the owner meant at 0.60 and unrelated messages at 0.46
at most (a question about another course that shares its phrasing), so only 0.55 and above
counts. It is consulted only when no rule's keywords answer, and `rulebot try` names the example.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

#: the least similarity (0..1) at which a message counts as written like an example
EXAMPLE_SIMILARITY = 0.55
#: messages with fewer words are too short to resemble anything on purpose
_MIN_WORDS = 3
_N = 3


@dataclass(frozen=True, slots=True)
class Resemblance:
    """The example a message is written like, and how closely."""

    rule: int
    example: str  #: as the owner wrote it
    similarity: float


class ExampleIndex:
    """Every rule's examples as normalised letter-trigram vectors."""

    def __init__(self) -> None:
        #: (rule, example, its words), vectorised at the first message that needs them: most
        #: messages reach a keyword, and `check` never asks
        self._examples: list[tuple[int, str, tuple[str, ...]]] = []
        #: the vectors, and trigram -> indexes into them; built once, in one assignment, so
        #: two threads that build at once build the same thing
        self._built: tuple[list[tuple[int, str, dict[str, float]]], dict[str, list[int]]] | None
        self._built = None

    def add(self, rule: int, examples: list[tuple[str, tuple[str, ...]]]) -> None:
        """Add a rule's examples (their text and words)."""
        for example, words in examples:
            if len(words) >= _MIN_WORDS:
                self._examples.append((rule, example, words))
        self._built = None

    def __bool__(self) -> bool:
        return bool(self._examples)

    def _build(self) -> tuple[list[tuple[int, str, dict[str, float]]], dict[str, list[int]]]:
        vectors: list[tuple[int, str, dict[str, float]]] = []
        postings: dict[str, list[int]] = {}
        for rule, example, words in self._examples:
            vector = _vector(list(words))
            for gram in vector:
                postings.setdefault(gram, []).append(len(vectors))
            vectors.append((rule, example, vector))
        built = (vectors, postings)
        self._built = built
        return built

    def closest(self, tokens: list[str], allowed: set[int] | None = None) -> Resemblance | None:
        """The example `tokens` are written most like, if at least EXAMPLE_SIMILARITY."""
        if len(tokens) < _MIN_WORDS or not self._examples:
            return None
        vectors, postings = self._built or self._build()
        mine = _vector(tokens)
        dots: dict[int, float] = {}
        for gram, weight in mine.items():
            for number in postings.get(gram, ()):
                dots[number] = dots.get(number, 0.0) + weight * vectors[number][2][gram]
        best: Resemblance | None = None
        for number, dot in dots.items():
            rule, example, _ = vectors[number]
            if dot < EXAMPLE_SIMILARITY or (allowed is not None and rule not in allowed):
                continue
            if best is None or dot > best.similarity:
                best = Resemblance(rule, example, round(dot, 2))
        return best


def _vector(words: list[str]) -> dict[str, float]:
    counts: Counter[str] = Counter()
    for word in words:
        padded = f" {word} "
        for i in range(len(padded) - _N + 1):
            counts[padded[i : i + _N]] += 1
    norm = math.sqrt(sum(v * v for v in counts.values())) or 1.0
    return {gram: count / norm for gram, count in counts.items()}
