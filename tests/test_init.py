"""`rulebot init`, the shipped schema, and what `check` and `try` say about the timezone."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from bot.cli.check import run_check
from bot.cli.init import run_init
from bot.cli.tryout import run_try
from bot.core.diagnostics import Diagnostics, SourceMap
from bot.core.schema import rulebook_schema_text
from bot.core.yaml_reading import read_yaml

RULEBOT = str(Path(sys.executable).with_name("rulebot"))


def init(target: Path, *, force: bool = False) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = run_init(argparse.Namespace(path=str(target), force=force), out=out)
    return code, out.getvalue().splitlines()


def test_init_writes_a_starter_file_and_the_schema_beside_it(tmp_path: Path) -> None:
    code, lines = init(tmp_path / "shop" / "rules.yaml")
    assert code == 0
    rules = tmp_path / "shop" / "rules.yaml"
    schema = tmp_path / "shop" / "rulebook.schema.json"
    assert lines[0] == f"wrote {rules} and {schema}"
    assert rules.read_text(encoding="utf-8").splitlines()[0] == (
        "# yaml-language-server: $schema=rulebook.schema.json"
    )
    assert json.loads(schema.read_text(encoding="utf-8")) == json.loads(rulebook_schema_text())


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    target = tmp_path / "rules.yaml"
    target.write_text("mine", encoding="utf-8")
    code, lines = init(target)
    assert (code, lines) == (1, [f"error: {target} already exists (use --force to overwrite it)"])
    assert target.read_text(encoding="utf-8") == "mine"
    assert init(target, force=True)[0] == 0
    assert target.read_text(encoding="utf-8") != "mine"


def test_the_starter_file_is_clean_and_valid_for_the_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init(tmp_path / "rules.yaml")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    code = run_check(argparse.Namespace(path="rules.yaml", strict=True, config=None), out=out)
    assert code == 0, out.getvalue()
    assert out.getvalue().startswith("no problems in rules.yaml")
    data = read_yaml(
        (tmp_path / "rules.yaml").read_text(encoding="utf-8"), SourceMap("r"), Diagnostics()
    )
    schema = json.loads((tmp_path / "rulebook.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(data)


def test_try_says_which_timezone_applies_without_a_timezone_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "contacts: {a: {name: A, phone: '052-555-0123'}}\n"
        "business_hours: {sun-sat: '09:00-18:00'}\n"
        "rules:\n  - {name: a, keywords: [price], when: {inside: business_hours}, "
        "reply: {contact: a}}\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    args = argparse.Namespace(
        messages=["price"], file=None, json=False, client=None, me=None, sender=None,
        at="2026-11-25 08:30", gap=2.0, rules=str(rules), config=None,
    )  # fmt: skip
    assert run_try(args, out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[1] == (
        "note: times are read in Asia/Jerusalem, the zone of IL "
        "(the rules have no 'timezone:' line)"
    )
    # 08:30 in Israel is before opening, though it is 06:30 in UTC: the bot answers nothing
    assert "outside business hours (Wed 08:30)" in out.getvalue()


def test_check_output_into_head_ends_quietly(tmp_path: Path) -> None:
    """Many problems, and a reader that wants one line: no BrokenPipeError traceback."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "contacts: {a: {name: A, phone: '052-555-0123'}}\nrules:\n"
        + "".join(
            f"  - {{name: r{i}, keywords: [x{i}], reply: {{contact: b}}}}\n" for i in range(3000)
        ),
        encoding="utf-8",
    )
    pipe = subprocess.run(
        f"{RULEBOT} check {rules} | head -1", shell=True, capture_output=True, timeout=120
    )
    assert pipe.stdout.decode().startswith(f"{rules}:3:")
    assert pipe.stdout.count(b"\n") == 1
    assert pipe.stderr == b""
