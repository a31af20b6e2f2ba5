"""The pure decision: conditions at their boundaries, once_per, outcomes, bursts."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import RuleSet, load_rules
from bot.core.engine import decide, decide_burst
from bot.core.values import ClientState, Decision, InboundMessage

SHOP = """\
timezone: Asia/Jerusalem
business_hours: {sun-thu: "09:00-18:00", fri: "09:00-13:00"}
contacts:
  sales:   {name: "Dana – Sales", phone: "052-555-0123", email: sales@example.co.il}
  support: {name: "Support desk", phone: "+972 3 555 0101", website: "https://example.co.il/help"}
  night:   {name: "Night line", phone: "054-555-0188"}
  owner:   {name: "Owner", phone: "09-765-4300"}
rules:
  - name: sales
    keywords: [sales, price, quote, מכירות, מחיר, "הצעת מחיר", مبيعات]
    exclude: [sales tax]
    reply: {contact: sales}
  - name: support
    keywords: [support, broken, תמיכה, תקלה]
    when: {inside: business_hours}
    reply: {contact: support}
  - name: support after hours
    keywords: [support, broken, תמיכה, תקלה]
    when: {outside: business_hours}
    once_per: day
    reply: {contact: support}
  - name: weekend
    keywords: [weekend]
    when: {days: [fri, sat]}
    reply: {contact: owner}
  - name: holidays
    keywords: [holiday]
    when: {dates: ["2026-12-25", "2026-04-01..2026-04-09"]}
    reply: {contact: owner}
  - name: night
    keywords: [urgent]
    when: {hours: "20:00-08:00"}
    reply: {contact: night}
  - name: vip
    keywords: [vip]
    once_per: ever
    reply: {contact: owner}
  - name: greeting
    first_message: true
    once_per: conversation
    reply: {contact: owner}
