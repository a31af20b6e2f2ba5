"""The `contacts:` of rule files -> cards, each problem reported at its YAML node.

Phones are read in the config's default region ('050-123-4567' is Israeli by default); a
rule naming an unknown contact gets a did-you-mean hint.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from bot.core.card import Card, international_digits
from bot.core.diagnostics import Diagnostics, SourceMap
from bot.core.diagnostics import Path as NodePath
from bot.core.loader import ParsedFile

_BIRTHDAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: an extension after the number: a card cannot dial it, so it would be dropped in silence
_EXTENSION = re.compile(r"(?:\bext\.?|\bx|#|שלוחה|שלוח|تحويلة|داخلي)\s*\d+\s*$", re.IGNORECASE)


@dataclass(slots=True)
class CompiledContacts:
    """The cards of every file by key, and the keys of contacts that exist but have errors."""

    cards: dict[str, tuple[Card, SourceMap]] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    #: a `contacts:` section could not be read: any contact name may exist
    unreadable: bool = False


def compile_contacts(
    parsed: Sequence[ParsedFile], region: str, diagnostics: Diagnostics
) -> CompiledContacts:
    """Every valid contact of every file, by name, with the file it came from."""
    compiled = CompiledContacts()
    contacts = compiled.cards
    for item in parsed:
        compiled.broken |= item.broken_contacts
        compiled.unreadable |= item.contacts_unreadable
        for key, contact in item.model.contacts.items():
            path: NodePath = ("contacts", key)
            if key in contacts:
                diagnostics.error(
                    f"contact '{key}' is already defined in {contacts[key][1].file}",
                    item.source,
                    path,
                    key=True,
                )
                continue
            ok = _dialable(contact.phone, item.source, (*path, "phone"), diagnostics)
            if not contact.name.strip():
                diagnostics.error("a contact's name cannot be empty", item.source, (*path, "name"))
                ok = False
            phone = ""
            try:
                if not ok:
                    raise _Reported
                phone, valid = international_digits(contact.phone, region)
                if not valid:
                    diagnostics.warning(
                        f"phone '{contact.phone}' is not an allocated number in {region.upper()}",
                        item.source,
                        (*path, "phone"),
                        hint="check for a typo",
                    )
            except ValueError as exc:
                diagnostics.error(exc.args[0], item.source, (*path, "phone"), hint=exc.args[1])
                ok = False
            except _Reported:
                pass
            birthday = _given(contact.birthday)
            if birthday is not None and not _is_date(birthday):
                diagnostics.error(
                    f"birthday '{contact.birthday}' is not a date",
                    item.source,
                    (*path, "birthday"),
                    hint="write YYYY-MM-DD",
                )
                ok = False
            email = _given(contact.email)
            if email is not None and "@" not in email:
                diagnostics.error(
                    f"'{contact.email}' is not an e-mail address", item.source, (*path, "email")
                )
                ok = False
            if ok:
                card = Card(
                    key=key,
                    name=contact.name.strip(),
                    phone=phone,
                    email=_given(contact.email),
                    birthday=_given(contact.birthday),
                    street=_given(contact.street),
                    city=_given(contact.city),
                    country=_given(contact.country),
                    website=_given(contact.website),
                )
                contacts[key] = (card, item.source)
            else:
                compiled.broken.add(key)
    return compiled


class _Reported(Exception):
    """The phone's problem is already reported."""


def _dialable(phone: str, source: SourceMap, path: NodePath, diagnostics: Diagnostics) -> bool:
    """False (after reporting) for letters or an extension, which a card would misdial."""
    extension = _EXTENSION.search(phone)
    if extension:
        diagnostics.error(
            f"phone '{phone}' has an extension ('{extension[0].strip()}'), "
            "which a contact card cannot dial",
            source,
            path,
            hint="write the number alone; put the extension in the contact's name",
        )
        return False
    letters = [c for c in phone if c.isalpha()]
    if letters and any(c.isdigit() for c in phone):
        diagnostics.error(
            f"phone '{phone}' has letters ({''.join(letters)})",
            source,
            path,
            hint="write the digits: a phone would dial letters as keypad digits",
        )
        return False
    return True


def _given(value: str | None) -> str | None:
    """An optional field as sent: empty (null, ~, "", blanks) means absent, never the text."""
    if value is None or not value.strip():
        return None
    return value.strip()


def _is_date(text: str) -> bool:
    if not _BIRTHDAY.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def card_for(
    contact: str,
    compiled: CompiledContacts,
    source: SourceMap,
    path: NodePath,
    diagnostics: Diagnostics,
) -> Card | None:
    """The card of `contact`, or None after reporting it unknown (with the closest name).

    A contact that exists but has an error gives None without a report: its own error says
    what to fix, and "did you mean" another name would send the wrong person's card.
    """
    contacts = compiled.cards
    if contact in contacts:
        return contacts[contact][0]
    if contact in compiled.broken or compiled.unreadable:
        return None
    close = difflib.get_close_matches(contact, list(contacts), n=1, cutoff=0.5)
    hint = (
        f"did you mean '{close[0]}'?"
        if close
        else (f"known contacts: {', '.join(contacts)}" if contacts else "add it under 'contacts:'")
    )
    diagnostics.error(f"unknown contact '{contact}'", source, path, hint=hint)
    return None
