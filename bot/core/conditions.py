"""Conditions on when a rule may answer, compiled once at load into small objects.

Each condition tests a `Moment` (the message time in the rules' timezone plus the client's
state) and can say in words why it held or not. They compose with `&` and `~` and print
readably (`when(~business_hours & days(fri|sat))`), in the spirit of aiogram's and pywa's
filters. Time ranges are half-open: 18:00:00 is outside "09:00-18:00".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from bot.core.values import CONVERSATION, ClientState

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_ALIASES = {
    **{name: i for i, name in enumerate(DAY_NAMES)},
    **{name.lower(): i for i, name in enumerate(_FULL_DAY)},
    "tues": 1,
    "weds": 2,
    "thur": 3,
    "thurs": 3,
}
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
_RANGE_SPLIT = re.compile(r"\s*[-–]\s*(?=\d)")


@dataclass(frozen=True, slots=True)
class Moment:
    """What conditions look at: `local` is the message time in the rules' timezone."""

    local: datetime
    now: datetime
    client: ClientState

    def clock(self) -> str:
        """'Fri 20:15', for explanations."""
        return self.local.strftime("%a %H:%M")


class Condition:
    """Base of all conditions: `test` says whether it holds, `why` says so in words."""

    def test(self, moment: Moment) -> bool:
        raise NotImplementedError

    def why(self, moment: Moment, held: bool) -> str:
        """Why the condition held (`held`) or did not, as the end of a sentence."""
        raise NotImplementedError

    def failure(self, moment: Moment) -> str | None:
        """None if the condition holds, else why not."""
        return None if self.test(moment) else self.why(moment, False)

    def __and__(self, other: Condition) -> Condition:
        return AllOf((*_parts(self), *_parts(other)))

    def __invert__(self) -> Condition:
        return Not(self)


def on_dates(condition: Condition | None) -> bool:
    """Whether `condition` limits its rule to some dates (a closure, a holiday), among others."""
    return condition is not None and any(isinstance(c, Dates) for c in _parts(condition))


def _parts(condition: Condition) -> tuple[Condition, ...]:
    return condition.conditions if isinstance(condition, AllOf) else (condition,)


@dataclass(frozen=True, slots=True)
class AllOf(Condition):
    """Every condition holds; the first that fails explains."""

    conditions: tuple[Condition, ...]

    def test(self, moment: Moment) -> bool:
        return all(c.test(moment) for c in self.conditions)

    def why(self, moment: Moment, held: bool) -> str:
        if held:
            return " and ".join(c.why(moment, True) for c in self.conditions)
        for condition in self.conditions:
            if not condition.test(moment):
                return condition.why(moment, False)
        return "all conditions hold"  # pragma: no cover

    def __repr__(self) -> str:
        return " & ".join(repr(c) for c in self.conditions)


@dataclass(frozen=True, slots=True)
class Not(Condition):
    """The opposite condition (`outside: business_hours` is `~business_hours`)."""

    condition: Condition

    def test(self, moment: Moment) -> bool:
        return not self.condition.test(moment)

    def why(self, moment: Moment, held: bool) -> str:
        return self.condition.why(moment, not held)

    def __invert__(self) -> Condition:
        return self.condition

    def __repr__(self) -> str:
        return f"~{self.condition!r}"


@dataclass(frozen=True, slots=True)
class TimeRange:
    """[start, end) in seconds after midnight; end <= start means it passes midnight."""

    start: int
    end: int

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


@dataclass(frozen=True, slots=True)
class BusinessHours(Condition):
    """Inside the opening hours: per weekday, one or more time ranges."""

    schedule: tuple[tuple[frozenset[int], TimeRange], ...]

    def test(self, moment: Moment) -> bool:
        local = moment.local
        weekday = local.weekday()
        seconds = _seconds(local)
        for days, span in self.schedule:
            if not span.overnight:
                if weekday in days and span.start <= seconds < span.end:
                    return True
            elif (weekday in days and seconds >= span.start) or (
                (weekday - 1) % 7 in days and seconds < span.end
            ):
                return True
        return False

    def why(self, moment: Moment, held: bool) -> str:
        side = "inside" if held else "outside"
        return f"it is {side} business hours ({moment.clock()})"

    def __repr__(self) -> str:
        return "business_hours"


@dataclass(frozen=True, slots=True)
class Days(Condition):
    """On some weekdays."""

    days: frozenset[int]

    def test(self, moment: Moment) -> bool:
        return moment.local.weekday() in self.days

    def why(self, moment: Moment, held: bool) -> str:
        today = _FULL_DAY[moment.local.weekday()]
        return f"it is {today}" if held else f"it is {today}, not {self._names(' or ')}"

    def _names(self, joiner: str) -> str:
        return joiner.join(DAY_NAMES[d] for d in sorted(self.days, key=_week_order))

    def __repr__(self) -> str:
        return f"days({self._names('|')})"


