"""Planning use cases: bleed-control kit coverage and siting, People Zone candidate ranking.

Demand is the offences matching the filter (default group violence_robbery_weapons), one
point per distinct location (police.uk map points are already aggregated), optionally
recency-weighted. Sites and candidates are named sets: ``police_points`` (the police.uk map
points in the loaded data), ``postcodes`` (OS Code-Point Open unit postcodes), ``schools``
(the shipped GIAS list) or an uploaded site set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

import h3
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from geo_api import deadline
from geo_api.analysis import coverage as cov
from geo_api.analysis import ranking, siting
from geo_api.analysis.compare import compare_counts
from geo_api.analysis.defaults import DEFAULT_GROUP, DEFAULT_SEED
from geo_api.analysis.places import name_places
from geo_api.crs import lonlat_to_metric, metric_to_lonlat, to_io
from geo_api.data.boundaries_build import read_postcodes
from geo_api.data.deprivation import N_LSOA_ENGLAND, PROFILE_NOTE, area_profile, lsoa_profile
from geo_api.data.osm import walking_network
from geo_api.data.store.base import OffenceFilter
from geo_api.errors import InvalidParameter, StoreEmpty
from geo_api.services.hotspots import Significance, run_gi
from geo_api.services.indicators import people_zone_component
from geo_api.services.lru import LRU
from geo_api.services.service import Service, requested_months
from geo_api.services.sites import load_sites
from geo_api.services.study_areas import STUDY_AREAS, in_study_area, study_area_m
from geo_api.services.units import UnitSpec, analysis_units

BUILTIN_SETS = {
    "police_points": "police.uk map points in the loaded data (street centres, public places "
                     "and commercial premises police.uk snaps offences to)",
    "postcodes": "OS Code-Point Open 2018-07 unit postcode points",
    "schools": "open schools (DfE GIAS 2025-05-24)",
}
MAX_CANDIDATES = 20_000
MAX_P = 100
# a web request's solver time (seconds): the answer (best solution and its bound) comes
# within the request time cap; the command line may allow longer
DEFAULT_SOLVER_S = 5.0
MAX_SOLVER_S = 8.0
SOLVER_RESERVE_S = 1.0
DISTANCES = ("straight", "walking")
PARTNER_COMPONENT = "partner_indicator"  # an uploaded indicator, when one is named
DEFAULT_WEIGHTS = {"violence_rate": 0.35, "hot_spot_share": 0.20, "trend": 0.10,
                   "deprivation": 0.20, "young_people": 0.15}
COMPONENT_DOC = {
    "violence_rate": "offences per 1,000 residents (mid-2015), empirical-Bayes smoothed",
    "hot_spot_share": "share of the area inside Gi* hot cells (H3 r9, 95%, FDR)",
    "trend": "log ratio of the recent monthly rate to the earlier one, relative to the city",
    "deprivation": "IMD 2019 rank turned into need (32,845 - population-weighted mean rank)",
    "young_people": "share of residents aged 0-24 (Census 2021 via the APPROXIMATE LSOA "
                    "2021->2011 crosswalk; mid-2015 0-15 share where missing)",
}


# -- demand and sites --------------------------------------------------------------------
def default_demand_group(svc: Service) -> str:
    """Knife-enabled serious violence when force-export records are loaded (they carry the
    knife flag), else the police.uk proxy violence_robbery_weapons."""
    try:
        sources = svc.store.sources()
    except StoreEmpty:  # the filter check reports it
        return DEFAULT_GROUP
    return "knife_enabled_serious_violence" if "force_export" in sources else DEFAULT_GROUP


@dataclass(frozen=True)
class DemandInfo:
    demand: cov.Demand
    n_offences: int
    half_life_months: float | None
    last_month: str | None

    def describe(self) -> str:
        w = (f"weighted 0.5^(months before {self.last_month} / {self.half_life_months:g})"
             if self.half_life_months else "each offence counts 1")
        return (f"{self.n_offences:,} offences at {len(self.demand):,} distinct locations; {w}")


def _month_index(m: pd.Series) -> np.ndarray:
    s = m.astype(str)
    return s.str[:4].astype(int).to_numpy() * 12 + s.str[5:7].astype(int).to_numpy()


def demand(svc: Service, flt: OffenceFilter, study_area: str,
           half_life_months: float | None) -> DemandInfo:
    """Demand points for ``flt`` inside the study area (distinct locations, weights)."""
    df = svc.store.values(("x_m", "y_m", "month", "has_location"),
                          in_study_area(flt, study_area))
    df = df[df["has_location"].astype(bool)]
    if df.empty:
        raise InvalidParameter(f"no offences with a location match the filter (group="
                               f"{flt.group}) in the study area; choose another group or "
                               "period")
    months = _month_index(df["month"])
    age = months.max() - months
    w = cov.recency_weights(age, half_life_months)
    last = str(df["month"].astype(str).max())[:7]
    return DemandInfo(cov.aggregate_demand(df["x_m"].to_numpy(), df["y_m"].to_numpy(), w),
                      len(df), half_life_months, last)


BUILT_IN_SITES = LRU(8)  # the built-in sets per data version and study area


def site_set(svc: Service, name: str, study_area: str) -> tuple[pd.DataFrame, str]:
    """Sites of a named set inside the study area: name, kind, x_m, y_m, lon, lat. The
    built-in sets are built once per dataset and boundaries version (naming every police.uk
    map point takes seconds); an uploaded set is read each time (it can be replaced)."""
    if name not in BUILTIN_SETS:
        return _site_set(svc, name, study_area)
    key = (name, study_area, svc.store.dataset_version(), svc.boundaries.version,
           str(svc.settings.sites_file), str(svc.settings.boundaries_dir))
    hit = BUILT_IN_SITES.get(key)
    if hit is None:
        hit = BUILT_IN_SITES.put(key, _site_set(svc, name, study_area))
    sites, desc = hit
    return sites.copy(), desc


def _site_set(svc: Service, name: str, study_area: str) -> tuple[pd.DataFrame, str]:
    area = study_area_m(svc, study_area)
    if name == "police_points":
        df = svc.store.values(("location_text", "x_m", "y_m", "has_location"),
                              OffenceFilter(source="police_uk"))
        df = df[df["has_location"].astype(bool)]
        df = df.assign(xr=df["x_m"].round(2), yr=df["y_m"].round(2))
        # one site per map point, named by its most common place name (a street, or a
        # stock label beside its nearest street: analysis.places)
        point, xy = pd.MultiIndex.from_arrays([df["xr"], df["yr"]]).factorize(sort=True)
        named = name_places(point, df["location_text"].tolist(), df["x_m"].to_numpy(float),
                            df["y_m"].to_numpy(float), range(len(xy)), 1)
        sites = pd.DataFrame({"name": [named[i][0][0] if named[i] else "unnamed map point"
                                       for i in range(len(xy))],
                              "kind": "police.uk map point",
                              "x_m": xy.get_level_values(0).to_numpy(float),
                              "y_m": xy.get_level_values(1).to_numpy(float)})
        desc = BUILTIN_SETS[name]
    elif name == "postcodes":
        pc = read_postcodes(svc.settings.boundaries_dir / "sources")
        pc = pc[(pc["x_m"] > 0) & (pc["y_m"] > 0)]
        sites = pd.DataFrame({"name": pc["postcode"], "kind": "postcode unit",
                              "x_m": pc["x_m"].astype(float), "y_m": pc["y_m"].astype(float)})
        desc = BUILTIN_SETS[name]
    elif name == "schools":
        s = load_sites(svc.settings.sites_file)
        sites, desc = s[["name", "kind", "x_m", "y_m"]].copy(), BUILTIN_SETS[name]
    else:
        s = svc.site_sets.load(name)
        sites, desc = s[["name", "kind", "x_m", "y_m"]].copy(), f"uploaded site set {name!r}"
    sites = sites[shapely.contains_xy(area, sites["x_m"].to_numpy(), sites["y_m"].to_numpy())]
    sites = sites.reset_index(drop=True)
    sites["lon"], sites["lat"] = metric_to_lonlat(sites["x_m"].to_numpy(),
                                                  sites["y_m"].to_numpy())
    if len(sites) > MAX_CANDIDATES:
        raise InvalidParameter(f"{name}: {len(sites):,} sites in the study area; at most "
                               f"{MAX_CANDIDATES:,}")
    return sites, desc


class Distance:
    """Straight-line (EPSG:27700) or walking distances (OSM network from settings)."""

    def __init__(self, svc: Service, kind: str):
        if kind not in DISTANCES:
            raise InvalidParameter(f"distance must be one of {list(DISTANCES)}")
        self.kind = kind
        self.network = None
        if kind == "walking":
            path = svc.settings.osm_file
            if path is None:
                raise InvalidParameter(
                    "distance=walking needs a street network: set GEO_API_OSM_FILE to an "
                    "OpenStreetMap extract (.osm.pbf) of the area, or use distance=straight")

            self.network = walking_network(path)

    @property
    def source(self) -> str:
        if self.network is None:
            return "straight line in EPSG:27700 (British National Grid) metres"
        return (f"walking distance on the street network of {self.network.source} (points "
                "join the network at the nearest node; the join is counted)")

    def within(self, demand_xy: np.ndarray, site_xy: np.ndarray, radius_m: float
               ) -> sp.csr_matrix:
        if self.network is None:
            return cov.within_radius(demand_xy, site_xy, radius_m)
        return self.network.within_radius(demand_xy, site_xy, radius_m)

    def nearest(self, demand_xy: np.ndarray, site_xy: np.ndarray,
                limit_m: float = np.inf) -> np.ndarray:
        if self.network is None:
            return cov.nearest_site_distance_m(demand_xy, site_xy)
        return self.network.nearest_site_distance_m(demand_xy, site_xy, limit_m)


def _xy(sites: pd.DataFrame) -> np.ndarray:
    return sites[["x_m", "y_m"]].to_numpy(float)


def _hot_cells(svc: Service, flt: OffenceFilter, study_area: str, sig: Significance
               ) -> pd.DataFrame:
    """Gi* hot cells (H3 r9, alpha of ``sig``, FDR per ``sig``): id, count, x_m, y_m, label."""
    u = analysis_units(svc, UnitSpec(grid="h3", study_area=study_area, resolution=9, k=1))
    y = u.counts(flt)
    if y.sum() == 0:
        return pd.DataFrame(columns=["id", "count", "x_m", "y_m", "label"])
    r = run_gi(y, u.adjacency, sig, svc)
    hot = np.flatnonzero(r.hot(sig.alpha))
    ids = [u.ids[i] for i in hot]
    lat, lon = zip(*(h3.cell_to_latlng(c) for c in ids)) if ids else ((), ())
    x, yy = lonlat_to_metric(np.asarray(lon, float), np.asarray(lat, float))
    return pd.DataFrame({"id": ids, "count": y[hot].astype(int), "x_m": x, "y_m": yy,
                         "label": r.label[hot]})


def _base(svc, flt, study_area, half_life_months):
    if study_area not in STUDY_AREAS:
        raise InvalidParameter(f"study_area must be one of {sorted(STUDY_AREAS)}")
    return demand(svc, flt, study_area, half_life_months)


# -- coverage ----------------------------------------------------------------------------
@dataclass(frozen=True)
class KitCoverageTotals:
    """How much of the demand a site set reaches, and how many hot cells none of it reaches."""

    n_offences: int
    n_locations: int
    demand_total: float
    offences_covered: int
    offences_not_covered: int
    demand_covered: float
    covered_share: float
    n_hot_cells: int
    n_hot_cells_uncovered: int


@dataclass(frozen=True)
class KitCoverage:
    """How much violence is within reach of a set of kits, and which hot spots are not."""

    meta: dict[str, Any]
    sites: list[dict[str, Any]]  # per site: what it reaches (KitSite rows)
    totals: KitCoverageTotals
    uncovered_hot_spots: list[dict[str, Any]]  # hot cells farther than the radius from all


def kit_coverage(svc: Service, flt: OffenceFilter, *, sites: str, radius_m: float,
                 distance: str = "straight", half_life_months: float | None = None,
                 study_area: str = "city", sig: Significance | None = None) -> KitCoverage:
    """Per site: offences within the radius; totals; uncovered demand; uncovered hot spots."""
    sig = sig or Significance()
    demand_info = _base(svc, flt, study_area, half_life_months)
    dist = Distance(svc, distance)
    site_table, sites_description = site_set(svc, sites, study_area)
    if site_table.empty:
        raise InvalidParameter(f"sites: the set {sites!r} has no sites in the study area")
    points = demand_info.demand
    coverage = cov.site_coverage(dist.within(points.xy, _xy(site_table), radius_m), points)
    hot = _hot_cells(svc, flt, study_area, sig)
    out_of_reach = _out_of_reach(hot, dist, _xy(site_table), radius_m)
    site_rows = [{"name": site.name, "kind": site.kind, "lon": round(site.lon, 6),
                  "lat": round(site.lat, 6), "offences_within": int(n_within),
                  "demand_within": round(float(weight_within), 3),
                  "share_of_demand": round(float(weight_within) / points.total, 6),
                  "demand_only_this_site": round(float(weight_only_here), 3)}
                 for site, n_within, weight_within, weight_only_here in zip(
                     site_table.itertuples(), coverage.per_site_n, coverage.per_site_weight,
                     coverage.per_site_exclusive_weight)]
    n_covered = int(points.n[coverage.covered].sum())
    meta = _meta(svc, flt, "kit_coverage", demand_info, dist, study_area, radius_m=radius_m,
                 sites=sites, sites_description=sites_description, n_sites=len(site_table),
                 hot_spot_definition=_hot_definition(sig))
    totals = KitCoverageTotals(
        n_offences=demand_info.n_offences, n_locations=len(points),
        demand_total=round(points.total, 3),
        offences_covered=n_covered, offences_not_covered=demand_info.n_offences - n_covered,
        demand_covered=round(coverage.covered_weight, 3),
        covered_share=round(coverage.covered_share, 6),
        n_hot_cells=len(hot), n_hot_cells_uncovered=len(out_of_reach))
    return KitCoverage(
        meta=meta, sites=site_rows, totals=totals,
        uncovered_hot_spots=[
            {"id": cell.id, "count": int(cell.count), "label": cell.label,
             "distance_to_nearest_site_m": float(cell.distance_to_nearest_site_m),
             **_lonlat(cell.x_m, cell.y_m)} for cell in out_of_reach.itertuples()])


def _out_of_reach(hot: pd.DataFrame, dist: Distance, site_xy: np.ndarray, radius_m: float
                  ) -> pd.DataFrame:
    """Hot cells whose centre is farther than ``radius_m`` from every site, with that
    distance (``distance_to_nearest_site_m``; inf without sites)."""
    near = (dist.nearest(hot[["x_m", "y_m"]].to_numpy(float), site_xy)
            if len(hot) and len(site_xy) else np.full(len(hot), np.inf))
    return hot.assign(distance_to_nearest_site_m=np.round(near, 1))[near > radius_m]


def _lonlat(x: float, y: float) -> dict[str, float]:
    lon, lat = metric_to_lonlat(np.array([x]), np.array([y]))
    return {"lon": round(float(lon[0]), 6), "lat": round(float(lat[0]), 6)}


def _hot_definition(sig: Significance) -> str:
    return (f"H3 resolution 9 cells (k=1) labelled hot by Gi* at {1 - sig.alpha:.0%} "
            f"({'Benjamini-Hochberg FDR' if sig.fdr else 'no FDR'}, {sig.permutations} "
            f"permutations, seed {sig.seed}); uncovered = cell centre farther than the radius "
            "from every site")


def _meta(svc, flt, analysis, demand_info: DemandInfo, dist: Distance, study_area,
          **params) -> dict[str, Any]:
    return svc.meta(flt, analysis=analysis, study_area=study_area,
                    distance=dist.kind, distance_source=dist.source,
                    demand_definition=demand_info.describe(),
                    half_life_months=demand_info.half_life_months, **params)


@dataclass(frozen=True)
class CoverageCurve:
    """What share of violence lies within each distance of the nearest kit."""

    meta: dict[str, Any]
    curve: list[dict[str, Any]]  # per radius: radius_m, covered_share, offences_covered


def coverage_curve(svc: Service, flt: OffenceFilter, *, sites: str,
                   radii_m: list[float], distance: str = "straight",
                   half_life_months: float | None = None, study_area: str = "city"
                   ) -> CoverageCurve:
    """Share of demand within each radius of the nearest site."""
    demand_info = _base(svc, flt, study_area, half_life_months)
    points = demand_info.demand
    dist = Distance(svc, distance)
    site_table, sites_description = site_set(svc, sites, study_area)
    nearest_m = dist.nearest(points.xy, _xy(site_table), limit_m=max(radii_m))
    shares = cov.coverage_curve(nearest_m, points.weight, np.asarray(radii_m, float))
    counts = [int(points.n[nearest_m <= radius * (1 + 1e-12)].sum()) for radius in radii_m]
    return CoverageCurve(
        meta=_meta(svc, flt, "coverage_curve", demand_info, dist, study_area, sites=sites,
                   sites_description=sites_description, n_sites=len(site_table)),
        curve=[{"radius_m": float(radius), "covered_share": round(float(share), 6),
                "offences_covered": n_covered}
               for radius, share, n_covered in zip(radii_m, shares, counts)])


# -- siting ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SitingInputs:
    """A siting problem: demand, distances, candidates, existing kits and what each reaches."""

    demand_info: DemandInfo
    dist: Distance
    candidates: pd.DataFrame
    candidates_description: str
    existing: pd.DataFrame | None
    cover: sp.csr_matrix  # demand points x candidates: within the radius
    covered_by_existing: np.ndarray  # per demand point: within the radius of an existing site


def _siting_inputs(svc, flt, *, candidates, existing, radius_m, distance, half_life_months,
                   study_area) -> SitingInputs:
    demand_info = _base(svc, flt, study_area, half_life_months)
    points = demand_info.demand
    dist = Distance(svc, distance)
    candidate_table, candidates_description = site_set(svc, candidates, study_area)
    if candidate_table.empty:
        raise InvalidParameter(f"candidates: the set {candidates!r} has no sites in the study "
                               "area")
    existing_table = None
    covered_by_existing = np.zeros(len(points), dtype=bool)
    if existing:
        existing_table, _ = site_set(svc, existing, study_area)
        if len(existing_table):
            covered_by_existing = np.asarray(dist.within(
                points.xy, _xy(existing_table), radius_m).sum(axis=1)).ravel() > 0
    return SitingInputs(demand_info, dist, candidate_table, candidates_description,
                        existing_table, dist.within(points.xy, _xy(candidate_table), radius_m),
                        covered_by_existing)


def _siting_meta(svc, flt, analysis, inputs: SitingInputs, study_area, *, candidates, existing,
                 radius_m, solution: siting.SitingResult, **extra) -> dict[str, Any]:
    return _meta(svc, flt, analysis, inputs.demand_info, inputs.dist, study_area,
                 radius_m=radius_m, candidates=candidates,
                 candidates_description=inputs.candidates_description,
                 n_candidates=len(inputs.candidates), existing=existing,
                 n_existing=0 if inputs.existing is None else len(inputs.existing),
                 solver={"status": solution.status, "gap": round(solution.gap, 8),
                         "bound_share": round(solution.bound_share, 6),
                         "solve_s": round(solution.solve_s, 3),
                         **{key: value for key, value in solution.model.items()
                            if key != "formulation"}},
                 formulation=solution.model.get("formulation") or solution.model.get("method"),
                 **extra)


def _chosen_rows(inputs: SitingInputs, solution: siting.SitingResult) -> list[dict[str, Any]]:
    points = inputs.demand_info.demand
    covered = inputs.covered_by_existing.copy()
    rows: list[dict[str, Any]] = []
    cumulative = solution.existing_covered_weight
    cover = inputs.cover.tocsc()
    for rank, (column, gain) in enumerate(zip(solution.chosen, solution.marginal_weight),
                                          start=1):
        site = inputs.candidates.iloc[int(column)]
        reached = cover.indices[cover.indptr[column]:cover.indptr[column + 1]]
        newly_reached = reached[~covered[reached]]
        covered[reached] = True
        cumulative += gain
        rows.append({"rank": rank, "name": str(site["name"]), "kind": str(site["kind"]),
                     "lon": round(float(site["lon"]), 6), "lat": round(float(site["lat"]), 6),
                     "added_offences": int(points.n[newly_reached].sum()),
                     "added_demand": round(float(gain), 3),
                     "added_share": round(float(gain) / points.total, 6),
                     "cumulative_share": round(float(cumulative) / points.total, 6)})
    return rows


@dataclass(frozen=True)
class KitSitingSummary:
    """How much demand the existing and the chosen kits reach, and the most any choice could."""

    covered_share_existing: float
    covered_share: float
    covered_share_bound: float
    n_new_sites: int
    status: str
    offences_total: int
    offences_covered: int


@dataclass(frozen=True)
class KitsForTargetSummary(KitSitingSummary):
    """The siting summary of the fewest kits for a target, with the proven fewest possible."""

    sites_lower_bound: int | None


@dataclass(frozen=True)
class NextKits:
    """Where the next p kits go to bring the most violence within reach, existing kits kept."""

    meta: dict[str, Any]
    summary: KitSitingSummary
    sites: list[dict[str, Any]]  # the chosen sites in order of what each adds (ChosenSite)


@dataclass(frozen=True)
class KitsForTarget:
    """How many new kits (the fewest) bring a target share of violence within reach."""

    meta: dict[str, Any]
    summary: KitsForTargetSummary
    sites: list[dict[str, Any]]  # the chosen sites in order; none when out of reach


def solver_time_s(time_limit_s: float) -> float:
    """The solver's limit: the caller's, shortened to what a web request has left before its
    time cap, less a reserve for ordering the answer and sending it."""
    left = deadline.remaining_s()
    return time_limit_s if left is None else max(min(time_limit_s, left - SOLVER_RESERVE_S),
                                                 0.05)


def next_kits(svc: Service, flt: OffenceFilter, *, p: int, candidates: str = "police_points",
              existing: str | None = None, radius_m: float = 200.0, distance: str = "straight",
              half_life_months: float | None = None, study_area: str = "city",
              time_limit_s: float = 30.0) -> NextKits:
    """Maximal covering: the ``p`` new sites that cover the most demand, existing kept."""
    return _next_kits(svc, flt, p=p, candidates=candidates, existing=existing,
                      radius_m=radius_m, distance=distance, half_life_months=half_life_months,
                      study_area=study_area, time_limit_s=time_limit_s)[0]


def _next_kits(svc: Service, flt: OffenceFilter, *, p: int, candidates: str,
               existing: str | None, radius_m: float, distance: str,
               half_life_months: float | None, study_area: str, time_limit_s: float
               ) -> tuple[NextKits, SitingInputs, siting.SitingResult]:
    """``next_kits``'s answer, with the inputs and the solver's result it came from (the
    planner's map draws what they cover)."""
    if not 1 <= p <= MAX_P:
        raise InvalidParameter(f"p must be 1..{MAX_P}")
    inputs = _siting_inputs(svc, flt, candidates=candidates, existing=existing,
                            radius_m=radius_m, distance=distance,
                            half_life_months=half_life_months, study_area=study_area)
    solution = siting.mclp(inputs.cover, inputs.demand_info.demand.weight, p,
                           covered_by_existing=inputs.covered_by_existing,
                           time_limit_s=solver_time_s(time_limit_s))
    meta = _siting_meta(svc, flt, "mclp", inputs, study_area, candidates=candidates,
                        existing=existing, radius_m=radius_m, solution=solution, p=p,
                        time_limit_s=time_limit_s)
    n_chosen = len(solution.chosen)
    if n_chosen < p:
        meta["warnings"] = meta["warnings"] + [
            (f"only {n_chosen} candidate sites add any demand within {radius_m:g} m "
             f"that existing kits do not already reach; more than {n_chosen} new kits "
             "from this candidate set would add nothing")]
    answer = NextKits(meta=meta, summary=_summary(inputs, solution),
                      sites=_chosen_rows(inputs, solution))
    return answer, inputs, solution


def _summary(inputs: SitingInputs, solution: siting.SitingResult) -> KitSitingSummary:
    demand_info = inputs.demand_info
    return KitSitingSummary(
        covered_share_existing=round(solution.existing_covered_weight
                                     / demand_info.demand.total, 6),
        covered_share=round(solution.covered_share, 6),
        covered_share_bound=round(solution.bound_share, 6),
        n_new_sites=len(solution.chosen), status=solution.status,
        offences_total=demand_info.n_offences,
        offences_covered=int(demand_info.demand.n[_covered_mask(inputs, solution)].sum()))


def _covered_mask(inputs: SitingInputs, solution: siting.SitingResult) -> np.ndarray:
    covered = inputs.covered_by_existing.copy()
    if len(solution.chosen):
        covered |= np.asarray(inputs.cover[:, solution.chosen].sum(axis=1)).ravel() > 0
    return covered


def how_many(svc: Service, flt: OffenceFilter, *, target_share: float,
             candidates: str = "police_points", existing: str | None = None,
             radius_m: float = 200.0, distance: str = "straight",
             half_life_months: float | None = None, study_area: str = "city",
             time_limit_s: float = 60.0) -> KitsForTarget:
    """Partial set covering: the fewest new sites so that target_share of demand is covered."""
    inputs = _siting_inputs(svc, flt, candidates=candidates, existing=existing,
                            radius_m=radius_m, distance=distance,
                            half_life_months=half_life_months, study_area=study_area)
    solution = siting.lscp(inputs.cover, inputs.demand_info.demand.weight, target_share,
                           covered_by_existing=inputs.covered_by_existing,
                           time_limit_s=solver_time_s(time_limit_s))
    warnings = []
    if solution.status == "infeasible":
        warnings.append(f"the target {target_share:.0%} cannot be reached with these "
                        f"candidates at {radius_m:g} m: at most {solution.bound_share:.1%} of "
                        "demand is within reach of any candidate")
    meta = _siting_meta(svc, flt, "lscp", inputs, study_area, candidates=candidates,
                        existing=existing, radius_m=radius_m, solution=solution,
                        target_share=target_share, time_limit_s=time_limit_s)
    meta["warnings"] = meta["warnings"] + warnings
    summary = KitsForTargetSummary(**asdict(_summary(inputs, solution)),
                                   sites_lower_bound=solution.model.get("sites_lower_bound"))
    return KitsForTarget(meta=meta, summary=summary,
                         sites=[] if solution.status == "infeasible"
                         else _chosen_rows(inputs, solution))


@dataclass(frozen=True)
class KitsCurve:
    """How much violence 1..max_p new kits could bring within reach: how many to buy."""

    meta: dict[str, Any]
    covered_share_existing: float
    curve: list[dict[str, Any]]  # per p: covered share, its bound, what the p-th kit adds


def p_curve(svc: Service, flt: OffenceFilter, *, max_p: int, candidates: str = "police_points",
            existing: str | None = None, radius_m: float = 200.0, distance: str = "straight",
            half_life_months: float | None = None, study_area: str = "city",
            time_limit_s: float = 60.0, method: str = "bounds") -> KitsCurve:
    """Covered share for p = 1..max_p new sites: ``exact`` (each p an exact MCLP optimum,
    within ``time_limit_s`` overall) or ``bounds`` (fast: a real choice of sites for each p
    and a proven upper bound on what any choice could cover)."""
    if method not in ("exact", "bounds"):
        raise InvalidParameter("method must be exact or bounds")
    if not 1 <= max_p <= MAX_P:
        raise InvalidParameter(f"max_p must be 1..{MAX_P}")
    inputs = _siting_inputs(svc, flt, candidates=candidates, existing=existing,
                            radius_m=radius_m, distance=distance,
                            half_life_months=half_life_months, study_area=study_area)
    weight = inputs.demand_info.demand.weight
    if method == "exact":
        solutions = siting.p_curve(inputs.cover, weight, max_p,
                                   covered_by_existing=inputs.covered_by_existing,
                                   time_limit_s=solver_time_s(time_limit_s))
    else:
        solutions = siting.p_curve_bounds(inputs.cover, weight, max_p,
                                          covered_by_existing=inputs.covered_by_existing)
    total = inputs.demand_info.demand.total
    rows = [{"p": n_sites, "covered_share": round(solution.covered_share, 6),
             "covered_share_bound": round(solution.bound_share, 6),
             "added_share": round((solution.covered_weight
                                   - (solutions[n_sites - 2].covered_weight if n_sites > 1
                                      else solution.existing_covered_weight)) / total, 6),
             "status": solution.status, "gap": round(solution.gap, 8)}
            for n_sites, solution in enumerate(solutions, start=1)]
    meta = _siting_meta(svc, flt, "p_curve", inputs, study_area, candidates=candidates,
                        existing=existing, radius_m=radius_m, solution=solutions[-1],
                        max_p=max_p, time_limit_s=time_limit_s if method == "exact" else None,
                        curve_method=method)
    return KitsCurve(meta=meta,
                     covered_share_existing=round(solutions[0].existing_covered_weight / total,
                                                  6),
                     curve=rows)


# -- People Zones ------------------------------------------------------------------------
PEOPLE_ZONE_LAYERS = ("ward", "lsoa", "npa")


@dataclass(frozen=True)
class PeopleZones:
    """Which areas to talk to first about People Zones, and how robust each rank is."""

    meta: dict[str, Any]
    areas: list[dict[str, Any]]  # ranked: every component, rank ranges (PeopleZoneArea rows)


def people_zones(svc: Service, flt: OffenceFilter, *, layer: str = "ward",
                 weights: dict[str, float] | None = None, method: str = "z",
                 trend_months: int = 3, n_sim: int = 500, seed: int = DEFAULT_SEED, top_k: int = 5,
                 hot: pd.DataFrame | None = None,
                 sig: Significance | None = None, partner=None) -> PeopleZones:
    """Rank the city's areas of ``layer`` for People Zone conversations (see COMPONENT_DOC).
    ``hot``: the city's Gi* hot cells for ``flt`` and ``sig`` when the caller has them.
    ``partner``: (indicator name, caller) to add a partner indicator as the component
    ``partner_indicator`` (its weight in ``weights``, default 0.2)."""
    sig = sig or Significance()
    if layer not in PEOPLE_ZONE_LAYERS:
        raise InvalidParameter(f"layer must be one of {list(PEOPLE_ZONE_LAYERS)}")
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    if partner is not None:
        weights.setdefault(PARTNER_COMPONENT, 0.2)
    elif weights.get(PARTNER_COMPONENT):
        raise InvalidParameter("weight_partner_indicator: name the indicator (indicator=...)")
    else:
        weights.pop(PARTNER_COMPONENT, None)
    unknown = set(weights) - set(DEFAULT_WEIGHTS) - {PARTNER_COMPONENT}
    if unknown:
        raise InvalidParameter(f"unknown weight(s) {sorted(unknown)}; use "
                               f"{sorted(DEFAULT_WEIGHTS)}")
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise InvalidParameter("weights must be >= 0 with at least one positive")
    areas = _city_areas(svc, layer)
    profile = area_profile(lsoa_profile(svc.settings.boundaries_dir / "sources" / "population"),
                           svc.boundaries.get("lsoa").gdf, areas, same_layer=layer == "lsoa")
    population = profile["population_2015"].to_numpy(float)
    if np.any(~(population > 0)):
        raise InvalidParameter(f"layer {layer}: some areas have no resident population to "
                               "rate by (user polygons without LSOA best fit?)")
    months = _period_months(svc, flt)
    if len(months) < 2:
        raise InvalidParameter("People Zone trend needs a period of at least 2 loaded months")
    trend_months = min(trend_months, len(months) - 1)
    recent_filter = _split(flt, months, trend_months)
    counts = _layer_counts(svc, layer, areas, flt)
    recent = _layer_counts(svc, layer, areas, recent_filter)
    earlier = counts - recent
    hot_share = _hot_share(areas, _hot_cells(svc, flt, "city", sig) if hot is None else hot)
    young = np.where(profile["census21_total"] > 0,
                     (profile["census21_age_0_15"] + profile["census21_age_16_24"])
                     / profile["census21_total"],
                     profile["population_0_15_2015"] / profile["population_2015"])
    need_imd = (N_LSOA_ENGLAND + 1) - profile["imd_rank"].to_numpy(float)
    n_recent, n_earlier = trend_months, len(months) - trend_months
    partner_values, partner_meta = None, None
    if partner is not None:
        partner_values, partner_meta = people_zone_component(svc, partner[0], partner[1],
                                                             areas, layer, population)

    def build(draw):
        cols = {
            "violence_rate": ranking.eb_rates(draw["recent"] + draw["earlier"],
                                              population) * 1000,
            "hot_spot_share": hot_share,
            "trend": ranking.trend_log_ratio(draw["recent"], draw["earlier"], n_recent,
                                             n_earlier),
            "deprivation": need_imd, "young_people": young}
        if partner_values is not None:
            cols[PARTNER_COMPONENT] = partner_values
        return cols

    indicators = pd.DataFrame(build({"recent": recent, "earlier": earlier}),
                              index=areas["code"])
    composite = ranking.composite(indicators, weights, method)
    sensitivity_table, weight_ranks = ranking.weight_sensitivity(indicators, weights, method)
    uncertainty = ranking.rank_uncertainty({"recent": recent, "earlier": earlier}, build,
                                           weights, method, n_sim=n_sim, seed=seed, top_k=top_k)
    change = compare_counts(pd.DataFrame({"code": areas["code"].to_numpy(),
                                          "before": earlier.astype(int),
                                          "after": recent.astype(int)}), alpha=sig.alpha,
                            fdr=sig.fdr) if recent.sum() and earlier.sum() else None
    rows = []
    for i, code in enumerate(areas["code"]):
        row = {"code": code, "name": areas["name"].iat[i],
               "rank": int(composite["rank"].iat[i]), "score": _r(composite["score"].iat[i]),
               "rank_best_weights_pm50": int(weight_ranks["rank_best"].iat[i]),
               "rank_worst_weights_pm50": int(weight_ranks["rank_worst"].iat[i]),
               "sensitivity": {name: [int(sensitivity_table[f"{name} x0.5"].iat[i]),
                                      int(sensitivity_table[f"{name} x1.5"].iat[i])]
                               for name, weight in weights.items() if weight > 0},
               "rank_p05_poisson": int(uncertainty.rank_p05[i]),
               "rank_p95_poisson": int(uncertainty.rank_p95[i]),
               "p_top_k": round(float(uncertainty.p_top_k[i]), 4),
               "offences": int(counts[i]), "population_2015": int(population[i]),
               "rate_per_1000_raw": round(counts[i] / population[i] * 1000, 3),
               "offences_recent": int(recent[i]), "offences_earlier": int(earlier[i]),
               "trend_p_two_sided": None if change is None
               else _r(change["p_two_sided"].iat[i]),
               "trend_significant": None if change is None
               else bool(change["significant"].iat[i])}
        for name in (*DEFAULT_WEIGHTS, PARTNER_COMPONENT):
            std, contribution = f"std_{name}", f"contribution_{name}"
            if name not in indicators:
                row[name] = row[std] = row[contribution] = None
                continue
            row[name] = _r(indicators[name].iat[i])
            row[std] = _r(composite[std].iat[i]) if std in composite else None
            row[contribution] = (_r(composite[contribution].iat[i])
                                 if contribution in composite else None)
        for column in ("imd_rank", "income_rank", "employment_rank", "education_rank",
                       "health_rank", "crime_rank", "housing_rank", "living_environment_rank"):
            row[column] = _r(profile[column].iat[i], 1)
        row["children_0_15_2015"] = int(profile["population_0_15_2015"].iat[i])
        row["census21_age_0_24"] = (None if not np.isfinite(profile["census21_total"].iat[i])
                                    else int(profile["census21_age_0_15"].iat[i]
                                             + profile["census21_age_16_24"].iat[i]))
        rows.append(row)
    rows.sort(key=lambda row: (row["rank"], row["code"]))
    warnings = [("The IMD Crime domain (crime_rank) overlaps the violence rate: it is shown "
                 "for context and not used in the score; deprivation uses the overall IMD "
                 "rank, which includes it with a 9.3% weight."),
                ("Rates per resident are inflated where many people visit but few live (the "
                 "city centre, Castle ward): read them with the hot spot share."),
                ("This is a shortlist for community engagement, not a decision: talk to the "
                 "neighbourhoods, and read the rank ranges before the ranks.")]
    meta = svc.meta(flt, analysis="people_zones", extra_warnings=warnings, layer=layer,
                    study_area="city", weights=weights, method=method,
                    components=COMPONENT_DOC, trend_months_recent=n_recent,
                    trend_months_earlier=n_earlier, n_sim=n_sim, seed=seed, top_k=top_k,
                    profile_note=PROFILE_NOTE, hot_spot_definition=_hot_definition(sig),
                    partner_indicator=None if partner_meta is None else asdict(partner_meta),
                    sensitivity="each weight alone x0.5 and x1.5; best and worst rank over "
                                "all variations",
                    uncertainty=f"{n_sim} Poisson redraws of the recent and earlier counts "
                                "(rates, smoothing and trend recomputed); 5th-95th percentile "
                                "rank and share of draws in the top k")
    return PeopleZones(meta=meta, areas=rows)


def _r(v, nd: int = 6):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return round(f, nd) if np.isfinite(f) else None


def _city_areas(svc: Service, layer: str) -> pd.DataFrame:
    g = svc.boundaries.get(layer).gdf
    if layer == "lsoa":
        city = study_area_m(svc, "city")
        g = g[shapely.contains_xy(city, *np.asarray(
            shapely.get_coordinates(g.geometry.representative_point().values)).T)]
    return g.reset_index(drop=True)


def _layer_counts(svc: Service, layer: str, areas: pd.DataFrame, flt: OffenceFilter
                  ) -> np.ndarray:
    c, _ = svc.store.area_counts(layer, flt)
    return areas["code"].map(c.set_index("code")["count"]).fillna(0).to_numpy(float)


def _period_months(svc: Service, flt: OffenceFilter) -> list[str]:
    loaded = svc.store.months_loaded()
    req = requested_months(flt, loaded)
    return [m for m in (loaded if req is None else req) if m in loaded]


def _split(flt: OffenceFilter, months: list[str], n_recent: int) -> OffenceFilter:
    """The filter narrowed to its last ``n_recent`` loaded months."""
    first = months[-n_recent]
    start = datetime(int(first[:4]), int(first[5:7]), 1)
    return replace(flt, start=max(start, flt.start) if flt.start else start)


def _hot_share(areas: pd.DataFrame, hot: pd.DataFrame) -> np.ndarray:
    """Share of each area inside the hot cells' hexagons."""
    if hot.empty:
        return np.zeros(len(areas))
    polys = []
    for c in hot["id"]:
        ring = np.array([(lo, la) for la, lo in h3.cell_to_boundary(c)])
        x, y = lonlat_to_metric(ring[:, 0], ring[:, 1])
        polys.append(shapely.Polygon(np.column_stack([x, y])))
    union = shapely.union_all(polys)
    geoms = areas.geometry.values
    return np.asarray(shapely.area(shapely.intersection(geoms, union))
                      / shapely.area(geoms), dtype=float)


def people_zones_geojson(svc: Service, zones: PeopleZones) -> dict[str, Any]:
    """The People Zone table as lon/lat polygons (RFC 7946) with every column."""

    layer = zones.meta["layer"]
    polygons = to_io(svc.boundaries.get(layer).gdf[["code", "geometry"]]).set_index("code")
    features = [{"type": "Feature",
                 "geometry": polygons.geometry.loc[area["code"]].__geo_interface__,
                 "properties": area} for area in zones.areas]
    return {"type": "FeatureCollection", "features": features, "meta": zones.meta}


@dataclass(frozen=True)
class PlanningView:
    """What the planner's map shows (``planning_view``)."""

    siting: NextKits  # the next_kits answer: meta, summary, sites (proposed kits, in order)
    zones: PeopleZones  # the people_zones answer: meta, areas (ranked)
    demand: DemandInfo  # the offences weighed (one point per distinct location)
    covered: np.ndarray  # per demand point: within reach of an existing or proposed kit
    existing: pd.DataFrame | None  # the existing kits (None: none given)
    n_hot_cells: int  # Gi* hot cells in the city
    hot_out_of_reach: list[dict]  # those farther than the radius from every kit
    hot_spot_definition: str
    # Gi* hot cells no existing kit reaches (as GET /plan/kits/coverage?sites=<existing>
    # counts them; None without existing kits), and those only the proposed kits reach
    hot_out_of_reach_existing: int | None = None
    hot_reached_by_proposed: list[dict] = field(default_factory=list)


def _hot_rows(cells: pd.DataFrame) -> list[dict]:
    return [{"id": cell.id, "count": int(cell.count), "label": cell.label,
             "distance_to_nearest_site_m": float(cell.distance_to_nearest_site_m)}
            for cell in cells.itertuples()]


def planning_view(svc: Service, flt: OffenceFilter, *, p: int, candidates: str,
                  existing: str | None, radius_m: float, distance: str, layer: str,
                  sig: Significance | None = None) -> PlanningView:
    """Everything the planner's map shows: proposed kits, covered/uncovered demand with
    existing + proposed kits, hot spots out of reach of the existing kits (as
    ``kit_coverage`` counts them) and of them all, People Zone ranking."""
    sig = sig or Significance()
    siting_answer, inputs, solution = _next_kits(svc, flt, p=p, candidates=candidates,
                                                 existing=existing, radius_m=radius_m,
                                                 distance=distance, half_life_months=None,
                                                 study_area="city", time_limit_s=30.0)
    chosen = inputs.candidates.iloc[solution.chosen]
    all_sites = (pd.concat([inputs.existing, chosen]) if inputs.existing is not None
                 else chosen)
    hot = _hot_cells(svc, flt, "city", sig)  # computed once: the zones reuse it
    out_of_reach = _out_of_reach(hot, inputs.dist, _xy(all_sites), radius_m)
    existing_xy = _xy(inputs.existing) if inputs.existing is not None else np.empty((0, 2))
    out_existing = _out_of_reach(hot, inputs.dist, existing_xy, radius_m)
    n_existing_out = len(out_existing) if inputs.existing is not None else None
    by_proposed = out_existing[~out_existing["id"].isin(out_of_reach["id"])]
    zones = people_zones(svc, flt, layer=layer, sig=sig, n_sim=200, hot=hot)
    return PlanningView(siting=siting_answer, zones=zones, demand=inputs.demand_info,
                        covered=_covered_mask(inputs, solution), existing=inputs.existing,
                        n_hot_cells=len(hot), hot_out_of_reach=_hot_rows(out_of_reach),
                        hot_spot_definition=_hot_definition(sig),
                        hot_out_of_reach_existing=n_existing_out,
                        hot_reached_by_proposed=_hot_rows(by_proposed))
