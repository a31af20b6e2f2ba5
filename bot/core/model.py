"""The shape of a rule file, as pydantic models (`extra="forbid"`: a misspelt key is an error).

These models check structure only (which keys, which types). What the values mean — a phone
number, a time range, a contact a rule names — is checked in `compile.py`, where each problem
is reported at the position of the YAML node it came from.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

OncePer = Literal["conversation", "day", "ever"]


class _Strict(BaseModel):
    # numbers typed where text is expected (a keyword `2024`) are read as text
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class ContactModel(_Strict):
    """A contact card the bot can send."""

    name: str = Field(description="Name shown on the card, e.g. 'Dana – Sales'.")
    phone: str = Field(description="Phone number, local ('050-123-4567') or international.")
    email: str | None = Field(None, description="E-mail address.")
    birthday: str | None = Field(None, description="Birthday as YYYY-MM-DD.")
    street: str | None = Field(None, description="Street address.")
    city: str | None = Field(None, description="City.")
    country: str | None = Field(None, description="Country.")
    website: str | None = Field(None, description="Web site address.")


class ReplyModel(_Strict):
    """What to send: the card of one contact."""

    contact: str = Field(description="A name from `contacts:`.")


class WhenModel(_Strict):
    """Conditions on the time of the message, in the file's timezone. All given must hold."""

    inside: Literal["business_hours"] | None = Field(
        None, description="Only inside business hours."
    )
    outside: Literal["business_hours"] | None = Field(
        None, description="Only outside business hours."
    )
    days: list[str] | None = Field(None, description="Only on these days, e.g. [fri, sat].")
    dates: list[str] | None = Field(
        None,
        description="Only on these dates: '2026-12-25' or a range '2026-04-01..2026-04-09'.",
    )
    hours: str | None = Field(
        None, description="Only between these times, e.g. '20:00-08:00' (may pass midnight)."
    )


class RuleModel(_Strict):
    """One rule: which messages it answers, when, and with which card."""

    name: str = Field(description="A unique name, shown in logs and in `rulebot try`.")
    keywords: list[str] | None = Field(
        None, description="Words or phrases; any one of them in a message matches."
    )
    exclude: list[str] = Field(
        default_factory=list, description="Words that stop this rule from matching."
    )
    pattern: str | None = Field(None, description="A regular expression (advanced).")
    prefixes: bool = Field(
        True, description="Match Hebrew/Arabic prefixes: 'ולמכירות' matches 'מכירות'."
    )
    forms: bool = Field(
        True,
        description="Match other forms of the words: 'shipped' matches 'shipping', "
        "'משלוחים' matches 'משלוח', 'مواعيد' matches 'موعد'.",
    )
    typos: bool = Field(
        True,
        description="Read misspelt words as the keyword: 'delivry' matches 'delivery'. "
        "false: only as written (and, with forms, as another form).",
    )
    fuzzy: bool = Field(
        False, description="Allow more typos: also in 3-letter words, two letters from 8."
    )
    when: WhenModel | None = Field(None, description="Time conditions.")
    first_message: bool = Field(
        False, description="Only the first message of a conversation (24 h without one)."
    )
    once_per: OncePer | None = Field(
        None, description="Send this card at most once per conversation, day or ever."
    )
    reply: ReplyModel
    examples: list[str] = Field(
        default_factory=list, description="Messages this rule must answer (checked by `check`)."
    )
    not_examples: list[str] = Field(
        default_factory=list, description="Messages this rule must not answer."
    )


class FallbackModel(_Strict):
    """The answer when no rule answers."""

    reply: ReplyModel
    when: WhenModel | None = Field(None, description="Time conditions.")
    once_per: OncePer | None = Field(None, description="At most once per conversation/day/ever.")


class RulebookModel(_Strict):
    """A whole rule file."""

    timezone: str | None = Field(
        None,
        description="IANA timezone for hours and days, e.g. Asia/Jerusalem "
        "(default: the zone of the config's default_region, Asia/Jerusalem for IL).",
    )
    business_hours: dict[str, str | list[str]] | None = Field(
        None,
        description="Opening hours per day, e.g. {sun-thu: '09:00-18:00', fri: '09:00-13:00'}.",
    )
    burst_window_s: float | None = Field(
        None, ge=0, le=300, description="Wait this many seconds for more messages (0 = don't)."
    )
    burst_max_wait_s: float | None = Field(
        None, gt=0, le=600, description="Never wait longer than this in total (default 15)."
    )
    contacts: dict[str, ContactModel] = Field(default_factory=dict)
    rules: list[RuleModel] = Field(default_factory=list)
    fallback: FallbackModel | None = None
