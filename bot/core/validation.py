"""Plain values of a rule file -> `RulebookModel`: every shape problem reported, the rest kept.

pydantic checks the whole file at once, so every misspelt key and wrong type is reported in
one run. Then each rule, contact and setting is validated alone, and the valid ones are kept:
the rest of the file is still compiled and checked. A contact of the wrong shape is kept by
name, so the rules that send it are not told it is unknown.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.core.diagnostics import Diagnostics, SourceMap
from bot.core.model import (
    ContactModel,
    FallbackModel,
    ReplyModel,
    RulebookModel,
    RuleModel,
    WhenModel,
)
from bot.core.yaml_reading import UNREADABLE

_GLUED_KEY = re.compile(r"^([A-Za-z_]+):(\S)")


@dataclass(frozen=True, slots=True)
class Salvaged:
    """What of a file has a valid shape (see `ParsedFile` for the fields)."""

    model: RulebookModel
    rule_indexes: tuple[int, ...]
    broken_contacts: frozenset[str]
    contacts_unreadable: bool
    mentioned_contacts: frozenset[str]
    #: (path of `reply.contact`, the name) of rules left out for their shape
    dropped_replies: tuple[tuple[tuple[str | int, ...], str], ...] = ()


def validate(data: dict[str, Any], source: SourceMap, diagnostics: Diagnostics) -> Salvaged:
    """Report every shape problem of `data`; keep each rule, contact and setting that is valid."""
    mentioned = frozenset(_mentioned_contacts(data))
    try:
        model = RulebookModel.model_validate(data)
    except ValidationError as exc:
        _report_validation(exc, source, diagnostics, data)
    else:
        return Salvaged(model, tuple(range(len(model.rules))), frozenset(), False, mentioned)
    settings: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("contacts", "rules") or key not in RulebookModel.model_fields:
            continue
        with contextlib.suppress(ValidationError):
            settings[key] = getattr(RulebookModel.model_validate({key: value}), key)
    contacts: dict[str, ContactModel] = {}
    broken: set[str] = set()
    raw_contacts = data.get("contacts")
    if isinstance(raw_contacts, dict):
        for key, value in raw_contacts.items():
            try:
                contacts[key] = ContactModel.model_validate(value)
            except ValidationError:
                broken.add(key)
    rules: list[RuleModel] = []
    indexes: list[int] = []
    dropped: list[tuple[tuple[str | int, ...], str]] = []
    raw_rules = data.get("rules")
    if isinstance(raw_rules, list):
        for i, item in enumerate(raw_rules):
            try:
                rules.append(RuleModel.model_validate(item))
            except ValidationError:
                reply = item.get("reply") if isinstance(item, dict) else None
                if isinstance(reply, dict) and isinstance(reply.get("contact"), str):
                    dropped.append((("rules", i, "reply", "contact"), reply["contact"]))
                continue
            indexes.append(i)
    return Salvaged(
        RulebookModel.model_construct(**settings, contacts=contacts, rules=rules),
        tuple(indexes),
        frozenset(broken),
        raw_contacts is not None and not isinstance(raw_contacts, dict),
        mentioned,
        tuple(dropped),
    )


def _mentioned_contacts(data: dict[str, Any]) -> set[str]:
    replies = []
    rules = data.get("rules")
    if isinstance(rules, list):
        replies = [rule.get("reply") for rule in rules if isinstance(rule, dict)]
    fallback = data.get("fallback")
    if isinstance(fallback, dict):
        replies.append(fallback.get("reply"))
    found = set()
    for reply in replies:
        if isinstance(reply, dict) and isinstance(reply.get("contact"), str):
            found.add(reply["contact"])
        elif isinstance(reply, str):
            found.add(reply)
    return found


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


def _value_at(data: Any, loc: tuple[Any, ...]) -> tuple[bool, Any]:
    """(True, value) at `loc` in `data`; (False, None) if a step is missing or set aside."""
    value = data
    for step in loc:
        if value is UNREADABLE:
            return False, None
        inside_list = isinstance(value, list) and isinstance(step, int) and step < len(value)
        if not inside_list and not (isinstance(value, dict) and step in value):
            return True, None
        value = value[step]
    return value is not UNREADABLE, value


def _report_validation(
    exc: ValidationError, source: SourceMap, diagnostics: Diagnostics, data: dict[str, Any]
) -> None:
    reported: set[tuple[Any, ...]] = set()
    for error in exc.errors():
        raw = tuple(error["loc"])
        loc = _real_path(raw, source)
        readable, value = _value_at(data, loc)
        if not readable:  # already reported as a syntax error
            continue
        kind = error["type"]
        if loc != raw:  # a value that may be one of several shapes (text or a list of text)
            if loc not in reported:
                reported.add(loc)
                hint = "write  closed" if loc[0] == "business_hours" and value is False else None
                diagnostics.error(
                    f"{_name(loc, data)} must be text or a list of text", source, loc, hint=hint
                )
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
            diagnostics.error(f"{what} must be a list", source, loc, hint=_list_hint(loc, value))
        elif kind in ("dict_type", "model_type", "model_attributes_type"):
            if loc[-1] == "reply" and isinstance(value, str):
                hint = f"write  reply: {{contact: {value}}}"
                diagnostics.error(f"{what} must name a contact", source, loc, hint=hint)
                continue
            glued = _GLUED_KEY.match(value) if isinstance(value, str) else None
            hint = None
            if glued is not None:
                rest = value[len(glued[1]) + 1 :]
                hint = f"a space is missing after ':'? write  {glued[1]}: {rest}"
            diagnostics.error(
                f"{what} must be a mapping (key: value lines)", source, loc, hint=hint
            )
        elif kind == "string_type":
            diagnostics.error(f"{what} must be text", source, loc)
        elif kind in ("bool_type", "bool_parsing"):
            diagnostics.error(f"{what} must be true or false", source, loc)
        elif kind in ("float_type", "float_parsing", "int_type", "int_parsing"):
            diagnostics.error(f"{what} must be a number", source, loc)
        else:
            diagnostics.error(f"{what}: {error['msg']}", source, loc)


def _list_hint(loc: tuple[Any, ...], value: Any) -> str:
    if loc == ("rules",) and isinstance(value, dict):
        if any(str(key).startswith("-") for key in value):
            return "a space is missing after '-': write  - name: ..."
        return "start each rule with '- ', e.g.  - name: sales"
    return "write it in square brackets, e.g. [sales, price]"


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
