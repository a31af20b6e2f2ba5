"""`rulebot status`: what the operator wants at a glance, in plain words."""

from __future__ import annotations

from datetime import datetime, tzinfo

from bot.config import Config
from bot.core.lint import CheckReport, check_rules
from bot.logs import mask_phone_numbers
from bot.store import StoreStats, open_store

#: inbox outcomes and outbox states, as a person would say them
PLAIN_WORDS = {
    "reply": "answered with a card",
    "no_match": "no rule matched",
    "group": "group chats (never answered)",
    "empty": "no text to match (voice, location, ...)",
    "conditions": "matched, but outside the rule's hours or days",
    "already_sent": "card already sent (once per conversation/day)",
    "rate_limited": "rate-limited (too many replies to one client in an hour)",
    "paused": "paused (a person is answering the client)",
    "in_burst": "answered as part of a burst",
    "error": "could not be decided (see the log)",
    "sent": "sent (accepted by the gateway)",
    "pending": "not sent yet, will try again",
    "sending": "being sent",
    "failed": "failed after every retry",
    "refused": "refused by the gateway",
    "window_expired": "not sent: the client's 24 h window had closed",
    "uncertain": "uncertain: the gateway may have it, not sent again",
}


def start_of_day(now: float, tz: tzinfo | None = None) -> float:
    """Midnight before `now` in `tz` (None: the machine's time zone)."""
    moment = datetime.fromtimestamp(now, tz) if tz else datetime.fromtimestamp(now).astimezone()
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def format_stats(stats: StoreStats) -> str:
    """The status report as text."""
    lines = [
        f"inbox:  {stats.inbox_pending} waiting to be decided",
        f"outbox: {stats.outbox_pending} waiting, {stats.outbox_in_flight} being sent",
        "",
        f"today: {stats.received} messages in, {stats.conversations} conversations started "
        "(what the business is billed for)",
    ]
    for key in ("sent", "failed", "refused", "window_expired", "uncertain"):
        lines.append(f"  {stats.sends.get(key, 0):>6}  {PLAIN_WORDS[key]}")
    for key in ("reply", "no_match", "rate_limited", "paused", "group", "already_sent"):
        lines.append(f"  {stats.outcomes.get(key, 0):>6}  {PLAIN_WORDS[key]}")
    lines.append(
        f"  {stats.uncertain:>6}  uncertain sends (no usable answer, or the process stopped "
        "mid-send: the client may have the card twice if it was sent again)"
    )
    if stats.accepted_with_warnings:
        lines.append(
            f"  {stats.accepted_with_warnings:>6}  accepted with a warning (the gateway's OK "
            "lacked something; see outbox.warning)"
        )
    lines.append("")
    if stats.recent_errors:
        lines.append("last errors:")
        for at, code, text in stats.recent_errors:
            when = datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")
            # Masked as the logs mask them: a status report is pasted into chats and tickets.
            lines.append(f"  {when}  {PLAIN_WORDS.get(code, code)}: {mask_phone_numbers(text)}")
    else:
        lines.append("no delivery errors")
    return "\n".join(lines)


#: at most this many rule problems are listed (`rulebot check` lists them all)
RULE_PROBLEMS_SHOWN = 10


def format_rules(report: CheckReport) -> str:
    """The rule files' state: the check summary and the first problems, in plain words."""
    lines = [f"rules: {report.summary()}"]
    if report.errors:
        lines.append(
            "  the running bot keeps its last good rules until these are fixed "
            "(a bot started now would refuse to start)"
        )
    for problem in report.diagnostics[:RULE_PROBLEMS_SHOWN]:
        lines.append(f"  {problem.text()}")
    if len(report.diagnostics) > RULE_PROBLEMS_SHOWN:
        lines.append(
            f"  ... and {len(report.diagnostics) - RULE_PROBLEMS_SHOWN} more: rulebot check"
        )
    return "\n".join(lines)


def business_timezone(report: CheckReport) -> tzinfo | None:
    """The time zone "today" starts in, as on the dashboard: the rules' zone, or the machine's
    (None) when the rules cannot be read at all."""
    return report.ruleset.timezone if report.ruleset is not None else None


async def render_status(config: Config, *, now: float) -> str:
    """Open the store named by the config and report on it, after the rule files' state."""
    rules = check_rules(config.rules, default_region=config.default_region)
    today = start_of_day(now, business_timezone(rules))
    store = await open_store(config.store)
    try:
        stats = await store.stats(since=today, now=now)
    finally:
        await store.close()
    return format_rules(rules) + "\n\n" + format_stats(stats)
