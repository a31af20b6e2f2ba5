"""YAML rule files -> `RulebookModel`, with every problem at its `file:line:column`.

PyYAML composes the node tree (which keeps positions); we build plain values ourselves so
that `no`, `on` and `09:00` stay text (YAML 1.1 would read them as false, true and 540),
refuse anchors and aliases (a "billion laughs" file explodes when walked), refuse absurd
nesting and files over 1 MiB, and report duplicate keys instead of silently keeping the last.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.core.diagnostics import Diagnostics, SourceMap
from bot.core.diagnostics import Path as NodePath
from bot.core.model import (
    ContactModel,
    FallbackModel,
    ReplyModel,
    RulebookModel,
    RuleModel,
    WhenModel,
)

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 20
_STANDARD_TAGS = frozenset(
    "tag:yaml.org,2002:" + name
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "binary")
) | {"tag:yaml.org,2002:merge"}


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """One rule file, validated, with the positions of its nodes."""

    path: Path
    text: str
    model: RulebookModel
    source: SourceMap


class _Refused(Exception):
    def __init__(self, message: str, mark: Any, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.hint = hint


# libyaml (C) when PyYAML has it: five times faster on large files; same resolver and tags
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _refuse_anchors_and_depth(text: str) -> None:
    """Walk the flat event stream before building nodes: refuse anchors, aliases, deep nesting."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, AliasEvent):
            raise _Refused(
                "aliases (*name) are not allowed in rule files",
                event.start_mark,
                "write the value out again",
            )
        if getattr(event, "anchor", None) is not None:
            raise _Refused(
                "anchors (&name) are not allowed in rule files",
                event.start_mark,
                "write the value out where it is needed",
            )
        if isinstance(event, CollectionStartEvent | ScalarEvent):
            if depth + 1 > MAX_DEPTH:
                raise _Refused(f"nesting deeper than {MAX_DEPTH} levels", event.start_mark)
            if isinstance(event, CollectionStartEvent):
                depth += 1
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def display_name(path: Path) -> str:
    """How a rule file is named in messages: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def rule_files(path: str | Path, diagnostics: Diagnostics) -> list[Path]:
    """The files `path` names: itself, or the folder's *.yaml / *.yml files in name order."""
    path = Path(path)
    if path.is_dir():
        found = sorted(
            (p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()),
            key=lambda p: p.name,
        )
        if not found:
            diagnostics.error(f"{display_name(path)}: no *.yaml rule files in this folder")
        return found
    if not path.exists():
        diagnostics.error(f"{display_name(path)}: rules file not found")
        return []
    return [path]


