"""YAML rule files -> `RulebookModel`, with every problem at its `file:line:column`.

Reading goes as far as the file allows: a YAML syntax error sets aside only the part it makes
unreadable (yaml_reading.py), and a rule or contact of the wrong shape is left out after its
problems are reported (validation.py), so the rest is still compiled and checked in the same
run. A file over 1 MiB or not in UTF-8 is refused whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.core.bounded_read import FileTooLarge, NotAnOrdinaryFile, read_bounded
from bot.core.diagnostics import Diagnostics, SourceMap
from bot.core.model import RulebookModel
from bot.core.validation import Salvaged, validate
from bot.core.yaml_reading import UNREADABLE, read_yaml

MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """One rule file: what of it is valid, with the positions of its nodes.

    `model.rules[i]` was written as rule number `rule_indexes[i]` of the file (rules of the
    wrong shape are left out). Contacts in `broken_contacts` exist but could not be read;
    rules naming them are not told the contact is unknown.
    """

    path: Path
    text: str
    model: RulebookModel
    source: SourceMap
    rule_indexes: tuple[int, ...] = ()
    broken_contacts: frozenset[str] = frozenset()
    #: the `contacts:` section could not be read at all: no contact name is "unknown"
    contacts_unreadable: bool = False
    #: every contact a rule or the fallback names, valid or not (for "contact not used")
    mentioned_contacts: frozenset[str] = frozenset()
    #: (path, name) of the contacts named by rules left out for their shape
    dropped_replies: tuple[tuple[tuple[str | int, ...], str], ...] = ()
    #: a syntax error set a part of the file aside
    partly_unreadable: bool = False
    #: nothing but comments and blank lines
    empty: bool = False
    #: this file's own problems are all warnings
    clean: bool = True
    sections: frozenset[str] = field(default_factory=frozenset)


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
        raw = read_bounded(path, MAX_FILE_BYTES)
    except NotAnOrdinaryFile:
        diagnostics.error(
            f"{name}: rules file is not an ordinary file (a device, a pipe or a socket)",
            hint="point `rules` at a .yaml file or a folder of them",
        )
        return None
    except FileTooLarge as exc:
        diagnostics.error(
            f"{name}: rules file is larger than 1 MiB ({exc.size} bytes)",
            hint="split it into several files in one folder",
        )
        return None
    except OSError as exc:
        diagnostics.error(f"{name}: cannot read rules file: {exc.strerror or exc}")
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
    """Parse and validate rule-file text named `name` (for messages); None if nothing is usable."""
    source = SourceMap(name)
    local = Diagnostics()
    data = read_yaml(text, source, local)
    diagnostics.extend(local)
    if data is UNREADABLE:
        return None
    if data is None:
        empty = RulebookModel.model_validate({})
        return ParsedFile(path or Path(name), text, empty, source, empty=True)
    if not isinstance(data, dict):
        hint = None
        if isinstance(data, list) and any(isinstance(i, dict) and "name" in i for i in data):
            hint = "the file starts with a list of rules: is the 'rules:' line missing?"
        diagnostics.error(
            "a rule file must be a mapping (timezone:, contacts:, rules:, ...)",
            source,
            (),
            hint=hint,
        )
        return None
    checked = Diagnostics()
    salvaged: Salvaged = validate(data, source, checked)
    diagnostics.extend(checked)
    return ParsedFile(
        path or Path(name),
        text,
        salvaged.model,
        source,
        rule_indexes=salvaged.rule_indexes,
        broken_contacts=salvaged.broken_contacts,
        contacts_unreadable=salvaged.contacts_unreadable,
        mentioned_contacts=salvaged.mentioned_contacts,
        dropped_replies=salvaged.dropped_replies,
        partly_unreadable=bool(local.errors),
        clean=not (local.errors or checked.errors),
        sections=frozenset(str(key) for key in data),
    )
