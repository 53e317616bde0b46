"""Request parameters shared by the routers: one vocabulary for the whole API.

- Filter: ``datetime`` (or ``before``/``after``), ``group``, ``crime_category``, flags,
  ``source``, ``bbox``, ``hours``.
- Units: ``grid`` (h3 | fishnet | a boundary layer; ``layer`` where only boundary layers
  make sense), ``study_area``, ``resolution``, ``k`` (H3), ``fishnet_cell_size_m``,
  ``fishnet_band_m``.
- Significance: ``permutations``, ``seed``, ``fdr`` (true by default everywhere), ``alpha``
  (0.05 by default everywhere).
- ``limit``/``offset`` for paging and top-N; ``f`` only for output formats; ``cell_size_m``
  and ``bandwidth_m`` only for kernel density.

(No ``from __future__ import annotations`` here: FastAPI reads these signatures at import
time, including the grid type chosen in ``units_param``.)
"""

import dataclasses
import types
import typing
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Annotated, Literal

from fastapi import Depends, Query, Request

from geo_api.analysis.defaults import DEFAULT_GROUP, DEFAULT_PERMUTATIONS, DEFAULT_SEED
from geo_api.data.store.base import OffenceFilter
from geo_api.errors import InvalidParameter, ServerBusy, UnknownParameter
from geo_api.services.filters import build_filter
from geo_api.services.hotspots import Significance
from geo_api.services.planning import default_demand_group
from geo_api.services.service import Service
from geo_api.services.units import UnitSpec
from geo_api.web.exception_handlers import is_page


def get_service(request: Request) -> Iterator[Service]:
    """The service with one store snapshot pinned for the whole request (its version noted
    for the page cache, which keeps an answer only under the version it was computed on)."""
    with request.app.state.service.pinned() as svc:
        request.scope.setdefault("state", {})["snapshot_version"] = svc.store.dataset_version()
        yield svc


ServiceDep = Annotated[Service, Depends(get_service)]
Group = Literal["all", "violence_robbery_weapons", "vrn_serious_violence",
                "knife_enabled_serious_violence"]


def filter_param(default_group: Group | None = "all"):
    """A dependency parsing the offence filter, with ``default_group`` as the default group
    (None: the caller chooses one when the request names none)."""

    def parse(
        datetime: Annotated[str | None, Query(description="OGC datetime: instant or interval "
                                              "'start/end' ('..' open); YYYY-MM, YYYY-MM-DD or "
                                              "RFC 3339. Month-dated rows match if their month "
                                              "overlaps.", examples=["2020-04/2020-06"])] = None,
        group: Annotated[Group | None, Query(
            description="Named offence group (see /groups)" + (
                "" if default_group else "; default: knife_enabled_serious_violence when a "
                f"force export is loaded, else {DEFAULT_GROUP}"))] = default_group,
        crime_category: Annotated[list[str] | None, Query(description="police.uk category; "
                                                          "repeatable", examples=["Robbery"])
                                  ] = None,
        knife_enabled: Annotated[bool | None, Query(description="Force exports only")] = None,
        under_25: Annotated[bool | None, Query(description="Force exports only")] = None,
        night_time_economy: Annotated[bool | None, Query(description="22:00-05:00; force "
                                                         "exports only")] = None,
        source: Literal["police_uk", "force_export"] | None = None,
        bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (EPSG:4326)",
                                          examples=["-1.16,52.62,-1.11,52.65"])] = None,
        hours: Annotated[str | None, Query(description="Time-of-day window 'HH-HH' (force "
                                           "exports only)", examples=["15-19"])] = None,
    ) -> OffenceFilter:
        """The filter as given (checked for syntax, not yet against the loaded data)."""
        # group None: chosen later (planning_filter, collections.selection), though
        # build_filter and OffenceFilter.group (services, data floors) are typed str
        return build_filter(datetime, group, crime_category,  # type: ignore[arg-type]
                            {"knife_enabled": knife_enabled, "under_25": under_25,
                             "night_time_economy": night_time_economy}, source, bbox, hours)

    return parse


