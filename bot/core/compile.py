"""Validated rule files -> one `RuleSet` (see ruleset.py): cards, conditions, keyword index.

Every content problem (unknown contact, bad phone, bad time, unknown timezone, duplicate
rule name, empty keyword list, broken pattern) is reported at the YAML node it came from.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import regex

from bot.core.compile_contacts import CompiledContacts, card_for, compile_contacts
from bot.core.compile_hours import compile_business_hours
from bot.core.conditions import (
    AllOf,
    BusinessHours,
    Condition,
    Dates,
    Days,
    FirstMessage,
    Hours,
    Not,
    parse_date_span,
    parse_days,
    parse_time_range,
)
from bot.core.cues import is_greeting
from bot.core.diagnostics import Diagnostics, SourceMap
from bot.core.diagnostics import Path as NodePath
from bot.core.keyword_checks import check_keywords
from bot.core.loader import ParsedFile
from bot.core.matcher import RuleWords, key_of
from bot.core.model import RuleModel, WhenModel
from bot.core.ruleset import (
    DEFAULT_MAX_WAIT_S,
    FALLBACK,
    CompiledFallback,
    CompiledRule,
    Origin,
    RuleSet,
)
from bot.core.timezones import zone_of_rules

#: a letter or digit that normalising never removes: the word surely has a key (key_of is
#: the costly way to know, and check reads 30,000 keywords in a 10,000-rule file)
_SURELY_A_WORD = re.compile(r"[A-Za-z0-9\u05d0-\u05ea\u0621-\u063a\u0641-\u064a]")
# a group that repeats something repeating: (a+)+, (\w*)*, (x+){2,} ...
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d*,)")
_REPEATED_ALTERNATION = re.compile(r"\(((?:[^()\\]|\\.)*\|(?:[^()\\]|\\.)*)\)\s*(?:[+*]|\{\d*,)")


def compile_rulebook(
    parsed: Sequence[ParsedFile], default_region: str, diagnostics: Diagnostics
) -> RuleSet:
    """Merge the files (in the order given) and compile everything that is valid.

    The rule set holds every rule, contact and setting without an error, so `check` can look
    at the whole of it; the caller serves it only if `diagnostics` has no error.
    """
    settings = _merge_settings(parsed, diagnostics)
    timezone = zone_of_rules(settings.get("timezone"), default_region, diagnostics)
    hours = compile_business_hours(settings.get("business_hours"), diagnostics)
    contacts = compile_contacts(parsed, default_region, diagnostics)
    rules = _rules(parsed, contacts, hours, diagnostics)
    fallback = _fallback(settings, contacts, hours, diagnostics)
    for item in parsed:  # rules left out for their shape still name a contact
        for reply_path, name in item.dropped_replies:
            card_for(name, contacts, item.source, reply_path, diagnostics)
    _nothing_to_answer(parsed, rules, fallback, diagnostics)
    digest = hashlib.sha256(default_region.encode())
    for item in parsed:
        digest.update(item.source.file.encode() + b"\0" + item.text.encode() + b"\0")
    window = settings.get("burst_window_s")
    max_wait = settings.get("burst_max_wait_s")
    return RuleSet(
        rules=rules,
        fallback=fallback,
        contacts={key: card for key, (card, _) in contacts.cards.items()},
        timezone=timezone.zone,
        timezone_source=timezone.source,
        files=[item.path for item in parsed],
        version=digest.hexdigest()[:12],
        burst_window_s=_number(window, 0.0),
        burst_max_wait_s=_number(max_wait, DEFAULT_MAX_WAIT_S),
    )


_Setting = tuple[object, SourceMap]


def _number(setting: _Setting | None, default: float) -> float:
    if setting is None or not isinstance(setting[0], int | float):
        return default
    return float(setting[0])


def _merge_settings(parsed: Sequence[ParsedFile], diagnostics: Diagnostics) -> dict[str, _Setting]:
    settings: dict[str, _Setting] = {}
    for item in parsed:
        for name in (
            "timezone",
            "business_hours",
            "burst_window_s",
            "burst_max_wait_s",
            "fallback",
        ):
            value = getattr(item.model, name)
            if value is None:
                continue
            if name in settings:
                first = settings[name][1]
                line = first.position((name,), key=True)[0]
                diagnostics.error(
                    f"'{name}' is already set in {first.file}",
                    item.source,
                    (name,),
                    key=True,
                    hint=f"line {line}; set it in one file only",
                )
                continue
            settings[name] = (value, item.source)
    return settings


def _rules(
    parsed: Sequence[ParsedFile],
    contacts: CompiledContacts,
    hours: BusinessHours | None,
    diagnostics: Diagnostics,
) -> list[CompiledRule]:
    compiled: list[CompiledRule] = []
    seen: dict[str, tuple[SourceMap, NodePath]] = {}
    for item in parsed:
        for i, model in zip(item.rule_indexes, item.model.rules, strict=True):
            path: NodePath = ("rules", i)
            rule = _rule(model, len(compiled), item.source, path, contacts, hours, diagnostics)
            name = model.name.strip()
            if name in seen:
                other_source, other_path = seen[name]
                line = other_source.position((*other_path, "name"))[0]
                diagnostics.error(
                    f"duplicate rule name '{name}'",
                    item.source,
                    (*path, "name"),
                    hint=f"first used at {other_source.file}:{line}",
                )
            else:
                seen[name] = (item.source, path)
            if rule is not None:
                compiled.append(rule)
    return compiled


def _rule(
    model: RuleModel,
    index: int,
    source: SourceMap,
    path: NodePath,
    contacts: CompiledContacts,
    hours: BusinessHours | None,
    diagnostics: Diagnostics,
) -> CompiledRule | None:
    errors_before = len(diagnostics.errors)
    name = model.name.strip()
    if not name:
        diagnostics.error("a rule's name cannot be empty", source, (*path, "name"))
    elif name == FALLBACK:
        diagnostics.error(
            "'fallback' is reserved for the fallback answer",
            source,
            (*path, "name"),
            hint="choose another name",
        )
    if model.keywords is None and (*path, "keywords") in source.keys:
        diagnostics.error(
            "'keywords:' has no words",
            source,
            (*path, "keywords"),
            key=True,
            hint="write the words after it, or remove 'keywords:' to answer every message",
        )
    if model.keywords is not None and not model.keywords:
        diagnostics.error(
            "empty keyword list",
            source,
            (*path, "keywords"),
            hint="add words, or remove 'keywords:' to answer every message",
        )
    for field_name in ("keywords", "exclude"):
        for j, word in enumerate(getattr(model, field_name) or ()):
            if not _SURELY_A_WORD.search(word) and not key_of(word):
                diagnostics.error(
                    f"{field_name[:-1] if field_name == 'keywords' else 'exclude'} "
                    f"'{word}' has no letters or digits",
                    source,
                    (*path, field_name, j),
                    hint="emoji and punctuation are ignored",
                )
    check_keywords(model.keywords or (), model.exclude, source, path, diagnostics)
    pattern = _pattern(model.pattern, source, (*path, "pattern"), diagnostics)
    card = card_for(model.reply.contact, contacts, source, (*path, "reply", "contact"), diagnostics)
    condition = _when(model.when, hours, source, (*path, "when"), diagnostics)
    if model.first_message:
        condition = FirstMessage() if condition is None else FirstMessage() & condition
    if len(diagnostics.errors) > errors_before or card is None:
        return None
    keywords = tuple(model.keywords or ())
    if model.fuzzy and not model.typos:
        diagnostics.warning(
            "'fuzzy: true' has no effect with 'typos: false'",
            source,
            (*path, "fuzzy"),
            hint="remove one of them: fuzzy allows more typos, typos: false allows none",
        )
    words = RuleWords(
        keywords=keywords,
        exclude=tuple(model.exclude),
        prefixes=model.prefixes,
        pattern=pattern,
        fuzzy=model.fuzzy and bool(keywords),
        forms=model.forms,
        typos=model.typos,
        catch_all=not keywords and pattern is None,
        # mostly greetings: it answers any greeting, and only when no topic rule does
        greeting=bool(keywords) and 2 * sum(map(is_greeting, keywords)) >= len(keywords),
        examples=tuple(model.examples),
    )
    return CompiledRule(
        index=index,
        name=name,
        card=card,
        words=words,
        condition=condition,
        once_per=model.once_per,
        origin=Origin(source, path),
        signature=model.model_dump_json(),
        examples=tuple(model.examples),
        not_examples=tuple(model.not_examples),
    )


def _pattern(
    text: str | None, source: SourceMap, path: NodePath, diagnostics: Diagnostics
) -> regex.Pattern[str] | None:
    if text is None:
        return None
    try:
        compiled = regex.compile(text, regex.IGNORECASE)
    except regex.error as exc:
        diagnostics.error(
            f"pattern /{text}/ is not a valid regular expression: {exc}", source, path
        )
        return None
    if _NESTED_QUANTIFIER.search(text) or _overlapping_alternatives(text):
        diagnostics.warning(
            f"pattern /{text}/ repeats a repetition (like (a+)+ or (a|aa)+) and can be very slow",
            source,
            path,
            hint="it is stopped after 0.05 s and then counts as no match",
        )
    return compiled


def _overlapping_alternatives(text: str) -> bool:
    """A repeated group whose alternatives can match the same start: (a|aa)+, (x|x)*."""
    for group in _REPEATED_ALTERNATION.finditer(text):
        options = group[1].removeprefix("?:").split("|")
        for i, first in enumerate(options):
            for second in options[i + 1 :]:
                if first.startswith(second) or second.startswith(first):
                    return True
    return False


def _when(
    model: WhenModel | None,
    hours: BusinessHours | None,
    source: SourceMap,
    path: NodePath,
    diagnostics: Diagnostics,
) -> Condition | None:
    if model is None:
        return None
    parts: list[Condition] = []
    if model.inside and model.outside:
        diagnostics.error("'inside' and 'outside' together can never hold", source, path)
    for side in ("inside", "outside"):
        if getattr(model, side) is None:
            continue
        if hours is None:
            diagnostics.error(
                f"'{side}: business_hours' but no business_hours are set",
                source,
                (*path, side),
                hint="add business_hours: at the top of the file",
            )
            continue
        parts.append(hours if side == "inside" else Not(hours))
    if model.days is not None:
        days: set[int] = set()
        for i, text in enumerate(model.days):
            try:
                days |= parse_days(text)
            except ValueError as exc:
                diagnostics.error(exc.args[0], source, (*path, "days", i), hint=exc.args[1])
        if days:
            parts.append(Days(frozenset(days)))
    if model.dates is not None:
        spans = []
        for i, text in enumerate(model.dates):
            try:
                spans.append(parse_date_span(text))
            except ValueError as exc:
                diagnostics.error(exc.args[0], source, (*path, "dates", i), hint=exc.args[1])
        if spans:
            parts.append(Dates(tuple(spans)))
    if model.hours is not None:
        try:
            parts.append(Hours(parse_time_range(model.hours)))
        except ValueError as exc:
            diagnostics.error(exc.args[0], source, (*path, "hours"), hint=exc.args[1])
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _fallback(
    settings: dict[str, _Setting],
    contacts: CompiledContacts,
    hours: BusinessHours | None,
    diagnostics: Diagnostics,
) -> CompiledFallback | None:
    if "fallback" not in settings:
        return None
    model, source = settings["fallback"]
    from bot.core.model import FallbackModel

    assert isinstance(model, FallbackModel)
    path: NodePath = ("fallback",)
    card = card_for(model.reply.contact, contacts, source, (*path, "reply", "contact"), diagnostics)
    condition = _when(model.when, hours, source, (*path, "when"), diagnostics)
    if card is None:
        return None
    return CompiledFallback(card, condition, model.once_per, Origin(source, path))


def _nothing_to_answer(
    parsed: Sequence[ParsedFile],
    rules: list[CompiledRule],
    fallback: CompiledFallback | None,
    diagnostics: Diagnostics,
) -> None:
    """An empty file is an error (saved over a live file, it would remove every rule); a rule
    set without rules only a warning (a folder may hold contacts in a file of their own)."""
    answering = [i for i in parsed if i.sections & {"rules", "fallback"} or not i.clean]
    hint = "write a 'rules:' list (rulebot init writes a starter file)"
    for item in parsed:
        if not item.empty:
            continue
        if answering:
            diagnostics.warning(
                "the file is empty (only comments)",
                item.source,
                (),
                hint="remove it, or write rules in it",
            )
        else:
            diagnostics.error_at(
                "the file is empty (only comments): the bot would answer no message",
                item.source,
                1,
                1,
                hint=hint,
            )
            return
    if not answering and parsed:
        diagnostics.warning(
            "no rules: the bot will answer no message", parsed[0].source, (), hint=hint
        )
