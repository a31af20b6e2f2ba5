"""The dashboard's week chart: messages (bars) and replies (a line) per hour, as inline SVG data.

Laid out here, drawn by `dashboard.html`: the page carries no scripts, so the geometry is
computed on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.store import reports

_CHART_W, _CHART_H, _BAR_W = 840, 180, 5.0


@dataclass(frozen=True, slots=True)
class Bar:
    """One hour of the chart, in SVG coordinates."""

    x: float
    y: float
    height: float
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    """Messages (bars) and replies (a line) per hour, laid out for an inline SVG."""

    width: int
    height: int
    bars: list[Bar]
    replies_path: str
    labels: list[tuple[float, str]]  #: (x, day name) at each local midnight
    peak: int
    messages: int
    replies: int


def build_chart(hours: list[reports.HourCount], tz: Any) -> Chart:
    """Lay out the hourly counts: one 5-px column per hour, scaled to the busiest hour."""
    peak = max([1, *(h.messages for h in hours), *(h.replies for h in hours)])
    scale = (_CHART_H - 20) / peak
    bars: list[Bar] = []
    points: list[str] = []
    labels: list[tuple[float, str]] = []
    for i, hour in enumerate(hours):
        x = i * _BAR_W
        local = datetime.fromtimestamp(hour.start, tz)
        height = hour.messages * scale
        title = f"{local:%a %H:00}: {hour.messages} messages, {hour.replies} cards sent"
        bars.append(Bar(x, _CHART_H - height, height, title))
        points.append(f"{x + _BAR_W / 2:.1f},{_CHART_H - hour.replies * scale:.1f}")
        if local.hour == 0:
            labels.append((x, f"{local:%a %d}"))
    path = "M" + " L".join(points) if points else ""
    return Chart(
        width=int(len(hours) * _BAR_W),
        height=_CHART_H,
        bars=bars,
        replies_path=path,
        labels=labels,
        peak=peak,
        messages=sum(h.messages for h in hours),
        replies=sum(h.replies for h in hours),
    )