fallback: {reply: {contact: sales}, once_per: day}
"""

NEW = ClientState(client="972521111111")
# a client in an open conversation: greeting does not apply
WED_NOON = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # 12:00 in Jerusalem (UTC+2)


def talking(now: datetime, **sent: datetime) -> ClientState:
    return ClientState(
        client="972521111111",
        last_message_at=now - timedelta(minutes=5),
        conversation_started_at=now - timedelta(hours=1),
        replies_sent=sent,
    )


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    path = tmp_path_factory.mktemp("rules") / "shop.yaml"
    path.write_text(SHOP, encoding="utf-8")
    return load_rules(path)


def msg(
    text: str | None, id: str = "m1", *, group: bool = False, kind: str = "text"
) -> InboundMessage:
    return InboundMessage(
        id=id,
        client="972521111111",
        address="972521111111",
        text=text,
        type=kind,
        timestamp=0.0,
        is_group=group,
    )


def answer(rules: RuleSet, text: str, now: datetime, client: ClientState | None = None) -> Decision:
    return decide(msg(text), rules, client or talking(now), now)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---- outcomes ---------------------------------------------------------------------------


def test_reply_names_rule_and_card_and_quotes_the_message(rules: RuleSet) -> None:
    decision = answer(rules, "I need a price", WED_NOON)
    assert decision.outcome == "reply"
    assert [(r.rule, r.card.key, r.reply_to) for r in decision.replies] == [
        ("sales", "sales", "m1")
    ]
    assert decision.explanation == "Rule 'sales' matched 'price'."


def test_group_messages_are_never_answered(rules: RuleSet) -> None:
    decision = decide(msg("sales", group=True), rules, NEW, WED_NOON)
    assert (decision.outcome, decision.replies) == ("group", ())


def test_message_without_text_is_empty(rules: RuleSet) -> None:
    decision = decide(msg(None, kind="audio"), rules, NEW, WED_NOON)
    assert decision.outcome == "empty"
    assert decision.explanation == "The message has no text to match (a audio message)."


def test_no_match_uses_the_fallback(rules: RuleSet) -> None:
    decision = answer(rules, "what's the weather", WED_NOON)
    assert decision.outcome == "reply"
    assert decision.replies[0].rule == "fallback"
    assert decision.explanation == "No rule matched, so the fallback answers."


def test_fallback_once_per_day_is_already_sent(rules: RuleSet) -> None:
    client = talking(WED_NOON, fallback=WED_NOON - timedelta(hours=1))
    decision = answer(rules, "what's the weather", WED_NOON, client)
    assert decision.outcome == "already_sent"
    assert decision.explanation == "No rule matched; the fallback card was already sent today."


def test_conditions_explain_which_rule_and_why(rules: RuleSet, tmp_path: Path) -> None:
    # without a fallback, a rule held back by its conditions gives outcome `conditions`
    path = tmp_path / "r.yaml"
    path.write_text(
        SHOP.replace("fallback: {reply: {contact: sales}, once_per: day}\n", ""), encoding="utf-8"
    )
    no_fallback = load_rules(path)
    decision = answer(no_fallback, "weekend plans?", WED_NOON)
    assert decision.outcome == "conditions"
    assert decision.explanation == (
        "Rule 'weekend' matched 'weekend' but it is Wednesday, not fri or sat "
        "and there is no fallback."
    )


def test_a_rule_held_back_falls_through_to_later_rules(rules: RuleSet) -> None:
    # inside business hours, 'support' answers; after hours 'support after hours' does
    inside = answer(rules, "support please", WED_NOON)
    outside = answer(rules, "support please", utc(2026, 11, 25, 17, 0))
    assert inside.replies[0].rule == "support"
    assert outside.replies[0].rule == "support after hours"


def test_held_back_rule_then_fallback_says_so(rules: RuleSet) -> None:
    decision = answer(rules, "weekend plans?", WED_NOON)
    assert decision.replies[0].rule == "fallback"
    assert decision.explanation == (
        "Rule 'weekend' matched 'weekend' but it is Wednesday, not fri or sat, "
        "so the fallback answers."
    )


def test_once_per_suppresses_with_already_sent(rules: RuleSet) -> None:
    night = utc(2026, 11, 25, 19, 0)  # 21:00 local
    client = talking(night, **{"support after hours": night - timedelta(hours=2)})
    decision = answer(rules, "it is broken", night, client)
    assert decision.outcome == "already_sent"
    assert decision.explanation == (
        "Rule 'support after hours' matched 'broken' but its card was already sent today."
    )


# ---- business hours at their boundaries -------------------------------------------------


@pytest.mark.parametrize(
    ("now", "rule"),
    [
        (utc(2026, 11, 25, 6, 59, 59), "support after hours"),  # Wed 08:59:59 local
        (utc(2026, 11, 25, 7, 0, 0), "support"),  # Wed 09:00:00
        (utc(2026, 11, 25, 15, 59, 59), "support"),  # Wed 17:59:59
        (utc(2026, 11, 25, 16, 0, 0), "support after hours"),  # Wed 18:00:00 is outside
        (utc(2026, 11, 27, 10, 59, 59), "support"),  # Fri 12:59:59
        (utc(2026, 11, 27, 11, 0, 0), "support after hours"),  # Fri 13:00:00
        (utc(2026, 11, 28, 10, 0, 0), "support after hours"),  # Saturday: closed
        (utc(2026, 11, 29, 7, 0, 0), "support"),  # Sunday 09:00
    ],
)
def test_business_hours_are_half_open_ranges(rules: RuleSet, now: datetime, rule: str) -> None:
    assert answer(rules, "support", now).replies[0].rule == rule


@pytest.mark.parametrize(
    ("now", "rule"),
    [
        # Friday 2026-03-27: clocks go 02:00 -> 03:00, so 09:00 local is 06:00 UTC (UTC+3)
        (utc(2026, 3, 27, 5, 59, 59), "support after hours"),
        (utc(2026, 3, 27, 6, 0, 0), "support"),
        (utc(2026, 3, 27, 9, 59, 59), "support"),
        (utc(2026, 3, 27, 10, 0, 0), "support after hours"),  # 13:00 IDT
        # Sunday 2026-10-25: clocks go 02:00 -> 01:00, so 09:00 local is 07:00 UTC (UTC+2)
        (utc(2026, 10, 25, 6, 59, 59), "support after hours"),
        (utc(2026, 10, 25, 7, 0, 0), "support"),
        (utc(2026, 10, 25, 15, 59, 59), "support"),
        (utc(2026, 10, 25, 16, 0, 0), "support after hours"),
    ],
)
def test_business_hours_follow_daylight_saving_in_jerusalem(
    rules: RuleSet, now: datetime, rule: str
) -> None:
    assert answer(rules, "support", now).replies[0].rule == rule


def test_inside_hours_explanation_names_the_time(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        textwrap.dedent("""\
        timezone: Asia/Jerusalem
        business_hours: {sun-thu: "09:00-18:00", fri: "09:00-13:00"}
        contacts: {support: {name: S, phone: "03-555-0101"}}
        rules:
          - name: support after hours
            keywords: [support]
            when: {outside: business_hours}
            reply: {contact: support}
        """),
        encoding="utf-8",
    )
    decision = answer(load_rules(path), "support", WED_NOON)
    assert decision.outcome == "conditions"
    assert decision.explanation == (
        "Rule 'support after hours' matched 'support' but it is inside business hours "
        "(Wed 12:00) and there is no fallback."
    )


# ---- days, dates, hours -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "answers"),
    [
        (utc(2026, 11, 26, 21, 59, 59), False),  # Thu 23:59:59 local
        (utc(2026, 11, 26, 22, 0, 0), True),  # Fri 00:00 local (still Thursday in UTC)
        (utc(2026, 11, 28, 21, 59, 59), True),  # Sat 23:59:59
        (utc(2026, 11, 28, 22, 0, 0), False),  # Sun 00:00
    ],
)
def test_days_are_local_days(rules: RuleSet, now: datetime, answers: bool) -> None:
    assert (answer(rules, "weekend", now).replies[0].rule == "weekend") is answers


@pytest.mark.parametrize(
    ("now", "answers"),
    [
        (utc(2026, 12, 24, 21, 59, 59), False),  # 24th 23:59:59 local
        (utc(2026, 12, 24, 22, 0, 0), True),  # 25th 00:00 local
        (utc(2026, 12, 25, 21, 59, 59), True),
        (utc(2026, 12, 25, 22, 0, 0), False),
        (utc(2026, 3, 31, 21, 0, 0), True),  # April 1st 00:00 IDT: range start
        (utc(2026, 4, 9, 20, 59, 59), True),  # April 9th 23:59:59 IDT: range end is inclusive
        (utc(2026, 4, 9, 21, 0, 0), False),
    ],
)
def test_dates_and_date_ranges(rules: RuleSet, now: datetime, answers: bool) -> None:
    assert (answer(rules, "holiday", now).replies[0].rule == "holidays") is answers


@pytest.mark.parametrize(
    ("local_time", "answers"),
    [
        ((19, 59, 59), False),
        ((20, 0, 0), True),
        ((23, 59, 59), True),
        ((0, 0, 0), True),
        ((7, 59, 59), True),
        ((8, 0, 0), False),
    ],
)
def test_hours_may_pass_midnight(
    rules: RuleSet, local_time: tuple[int, int, int], answers: bool
) -> None:
    local = datetime(2026, 11, 25, *local_time, tzinfo=rules.timezone)
    now = local.astimezone(UTC)
    assert (answer(rules, "urgent", now).replies[0].rule == "night") is answers


# ---- first_message and once_per ---------------------------------------------------------


def test_first_message_ever_gets_the_greeting(rules: RuleSet) -> None:
    decision = decide(msg("hello"), rules, NEW, WED_NOON)
    assert decision.replies[0].rule == "greeting"
    assert decision.replies[0].once_per == "conversation"


@pytest.mark.parametrize(
    ("started_ago", "greets"),
    [
        (None, True),
        (timedelta(hours=23, minutes=59, seconds=59), False),
        (timedelta(hours=24), True),
    ],
)
def test_first_message_of_a_new_conversation(
    rules: RuleSet, started_ago: timedelta | None, greets: bool
) -> None:
    client = ClientState(
        client="c",
        last_message_at=WED_NOON - timedelta(days=3),
        conversation_started_at=None if started_ago is None else WED_NOON - started_ago,
    )
    assert (decide(msg("hello"), rules, client, WED_NOON).replies[0].rule == "greeting") is greets


def test_keyword_rule_wins_over_the_later_greeting(rules: RuleSet) -> None:
    assert decide(msg("price?"), rules, NEW, WED_NOON).replies[0].rule == "sales"


@pytest.mark.parametrize(
    ("sent_local", "suppressed"),
    [((2026, 11, 24, 23, 59, 59), False), ((2026, 11, 25, 0, 0, 0), True)],
)
def test_once_per_day_is_the_local_calendar_day(
    rules: RuleSet, sent_local: tuple[int, ...], suppressed: bool
) -> None:
    sent = datetime(*sent_local, tzinfo=rules.timezone).astimezone(UTC)
    now = datetime(2026, 11, 25, 21, 0, tzinfo=rules.timezone).astimezone(UTC)
    decision = answer(rules, "broken", now, talking(now, **{"support after hours": sent}))
    assert (decision.outcome == "already_sent") is suppressed


def test_once_per_conversation_counts_only_this_conversation(rules: RuleSet) -> None:
    started = WED_NOON - timedelta(hours=30)  # the conversation has ended
    client = ClientState(
        "c",
        last_message_at=WED_NOON - timedelta(hours=25),
        conversation_started_at=started,
        replies_sent={"greeting": started},
    )
    assert decide(msg("hi"), rules, client, WED_NOON).replies[0].rule == "greeting"


def test_once_per_conversation_suppresses_within_the_conversation(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        textwrap.dedent("""\
        contacts: {sales: {name: S, phone: "052-555-0123"}}
        rules:
          - {name: sales, keywords: [sales], once_per: conversation, reply: {contact: sales}}
        """),
        encoding="utf-8",
    )
    rules = load_rules(path)
    started = WED_NOON - timedelta(hours=2)
    before = ClientState("c", WED_NOON, started, {"sales": started - timedelta(minutes=1)})
    during = ClientState("c", WED_NOON, started, {"sales": started + timedelta(minutes=1)})
    assert decide(msg("sales"), rules, before, WED_NOON).outcome == "reply"
    decision = decide(msg("sales"), rules, during, WED_NOON)
    assert decision.outcome == "already_sent"
    assert decision.explanation == (
        "Rule 'sales' matched 'sales' but its card was already sent in this conversation."
    )


def test_once_per_ever(rules: RuleSet) -> None:
    client = talking(WED_NOON, vip=WED_NOON - timedelta(days=400))
    decision = answer(rules, "vip", WED_NOON, client)
    assert decision.outcome == "already_sent"
    assert "already sent to this client before" in decision.explanation


# ---- bursts -----------------------------------------------------------------------------


def test_burst_answers_once_quoting_the_first_matching_message(rules: RuleSet) -> None:
    burst = [msg("hi", "a"), msg("I need sales", "b"), msg("sales??", "c")]
    decision = decide_burst(burst, rules, NEW, WED_NOON)
    assert [(r.rule, r.reply_to) for r in decision.replies] == [("sales", "b")]
    assert decision.explanation == "Rule 'sales' matched 'sales' in message 2."


def test_burst_with_two_topics_answers_both(rules: RuleSet) -> None:
    decision = decide_burst([msg("sales", "a"), msg("and support", "b")], rules, NEW, WED_NOON)
    assert [(r.rule, r.reply_to) for r in decision.replies] == [("sales", "a"), ("support", "b")]


def test_burst_replies_follow_the_order_of_the_messages(rules: RuleSet) -> None:
    decision = decide_burst([msg("support", "a"), msg("price", "b")], rules, NEW, WED_NOON)
    assert [r.rule for r in decision.replies] == ["support", "sales"]


def test_burst_greeting_only_when_no_keyword_rule_answers(rules: RuleSet) -> None:
    decision = decide_burst([msg("hi", "a"), msg("how are you", "b")], rules, NEW, WED_NOON)
    assert [(r.rule, r.reply_to) for r in decision.replies] == [("greeting", "a")]


def test_burst_keyword_rule_wins_even_over_a_greeting_listed_first(tmp_path: Path) -> None:
    path = tmp_path / "greeting-first.yaml"
    path.write_text(
        """