parse_filter = filter_param("all")


def offence_filter(svc: ServiceDep,
                   flt: Annotated[OffenceFilter, Depends(parse_filter)]) -> OffenceFilter:
    """The filter, refused (422) when it can only give silent zeros on the loaded data."""
    svc.check_filter(flt)
    return flt


FilterDep = Annotated[OffenceFilter, Depends(offence_filter)]


def planning_filter(svc: ServiceDep, flt: Annotated[OffenceFilter, Depends(
        filter_param(None))]) -> OffenceFilter:
    """The filter for planning (demand): the group defaults to knife-enabled serious violence
    when force-export records are loaded, else to the police.uk proxy."""
    # lazy: services.planning loads scipy.stats (~1 s), which start-up does not need

    if flt.group is None:
        flt = dataclasses.replace(flt, group=default_demand_group(svc))
    svc.check_filter(flt)
    return flt


PlanningFilterDep = Annotated[OffenceFilter, Depends(planning_filter)]
RawFilterDep = Annotated[OffenceFilter, Depends(parse_filter)]  # periods checked separately

LAYERS = Literal["npa", "ward", "sector", "lsoa", "lad", "oa"]
Layer = Annotated[LAYERS, Query(description="Boundary layer")]
StudyArea = Annotated[Literal["city", "force"], Query(description="city: Leicester district; "
                                                      "force: all nine districts")]
Grid = Literal["h3", "fishnet", "npa", "ward", "sector", "lsoa", "lad", "oa"]
GridOrLocation = Literal["location", "h3", "fishnet", "npa", "ward", "sector", "lsoa", "lad",
                         "oa"]
GRID_DOC = ("h3 (k-ring neighbours), fishnet (distance band) or a boundary layer (queen "
            "contiguity)")


Resolution = Annotated[int, Query(ge=7, le=10, description="H3 resolution")]
KRing = Annotated[int, Query(ge=1, le=3, description="H3 k-ring neighbours")]
FishnetCellSize = Annotated[float, Query(ge=50, le=5000, description="Fishnet cell size, "
                                         "metres")]
FishnetBand = Annotated[float | None, Query(gt=0, le=10000, description="Fishnet distance "
                                            "band, metres (default 1.5 x cell)")]


def units_param(default: Grid, with_location: bool = False
                ) -> Callable[..., UnitSpec | None]:
    """A dependency for the analysis units, with ``default`` as the default grid;
    ``with_location``: ``grid=location`` (police.uk map points) is offered too and gives
    None."""
    if not with_location:
        def units(grid: Annotated[Grid, Query(description=GRID_DOC)] = default,
                  study_area: StudyArea = "city", resolution: Resolution = 9, k: KRing = 1,
                  fishnet_cell_size_m: FishnetCellSize = 250,
                  fishnet_band_m: FishnetBand = None) -> UnitSpec:
            return UnitSpec(grid=grid, study_area=study_area, resolution=resolution, k=k,
                            fishnet_cell_size_m=fishnet_cell_size_m,
                            fishnet_band_m=fishnet_band_m)

        return units

    def units_or_locations(
            grid: Annotated[GridOrLocation, Query(
                description=GRID_DOC + "; location = police.uk map points")] = default,
            study_area: StudyArea = "city", resolution: Resolution = 9, k: KRing = 1,
            fishnet_cell_size_m: FishnetCellSize = 250,
            fishnet_band_m: FishnetBand = None) -> UnitSpec | None:
        if grid == "location":
            if study_area != "city":  # never answered for the city in silence
                raise InvalidParameter("study_area: grid=location (police.uk map points) is "
                                       "for the city only; use study_area=city, or grid=h3 "
                                       "for the force area")
            return None
        return UnitSpec(grid=grid, study_area=study_area, resolution=resolution, k=k,
                        fishnet_cell_size_m=fishnet_cell_size_m, fishnet_band_m=fishnet_band_m)

    return units_or_locations


