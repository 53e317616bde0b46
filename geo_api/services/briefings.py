"""The monthly briefing pack of a neighbourhood team's patch (a policing area or a ward):
what the printed PDF says, gathered from the services behind the API - offence counts
(/stats/areas), hot spots (/hotspots/gi, H3 resolution 9), the change against the previous
three months and the same months a year earlier (/compare/areas), the focus places
(/focus), kits and their reach (/plan/kits/coverage) and the People Zone rank
(/plan/people-zones). Work is bounded: fixed windows, at most 24 trend months, the focus
list's 30 places; the city-wide parts are cached per dataset version and shared by every
patch.

The public role gets the counts protected by the disclosure policy and no partner-only
sections (focus places, kits, People Zone rank); the PDF says what was left out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from scipy.spatial import cKDTree

from geo_api.crs import lonlat_to_metric
from geo_api.data.osm_streets import Streets, load_streets
from geo_api.errors import GeoApiError
from geo_api.services import forecast, planning
from geo_api.services.comparison import compare_areas
from geo_api.services.digest import HOT_SPEC, in_patch, months_words, window_filter, window_hot
from geo_api.services.lru import LRU
from geo_api.services.patches import Patch, briefing_window, shift_months
from geo_api.services.units import UnitSpec

FOCUS_N = 30  # the /focus API's longest list
KIT_RADIUS_M = 200.0  # the /plan/kits/coverage default
NEAR_M = 500.0  # kits this far outside the patch still count as "near"
MAX_TREND_MONTHS = 24
MAP_MARGIN_M = 400.0
LEFT_OUT = ("the focus places, the kits and the People Zone rank need a partner key; "
            "counts are rounded to the nearest 5 and counts of 1-4 are not shown")
_CITY = LRU(64)  # city-wide answers shared by every patch, per dataset version


@dataclass(frozen=True)
class Change:
    """The patch's offences against an earlier window, in plain words."""

    against: str  # "the previous 3 months", "the same months a year earlier"
    months_before: list[str]
    available: bool
    before: int | None = None
    after: int | None = None
    significant: bool | None = None
    sentence: str = ""


@dataclass(frozen=True)
class HotSpot:
    """A Gi* hot cell on or near the map (EPSG:27700 centre)."""

    id: str
    label: str
    x_m: float
    y_m: float
    in_patch: bool
    place: str


@dataclass(frozen=True)
class Kit:
    """A kit in or near the patch and the offences within its reach (the window)."""

    name: str
    kind: str
    x_m: float
    y_m: float
    in_patch: bool
    offences_within: int


@dataclass(frozen=True)
class Kits:
    site_set: str
    description: str
    radius_m: float
    kits: list[Kit]
    patch_offences: int
    patch_offences_within_reach: int
    hot_in_patch: int
    hot_in_patch_out_of_reach: int
    sentence: str


@dataclass(frozen=True)
class PeopleZoneRank:
    rank: int
    of: int
    rank_low: int
    rank_high: int
    sentence: str


@dataclass(frozen=True)
class Briefing:
    """Everything the PDF prints (counts already protected for the public role)."""

    patch: Patch
    months: list[str]
    group: str
    group_words: str
    dataset_version: str
    made: datetime
    role: str
    offences: int | None
    city_offences: int | None
    trend_months: list[str]
    trend_counts: list[int | None]
    changes: list[Change]
    hot_spots: list[HotSpot]
    hot_now: int
    hot_before: int
    hot_sentence: str
    focus: list[forecast.FocusPlace] | None
    focus_next_month: str | None
    kits: Kits | None
    kits_asked: bool
    people_zone: PeopleZoneRank | None
    left_out: str | None
    map_bounds_m: tuple[float, float, float, float]
    streets: Streets | None  # street lines for the map (GEO_API_OSM_FILE), None: not set
    street_note: str  # what the map's street context comes from, in words
    methods: list[str] = field(default_factory=list)

    @property
    def period(self) -> str:
        return months_words(self.months)

    @property
    def filename(self) -> str:
        return (f"briefing_{self.patch.slug}_{self.months[0]}-to-{self.months[-1]}.pdf")


def cached(svc, *key, build):
    """``build()`` once per dataset version, boundaries version and ``key``."""
    full = (svc.store.dataset_version(), svc.boundaries.version, *key)
    hit = _CITY.get(full)
    return hit if hit is not None else _CITY.put(full, build())


def area_counts(svc, layer: str, group: str, months: list[str]) -> dict[str, int]:
    """Offences per area of ``layer`` in ``months`` (as /stats/areas counts them)."""
    def build():
        df, _ = svc.store.area_counts(layer, window_filter(group, months))
        return {str(c): int(n) for c, n in zip(df["code"], df["count"])}
    return cached(svc, "areas", layer, group, tuple(months), build=build)