contacts:
  sales: {name: Sales, phone: "050-123-4567"}
  reception: {name: Reception, phone: "03-555-0100"}
rules:
  - name: greeting
    first_message: true
    reply: {contact: reception}
  - name: sales
    keywords: [sales]
    reply: {contact: sales}
""",
        encoding="utf-8",
    )
    greeting_first = load_rules(path)
    burst = [msg("hi", "a"), msg("I need sales", "b")]
    decision = decide_burst(burst, greeting_first, NEW, WED_NOON)
    assert [(r.rule, r.reply_to) for r in decision.replies] == [("sales", "b")]
    # A single message too: a rule without keywords answers only when no keyword rule does.
    alone = decide(msg("I need sales", "c"), greeting_first, NEW, WED_NOON)
    assert [r.rule for r in alone.replies] == ["sales"]
    hello = decide(msg("hello there", "d"), greeting_first, NEW, WED_NOON)
    assert [r.rule for r in hello.replies] == ["greeting"]


def test_burst_fallback_quotes_the_first_message(rules: RuleSet) -> None:
    client = talking(WED_NOON)
    decision = decide_burst([msg("hmm", "a"), msg("ok", "b")], rules, client, WED_NOON)
    assert [(r.rule, r.reply_to) for r in decision.replies] == [("fallback", "a")]


def test_burst_skips_empty_and_group_messages(rules: RuleSet) -> None:
    burst = [msg(None, "a", kind="audio"), msg("sales", "g", group=True), msg("price", "c")]
    decision = decide_burst(burst, rules, NEW, WED_NOON)
    assert [(r.rule, r.reply_to) for r in decision.replies] == [("sales", "c")]


def test_burst_applies_once_per(rules: RuleSet) -> None:
    night = utc(2026, 11, 25, 19, 0)
    client = talking(night, **{"support after hours": night})
    decision = decide_burst([msg("broken", "a"), msg("price", "b")], rules, client, night)
    assert [r.rule for r in decision.replies] == ["sales"]
    assert "already sent today" in decision.explanation


_texts = st.sampled_from(
    [
        "sales",
        "hi",
        "support",
        "weekend",
        "price and support",
        "מכירות",
        "ولمبيعات",
        "",
        "vip",
        "urgent",
        "sales tax",
        "holiday",
        "תקלה",
    ]
)


@settings(max_examples=200, deadline=None)
@given(_texts, st.integers(min_value=0, max_value=60 * 60 * 24 * 400))
def test_a_decision_quotes_its_message_once_per_rule_and_once_per_holds_after_it(
    text: str, offset: int
) -> None:
    rules = _shared_rules()
    now = utc(2026, 1, 1) + timedelta(seconds=offset)
    for client in (NEW, talking(now), talking(now, fallback=now, vip=now)):
        decision = decide(msg(text), rules, client, now)
        assert (decision.outcome == "reply") == bool(decision.replies)
        assert all(reply.reply_to == "m1" for reply in decision.replies)
        assert len({reply.rule for reply in decision.replies}) == len(decision.replies)
        assert decision.explanation.endswith(".")
        # The same words again a minute later, from the client as the first answer left them:
        # a card limited by once_per does not come twice.
        later = now + timedelta(minutes=1)
        again = decide(msg(text, "m2"), rules, client.after(decision, now), later)
        limited = {reply.rule for reply in decision.replies if reply.once_per is not None}
        assert not limited & {reply.rule for reply in again.replies}


_CACHE: dict[str, RuleSet] = {}


def _shared_rules() -> RuleSet:
    if "shop" not in _CACHE:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "shop.yaml"
            path.write_text(SHOP, encoding="utf-8")
            _CACHE["shop"] = load_rules(path)
    return _CACHE["shop"]


def test_business_hours_with_several_ranges_closed_days_and_overnight(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        textwrap.dedent("""\
        timezone: Asia/Jerusalem
        business_hours:
          sun-thu: ["09:00-13:00", "16:00-19:00"]
          fri: closed
          sat: "21:00-02:00"
        contacts: {a: {name: A, phone: "052-555-0123"}}
        rules:
          - {name: open, keywords: [x], when: {inside: business_hours}, reply: {contact: a}}
        """),
        encoding="utf-8",
    )
    rules = load_rules(path)

    def opened(*local: int) -> bool:
        now = datetime(*local, tzinfo=rules.timezone).astimezone(UTC)
        return decide(msg("x"), rules, NEW, now).outcome == "reply"

    assert opened(2026, 11, 25, 12, 59) and not opened(2026, 11, 25, 13, 0)
    assert opened(2026, 11, 25, 16, 0) and not opened(2026, 11, 25, 19, 0)
    assert not opened(2026, 11, 27, 10, 0)  # Friday closed
    assert opened(2026, 11, 28, 23, 0)  # Saturday night ...
    assert opened(2026, 11, 29, 1, 59)  # ... into Sunday
    assert not opened(2026, 11, 29, 2, 0)