Permutations = Annotated[int, Query(ge=0, le=9999, description="Conditional randomisations "
                                    "(0 = analytic normal p-values)")]
Seed = Annotated[int, Query(description="Random seed for the permutations")]
Fdr = Annotated[bool, Query(description="Benjamini-Hochberg false discovery rate control "
                                        "across units (at each confidence level)")]
Alpha = Annotated[float, Query(gt=0, lt=0.5, description="Significance level")]


def significance(permutations: Permutations = DEFAULT_PERMUTATIONS, seed: Seed = DEFAULT_SEED,
                 fdr: Fdr = True) -> Significance:
    return Significance(permutations=permutations, seed=seed, fdr=fdr)


def significance_at(permutations: Permutations = DEFAULT_PERMUTATIONS,
                    seed: Seed = DEFAULT_SEED, fdr: Fdr = True,
                    alpha: Alpha = 0.05) -> Significance:
    return Significance(permutations=permutations, seed=seed, fdr=fdr, alpha=alpha)


SignificanceDep = Annotated[Significance, Depends(significance)]  # labels at 90/95/99%
SignificanceAtDep = Annotated[Significance, Depends(significance_at)]  # one level: alpha
Limit = Annotated[int, Query(ge=1, le=500, description="How many to return")]
Before = Annotated[str, Query(description="Before period, e.g. 2019-12/2020-02",
                              examples=["2019-12/2020-02"])]
After = Annotated[str, Query(description="After period, e.g. 2020-04/2020-06",
                             examples=["2020-04/2020-06"])]

MapBefore = Annotated[str | None, Query(
    description="Before period, e.g. 2019-12/2020-02; default: the 3 months before the "
                "latest 3 loaded months (the map's form, without JavaScript, sends "
                "before_from/before_to instead)", examples=["2019-12/2020-02"])]
MapAfter = Annotated[str | None, Query(
    description="After period, e.g. 2020-04/2020-06; default: the latest 3 loaded months "
                "(without JavaScript the form sends after_from/after_to)",
    examples=["2020-04/2020-06"])]


def _is_list(annotation) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set):
        return True
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return any(_is_list(a) for a in typing.get_args(annotation))
    return False


_PARAMS: dict[int, tuple[frozenset[str], frozenset[str]]] = {}


def _route_params(route) -> tuple[frozenset[str], frozenset[str]]:
    """(all query parameters, those that take several values) of a route and its
    dependencies."""
    key = id(route)
    if key not in _PARAMS:
        names, lists, stack = set(), set(), [route.dependant]
        while stack:
            d = stack.pop()
            names |= {f.alias for f in d.query_params}
            lists |= {f.alias for f in d.query_params if _is_list(f.field_info.annotation)}
            stack.extend(d.dependencies)
        _PARAMS[key] = frozenset(names), frozenset(lists)
    return _PARAMS[key]


# what the map pages' controls form sets itself (read by the pages from the query; the
# rest of the query is kept as hidden fields)
FORM_FIELDS = frozenset({"datetime", "group", "before", "after", "preset", "period_from",
                         "period_to", "before_from", "before_to", "after_from", "after_to",
                         "zoom"})