def build_briefing(svc, patch: Patch, month: str | None = None, kits: str | None = None,
                   policy=None, role: str = "partner") -> Briefing:
    """The briefing of ``patch`` for the three months ending with ``month`` (None: the
    latest loaded). ``kits``: a site set of the team's kits (None: no kit section);
    ``policy``: the disclosure policy of the public role (None for other roles)."""
    months = briefing_window(svc, month)
    group = planning.default_demand_group(svc)
    count = policy.count if policy is not None else (lambda n: n)
    loaded = list(svc.store.months_loaded())
    now = area_counts(svc, patch.layer, group, months)
    trend_months = [m for m in loaded if m <= months[-1]][-MAX_TREND_MONTHS:]
    trend = [count(area_counts(svc, patch.layer, group, [m]).get(patch.code, 0))
             for m in trend_months]
    changes = [_change(svc, patch, group, months, shift_months(months, by), against, count)
               for by, against in ((-len(months), f"the previous {len(months)} months"),
                                   (-12, "the same months a year earlier"))]
    spots, hot_now, hot_before, hot_sentence, bounds = _hot_spots(svc, patch, group, months,
                                                                  policy)
    partner = policy is None
    focus_list = focus_places(svc, patch, group, months[-1]) if partner else None
    return Briefing(
        patch=patch, months=months, group=group, group_words=_group_words(group),
        dataset_version=svc.store.dataset_version() or "", made=datetime.now(UTC),
        role=role, offences=count(now.get(patch.code, 0)),
        city_offences=count(sum(now.values())), trend_months=trend_months,
        trend_counts=trend, changes=changes, hot_spots=spots, hot_now=hot_now,
        hot_before=hot_before, hot_sentence=hot_sentence,
        focus=None if focus_list is None else focus_list[1],
        focus_next_month=None if focus_list is None else focus_list[0],
        kits=_kits(svc, patch, group, months, kits) if partner and kits else None,
        kits_asked=bool(kits),
        people_zone=_people_zone(svc, patch, group, months[-1]) if partner else None,
        left_out=None if partner else LEFT_OUT, map_bounds_m=bounds,
        **_streets(svc, bounds), methods=_methods(months))


def _streets(svc, bounds) -> dict:
    """The map's street context: streets and names from GEO_API_OSM_FILE where set, else
    ward names and police.uk location names (the note says which)."""
    path = svc.settings.osm_file
    fallback = ("Street names: police.uk location names of the hot spots (no street map "
                "file is configured: GEO_API_OSM_FILE)")
    if path is None:
        return {"streets": None, "street_note": fallback}
    try:
        streets = load_streets(path).within(bounds)
    except GeoApiError as exc:
        return {"streets": None, "street_note": f"{fallback}; {exc.user_msg}"}
    return {"streets": streets, "street_note": f"Streets and names: {streets.source} "
                                               "(© OpenStreetMap contributors, ODbL)"}


def _group_words(group: str) -> str:
    return {"violence_robbery_weapons": "violence, robbery and weapons offences",
            "knife_enabled_serious_violence": "knife-enabled serious violence"}.get(
        group, group.replace("_", " ") + " offences")


def _change(svc, patch, group, months, before, against, count) -> Change:
    """The patch against ``before`` months, adjusted for the city's change (the exact test
    of /compare/areas, 5%, false discovery rate across the layer's areas)."""
    loaded = set(svc.store.months_loaded())
    if not all(m in loaded for m in before):
        return Change(against=against, months_before=before, available=False, sentence=(
            f"Against {against} ({months_words(before)}): not possible, those months are "
            f"not loaded (loaded: {months_words(sorted(loaded))})."))
    try:
        table, meta = compare_areas(svc, window_filter(group, before),
                                    window_filter(group, months), UnitSpec(grid=patch.layer))
    except GeoApiError as exc:
        return Change(against=against, months_before=before, available=False,
                      sentence=f"Against {against}: not possible ({exc.user_msg}).")
    row = table.set_index("code").loc[patch.code]
    b, a = count(int(row["before"])), count(int(row["after"]))
    city_b, city_a = count(meta["total_before"]), count(meta["total_after"])
    said = (f"Against {against} ({months_words(before)}): {_num(b)} then {_num(a)}"
            f"{_pct(b, a)}; the whole city {_pct(city_b, city_a, bare=True)}. ")
    if bool(row["significant"]):
        word = "more" if row["relative_change"] > 1 else "less"
        said += (f"Relative to the city, {patch.name} did clearly {'worse' if word == 'more' else 'better'}: "
                 f"its offences {'rose more or fell less' if word == 'more' else 'fell more or rose less'} "
                 "than the city's, more than chance would give (95% sure).")
    else:
        said += (f"{patch.name} changed in line with the city: no clear difference (it could "
                 "be chance).")
    return Change(against=against, months_before=before, available=True, before=b, after=a,
                  significant=bool(row["significant"]), sentence=said)


