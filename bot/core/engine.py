"""Pure decision: (message, compiled rules, client state, now) -> Decision.

No clock, no database, no network in here: time and state come in as arguments, so the
engine is testable in microseconds and `rulebot try` shows exactly what the server would do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from bot.core.card import Card
from bot.core.conditions import Moment, on_dates
from bot.core.message_match import MessageMatch
from bot.core.ruleset import RuleSet
from bot.core.values import CONVERSATION, ClientState, Decision, InboundMessage, Reply

#: the rule name `replies_sent` and `Reply.rule` use for the fallback
FALLBACK_NAME = "fallback"


def decide(message: InboundMessage, rules: RuleSet, client: ClientState, now: datetime) -> Decision:
    """Decide the answer to one message."""
    return decide_burst((message,), rules, client, now)


def decide_burst(
    messages: Sequence[InboundMessage], rules: RuleSet, client: ClientState, now: datetime
) -> Decision:
    """Decide the answer to several messages of one client, taken together (arrival order)."""
    private = [m for m in messages if not m.is_group]
    if not private:
        # the gateway refuses contacts to groups (reason 4), so groups are never answered
        return Decision(
            (),
            "group",
            "Group chats are never answered: the gateway sends contacts to private chats only.",
        )
    with_text = [m for m in private if m.text is not None and m.text.strip()]
    if not with_text:
        kind = private[0].type
        return Decision((), "empty", f"The message has no text to match (a {kind} message).")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    moment = Moment(now.astimezone(rules.timezone), now, client)
    numbered = len(with_text) > 1

    claims: dict[str, _Claim] = {}  # keyword/pattern rules, in the order of the quoted message
    catch_all: _Claim | None = None  # a rule without keywords, or a greeting rule
    held_back: list[str] = []  # matched, but a condition did not hold
    uncounted = ""  # keywords found but not counted (negated, in a name...), when none answers
    asks = False  # some message asks for something (not only thanks, emoji or an ad)
    for position, message in enumerate(with_text, start=1):
        assert message.text is not None
        scan = rules.match(message.text)
        if scan.spam or scan.thanks:
            continue  # an advertisement, or thanks for what was done, is never answered
        asks = asks or not scan.social
        where = f" in message {position}" if numbered else ""
        candidates = scan.candidates()
        dated = _dated_today(rules, candidates, moment)
        ranked = _dated_first(scan, candidates, dated)
        if not ranked and not uncounted:
            uncounted = _not_counted(rules, scan)
        for index in ranked:
            rule = rules.rules[index]
            found = scan.rule_match(index)
            if found is None:
                continue
            failure = rule.condition.failure(moment) if rule.condition is not None else None
            if failure is not None:
                # a rule without keywords held back (a greeting) is no news: it is not said
                if not rule.words.catch_all:
                    held_back.append(f"{_matched(rule.name, found, where)} but {failure}")
                continue
            why = _why_chosen(rules, scan, index, ranked)
            if index in dated:
                why += _why_dated(rules, scan, index)
            claim = _Claim(rule.name, rule.card, rule.once_per, message, found, where, why)
            if rule.words.catch_all or rule.words.greeting:
                # A greeting answers only when no keyword rule matched any message,
                # wherever it stands in the file: look on for one. A rule without keywords
                # does not answer a message of only thanks or emoji either.
                if catch_all is None and not (rule.words.catch_all and scan.social):
                    catch_all = _Claim(
                        rule.name, rule.card, rule.once_per, with_text[0], found, "", why
                    )
                continue
            if rule.name not in claims:
                claims[rule.name] = claim
            break

    if claims:
        chosen = list(claims.values())
    elif catch_all is not None:
        chosen = [catch_all]
    elif not asks:
        return Decision(
            (),
            "no_match",
            "No rule matched, and the message asks for nothing (thanks, emoji or an ad), "
            "so even the fallback stays quiet.",
        )
    else:
        return _fallback(rules, moment, with_text[0], held_back, uncounted)

    replies: list[Reply] = []
    said: list[str] = []
    silenced: list[str] = []
    for claim in chosen:
        why_not = _already_sent(claim.rule, claim.once_per, moment, rules.timezone)
        if why_not is not None:
            silenced.append(f"{claim.describe()} but its card {why_not}")
        else:
            replies.append(Reply(claim.rule, claim.card, claim.message.id, claim.once_per))
            said.append(claim.describe())
    if replies:
        return Decision(tuple(replies), "reply", _sentence(said + silenced))
    return Decision((), "already_sent", _sentence(silenced))


@dataclass(frozen=True, slots=True)
class _Claim:
    rule: str
    card: Card
    once_per: str | None
    message: InboundMessage
    found: str
    where: str
    why: str = ""  #: why it won over other rules that matched too

    def describe(self) -> str:
        return _matched(self.rule, self.found, self.where) + self.why


def _fallback(
    rules: RuleSet, moment: Moment, first: InboundMessage, held_back: list[str], uncounted: str
) -> Decision:
    reason = held_back[0] if held_back else "no rule matched" + uncounted
    fallback = rules.fallback
    if fallback is None:
        outcome = "conditions" if held_back else "no_match"
        return Decision((), outcome, _sentence([reason + " and there is no fallback"]))
    failure = fallback.condition.failure(moment) if fallback.condition is not None else None
    if failure is not None:
        outcome = "conditions" if held_back else "no_match"
        text = f"{reason}, and the fallback does not answer because {failure}"
        return Decision((), outcome, _sentence([text]))
    why_not = _already_sent(FALLBACK_NAME, fallback.once_per, moment, rules.timezone)
    if why_not is not None:
        return Decision((), "already_sent", _sentence([f"{reason}; the fallback card {why_not}"]))
    reply = Reply(FALLBACK_NAME, fallback.card, first.id, fallback.once_per)
    return Decision((reply,), "reply", _sentence([f"{reason}, so the fallback answers"]))


def _already_sent(rule: str, once_per: str | None, moment: Moment, tz: tzinfo) -> str | None:
    """Why `once_per` keeps the card back now, or None if it may be sent."""
    if once_per is None:
        return None
    sent = moment.client.replies_sent.get(rule)
    if sent is None:
        return None
    if once_per == "ever":
        return "was already sent to this client before"
    if once_per == "day":
        if sent.astimezone(tz).date() == moment.local.date():
            return "was already sent today"
        return None
    started = moment.client.conversation_started_at
    if started is not None and moment.now - started < CONVERSATION and sent >= started:
        return "was already sent in this conversation"
    return None


def _dated_first(scan: MessageMatch, ranked: list[int], dated: set[int]) -> list[int]:
    """`ranked`, with each rule of `dated` (for some dates, and today is one) moved ahead of
    the rules that matched the same words: a closure or a holiday rule is the owner's exception
    to them for those days, even where one of them names the words in a longer phrase."""
    if not dated:
        return ranked
    order = list(ranked)
    for rule in [i for i in ranked if i in dated]:
        mine = scan.words_at(rule)
        for place, other in enumerate(order):
            if other == rule:
                break
            if other not in dated and mine & scan.words_at(other):
                order.remove(rule)
                order.insert(place, rule)
                break
    return order


def _dated_today(rules: RuleSet, candidates: list[int], moment: Moment) -> set[int]:
    """The candidates that are rules for some dates, today one of them."""
    return {
        i
        for i in candidates
        if (condition := rules.rules[i].condition) is not None
        and on_dates(condition)
        and condition.test(moment)
    }


def _why_chosen(rules: RuleSet, scan: MessageMatch, index: int, ranked: list[int]) -> str:
    """Why rule `index` won over the rules it outranked, and which keywords were negated."""
    parts = []
    mine = scan.strength(index)
    beaten = [
        other
        for other in ranked
        if other != index
        and 0.05 < scan.strength(other) <= mine
        and scan.rule_match(other)
        # a rule found through the same words loses to file order alone: nothing to explain
        and scan.found_through(other) != scan.found_through(index)
    ]
    if beaten:
        others = ", ".join(
            f"'{rules.rules[o].name}' ({scan.rule_match(o)}, {scan.strength(o):.2f})"
            for o in beaten[:2]
        )
        support = "".join(
            f"; the message also says '{scan.tokens[w.start]}', as its '{w.source}' does"
            for w in scan.support(index)
        )
        tie = (
            "; a tie goes to the rule higher in the file"
            if any(scan.strength(o) == mine for o in beaten[:2])
            else ""
        )
        parts.append(f" (main topic, {mine:.2f}, over {others}{support}{tie})")
    parts.append(_not_counted(rules, scan))
    return "".join(parts)


def _not_counted(rules: RuleSet, scan: MessageMatch) -> str:
    """Keywords found but not counted, and why: negated, part of a name, said about an aside."""
    parts = []
    # what the rule's counted evidence covers is no news ("ללא גלוטן" counts, its "גלוטן" not)
    ignored = [
        (r, e) for r in scan.evidence for e in scan.negated(r) if e.start not in scan.words_at(r)
    ]
    negated = [f"'{e.found}' for '{rules.rules[r].name}'" for r, e in ignored if e.negated]
    if negated:
        parts.append(f" (not counted, negated: {', '.join(negated[:3])})")
    named = [
        f"'{e.found}' for '{rules.rules[r].name}', only part of the name '{e.named}'"
        for r, e in ignored
        if e.named and not e.negated
    ]
    named += [
        f"'{e.found}' for '{rules.rules[r].name}', said about {e.aside}"
        for r, e in ignored
        if e.aside and not e.named and not e.negated
    ]
    if named:
        parts.append(f" (not counted: {'; '.join(named[:3])})")
    return "".join(parts)


def _why_dated(rules: RuleSet, scan: MessageMatch, index: int) -> str:
    mine = scan.words_at(index)
    overruled = [
        f"'{rules.rules[o].name}'"
        for o in scan.evidence
        if o != index and scan.strength(o) > scan.strength(index) and mine & scan.words_at(o)
    ]
    if not overruled:
        return ""
    return (
        f" (today is one of its dates, so it goes before {', '.join(overruled[:2])},"
        " which matched the same words)"
    )


def _matched(rule: str, found: str, where: str) -> str:
    if found == "any message":
        return f"rule '{rule}' (no keywords) applies"
    return f"rule '{rule}' matched {found}{where}"


def _sentence(parts: list[str]) -> str:
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."