async def no_repeated_query_params(request: Request) -> None:
    """Refuse what would otherwise be ignored in silence: a query parameter the endpoint
    does not take (``UnknownParameter``: 422, 400 on OGC API paths), a single-valued one
    given more than once (422) instead of using the last value (list parameters, e.g.
    crime_category, may repeat), and an output format ``f`` on an endpoint that has none.
    (async: cheap checks on every request, run without a hop to the thread pool)"""
    counts = Counter(k for k, _ in request.query_params.multi_items())
    repeated = [k for k, n in counts.items() if n > 1]
    route = request.scope.get("route")
    if route is None or not hasattr(route, "dependant"):
        return
    names, lists = _route_params(route)
    if is_page(request.url.path):  # the controls form's own fields
        names = names | FORM_FIELDS
    unknown = sorted(k for k in counts if k not in names and k != "f")
    if unknown:
        for d in route.dependencies:  # who may call it is answered first (401/403)
            if getattr(d.dependency, "required_role", None):
                await d.dependency(request)
        raise UnknownParameter(
            f"{unknown[0]}: this endpoint takes no such parameter"
            + (f" (also unknown: {', '.join(unknown[1:])})" if len(unknown) > 1 else "")
            + f"; it takes: {', '.join(sorted(names)) or 'none'}",
            {"unknown": unknown, "known": sorted(names)})
    bad = [k for k in repeated if k not in lists]
    if bad:
        raise InvalidParameter(f"{bad[0]}: given {counts[bad[0]]} times; it takes one value")
    if "f" in counts and "f" not in names:  # an output format this endpoint does not have
        raise InvalidParameter("f: this endpoint has one output format; leave f out")


def _take(slots, queue, wait_s: float, busy: ServerBusy) -> None:
    """A slot of ``slots`` now, or after waiting up to ``wait_s`` as one of at most the
    ``queue``'s size of waiting requests; ``busy`` (503) otherwise."""
    if not slots.acquire(blocking=False):
        if wait_s <= 0 or not queue.acquire(blocking=False):
            raise busy
        try:
            got = slots.acquire(timeout=wait_s)
        finally:
            queue.release()
        if not got:
            raise busy


def heavy_slot(request: Request) -> Iterator[None]:
    """One of a few slots for computing analyses and maps in this process
    (``GEO_API_MAX_HEAVY_REQUESTS``). When all are taken a request waits up to
    ``GEO_API_HEAVY_WAIT_S`` for one (at most ``GEO_API_MAX_HEAVY_WAITING`` wait at once),
    then gets 503 with Retry-After: a short burst of users is served in turn, a flood is
    refused instead of queueing without bound. The landing page is exempt."""
    if request.url.path == "/":
        yield
        return
    state = request.app.state  # heavy_slots / heavy_queue / heavy_wait_s: made by create_app
    _take(state.heavy_slots, state.heavy_queue, state.heavy_wait_s,
          ServerBusy(f"{state.heavy_slots_n} analyses are already running; try again in a "
                     "few seconds"))
    try:
        yield
    finally:
        state.heavy_slots.release()


HeavySlot = Depends(heavy_slot)

# offence records a request may read without an export slot (a page a map or a GIS client
# asks for); more take one
EXPORT_FREE_ROWS = 1_000


class ExportSlot:
    """An export of offence records: ``take(rows)`` takes one of the process's export slots
    (``GEO_API_MAX_EXPORT_REQUESTS``) for more than ``EXPORT_FREE_ROWS`` rows, waiting and
    refusing as the analysis slots do; ``hold(file)`` keeps a file the answer is sent from.
    Both last until the answer has been sent, or has failed (``export_slot``)."""

    def __init__(self, state) -> None:
        self._state = state
        self._taken = False
        self._files: list = []

    def take(self, rows: int) -> None:
        if rows <= EXPORT_FREE_ROWS or self._taken:
            return
        state = self._state  # export_slots / export_queue: made by create_app
        _take(state.export_slots, state.export_queue, state.heavy_wait_s,
              ServerBusy(f"{state.export_slots_n} exports of offence records are already "
                         "running; try again in a few seconds"))
        self._taken = True

    def hold(self, file) -> None:
        self._files.append(file)

    def end(self) -> None:
        for f in self._files:
            f.close()
        self._files = []
        if self._taken:
            self._taken = False
            self._state.export_slots.release()


def export_slot(request: Request) -> Iterator[ExportSlot]:
    """The request's ``ExportSlot``, ended when the response has been sent or has failed
    (FastAPI ends a dependency with yield after its response: a streamed body keeps it)."""
    slot = ExportSlot(request.app.state)
    try:
        yield slot
    finally:
        slot.end()


ExportSlotDep = Annotated[ExportSlot, Depends(export_slot)]