def _num(n: int | None) -> str:
    return "fewer than 5" if n is None else f"{n:,}"


def _pct(b: int | None, a: int | None, bare: bool = False) -> str:
    if not b or a is None:
        return "" if not bare else "changed"
    change = (a - b) / b
    word = "up" if change > 0 else "down" if change < 0 else "unchanged"
    text = f"{word} {abs(change):.0%}" if word != "unchanged" else word
    return text if bare else f" ({text})"


def _hot_spots(svc, patch: Patch, group, months, policy):
    """The hot cells on the map (the patch and its margin), how many lie in the patch now
    and in the window before, and a sentence."""
    after = window_hot(svc, group, months)
    before_months = shift_months(months, -len(months))
    loaded = set(svc.store.months_loaded())
    before = (window_hot(svc, group, before_months)
              if all(m in loaded for m in before_months) else None)
    x0, y0, x1, y1 = patch.geometry_m.bounds
    bounds = (x0 - MAP_MARGIN_M, y0 - MAP_MARGIN_M, x1 + MAP_MARGIN_M, y1 + MAP_MARGIN_M)
    inside = in_patch(patch.geometry_m, after.x_m, after.y_m)
    near = ((after.x_m >= bounds[0]) & (after.x_m <= bounds[2]) & (after.y_m >= bounds[1])
            & (after.y_m <= bounds[3]))
    least = policy.k if policy is not None else 1
    spots = [HotSpot(id=after.ids[i], label=str(after.labels[i]), x_m=float(after.x_m[i]),
                     y_m=float(after.y_m[i]), in_patch=bool(inside[i]),
                     place="; ".join(n for n, k in after.names.get(int(i), [])[:2]
                                     if k >= least))
             for i in np.flatnonzero(near) if str(after.labels[i]).startswith("hot")]
    hot_now = sum(s.in_patch for s in spots)
    if before is None:
        return spots, hot_now, 0, (f"{hot_now} hot spot{'s' * (hot_now != 1)} in "
                                   f"{patch.label}; the months before are not loaded."), bounds
    was_hot = np.array([str(lab).startswith("hot") for lab in before.labels])
    hot_before = int((was_hot & inside).sum())
    still = sum(1 for i in np.flatnonzero(inside) if was_hot[i]
                and str(after.labels[i]).startswith("hot"))
    sentence = (f"{hot_now} hot spot{'s' * (hot_now != 1)} in {patch.label} in "
                f"{months_words(months)} ({hot_before} in {months_words(before_months)}): "
                f"{hot_now - still} new, {still} still hot, {hot_before - still} no longer hot.")
    return spots, hot_now, hot_before, sentence, bounds


def focus_places(svc, patch: Patch, group: str, last: str):
    """(the month the list is for, the focus places in the patch): the city's list of
    ``FOCUS_N`` as /focus gives it for data up to ``last``."""
    def build():
        end = None if last == svc.store.months_loaded()[-1] else window_filter(group, [last]).end
        flt = dataclasses.replace(window_filter(group, [last]), start=None, end=end)
        return forecast.focus(svc, flt, HOT_SPEC, n=FOCUS_N)
    try:
        focus_list = cached(svc, "focus", group, last, build=build)
    except GeoApiError:  # too few months for a back-test: the section says so
        return None, []
    code_of = "npa_code" if patch.layer == "npa" else "ward_code"
    return (focus_list.meta["next_period"],
            [p for p in focus_list.places if getattr(p, code_of) == patch.code])


