"""The `contacts:` of rule files -> cards, each problem reported at its YAML node.

Phones are read in the config's default region ('050-123-4567' is Israeli by default); a
rule naming an unknown contact gets a did-you-mean hint.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from datetime import date

from bot.core.card import Card, international_digits
from bot.core.diagnostics import Diagnostics, SourceMap
from bot.core.diagnostics import Path as NodePath
from bot.core.loader import ParsedFile

_BIRTHDAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def compile_contacts(
    parsed: Sequence[ParsedFile], region: str, diagnostics: Diagnostics
) -> dict[str, tuple[Card, SourceMap]]:
    """Every valid contact of every file, by name, with the file it came from."""
    contacts: dict[str, tuple[Card, SourceMap]] = {}
    for item in parsed:
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
            ok = True
            if not contact.name.strip():
                diagnostics.error("a contact's name cannot be empty", item.source, (*path, "name"))
                ok = False
            phone = ""
            try:
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
    return contacts


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
    contacts: dict[str, tuple[Card, SourceMap]],
    source: SourceMap,
    path: NodePath,
    diagnostics: Diagnostics,
) -> Card | None:
    """The card of `contact`, or None after reporting it unknown (with the closest name)."""
    if contact in contacts:
        return contacts[contact][0]
    close = difflib.get_close_matches(contact, list(contacts), n=1, cutoff=0.5)
    hint = (
        f"did you mean '{close[0]}'?"
        if close
        else (f"known contacts: {', '.join(contacts)}" if contacts else "add it under 'contacts:'")
    )
    diagnostics.error(f"unknown contact '{contact}'", source, path, hint=hint)
    return None
