"""What changed for a team's patch: new and intensifying hot spots, month by month.

Each entry compares the three months ending with a loaded month against the three months
before them (Gi* hot cells on H3 resolution 9 over the city, as the hot spot map draws
them) and keeps the cells in the patch that became hot (new) or stayed hot and got
stronger (intensifying: a higher confidence level, or a clear rise in offences beyond
the city's change). Computed lazily, once per dataset version (the Gi* runs are shared by
every patch), so it always reflects the latest ingest. The newest entry also names the
patch's focus places that are rising (partner role and above).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import shapely

from geo_api.analysis.compare import compare_counts
from geo_api.analysis.places import name_places
from geo_api.data.store.base import OffenceFilter
from geo_api.services.hotspots import Significance, run_gi
from geo_api.services.lru import LRU
from geo_api.services.units import UnitSpec, analysis_units

WINDOW_MONTHS = 3
SHOWN = 5  # places named per list in an entry's summary
DIGEST_MONTHS = 4  # entries: the latest months with a full window and the one before it
HOT_SPEC = UnitSpec(grid="h3", resolution=9)  # the hot spot map's cells
SIGNIFICANCE = Significance()  # the API's and the maps' defaults
LEVEL = {"hot 90%": 1, "hot 95%": 2, "hot 99%": 3}
_WINDOWS = LRU(48)  # (dataset version, boundaries version, group, months) -> WindowHot


@dataclass(frozen=True)
class WindowHot:
    """Gi* over the city for one window of months: per H3 cell its count and label, and
    the police.uk place names of its offences (with the records behind each name)."""

    months: tuple[str, ...]
    ids: list[str]
    counts: np.ndarray
    labels: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    names: dict[int, list[tuple[str, int]]]  # hot cells only


def window_filter(group: str, months: list[str] | tuple[str, ...]) -> OffenceFilter:
    """The offences of ``group`` in whole ``months`` (consecutive, oldest first)."""
    start = pd.Timestamp(months[0] + "-01")
    end = pd.Timestamp(months[-1] + "-01") + pd.offsets.MonthBegin(1)
    return OffenceFilter(start=start.to_pydatetime(), end=end.to_pydatetime(), group=group)


def window_hot(svc, group: str, months: list[str] | tuple[str, ...]) -> WindowHot:
    """``WindowHot`` for ``months`` (cached per dataset version)."""
    key = (svc.store.dataset_version(), svc.boundaries.version, group, tuple(months))
    cached = _WINDOWS.get(key)
    if cached is not None:
        return cached
    flt = window_filter(group, months)
    units = analysis_units(svc, HOT_SPEC)
    counts = units.counts(flt)
    if counts.sum() == 0:
        labels = np.array(["not significant"] * len(units.ids), dtype=object)
    else:
        labels = np.asarray(run_gi(counts, units.adjacency, SIGNIFICANCE, svc).label,
                            dtype=object)
    hot = [i for i, lab in enumerate(labels) if str(lab).startswith("hot")]
    names: dict[int, list[tuple[str, int]]] = {}
    if hot:
        cols = tuple(dict.fromkeys((*units.assign_columns, "location_text", "x_m", "y_m")))
        rows = svc.store.located_values(cols, flt)
        unit = units.assign(rows) if len(rows) else np.array([], dtype=np.int64)
        names = name_places(unit, rows["location_text"].tolist(),
                            rows["x_m"].to_numpy(float), rows["y_m"].to_numpy(float), hot, 3)
    x, y = units.centres_m
    return _WINDOWS.put(key, WindowHot(tuple(months), list(units.ids), counts.astype(int),
                                       labels, np.asarray(x, float), np.asarray(y, float),
                                       names))


def in_patch(geometry_m, x_m: np.ndarray, y_m: np.ndarray) -> np.ndarray:
    """Which points (EPSG:27700) lie in the patch."""
    return shapely.contains_xy(geometry_m, x_m, y_m)


@dataclass(frozen=True)
class DigestSpot:
    """A hot spot of the patch that is new or got stronger."""

    id: str
    change: str  # "new" or "intensifying"
    label: str
    label_before: str
    count: int | None
    count_before: int | None
    place: str  # its most common police.uk place names ("" when none may be shown)
    lon: float
    lat: float


@dataclass(frozen=True)
class DigestPlace:
    """A focus place of the patch whose offences rose clearly (the newest entry only)."""

    rank: int
    name: str
    count_last_3_months: int
    count_previous_3_months: int | None


@dataclass(frozen=True)
class DigestEntry:
    """One month's digest: its window against the three months before."""

    month: str
    months: list[str]
    months_before: list[str]
    dataset_version: str
    updated: str  # RFC 3339, UTC: when the dataset version was made (its latest ingest)
    title: str
    summary: str
    n_hot_now: int
    n_hot_before: int
    new: list[DigestSpot]
    intensifying: list[DigestSpot]
    places: list[DigestPlace] | None  # None: not shown to this role, or not the newest entry


