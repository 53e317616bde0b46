"""Parse user filter parameters (OGC API conventions) into an ``OffenceFilter``."""

from __future__ import annotations

import dataclasses
import math
import re
from datetime import datetime, timedelta

import pandas as pd

from geo_api.data.ingest.schema import POLICE_UK_CATEGORIES
from geo_api.data.store.base import OffenceFilter
from geo_api.errors import InvalidParameter

_MONTH = re.compile(r"^\d{4}-\d{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
                       r"([Zz]|[+-]\d{2}:?\d{2})?$")


def _instant(text: str, field: str, end: bool) -> datetime:
    """Parse one end of an interval; ``end`` widens months/days to their exclusive end.

    A date-time with a zone (Z, +01:00) is an instant, converted to UK local time; one
    without is UK local time already."""
    t = text.strip()
    try:
        if _MONTH.match(t):
            ts = pd.Timestamp(f"{t}-01")
            return (ts + pd.offsets.MonthBegin(1)).to_pydatetime() if end else ts.to_pydatetime()
        if _DATE.match(t):
            ts = pd.Timestamp(t)
            return (ts + pd.Timedelta(days=1)).to_pydatetime() if end else ts.to_pydatetime()
        if not _DATETIME.match(t):
            raise ValueError(t)  # NaN, NaT, 'now', ...: not RFC 3339
        ts = pd.Timestamp(t)
        if ts is pd.NaT:
            raise ValueError(t)
    except (ValueError, TypeError, OverflowError):
        raise InvalidParameter(f"{field}: cannot parse {text!r}; use YYYY-MM, YYYY-MM-DD or "
                               "RFC 3339 date-time (e.g. 2020-04-01T00:00:00Z), or an "
                               "interval 'start/end' with '..' for an open end") from None
    if ts.tzinfo is not None:
        ts = ts.tz_convert("Europe/London").tz_localize(None)
    dt = ts.to_pydatetime()
    return dt + timedelta(microseconds=1) if end else dt


def parse_datetime(value: str | None, field: str = "datetime") -> tuple[datetime | None, datetime | None]:
    """OGC ``datetime``: an instant or a closed interval ``a/b`` ('..' = open) -> [start, end)."""
    if value is None or value.strip() in ("", "../..", ".."):
        return None, None
    if "/" in value:
        a, _, b = value.partition("/")
        start = None if a.strip() in ("", "..") else _instant(a, field, end=False)
        stop = None if b.strip() in ("", "..") else _instant(b, field, end=True)
    else:
        start, stop = _instant(value, field, end=False), _instant(value, field, end=True)
    if start and stop and stop <= start:
        raise InvalidParameter(f"{field}: interval end {value!r} is before its start")
    return start, stop


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """OGC ``bbox`` in lon/lat (EPSG:4326): 'minlon,minlat,maxlon,maxlat'."""
    if value is None or not value.strip():
        return None
    try:
        parts = tuple(float(p) for p in value.split(","))
    except ValueError:
        raise InvalidParameter(f"bbox: {value!r} is not four numbers") from None
    if len(parts) != 4:
        raise InvalidParameter(f"bbox: expected 4 numbers minlon,minlat,maxlon,maxlat, got {len(parts)}")
    x0, y0, x1, y1 = parts
    if not all(math.isfinite(v) for v in parts):
        raise InvalidParameter(f"bbox: {value!r} has a value that is not a finite number")
    if not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= 90 and -90 <= y1 <= 90):
        raise InvalidParameter(f"bbox: {value!r} is outside lon -180..180 / lat -90..90; give "
                               "minlon,minlat,maxlon,maxlat in degrees (EPSG:4326)")
    if not (x0 < x1 and y0 < y1):
        raise InvalidParameter(f"bbox: {value!r} has min >= max; give minlon,minlat,maxlon,maxlat")
    return parts


