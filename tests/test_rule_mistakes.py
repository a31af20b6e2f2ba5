"""The mistakes beginners really make in rule files, one file each (tests/rule_mistakes/).

Each file ends with `# expect: LINE:COLUMN: severity: message (hint)` comments: exactly the
lines `rulebot check` must print for it (the summary aside), so every mistake is named at the
right line, in plain words, and nothing else is said. Both YAML parsers PyYAML can use —
libyaml (C) and its own pure-Python one — must give the same report.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import bot.core.yaml_reading as yaml_reading
from bot.cli.check import run_check
from bot.core.diagnostics import Diagnostics, SourceMap
from bot.core.schema import rulebook_schema
from bot.core.validation import validate

MISTAKES = Path(__file__).resolve().parent / "rule_mistakes"
FILES = sorted(MISTAKES.glob("*.yaml"))
PARSERS = {"libyaml": getattr(yaml, "CSafeLoader", None), "pure": yaml.SafeLoader}


def expected_lines(path: Path) -> list[str]:
    prefix = "# expect: "
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(prefix):
            said = line[len(prefix) :]
            found.append(f"{path.name}:{said}" if said[:1].isdigit() else said)
    return found


def as_written(path: Path) -> str:
    """The file as the beginner wrote it: without the `# expect:` lines at its end."""
    lines = path.read_text(encoding="utf-8").split("\n")
    return "\n".join(line for line in lines if not line.startswith("# expect: "))


def check_output(
    path: Path, monkeypatch: pytest.MonkeyPatch, parser: str, folder: Path
) -> list[str]:
    loader = PARSERS[parser]
    if loader is None:
        pytest.skip("PyYAML was built without libyaml")
    monkeypatch.setattr(yaml_reading, "LOADER", loader)
    (folder / path.name).write_text(as_written(path), encoding="utf-8")
    monkeypatch.chdir(folder)
    out = io.StringIO()
    run_check(argparse.Namespace(path=path.name, strict=False, config=None), out=out)
    return out.getvalue().splitlines()


def test_the_corpus_covers_the_reported_mistakes() -> None:
    names = {path.stem for path in FILES}
    assert len(names) >= 30
    for needed in (
        "no-timezone",
        "empty-file",
        "keywords-without-commas",
        "greeting-above-keyword-rules",
        "smart-quotes",
        "exclude-own-keyword",
        "timezone-ist",
        "hours-close-to-open",
        "phone-with-letters",
        "phone-with-extension",
        "tab-indent",
        "missing-bracket",
        "missing-brace",
        "missing-quote-closed-later",
        "no-space-after-dash",
        "no-space-after-colon",
        "wrong-indentation",
        "forgotten-rules-line",
        "reply-without-contact",
    ):
        assert needed in names
    for path in FILES:
        assert expected_lines(path), f"{path.name} says nothing it expects"


@pytest.mark.parametrize("parser", sorted(PARSERS))
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_check_names_each_mistake_at_its_line(
    path: Path, parser: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lines = check_output(path, monkeypatch, parser, tmp_path)
    assert lines[:-1] == expected_lines(path)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_libyaml_and_pure_pyyaml_give_the_same_report(
    path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if PARSERS["libyaml"] is None:
        pytest.skip("PyYAML was built without libyaml")
    with monkeypatch.context() as patch:
        fast = check_output(path, patch, "libyaml", tmp_path)
    assert check_output(path, monkeypatch, "pure", tmp_path) == fast


def test_every_kind_of_problem_comes_in_one_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A syntax error, a misspelt key, an unknown contact, a failing example and a warning."""
    lines = check_output(MISTAKES / "four-problems.yaml", monkeypatch, "pure", tmp_path)
    kinds = ["is never closed", "unknown key", "unknown contact", "example", "can never answer"]
    assert all(any(kind in line for line in lines) for kind in kinds)
    assert lines[-1] == "4 errors, 1 warning in four-problems.yaml"


def _shape_errors(text: str) -> tuple[bool, Any]:
    """(readable, data) and whether validation (the schema's part of check) found an error."""
    source = SourceMap("f.yaml")
    read = Diagnostics()
    data = yaml_reading.read_yaml(text, source, read)
    return not read.errors and isinstance(data, dict), data


#: the mistakes that are not YAML syntax errors: an editor's schema applies to those
READABLE = [path for path in FILES if _shape_errors(as_written(path))[0]]


@pytest.mark.parametrize("path", READABLE, ids=[p.stem for p in READABLE])
def test_the_schema_and_check_agree_on_the_shape(path: Path) -> None:
    """Editors check with the JSON Schema as the owner types: it must flag what check flags."""
    readable, data = _shape_errors(as_written(path))
    assert readable
    shape = Diagnostics()
    validate(data, SourceMap(path.name), shape)
    schema_errors = list(jsonschema.Draft202012Validator(rulebook_schema()).iter_errors(data))
    assert bool(schema_errors) == bool(shape.errors), (schema_errors, shape.items)


SHIPPED = ["rules/example.yaml", "rules/shop-il.yaml", "bot/defaults/demo-rules.yaml"]
SHIPPED += ["bot/defaults/starter-rules.yaml"]


@pytest.mark.parametrize("shipped", SHIPPED)
def test_the_schema_accepts_every_shipped_rule_file(shipped: str) -> None:
    path = Path(__file__).resolve().parent.parent / shipped
    readable, data = _shape_errors(path.read_text(encoding="utf-8"))
    assert readable
    jsonschema.Draft202012Validator(rulebook_schema()).validate(data)


def test_the_readme_shows_what_one_run_of_check_really_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README "Checking your rules": the file (numbered) and the output of one run."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Checking your rules", 1)[1].split("\n### ", 1)[0]
    blocks = section.split("```")[1::2]
    numbered, output = blocks[0].strip("\n").split("\n"), blocks[1].strip("\n").split("\n")
    (tmp_path / "rules").mkdir()
    text = "\n".join(line[4:] for line in numbered) + "\n"
    (tmp_path / "rules" / "shop.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert output[0] == "$ rulebot check rules/shop.yaml"
    run_check(argparse.Namespace(path="rules/shop.yaml", strict=False, config=None), out=out)
    assert out.getvalue().splitlines() == output[1:]
    kinds = {line.split(": ")[1] for line in output[1:-1]}
    assert kinds == {"error", "warning"}
