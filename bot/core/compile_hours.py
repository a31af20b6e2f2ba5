"""The `business_hours:` table of the rule files -> one `BusinessHours` condition.

Each problem is reported at its day or range; 'off', 'no' or 'סגור' for a closed day get
"did you mean 'closed'?", and a range that passes midnight ("19:00-08:00") is read as written,
with a warning that says how (right for a bar, a slip for a shop).
"""

from __future__ import annotations

from bot.core.conditions import BusinessHours, parse_days, parse_time_range
from bot.core.diagnostics import Diagnostics, SourceMap
from bot.core.diagnostics import Path as NodePath


def compile_business_hours(
    setting: tuple[object, SourceMap] | None, diagnostics: Diagnostics
) -> BusinessHours | None:
    """The `business_hours:` table as one condition (None if the rules set none)."""
    if setting is None:
        return None
    table, source = setting
    assert isinstance(table, dict)
    schedule = []
    for day_text, ranges in table.items():
        path: NodePath = ("business_hours", day_text)
        try:
            days = parse_days(day_text)
        except ValueError as exc:
            diagnostics.error(exc.args[0], source, path, key=True, hint=exc.args[1])
            continue
        items = [ranges] if isinstance(ranges, str) else list(ranges)
        for i, text in enumerate(items):
            where = path if isinstance(ranges, str) else (*path, i)
            if text.strip().lower() == "closed":
                continue
            try:
                span = parse_time_range(text)
            except ValueError as exc:
                closed = text.strip().lower() in _CLOSED_WORDS
                hint = "did you mean 'closed'?" if closed else exc.args[1]
                diagnostics.error(exc.args[0], source, where, hint=hint)
                continue
            schedule.append((days, span))
            if span.overnight:
                diagnostics.warning(
                    f"'{text}' passes midnight: open from {_clock(span.start)} until "
                    f"{_clock(span.end)} the next morning",
                    source,
                    where,
                    hint=f"if you open at {_clock(span.end)} and close at {_clock(span.start)}, "
                    f"write '{_clock(span.end)}-{_clock(span.start)}'",
                )
    return BusinessHours(tuple(schedule))


#: what owners write for a closed day
_CLOSED_WORDS = frozenset(
    {"off", "no", "none", "false", "-", "x", "סגור", "סגורה", "مغلق", "shut", "close"}
)


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