def parse_hours(value: str | None) -> tuple[int, int] | None:
    """Time-of-day window 'HH-HH' (from inclusive, to exclusive; may wrap midnight)."""
    if value is None or not value.strip():
        return None
    m = re.match(r"^(\d{1,2})-(\d{1,2})$", value.strip())
    if not m or not (0 <= int(m[1]) <= 23 and 0 <= int(m[2]) <= 24) or int(m[1]) == int(m[2]):
        raise InvalidParameter(f"hours: {value!r} must be 'HH-HH', e.g. 15-19 or 22-5")
    return int(m[1]), int(m[2]) % 24


def parse_categories(values: list[str] | None) -> tuple[str, ...]:
    """police.uk crime categories, each checked against the known list."""

    bad = [v for v in values or () if v not in POLICE_UK_CATEGORIES]
    if bad:
        raise InvalidParameter(f"crime_category: unknown {bad}; known categories: "
                               f"{sorted(POLICE_UK_CATEGORIES)}",
                               {"known": sorted(POLICE_UK_CATEGORIES)})
    return tuple(dict.fromkeys(values or ()))


def build_filter(datetime_: str | None = None, group: str = "all",
                 crime_category: list[str] | None = None, flags: dict[str, bool | None] | None = None,
                 source: str | None = None, bbox: str | None = None,
                 hours: str | None = None) -> OffenceFilter:
    """Build a validated filter from raw parameters."""
    start, end = parse_datetime(datetime_)
    return OffenceFilter(start=start, end=end, group=group,
                         crime_categories=parse_categories(crime_category),
                         flags={k: v for k, v in (flags or {}).items() if v is not None},
                         source=source, bbox_lonlat=parse_bbox(bbox), hours=parse_hours(hours))


def filter_query(flt: OffenceFilter) -> list[tuple[str, str]]:
    """The query parameters that ``build_filter`` turns back into ``flt`` (for links and
    for layers a page fetches later: the same selection, through the same API)."""

    def instant(t: datetime, end: bool) -> str:
        if t.time() == datetime.min.time():  # whole days: end is exclusive, the query's
            return f"{(t - timedelta(days=1)) if end else t:%Y-%m-%d}"  # inclusive
        return (t - timedelta(microseconds=1) if end else t).isoformat()

    out = []
    if flt.start is not None or flt.end is not None:
        a = ".." if flt.start is None else instant(flt.start, False)
        b = ".." if flt.end is None else instant(flt.end, True)
        out.append(("datetime", f"{a}/{b}"))
    out.append(("group", flt.group))
    out += [("crime_category", c) for c in flt.crime_categories]
    out += [(k, "true" if v else "false") for k, v in flt.flags.items()]
    if flt.source:
        out.append(("source", flt.source))
    if flt.bbox_lonlat:
        out.append(("bbox", ",".join(repr(float(v)) for v in flt.bbox_lonlat)))
    if flt.hours:
        out.append(("hours", f"{flt.hours[0]}-{flt.hours[1]}"))
    return out


def with_period(flt: OffenceFilter, period: str) -> OffenceFilter:
    """``flt`` for the whole months of ``period`` ('YYYY-MM/YYYY-MM')."""

    if not re.fullmatch(r"\d{4}-\d{2}/\d{4}-\d{2}", period):
        raise InvalidParameter(f"period: {period!r} is not YYYY-MM/YYYY-MM")
    a, b = period.split("/")
    start = datetime.fromisoformat(a + "-01")
    last = datetime.fromisoformat(b + "-01")
    end = last.replace(year=last.year + last.month // 12, month=last.month % 12 + 1)
    return dataclasses.replace(flt, start=start, end=end)


def latest_period(months: list[str] | tuple[str, ...], n: int = 3) -> str | None:
    """The latest ``n`` calendar months ending at the last loaded month ('YYYY-MM/YYYY-MM')."""
    if not months:
        return None
    y, m = map(int, months[-1].split("-"))
    k = y * 12 + (m - 1) - (n - 1)
    return f"{k // 12:04d}-{k % 12 + 1:02d}/{months[-1]}"
