"""The JSON Schema of a rule file, generated from the pydantic models.

Editors with the YAML language server read it (`# yaml-language-server: $schema=...` at the
top of a rule file) to complete keys and flag typos while the owner types. Regenerate with
`python -m bot.core.schema > rules/rulebook.schema.json` and copy it to
bot/defaults/rulebook.schema.json (shipped in the package; `rulebot init` writes it beside a
new rule file); a test keeps all three equal.
"""

from __future__ import annotations

import json
from typing import Any

from bot.core.model import RulebookModel


def rulebook_schema() -> dict[str, Any]:
    """The schema as a dict."""
    schema = RulebookModel.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "rulebot rule file",
        **{key: value for key, value in schema.items() if key != "title"},
    }


def rulebook_schema_text() -> str:
    """The schema as the text of rules/rulebook.schema.json."""
    return json.dumps(rulebook_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(rulebook_schema_text(), end="")
