"""Rule-file text -> plain values with positions; YAML mistakes told in plain words.

We build plain values straight from PyYAML's event stream (four times cheaper than its node
tree, and positions come with each event), so that `no`, `on` and `09:00` stay text (YAML 1.1
would read them as false, true and 540), anchors and aliases are refused (a "billion laughs"
file explodes when walked), absurd nesting is refused, and a duplicate key is reported
instead of silently keeping the last.

A syntax error hides only what it makes unreadable: the rule, contact or setting where the
problem starts is set aside (see yaml_recovery.py) and the rest is read again, so one run
reports every problem. libyaml and PyYAML's own parser word their errors differently; the
messages here depend only on where the problem is, so both give the same report.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.resolver import Resolver

from bot.core.diagnostics import Diagnostics, SourceMap
from bot.core.diagnostics import Path as NodePath
from bot.core.yaml_recovery import UNREADABLE_TEXT, explain_syntax_error, set_aside

MAX_DEPTH = 20
#: at most this many syntax errors are reported (each sets a part of the file aside)
MAX_SYNTAX_ERRORS = 30
_STANDARD_TAGS = frozenset(
    "tag:yaml.org,2002:" + name
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "binary")
) | {"tag:yaml.org,2002:merge"}
#: Word and phones type these instead of straight quotes; YAML keeps them as text
_CURLY = {"“": "”„", "”": "”“", "„": "“”", "‘": "’‚", "’": "’‘", "‚": "‘’"}

#: the PyYAML loader: libyaml (C, five times faster) when PyYAML was built with it. Tests set
#: it to yaml.SafeLoader to check that both give the same report.
LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Unreadable:
    """A value the reader set aside after reporting why (a syntax error, a refused tag)."""

    def __repr__(self) -> str:
        return "<unreadable>"


UNREADABLE = Unreadable()


class _Refused(Exception):
    def __init__(self, message: str, mark: Any, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.hint = hint


def read_yaml(text: str, source: SourceMap, diagnostics: Diagnostics) -> Any:
    """The file's values; UNREADABLE where a part was set aside; None for an empty file."""
    for _ in range(MAX_SYNTAX_ERRORS):
        attempt = Diagnostics()  # what reading finds before a syntax error is found again
        source.values.clear()
        source.keys.clear()
        try:
            result = _Builder(source, attempt).build(text)
        except _Refused as exc:
            line = exc.mark.line
            diagnostics.error_at(
                exc.message, source, exc.mark.line + 1, exc.mark.column + 1, hint=exc.hint
            )
        except yaml.MarkedYAMLError as exc:
            found = explain_syntax_error(exc, text)
            line = found.line
            diagnostics.error_at(
                found.message, source, found.line + 1, found.column + 1, hint=found.hint
            )
        except (yaml.YAMLError, RecursionError, ValueError) as exc:
            diagnostics.error_at(f"the file cannot be read: {exc}", source, None, None)
            return UNREADABLE
        else:
            diagnostics.extend(attempt)
            return result
        if len(diagnostics.items) >= 2 and diagnostics.items[-1] == diagnostics.items[-2]:
            diagnostics.items.pop()  # the same mistake, found again after setting a part aside
        rest = set_aside(text, line)
        if rest is None or rest == text:
            return UNREADABLE
        text = rest
    return UNREADABLE