def _kits(svc, patch: Patch, group, months, site_set: str) -> Kits:
    """Kits of ``site_set`` in the patch or within ``NEAR_M`` of it, each with the offences
    within ``KIT_RADIUS_M`` (straight line) in the window; the patch's offences and hot
    spots within reach of any kit of the set."""
    flt = window_filter(group, months)
    cover = cached(svc, "kits", site_set, tuple(months), build=lambda: planning.kit_coverage(
        svc, flt, sites=site_set, radius_m=KIT_RADIUS_M))
    lon = np.array([s["lon"] for s in cover.sites], float)
    lat = np.array([s["lat"] for s in cover.sites], float)
    x, y = lonlat_to_metric(lon, lat) if len(lon) else (np.zeros(0), np.zeros(0))
    inside = in_patch(patch.geometry_m, x, y)
    distance = np.array([patch.geometry_m.distance(_point(a, b)) for a, b in zip(x, y)])
    kits = [Kit(name=s["name"], kind=s["kind"], x_m=float(x[i]), y_m=float(y[i]),
                in_patch=bool(inside[i]), offences_within=int(s["offences_within"]))
            for i, s in enumerate(cover.sites) if inside[i] or distance[i] <= NEAR_M]
    points = svc.store.located_values(("x_m", "y_m"), flt)
    px, py = points["x_m"].to_numpy(float), points["y_m"].to_numpy(float)
    mine = in_patch(patch.geometry_m, px, py)
    tree = cKDTree(np.column_stack([x, y])) if len(x) else None
    def reached(qx, qy):
        if tree is None or not len(qx):
            return np.zeros(len(qx), dtype=bool)
        d, _ = tree.query(np.column_stack([qx, qy]))
        return d <= KIT_RADIUS_M
    n_reached = int(reached(px[mine], py[mine]).sum())
    hot = window_hot(svc, group, months)
    hot_in = [i for i in np.flatnonzero(in_patch(patch.geometry_m, hot.x_m, hot.y_m))
              if str(hot.labels[i]).startswith("hot")]
    out_of_reach = int((~reached(hot.x_m[hot_in], hot.y_m[hot_in])).sum()) if hot_in else 0
    n_mine = int(mine.sum())
    sentence = (f"{len([k for k in kits if k.in_patch])} kit(s) of the set '{site_set}' in "
                f"{patch.label} and {len([k for k in kits if not k.in_patch])} within "
                f"{NEAR_M:g} m of it. {n_reached:,} of the patch's {n_mine:,} offences with a "
                f"map point ({n_reached / n_mine if n_mine else 0:.0%}) were within "
                f"{KIT_RADIUS_M:g} m of a kit; {out_of_reach} of its {len(hot_in)} hot "
                f"spot(s) are farther than {KIT_RADIUS_M:g} m from every kit.")
    return Kits(site_set=site_set, description=cover.meta.get("sites_description", ""),
                radius_m=KIT_RADIUS_M, kits=kits, patch_offences=n_mine,
                patch_offences_within_reach=n_reached, hot_in_patch=len(hot_in),
                hot_in_patch_out_of_reach=out_of_reach, sentence=sentence)


def _point(x: float, y: float):
    import shapely  # noqa: PLC0415 - lazy: only with kits

    return shapely.Point(x, y)


def _people_zone(svc, patch: Patch, group: str, last: str) -> PeopleZoneRank | None:
    """The patch's People Zone rank among the city's areas of its layer (the /plan/
    people-zones defaults on the months up to ``last``)."""
    def build():
        flt = dataclasses.replace(window_filter(group, [last]), start=None)
        return planning.people_zones(svc, flt, layer=patch.layer)
    try:
        zones = cached(svc, "people_zones", patch.layer, group, last, build=build)
    except GeoApiError:
        return None
    row = next((a for a in zones.areas if a["code"] == patch.code), None)
    if row is None:
        return None
    n, noun = len(zones.areas), ("policing areas" if patch.layer == "npa" else "wards")
    low, high = row["rank_p05_poisson"], row["rank_p95_poisson"]
    spread = (f"the rank stays {_ordinal(low)} when the counts are redrawn at random"
              if low == high else f"between {_ordinal(low)} and {_ordinal(high)} when the "
              "counts are redrawn at random")
    return PeopleZoneRank(rank=row["rank"], of=n, rank_low=low, rank_high=high, sentence=(
        f"{patch.name} ranks {_ordinal(row['rank'])} of the city's {n} {noun} to talk to "
        f"first about People Zones ({spread}). The rank weighs violence per resident, hot "
        "spots, the recent trend, deprivation and young residents; it is a shortlist for "
        "conversations, not a decision."))


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _methods(months: list[str]) -> list[str]:
    return [
        ("Hot spots: Getis-Ord Gi* on H3 resolution 9 hexagons (about 0.1 km²), 9,999 "
         "permutations, seed 12345, false discovery rate controlled; 90/95/99% levels."),
        ("Change: exact conditional binomial test of the patch's share of the city's "
         "offences (as GET /compare/areas), 5%, Benjamini-Hochberg across the layer's areas."),
        ("Focus places: GET /focus (the method that predicted next month best on the loaded "
         "months, 30 places for the city, those in the patch shown)."),
        ("Kits: GET /plan/kits/coverage, straight-line 200 m reach; People Zones: GET "
         "/plan/people-zones defaults (weights, 500 Poisson redraws)."),
        (f"Data: police.uk street-level crime (Open Government Licence v3.0), {months[0]} "
         f"to {months[-1]} and the months before; boundaries: ONS wards, approximate policing "
         "areas."),
    ]