def parse_file(path: Path, diagnostics: Diagnostics) -> ParsedFile | None:
    """Read, parse and validate one file; problems go to `diagnostics`."""
    name = display_name(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        diagnostics.error(f"{name}: cannot read rules file: {exc.strerror or exc}")
        return None
    if len(raw) > MAX_FILE_BYTES:
        diagnostics.error(
            f"{name}: rules file is larger than 1 MiB ({len(raw)} bytes)",
            hint="split it into several files in one folder",
        )
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        diagnostics.error(
            f"{name}: rules file is not UTF-8 (byte {exc.start})", hint="save it as UTF-8"
        )
        return None
    return parse_text(text, name, diagnostics, path=path)


def parse_text(
    text: str, name: str, diagnostics: Diagnostics, *, path: Path | None = None
) -> ParsedFile | None:
    """Parse and validate rule-file text named `name` (for messages)."""
    source = SourceMap(name)
    local = Diagnostics()
    try:
        node = _compose(text)
        data = {} if node is None else _build(node, (), source, local)
    except _Refused as exc:
        _at_mark(local, source, exc.message, exc.mark, exc.hint)
        diagnostics.extend(local)
        return None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = "YAML syntax: " + " ".join(part for part in (exc.context, exc.problem) if part)
        _at_mark(local, source, message, mark, _yaml_hint(exc, text))
        diagnostics.extend(local)
        return None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        local.error(f"YAML syntax: {exc}", source)
        diagnostics.extend(local)
        return None
    if not isinstance(data, dict):
        local.error("a rule file must be a mapping (timezone:, contacts:, rules:, ...)", source, ())
        diagnostics.extend(local)
        return None
    try:
        model = RulebookModel.model_validate(data)
    except ValidationError as exc:
        _report_validation(exc, source, local, data)
        diagnostics.extend(local)
        return None
    diagnostics.extend(local)
    if local.errors:
        return None
    return ParsedFile(path or Path(name), text, model, source)


def _compose(text: str) -> Node | None:
    _refuse_anchors_and_depth(text)
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _at_mark(
    diagnostics: Diagnostics, source: SourceMap, message: str, mark: Any, hint: str | None
) -> None:
    if mark is None:
        diagnostics.error(message, source, hint=hint)
        return
    key = ("\0mark",)
    source.values[key] = (mark.line + 1, mark.column + 1)
    diagnostics.error(message, source, key, hint=hint)
    del source.values[key]


def _yaml_hint(exc: yaml.MarkedYAMLError, text: str) -> str | None:
    problem = exc.problem or ""
    mark = exc.problem_mark
    if mark is not None and mark.index < len(text) and text[mark.index] == "\t":
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "put text containing ': ' in quotes"
    if "found character '@'" in problem or "found character '`'" in problem:
        return "put the value in quotes"
    return None


def _build(node: Node, path: NodePath, source: SourceMap, diagnostics: Diagnostics) -> Any:
    source.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if node.tag not in _STANDARD_TAGS and not (isinstance(node, ScalarNode) and node.tag == "!"):
        raise _Refused(f"YAML tag {node.tag!r} is not allowed in rule files", node.start_mark)
    if isinstance(node, ScalarNode):
        return _scalar(node)
    if isinstance(node, SequenceNode):
        return [_build(item, (*path, i), source, diagnostics) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused("mapping keys must be plain words", key_node.start_mark)
            key = key_node.value
            child = (*path, key)
            key_position = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in result:
                source.keys[(*child, "\0dup")] = key_position
                diagnostics.error(
                    f"duplicate key '{key}'",
                    source,
                    (*child, "\0dup"),
                    key=True,
                    hint="each key may appear once here",
                )
                continue
            source.keys[child] = key_position
            result[key] = _build(value_node, child, source, diagnostics)
        return result
    raise _Refused("unsupported YAML node", node.start_mark)  # pragma: no cover


def _scalar(node: ScalarNode) -> Any:
    """A scalar as text unless it is unmistakably a number, true/false or empty."""
    value: str = node.value
    # Quoted or block text is always text. A plain scalar's style is None from PyYAML's Python
    # loader but "" from libyaml's: both are plain, so `website: null` is empty, not "null".
    if node.style:
        return value
    tag = node.tag
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


# ---- pydantic errors -> positioned, readable messages ------------------------------------


def _model_for(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Which model describes the mapping at `loc` (to suggest its keys)."""
    model: type[BaseModel] = RulebookModel
    steps = list(loc)
    while steps:
        step = steps.pop(0)
        if model is RulebookModel:
            if step == "contacts":
                if not steps:
                    return None
                steps.pop(0)
                model = ContactModel
            elif step == "rules":
                if not steps:
                    return None
                steps.pop(0)
                model = RuleModel
            elif step == "fallback":
                model = FallbackModel
            else:
                return None
        elif step == "reply":
            model = ReplyModel
        elif step == "when":
            model = WhenModel
        else:
            return None
    return model


def _report_validation(
    exc: ValidationError, source: SourceMap, diagnostics: Diagnostics, data: dict[str, Any]
) -> None:
    reported: set[tuple[Any, ...]] = set()
    for error in exc.errors():
        raw = tuple(error["loc"])
        loc = _real_path(raw, source)
        kind = error["type"]
        if loc != raw:  # a value that may be one of several shapes (text or a list of text)
            if loc not in reported:
                reported.add(loc)
                diagnostics.error(f"{_name(loc, data)} must be text or a list of text", source, loc)
            continue
        what = _name(loc, data)
        if kind == "extra_forbidden":
            key = str(loc[-1])
            model = _model_for(loc[:-1])
            options = list(model.model_fields) if model else []
            close = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
            hint = (
                f"did you mean '{close[0]}'?"
                if close
                else ("allowed: " + ", ".join(options) if options else None)
            )
            diagnostics.error(f"unknown key '{key}'", source, loc, key=True, hint=hint)
        elif kind == "missing":
            where = _name(loc[:-1], data) if len(loc) > 1 else "the file"
            diagnostics.error(
                f"missing '{loc[-1]}' in {where}", source, loc[:-1], hint=_missing_hint(loc)
            )
        elif kind == "literal_error":
            expected = error.get("ctx", {}).get("expected", "")
            diagnostics.error(f"{what} must be one of {expected}", source, loc)
        elif kind == "list_type":
            diagnostics.error(
                f"{what} must be a list",
                source,
                loc,
                hint="write it in square brackets, e.g. [sales, price]",
            )
        elif kind in ("dict_type", "model_type", "model_attributes_type"):
            diagnostics.error(f"{what} must be a mapping (key: value lines)", source, loc)
        elif kind == "string_type":
            diagnostics.error(f"{what} must be text", source, loc)
        elif kind in ("bool_type", "bool_parsing"):
            diagnostics.error(f"{what} must be true or false", source, loc)
        elif kind in ("float_type", "float_parsing", "int_type", "int_parsing"):
            diagnostics.error(f"{what} must be a number", source, loc)
        else:
            diagnostics.error(f"{what}: {error['msg']}", source, loc)


def _real_path(loc: tuple[Any, ...], source: SourceMap) -> tuple[Any, ...]:
    """`loc` without the names pydantic adds for union members ('str', 'list[str]')."""
    path: tuple[Any, ...] = ()
    for part in loc:
        candidate = (*path, part)
        if candidate in source.values or candidate in source.keys:
            path = candidate
        elif isinstance(part, str) and (part in ("str", "int", "float", "bool") or "[" in part):
            break
        else:
            path = candidate  # a missing or extra key: keep it
    return path


def _name(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    """How a place in the file is named in a message: "'keywords' of rule 'sales'"."""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = data.get("rules")
        rule = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
        name = rule.get("name") if isinstance(rule, dict) else None
        owner = f"rule '{name}'" if isinstance(name, str) else f"rule #{loc[1] + 1}"
        rest = loc[2:]
    elif len(loc) >= 2 and loc[0] == "contacts":
        owner, rest = f"contact '{loc[1]}'", loc[2:]
    else:
        return "'" + ".".join(str(p) for p in loc) + "'"
    if not rest:
        return owner
    return "'" + ".".join(str(p) for p in rest) + "' of " + owner


def _missing_hint(loc: tuple[Any, ...]) -> str | None:
    field_name = loc[-1]
    if field_name == "reply":
        return "add  reply: {contact: NAME}"
    if field_name == "name":
        return "every rule and contact needs a name"
    return None