class _Builder:
    """Plain values from the event stream, with each value's and key's position in `source`."""

    def __init__(self, source: SourceMap, diagnostics: Diagnostics) -> None:
        self.source = source
        self.diagnostics = diagnostics
        #: open collections: [container, path, the key waiting for its value, is a mapping]
        self.stack: list[list[Any]] = []
        self.skipping = 0  # depth inside a collection that is set aside (a refused key or tag)

    def build(self, text: str) -> Any:
        result: Any = None
        documents = 0
        for event in yaml.parse(text, Loader=LOADER):
            kind = type(event)  # one lookup per event: a 10,000-rule file has 300,000
            if kind in _OPENING:
                if event.anchor is not None:  # type: ignore[attr-defined]
                    raise _Refused(
                        "anchors (&name) are not allowed in rule files",
                        event.start_mark,
                        "write the value out where it is needed",
                    )
                if self.skipping:
                    self.skipping += kind is not ScalarEvent
                else:
                    result = self._start(event, result)
            elif kind in _CLOSING:
                if self.skipping:
                    self.skipping -= 1
                else:
                    container = self.stack.pop()[0]
                    result = self._place(container, result)
            elif kind is AliasEvent:
                raise _Refused(
                    "aliases (*name) are not allowed in rule files",
                    event.start_mark,
                    "write the value out again",
                )
            elif kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _Refused(
                        "a second document ('---') in one rule file",
                        event.start_mark,
                        "remove the '---' line; one file holds one set of rules",
                    )
        return result

    def _start(self, event: Any, result: Any) -> Any:
        mark = event.start_mark
        position = (mark.line + 1, mark.column + 1)
        parent = self.stack[-1] if self.stack else None
        if parent is None:
            path: NodePath = ()
        elif parent[3]:  # in a mapping
            if parent[2] is None:
                return self._key(event, parent, position, result)
            if parent[2] is _DROP:
                parent[2] = None  # the value of a refused or duplicate key
                if type(event) is not ScalarEvent:
                    self.skipping = 1
                return result
            path = (*parent[1], parent[2])
        else:
            path = (*parent[1], len(parent[0]))
        self.source.values[path] = position
        if event.tag is not None or len(path) >= MAX_DEPTH:
            problem = self._refusal(event, path)
            if problem is not None:
                self.diagnostics.error(problem[0], self.source, path, hint=problem[1])
                if type(event) is not ScalarEvent:
                    self.skipping = 1
                return self._place(UNREADABLE, result)
        kind = type(event)
        if kind is ScalarEvent:
            return self._place(_scalar(event, path, self.source, self.diagnostics), result)
        mapping = kind is MappingStartEvent
        self.stack.append([{} if mapping else [], path, None, mapping])
        return result

    def _key(self, event: Any, parent: list[Any], position: tuple[int, int], result: Any) -> Any:
        if not isinstance(event, ScalarEvent) or (not event.style and event.value == "<<"):
            self.diagnostics.error_at("mapping keys must be plain words", self.source, *position)
            if not isinstance(event, ScalarEvent):
                self.skipping = 1
            parent[2] = _DROP
            return result
        key = event.value
        child = (*parent[1], key)
        if key in parent[0]:
            self.source.keys[(*child, "\0dup")] = position
            self.diagnostics.error(
                f"duplicate key '{key}'",
                self.source,
                (*child, "\0dup"),
                key=True,
                hint="each key may appear once here",
            )
            parent[2] = _DROP
            return result
        self.source.keys[child] = position
        parent[2] = key
        return result

    def _refusal(self, event: Any, path: NodePath) -> tuple[str, str | None] | None:
        tag = event.tag
        if tag is not None and tag != "!" and tag not in _STANDARD_TAGS:
            return f"YAML tag {tag!r} is not allowed in rule files", "remove the '!' word"
        if len(path) >= MAX_DEPTH:  # the part that holds it is set aside whole
            raise _Refused(f"nesting deeper than {MAX_DEPTH} levels", event.start_mark)
        return None

    def _place(self, value: Any, result: Any) -> Any:
        """Put a finished value into its parent; the outermost one is the result."""
        if not self.stack:
            return value
        parent = self.stack[-1]
        if parent[3]:
            parent[0][parent[2]] = value
            parent[2] = None
        else:
            parent[0].append(value)
        return result


_OPENING = frozenset({ScalarEvent, MappingStartEvent, SequenceStartEvent})
_CLOSING = frozenset({MappingEndEvent, SequenceEndEvent})
#: stands for the key of a value that is reported and dropped
_DROP = object()


_IMPLICIT = Resolver.yaml_implicit_resolvers


def _resolve(value: str) -> str:
    """The YAML 1.1 tag of a plain scalar (what PyYAML's resolver would say)."""
    for tag, pattern in _IMPLICIT.get(value[:1], ()):
        if pattern.match(value):
            return str(tag)
    return "tag:yaml.org,2002:str"


def _scalar(event: Any, path: NodePath, source: SourceMap, diagnostics: Diagnostics) -> Any:
    """A scalar as text unless it is unmistakably a number, true/false or empty."""
    value: str = event.value
    # libyaml says '' where PyYAML says None for a plain scalar: both mean "not quoted"
    if event.style:  # quoted or block text: always text
        return UNREADABLE if value == UNREADABLE_TEXT else value
    if event.tag not in (None, "!"):  # `!!str 09:00`: the tag says what it is
        return value if event.tag == "tag:yaml.org,2002:str" else _typed(value, event.tag)
    tag = _resolve(value)
    if tag != "tag:yaml.org,2002:str":
        return _typed(value, tag)
    if len(value) >= 2 and value[0] in _CURLY and value[-1] in _CURLY[value[0]]:
        inner = value[1:-1].strip()
        diagnostics.warning(
            f"curly quotes {value[0]}…{value[-1]} are not quote marks in a rule file: "
            f"read as '{inner}'",
            source,
            path,
            hint='type straight quotes "…" (word processors and phones change them)',
        )
        return inner
    return value


def _typed(value: str, tag: str) -> Any:
    """A plain scalar YAML reads as null, true/false or a number: only the unmistakable ones."""
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if tag == "tag:yaml.org,2002:int":
        try:
            number = int(value)
        except ValueError:
            return value
        return number if str(number) == value.lstrip("+") else value
    if tag == "tag:yaml.org,2002:float":
        try:
            return float(value)
        except ValueError:
            return value
    return value
