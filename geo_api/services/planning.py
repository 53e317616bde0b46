"""Planning use cases: bleed-control kit coverage and siting, People Zone candidate ranking.

Demand is the offences matching the filter (default group violence_robbery_weapons), one
point per distinct location (police.uk map points are already aggregated), optionally
recency-weighted. Sites and candidates are named sets: ``police_points`` (the police.uk map
points in the loaded data), ``postcodes`` (OS Code-Point Open unit postcodes), ``schools``
(the shipped GIAS list) or an uploaded site set.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime

import h3
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

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


def site_set(svc: Service, name: str, study_area: str) -> tuple[pd.DataFrame, str]:
    """Sites of a named set inside the study area: name, kind, x_m, y_m, lon, lat."""
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
def kit_coverage(svc: Service, flt: OffenceFilter, *, sites: str, radius_m: float,
                 distance: str = "straight", half_life_months: float | None = None,
                 study_area: str = "city", sig: Significance | None = None) -> dict:
    """Per site: offences within the radius; totals; uncovered demand; uncovered hot spots."""
    sig = sig or Significance()
    d = _base(svc, flt, study_area, half_life_months)
    dist = Distance(svc, distance)
    s, desc = site_set(svc, sites, study_area)
    if s.empty:
        raise InvalidParameter(f"sites: the set {sites!r} has no sites in the study area")
    c = cov.site_coverage(dist.within(d.demand.xy, _xy(s), radius_m), d.demand)
    hot = _hot_cells(svc, flt, study_area, sig)
    unc = _out_of_reach(hot, dist, _xy(s), radius_m)
    rows = [{"name": r.name, "kind": r.kind, "lon": round(r.lon, 6), "lat": round(r.lat, 6),
             "offences_within": int(n), "demand_within": round(float(w), 3),
             "share_of_demand": round(float(w) / d.demand.total, 6),
             "demand_only_this_site": round(float(x), 3)}
            for r, n, w, x in zip(s.itertuples(), c.per_site_n, c.per_site_weight,
                                  c.per_site_exclusive_weight)]
    n_cov = int(d.demand.n[c.covered].sum())
    meta = _meta(svc, flt, "kit_coverage", d, dist, study_area, radius_m=radius_m,
                 sites=sites, sites_description=desc, n_sites=len(s),
                 hot_spot_definition=_hot_definition(sig))
    return {"meta": meta, "sites": rows, "totals": {
        "n_offences": d.n_offences, "n_locations": len(d.demand),
        "demand_total": round(d.demand.total, 3),
        "offences_covered": n_cov, "offences_not_covered": d.n_offences - n_cov,
        "demand_covered": round(c.covered_weight, 3),
        "covered_share": round(c.covered_share, 6),
        "n_hot_cells": len(hot), "n_hot_cells_uncovered": len(unc)},
        "uncovered_hot_spots": [
            {"id": r.id, "count": int(r.count), "label": r.label,
             "distance_to_nearest_site_m": float(r.distance_to_nearest_site_m),
             **_lonlat(r.x_m, r.y_m)} for r in unc.itertuples()]}


def _out_of_reach(hot: pd.DataFrame, dist: Distance, site_xy: np.ndarray, radius_m: float
                  ) -> pd.DataFrame:
    """Hot cells whose centre is farther than ``radius_m`` from every site, with that
    distance (``distance_to_nearest_site_m``; inf without sites)."""
    near = (dist.nearest(hot[["x_m", "y_m"]].to_numpy(float), site_xy)
            if len(hot) and len(site_xy) else np.full(len(hot), np.inf))
    return hot.assign(distance_to_nearest_site_m=np.round(near, 1))[near > radius_m]


def _lonlat(x: float, y: float) -> dict:
    lon, lat = metric_to_lonlat(np.array([x]), np.array([y]))
    return {"lon": round(float(lon[0]), 6), "lat": round(float(lat[0]), 6)}


def _hot_definition(sig: Significance) -> str:
    return (f"H3 resolution 9 cells (k=1) labelled hot by Gi* at {1 - sig.alpha:.0%} "
            f"({'Benjamini-Hochberg FDR' if sig.fdr else 'no FDR'}, {sig.permutations} "
            f"permutations, seed {sig.seed}); uncovered = cell centre farther than the radius "
            "from every site")


def _meta(svc, flt, analysis, d: DemandInfo, dist: Distance, study_area, **params) -> dict:
    return svc.meta(flt, analysis=analysis, study_area=study_area,
                    distance=dist.kind, distance_source=dist.source,
                    demand_definition=d.describe(), half_life_months=d.half_life_months,
                    **params)


def coverage_curve(svc: Service, flt: OffenceFilter, *, sites: str,
                   radii_m: list[float], distance: str = "straight",
                   half_life_months: float | None = None, study_area: str = "city") -> dict:
    """Share of demand within each radius of the nearest site."""
    d = _base(svc, flt, study_area, half_life_months)
    dist = Distance(svc, distance)
    s, desc = site_set(svc, sites, study_area)
    near = dist.nearest(d.demand.xy, _xy(s), limit_m=max(radii_m))
    shares = cov.coverage_curve(near, d.demand.weight, np.asarray(radii_m, float))
    counts = [int(d.demand.n[near <= r * (1 + 1e-12)].sum()) for r in radii_m]
    return {"meta": _meta(svc, flt, "coverage_curve", d, dist, study_area, sites=sites,
                          sites_description=desc, n_sites=len(s)),
            "curve": [{"radius_m": float(r), "covered_share": round(float(v), 6),
                       "offences_covered": n} for r, v, n in zip(radii_m, shares, counts)]}


# -- siting ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SitingInputs:
    d: DemandInfo
    dist: Distance
    cand: pd.DataFrame
    cand_desc: str
    existing: pd.DataFrame | None
    cover: sp.csr_matrix  # demand points x candidates: within the radius
    base: np.ndarray


def _siting_inputs(svc, flt, *, candidates, existing, radius_m, distance, half_life_months,
                   study_area) -> SitingInputs:
    d = _base(svc, flt, study_area, half_life_months)
    dist = Distance(svc, distance)
    cand, desc = site_set(svc, candidates, study_area)
    if cand.empty:
        raise InvalidParameter(f"candidates: the set {candidates!r} has no sites in the study "
                               "area")
    ex = None
    base = np.zeros(len(d.demand), dtype=bool)
    if existing:
        ex, _ = site_set(svc, existing, study_area)
        if len(ex):
            base = np.asarray(dist.within(d.demand.xy, _xy(ex), radius_m).sum(axis=1)
                              ).ravel() > 0
    return SitingInputs(d, dist, cand, desc, ex, dist.within(d.demand.xy, _xy(cand), radius_m),
                        base)


def _siting_meta(svc, flt, analysis, si: SitingInputs, study_area, *, candidates, existing,
                 radius_m, res: siting.SitingResult, **extra) -> dict:
    return _meta(svc, flt, analysis, si.d, si.dist, study_area, radius_m=radius_m,
                 candidates=candidates, candidates_description=si.cand_desc,
                 n_candidates=len(si.cand), existing=existing,
                 n_existing=0 if si.existing is None else len(si.existing),
                 solver={"status": res.status, "gap": round(res.gap, 8),
                         "bound_share": round(res.bound_share, 6),
                         "solve_s": round(res.solve_s, 3),
                         **{k: v for k, v in res.model.items() if k != "formulation"}},
                 formulation=res.model.get("formulation") or res.model.get("method"), **extra)


def _chosen_rows(si: SitingInputs, res: siting.SitingResult) -> list[dict]:
    total = si.d.demand.total
    done = si.base.copy()
    rows, cum = [], res.existing_covered_weight
    cover = si.cover.tocsc()
    for rank, (j, gain) in enumerate(zip(res.chosen, res.marginal_weight), start=1):
        r = si.cand.iloc[int(j)]
        rows_j = cover.indices[cover.indptr[j]:cover.indptr[j + 1]]
        new = rows_j[~done[rows_j]]
        done[rows_j] = True
        cum += gain
        rows.append({"rank": rank, "name": str(r["name"]), "kind": str(r["kind"]),
                     "lon": round(float(r["lon"]), 6), "lat": round(float(r["lat"]), 6),
                     "added_offences": int(si.d.demand.n[new].sum()),
                     "added_demand": round(float(gain), 3),
                     "added_share": round(float(gain) / total, 6),
                     "cumulative_share": round(float(cum) / total, 6)})
    return rows


def next_kits(svc: Service, flt: OffenceFilter, *, p: int, candidates: str = "police_points",
              existing: str | None = None, radius_m: float = 200.0, distance: str = "straight",
              half_life_months: float | None = None, study_area: str = "city",
              time_limit_s: float = 30.0) -> dict:
    """Maximal covering: the ``p`` new sites that cover the most demand, existing kept."""
    return _next_kits(svc, flt, p=p, candidates=candidates, existing=existing,
                      radius_m=radius_m, distance=distance, half_life_months=half_life_months,
                      study_area=study_area, time_limit_s=time_limit_s)[0]


def _next_kits(svc: Service, flt: OffenceFilter, *, p: int, candidates: str,
               existing: str | None, radius_m: float, distance: str,
               half_life_months: float | None, study_area: str, time_limit_s: float
               ) -> tuple[dict, SitingInputs, siting.SitingResult]:
    """``next_kits``'s answer, with the inputs and the solver's result it came from (the
    planner's map draws what they cover)."""
    if not 1 <= p <= MAX_P:
        raise InvalidParameter(f"p must be 1..{MAX_P}")
    si = _siting_inputs(svc, flt, candidates=candidates, existing=existing, radius_m=radius_m,
                        distance=distance, half_life_months=half_life_months,
                        study_area=study_area)
    res = siting.mclp(si.cover, si.d.demand.weight, p, covered_by_existing=si.base,
                      time_limit_s=time_limit_s)
    meta = _siting_meta(svc, flt, "mclp", si, study_area, candidates=candidates,
                        existing=existing, radius_m=radius_m, res=res, p=p,
                        time_limit_s=time_limit_s)
    if len(res.chosen) < p:
        meta["warnings"] = meta["warnings"] + [
            (f"only {len(res.chosen)} candidate sites add any demand within {radius_m:g} m "
             f"that existing kits do not already reach; more than {len(res.chosen)} new kits "
             "from this candidate set would add nothing")]
    return {"meta": meta, "summary": _summary(si, res), "sites": _chosen_rows(si, res)}, si, res


def _summary(si: SitingInputs, res: siting.SitingResult) -> dict:
    total = si.d.demand.total
    return {"covered_share_existing": round(res.existing_covered_weight / total, 6),
            "covered_share": round(res.covered_share, 6),
            "covered_share_bound": round(res.bound_share, 6),
            "n_new_sites": len(res.chosen), "status": res.status,
            "offences_total": si.d.n_offences,
            "offences_covered": int(si.d.demand.n[_covered_mask(si, res)].sum())}


def _covered_mask(si: SitingInputs, res: siting.SitingResult) -> np.ndarray:
    m = si.base.copy()
    if len(res.chosen):
        m |= np.asarray(si.cover[:, res.chosen].sum(axis=1)).ravel() > 0
    return m


def how_many(svc: Service, flt: OffenceFilter, *, target_share: float,
             candidates: str = "police_points", existing: str | None = None,
             radius_m: float = 200.0, distance: str = "straight",
             half_life_months: float | None = None, study_area: str = "city",
             time_limit_s: float = 60.0) -> dict:
    """Partial set covering: the fewest new sites so that target_share of demand is covered."""
    si = _siting_inputs(svc, flt, candidates=candidates, existing=existing, radius_m=radius_m,
                        distance=distance, half_life_months=half_life_months,
                        study_area=study_area)
    res = siting.lscp(si.cover, si.d.demand.weight, target_share, covered_by_existing=si.base,
                      time_limit_s=time_limit_s)
    warnings = []
    if res.status == "infeasible":
        warnings.append(f"the target {target_share:.0%} cannot be reached with these "
                        f"candidates at {radius_m:g} m: at most {res.bound_share:.1%} of demand "
                        "is within reach of any candidate")
    meta = _siting_meta(svc, flt, "lscp", si, study_area, candidates=candidates,
                        existing=existing, radius_m=radius_m, res=res,
                        target_share=target_share, time_limit_s=time_limit_s)
    meta["warnings"] = meta["warnings"] + warnings
    return {"meta": meta, "summary": {**_summary(si, res),
                                      "sites_lower_bound": res.model.get("sites_lower_bound")},
            "sites": [] if res.status == "infeasible" else _chosen_rows(si, res)}


def p_curve(svc: Service, flt: OffenceFilter, *, max_p: int, candidates: str = "police_points",
            existing: str | None = None, radius_m: float = 200.0, distance: str = "straight",
            half_life_months: float | None = None, study_area: str = "city",
            time_limit_s: float = 60.0, method: str = "bounds") -> dict:
    """Covered share for p = 1..max_p new sites: ``exact`` (each p an exact MCLP optimum,
    within ``time_limit_s`` overall) or ``bounds`` (fast: a real choice of sites for each p
    and a proven upper bound on what any choice could cover)."""
    if method not in ("exact", "bounds"):
        raise InvalidParameter("method must be exact or bounds")
    if not 1 <= max_p <= MAX_P:
        raise InvalidParameter(f"max_p must be 1..{MAX_P}")
    si = _siting_inputs(svc, flt, candidates=candidates, existing=existing, radius_m=radius_m,
                        distance=distance, half_life_months=half_life_months,
                        study_area=study_area)
    if method == "exact":
        curve = siting.p_curve(si.cover, si.d.demand.weight, max_p,
                               covered_by_existing=si.base, time_limit_s=time_limit_s)
    else:
        curve = siting.p_curve_bounds(si.cover, si.d.demand.weight, max_p,
                                      covered_by_existing=si.base)
    total = si.d.demand.total
    rows = [{"p": p, "covered_share": round(r.covered_share, 6),
             "covered_share_bound": round(r.bound_share, 6),
             "added_share": round((r.covered_weight - (curve[p - 2].covered_weight if p > 1
                                                       else r.existing_covered_weight)) / total, 6),
             "status": r.status, "gap": round(r.gap, 8)} for p, r in enumerate(curve, start=1)]
    meta = _siting_meta(svc, flt, "p_curve", si, study_area, candidates=candidates,
                        existing=existing, radius_m=radius_m, res=curve[-1], max_p=max_p,
                        time_limit_s=time_limit_s if method == "exact" else None,
                        curve_method=method)
    return {"meta": meta, "covered_share_existing": round(curve[0].existing_covered_weight
                                                          / total, 6), "curve": rows}


# -- People Zones ------------------------------------------------------------------------
PEOPLE_ZONE_LAYERS = ("ward", "lsoa", "npa")


def people_zones(svc: Service, flt: OffenceFilter, *, layer: str = "ward",
                 weights: dict[str, float] | None = None, method: str = "z",
                 trend_months: int = 3, n_sim: int = 500, seed: int = DEFAULT_SEED, top_k: int = 5,
                 hot: pd.DataFrame | None = None,
                 sig: Significance | None = None, partner=None) -> dict:
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
    pop = profile["population_2015"].to_numpy(float)
    if np.any(~(pop > 0)):
        raise InvalidParameter(f"layer {layer}: some areas have no resident population to "
                               "rate by (user polygons without LSOA best fit?)")
    months = _period_months(svc, flt)
    if len(months) < 2:
        raise InvalidParameter("People Zone trend needs a period of at least 2 loaded months")
    trend_months = min(trend_months, len(months) - 1)
    recent_f = _split(flt, months, trend_months)
    counts = _layer_counts(svc, layer, areas, flt)
    recent = _layer_counts(svc, layer, areas, recent_f)
    earlier = counts - recent
    hot_share = _hot_share(areas, _hot_cells(svc, flt, "city", sig) if hot is None else hot)
    young = np.where(profile["census21_total"] > 0,
                     (profile["census21_age_0_15"] + profile["census21_age_16_24"])
                     / profile["census21_total"],
                     profile["population_0_15_2015"] / profile["population_2015"])
    need_imd = (N_LSOA_ENGLAND + 1) - profile["imd_rank"].to_numpy(float)
    n_rec, n_ear = trend_months, len(months) - trend_months
    partner_values, partner_meta = None, None
    if partner is not None:
        partner_values, partner_meta = people_zone_component(svc, partner[0], partner[1],
                                                             areas, layer, pop)

    def build(draw):
        cols = {
            "violence_rate": ranking.eb_rates(draw["recent"] + draw["earlier"], pop) * 1000,
            "hot_spot_share": hot_share,
            "trend": ranking.trend_log_ratio(draw["recent"], draw["earlier"], n_rec, n_ear),
            "deprivation": need_imd, "young_people": young}
        if partner_values is not None:
            cols[PARTNER_COMPONENT] = partner_values
        return pd.DataFrame(cols, index=areas["code"])

    ind = build({"recent": recent, "earlier": earlier})
    comp = ranking.composite(ind, weights, method)
    sens_table, sens = ranking.weight_sensitivity(ind, weights, method)
    unc = ranking.rank_uncertainty({"recent": recent, "earlier": earlier}, build, weights,
                                   method, n_sim=n_sim, seed=seed, top_k=top_k)
    change = compare_counts(pd.DataFrame({"code": areas["code"].to_numpy(),
                                          "before": earlier.astype(int),
                                          "after": recent.astype(int)}), alpha=sig.alpha,
                            fdr=sig.fdr) if recent.sum() and earlier.sum() else None
    rows = []
    for i, code in enumerate(areas["code"]):
        rec = {"code": code, "name": areas["name"].iat[i],
               "rank": int(comp["rank"].iat[i]), "score": _r(comp["score"].iat[i]),
               "rank_best_weights_pm50": int(sens["rank_best"].iat[i]),
               "rank_worst_weights_pm50": int(sens["rank_worst"].iat[i]),
               "sensitivity": {n: [int(sens_table[f"{n} x0.5"].iat[i]),
                                   int(sens_table[f"{n} x1.5"].iat[i])]
                               for n, w in weights.items() if w > 0},
               "rank_p05_poisson": int(unc.rank_p05[i]), "rank_p95_poisson": int(unc.rank_p95[i]),
               "p_top_k": round(float(unc.p_top_k[i]), 4),
               "offences": int(counts[i]), "population_2015": int(pop[i]),
               "rate_per_1000_raw": round(counts[i] / pop[i] * 1000, 3),
               "offences_recent": int(recent[i]), "offences_earlier": int(earlier[i]),
               "trend_p_two_sided": None if change is None
               else _r(change["p_two_sided"].iat[i]),
               "trend_significant": None if change is None
               else bool(change["significant"].iat[i])}
        for n in (*DEFAULT_WEIGHTS, PARTNER_COMPONENT):
            if n not in ind:
                rec[n] = rec[f"std_{n}"] = rec[f"contribution_{n}"] = None
                continue
            rec[n] = _r(ind[n].iat[i])
            rec[f"std_{n}"] = _r(comp[f"std_{n}"].iat[i]) if f"std_{n}" in comp else None
            rec[f"contribution_{n}"] = (_r(comp[f"contribution_{n}"].iat[i])
                                        if f"contribution_{n}" in comp else None)
        for k in ("imd_rank", "income_rank", "employment_rank", "education_rank",
                  "health_rank", "crime_rank", "housing_rank", "living_environment_rank"):
            rec[k] = _r(profile[k].iat[i], 1)
        rec["children_0_15_2015"] = int(profile["population_0_15_2015"].iat[i])
        rec["census21_age_0_24"] = (None if not np.isfinite(profile["census21_total"].iat[i])
                                    else int(profile["census21_age_0_15"].iat[i]
                                             + profile["census21_age_16_24"].iat[i]))
        rows.append(rec)
    rows.sort(key=lambda r: (r["rank"], r["code"]))
    warnings = [("The IMD Crime domain (crime_rank) overlaps the violence rate: it is shown "
                 "for context and not used in the score; deprivation uses the overall IMD "
                 "rank, which includes it with a 9.3% weight."),
                ("Rates per resident are inflated where many people visit but few live (the "
                 "city centre, Castle ward): read them with the hot spot share."),
                ("This is a shortlist for community engagement, not a decision: talk to the "
                 "neighbourhoods, and read the rank ranges before the ranks.")]
    meta = svc.meta(flt, analysis="people_zones", extra_warnings=warnings, layer=layer,
                    study_area="city", weights=weights, method=method,
                    components=COMPONENT_DOC, trend_months_recent=n_rec,
                    trend_months_earlier=n_ear, n_sim=n_sim, seed=seed, top_k=top_k,
                    profile_note=PROFILE_NOTE, hot_spot_definition=_hot_definition(sig),
                    partner_indicator=None if partner_meta is None else asdict(partner_meta),
                    sensitivity="each weight alone x0.5 and x1.5; best and worst rank over "
                                "all variations",
                    uncertainty=f"{n_sim} Poisson redraws of the recent and earlier counts "
                                "(rates, smoothing and trend recomputed); 5th-95th percentile "
                                "rank and share of draws in the top k")
    return {"meta": meta, "areas": rows}


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


def people_zones_geojson(svc: Service, result: dict) -> dict:
    """The People Zone table as lon/lat polygons (RFC 7946) with every column."""

    layer = result["meta"]["layer"]
    g = to_io(svc.boundaries.get(layer).gdf[["code", "geometry"]]).set_index("code")
    feats = [{"type": "Feature", "geometry": g.geometry.loc[r["code"]].__geo_interface__,
              "properties": r} for r in result["areas"]]
    return {"type": "FeatureCollection", "features": feats, "meta": result["meta"]}


@dataclass(frozen=True)
class PlanningView:
    """What the planner's map shows (``planning_view``)."""

    siting: dict  # the next_kits answer: meta, summary, sites (proposed kits, in order)
    zones: dict  # the people_zones answer: meta, areas (ranked)
    demand: DemandInfo  # the offences weighed (one point per distinct location)
    covered: np.ndarray  # per demand point: within reach of an existing or proposed kit
    existing: pd.DataFrame | None  # the existing kits (None: none given)
    n_hot_cells: int  # Gi* hot cells in the city
    hot_out_of_reach: list[dict]  # those farther than the radius from every kit
    hot_spot_definition: str


def planning_view(svc: Service, flt: OffenceFilter, *, p: int, candidates: str,
                  existing: str | None, radius_m: float, distance: str, layer: str,
                  sig: Significance | None = None) -> PlanningView:
    """Everything the planner's map shows: proposed kits, covered/uncovered demand with
    existing + proposed kits, hot spots out of reach of them all, People Zone ranking."""
    sig = sig or Significance()
    siting_answer, si, res = _next_kits(svc, flt, p=p, candidates=candidates,
                                        existing=existing, radius_m=radius_m,
                                        distance=distance, half_life_months=None,
                                        study_area="city", time_limit_s=30.0)
    chosen = si.cand.iloc[res.chosen]
    all_sites = pd.concat([si.existing, chosen]) if si.existing is not None else chosen
    hot = _hot_cells(svc, flt, "city", sig)  # computed once: the zones reuse it
    unc = _out_of_reach(hot, si.dist, _xy(all_sites), radius_m)
    out_of_reach = [{"id": r.id, "count": int(r.count), "label": r.label,
                     "distance_to_nearest_site_m": float(r.distance_to_nearest_site_m)}
                    for r in unc.itertuples()]
    zones = people_zones(svc, flt, layer=layer, sig=sig, n_sim=200, hot=hot)
    return PlanningView(siting=siting_answer, zones=zones, demand=si.d,
                        covered=_covered_mask(si, res), existing=si.existing,
                        n_hot_cells=len(hot), hot_out_of_reach=out_of_reach,
                        hot_spot_definition=_hot_definition(sig))