@dataclass(frozen=True, slots=True)
class Dates(Condition):
    """On some calendar dates or date ranges (inclusive), e.g. holidays."""

    spans: tuple[tuple[date, date], ...]

    def test(self, moment: Moment) -> bool:
        today = moment.local.date()
        return any(first <= today <= last for first, last in self.spans)

    def why(self, moment: Moment, held: bool) -> str:
        today = moment.local.date().isoformat()
        return f"{today} is one of its dates" if held else f"{today} is not one of its dates"

    def __repr__(self) -> str:
        shown = [a.isoformat() if a == b else f"{a}..{b}" for a, b in self.spans]
        return f"dates({'|'.join(shown)})"


@dataclass(frozen=True, slots=True)
class Hours(Condition):
    """Between two times of day, every day (may pass midnight: "20:00-08:00")."""

    span: TimeRange

    def test(self, moment: Moment) -> bool:
        seconds = _seconds(moment.local)
        if self.span.overnight:
            return seconds >= self.span.start or seconds < self.span.end
        return self.span.start <= seconds < self.span.end

    def why(self, moment: Moment, held: bool) -> str:
        inside = "within" if held else "not within"
        return f"{moment.local:%H:%M} is {inside} {self.span}"

    def __repr__(self) -> str:
        return f"hours({self.span})"


@dataclass(frozen=True, slots=True)
class FirstMessage(Condition):
    """The client's first message ever, or the first of a new conversation (none in 24 h)."""

    def test(self, moment: Moment) -> bool:
        client = moment.client
        if client.last_message_at is None:
            return True
        started = client.conversation_started_at
        return started is None or moment.now - started >= CONVERSATION

    def why(self, moment: Moment, held: bool) -> str:
        if held:
            return "this is the first message of a conversation"
        return "this is not the first message of the conversation"

    def __repr__(self) -> str:
        return "first_message"


# ---- parsing the texts a shop owner writes ------------------------------------------------


def parse_time(text: str, *, end: bool = False) -> int:
    """'09:00' -> seconds after midnight; '24:00' only as an end. ValueError if not a time."""
    match = _TIME.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a time", "write times as HH:MM, e.g. 09:00")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not end)):
        raise ValueError(f"'{text}' is not a time of day", "hours 00-23, minutes 00-59")
    return hours * 3600 + minutes * 60


def parse_time_range(text: str, *, allow_overnight: bool = True) -> TimeRange:
    """'09:00-18:00' -> TimeRange. ValueError with a message and hint if malformed."""
    parts = _RANGE_SPLIT.split(text.strip())
    if len(parts) != 2:
        raise ValueError(
            f"'{text}' is not a time range", "write it as HH:MM-HH:MM, e.g. 09:00-18:00"
        )
    span = TimeRange(parse_time(parts[0]), parse_time(parts[1], end=True))
    if span.start == span.end:
        raise ValueError(f"'{text}' is an empty time range", "start and end are the same")
    if span.overnight and not allow_overnight:
        raise ValueError(f"'{text}' ends before it starts", None)
    return span


def parse_days(text: str) -> frozenset[int]:
    """'sun-thu', 'fri', 'mon,wed', 'friday' -> weekday numbers (Monday = 0)."""
    days: set[int] = set()
    for piece in text.split(","):
        piece = piece.strip().lower()
        if not piece:
            continue
        if "-" in piece:
            first_text, _, last_text = piece.partition("-")
            first, last = _day(first_text.strip()), _day(last_text.strip())
            day = first
            days.add(day)
            while day != last:
                day = (day + 1) % 7
                days.add(day)
        else:
            days.add(_day(piece))
    if not days:
        raise ValueError(f"'{text}' names no day", "use sun, mon, tue, wed, thu, fri, sat")
    return frozenset(days)


def parse_date_span(text: str) -> tuple[date, date]:
    """'2026-12-25' or '2026-04-01..2026-04-09' -> (first, last), inclusive."""
    first_text, dots, last_text = text.strip().partition("..")
    try:
        first = date.fromisoformat(first_text.strip())
        last = date.fromisoformat(last_text.strip()) if dots else first
    except ValueError:
        raise ValueError(
            f"'{text}' is not a date", "write YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD"
        ) from None
    if last < first:
        raise ValueError(f"'{text}' ends before it starts", None)
    return first, last


def _day(text: str) -> int:
    if text in _DAY_ALIASES:
        return _DAY_ALIASES[text]
    import difflib

    close = difflib.get_close_matches(text, DAY_NAMES, n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'?" if close else "use sun, mon, tue, wed, thu, fri, sat"
    raise ValueError(f"'{text}' is not a day", hint)


def _week_order(day: int) -> int:
    return (day + 1) % 7  # Sunday first, as the week starts in Israel


def _seconds(local: datetime) -> float:
    return local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