def ingested_at(svc) -> str:
    """When the current dataset version was made (its latest ingest, UTC), RFC 3339."""
    try:
        log = svc.store.ingests()
        latest = pd.Timestamp(log["ingested_at"].max()) if len(log) else None
    except Exception:  # noqa: BLE001 - a store without an ingest log: the time of asking
        latest = None
    if latest is None or pd.isna(latest):
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    latest = latest.tz_localize("UTC") if latest.tzinfo is None else latest.tz_convert("UTC")
    return latest.strftime("%Y-%m-%dT%H:%M:%SZ")


def month_words(month: str) -> str:
    """'October 2020' for '2020-10'."""
    return datetime.strptime(month, "%Y-%m").strftime("%B %Y")


def months_words(months: list[str] | tuple[str, ...]) -> str:
    """'July to September 2020' (or 'December 2019 to February 2020')."""
    first, last = (datetime.strptime(m, "%Y-%m") for m in (months[0], months[-1]))
    if first == last:
        return f"{last:%B %Y}"
    return (f"{first:%B} to {last:%B %Y}" if first.year == last.year
            else f"{first:%B %Y} to {last:%B %Y}")


def spot_changes(before: WindowHot, after: WindowHot, inside: np.ndarray, k: int = 1
                 ) -> tuple[list[int], list[int]]:
    """Indexes of the patch's cells that became hot (new) and that stayed hot and got
    stronger (intensifying: higher level, or a clear rise beyond the city's change, exact
    test at 5%)."""
    hot_after = np.array([str(lab).startswith("hot") for lab in after.labels])
    hot_before = np.array([str(lab).startswith("hot") for lab in before.labels])
    new = np.flatnonzero(inside & hot_after & ~hot_before).tolist()
    rose = np.zeros(len(after.ids), dtype=bool)
    if before.counts.sum() and after.counts.sum():
        table = compare_counts(pd.DataFrame({"code": after.ids, "before": before.counts,
                                             "after": after.counts}), 0.05, fdr=False)
        rose = (table["significant"] & (table["relative_change"] > 1)).to_numpy(bool)
    stronger = np.array([LEVEL.get(str(a), 0) > LEVEL.get(str(b), 0)
                         for a, b in zip(after.labels, before.labels)])
    intensifying = np.flatnonzero(inside & hot_after & hot_before & (stronger | rose)).tolist()
    return new, intensifying


