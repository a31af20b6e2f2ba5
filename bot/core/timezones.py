"""Which timezone a rule set's hours and days are read in, and what a wrong one probably meant.

Without a `timezone:` line the zone is the one of the config's `default_region` (IL ->
Asia/Jerusalem), not UTC: a shop in Israel would otherwise open two or three hours late.
A timezone written the way people say it (`IST`, `UTC+2`, `GMT+2`) gets a suggestion by
meaning, and `Etc/GMT+2` (which means UTC−2: the sign is reversed) gets a warning.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.core.diagnostics import Diagnostics, SourceMap

_OFFSET = re.compile(r"^(?:UTC|GMT|Z)?\s*([+\-−])\s*(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_ETC = re.compile(r"^Etc/GMT([+-])(\d{1,2})$")
#: what people write for a zone, by meaning (the first is the one suggested)
_SAID = {
    "ist": ("Asia/Jerusalem", "Israel Standard Time; for India write Asia/Kolkata"),
    "idt": ("Asia/Jerusalem", "Israel Daylight Time"),
    "israel time": ("Asia/Jerusalem", "Israel"),
    "jerusalem": ("Asia/Jerusalem", "Israel"),
    "tel aviv": ("Asia/Jerusalem", "Israel"),
    "bst": ("Europe/London", "British Summer Time"),
    "cest": ("Europe/Paris", "Central European Summer Time; or your capital's zone"),
    "eest": ("Europe/Athens", "Eastern European Summer Time; or your capital's zone"),
    "msk": ("Europe/Moscow", "Moscow time"),
    "gst": ("Asia/Dubai", "Gulf Standard Time"),
    "jst": ("Asia/Tokyo", "Japan Standard Time"),
    "pst": ("America/Los_Angeles", "Pacific time"),
    "pdt": ("America/Los_Angeles", "Pacific time"),
    "edt": ("America/New_York", "Eastern time"),
    "cdt": ("America/Chicago", "Central time"),
}


#: how a zone written in the rules is described
EXPLICIT = "the 'timezone:' line"


@dataclass(frozen=True, slots=True)
class RulesZone:
    """The zone the rules are read in, and why that one (shown by `check` and `try`)."""

    zone: ZoneInfo
    source: str


def zone_of_rules(
    setting: tuple[object, SourceMap] | None, region: str, diagnostics: Diagnostics
) -> RulesZone:
    """The `timezone:` line's zone, else the default region's; problems to `diagnostics`."""
    if setting is None:
        return _region_zone(region)
    name, source = setting
    assert isinstance(name, str)
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        diagnostics.error(
            f"unknown timezone '{name}'", source, ("timezone",), hint=_suggestion(name, region)
        )
        return RulesZone(_region_zone(region).zone, EXPLICIT)
    reversed_sign = _ETC.match(name)
    if reversed_sign:
        hours = int(reversed_sign[2])
        meant = f"UTC{'+' if reversed_sign[1] == '-' else '−'}{hours}"
        said = f"UTC{'−' if reversed_sign[1] == '-' else '+'}{hours}"
        diagnostics.warning(
            f"'{name}' means {meant}, not {said}: the sign is reversed in Etc/ names",
            source,
            ("timezone",),
            hint=_by_offset(hours if reversed_sign[1] == "+" else -hours, region, reverse=True),
        )
    return RulesZone(zone, EXPLICIT)


def _region_zone(region: str) -> RulesZone:
    zones = region_zones(region)
    if len(zones) == 1:
        return RulesZone(ZoneInfo(zones[0]), f"the zone of {region.upper()} ({IMPLICIT})")
    return RulesZone(ZoneInfo("UTC"), f"UTC ({IMPLICIT}, and {region.upper()} has several zones)")


#: how `check` and `try` say that no `timezone:` line was written
IMPLICIT = "the rules have no 'timezone:' line"


@lru_cache(maxsize=64)
def region_zones(region: str) -> tuple[str, ...]:
    """The tz database's zones of a country (ISO 3166 code), e.g. ('Asia/Jerusalem',)."""
    try:
        table = resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - tzdata is a dependency
        return ()
    found = []
    for line in table.splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and not line.startswith("#") and fields[0] == region.upper():
            found.append(fields[2])
    return tuple(found)


def _suggestion(name: str, region: str) -> str:
    said = _SAID.get(name.strip().lower())
    if said is not None:
        return f"did you mean '{said[0]}'? ({name.strip()}: {said[1]})"
    offset = _OFFSET.match(name.strip())
    if offset:
        hours = int(offset[2]) + int(offset[3] or 0) / 60
        return _by_offset(hours if offset[1] == "+" else -hours, region, reverse=False)
    lowered = name.strip().lower().replace(" ", "_")
    by_city = {zone.rsplit("/", 1)[-1].lower(): zone for zone in _timezone_names()}
    if lowered in by_city:
        return f"did you mean '{by_city[lowered]}'?"
    close = difflib.get_close_matches(name, _timezone_names(), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else "e.g. Asia/Jerusalem, Europe/London"


def _by_offset(hours: float, region: str, *, reverse: bool) -> str:
    """A zone with this UTC offset: the region's own (with summer time) when it fits."""
    for zone in region_zones(region):
        if hours in _offsets(zone):
            keeps = "" if reverse else "a fixed offset has no summer time; "
            return f"{keeps}for the time in {region.upper()} write {zone}"
    if hours == int(hours):
        etc = f"Etc/GMT{'-' if hours > 0 else '+'}{abs(int(hours))}" if hours else "UTC"
        return f"write a place such as Europe/London, or {etc} (Etc/ names reverse the sign)"
    return "write a place such as Asia/Jerusalem or Europe/London"


def _offsets(zone: str) -> set[float]:
    """The zone's UTC offsets in hours in winter and in summer."""
    found = set()
    for month in (1, 7):
        offset = datetime(2026, month, 1, tzinfo=ZoneInfo(zone)).utcoffset() or timedelta()
        found.add(offset.total_seconds() / 3600)
    return found


@lru_cache(maxsize=1)
def _timezone_names() -> list[str]:
    return sorted(available_timezones())