def entries(svc, patch, group: str, policy=None, focus_places=None) -> list[DigestEntry]:
    """The patch's digest, newest first: one entry for each of the latest
    ``DIGEST_MONTHS`` loaded months that has six consecutive loaded months up to it.
    ``policy``: the disclosure policy (public role: counts protected, names only where at
    least k offences stand behind them); ``focus_places``: the patch's focus places (None:
    not shown to this role)."""
    from geo_api.crs import metric_to_lonlat  # noqa: PLC0415 - lazy: only with spots to place

    loaded = list(svc.store.months_loaded())
    version = svc.store.dataset_version() or ""
    updated = ingested_at(svc)
    out: list[DigestEntry] = []
    for end in range(len(loaded) - 1, max(len(loaded) - 1 - DIGEST_MONTHS, -1), -1):
        if end + 1 < 2 * WINDOW_MONTHS or not _consecutive(loaded[end + 1 - 2 * WINDOW_MONTHS:
                                                                 end + 1]):
            continue
        months = loaded[end + 1 - WINDOW_MONTHS:end + 1]
        months_before = loaded[end + 1 - 2 * WINDOW_MONTHS:end + 1 - WINDOW_MONTHS]
        after, before = window_hot(svc, group, months), window_hot(svc, group, months_before)
        inside = in_patch(patch.geometry_m, after.x_m, after.y_m)
        new, stronger = spot_changes(before, after, inside)
        lon, lat = metric_to_lonlat(after.x_m, after.y_m)
        where = (after, before, lon, lat, policy)
        n_now = int(sum(str(after.labels[i]).startswith("hot") for i in np.flatnonzero(inside)))
        n_before = int(sum(str(before.labels[i]).startswith("hot")
                           for i in np.flatnonzero(inside)))
        places = None
        if focus_places is not None and not out:
            places = [DigestPlace(rank=p.rank, name=p.name,
                                  count_last_3_months=p.count_last_3_months,
                                  count_previous_3_months=p.count_previous_3_months)
                      for p in focus_places if p.trend == "rising"]
        new_spots = [_spot(i, "new", *where) for i in new]
        stronger_spots = [_spot(i, "intensifying", *where) for i in stronger]
        out.append(DigestEntry(
            month=months[-1], months=months, months_before=months_before,
            dataset_version=version, updated=updated,
            title=f"{patch.label}, {months_words(months)}: {len(new)} new and "
                  f"{len(stronger)} stronger hot spot{'s' * (len(stronger) != 1)}",
            summary=_summary(patch, months, months_before, n_now, n_before, new_spots,
                             stronger_spots, places),
            n_hot_now=n_now, n_hot_before=n_before, new=new_spots,
            intensifying=stronger_spots, places=places))
    return out


def _spot(i: int, change: str, after: WindowHot, before: WindowHot, lon: np.ndarray,
          lat: np.ndarray, policy) -> DigestSpot:
    """Cell ``i`` as a digest spot (public: counts protected, names on >= k offences)."""
    least = policy.k if policy is not None else 1
    names = [name for name, n in after.names.get(i, []) if n >= least]

    def count(n) -> int | None:
        return policy.count(int(n)) if policy is not None else int(n)

    return DigestSpot(id=after.ids[i], change=change, label=str(after.labels[i]),
                      label_before=str(before.labels[i]), count=count(after.counts[i]),
                      count_before=count(before.counts[i]), place="; ".join(names),
                      lon=round(float(lon[i]), 6), lat=round(float(lat[i]), 6))


def _consecutive(months: list[str]) -> bool:
    want = pd.period_range(months[0], periods=len(months), freq="M").strftime("%Y-%m")
    return list(want) == list(months)


def _summary(patch, months, months_before, n_now, n_before, new, stronger, places) -> str:
    """The entry in plain words."""
    text = (f"{patch.label} had {_n(n_now, 'hot spot')} in {months_words(months)}, against "
            f"{n_before} in {months_words(months_before)}. ")
    if not new and not stronger:
        text += "No new hot spots and none got stronger. "
    for word, spots in (("New", new), ("Stronger", stronger)):
        if spots:
            named = list(dict.fromkeys(s.place.split("; ")[0] or "a place not named"
                                       for s in spots))
            more = f" and {len(named) - SHOWN} more" if len(named) > SHOWN else ""
            text += f"{word} near: {', '.join(named[:SHOWN])}{more}. "
    if places:
        text += ("Focus places with a clear rise: "
                 + "; ".join(f"#{p.rank} {p.name}" for p in places) + ". ")
    return text.strip()


def _n(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"
