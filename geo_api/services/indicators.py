"""Partner indicators: counts that partners share by area (school exclusions, A&E assault
attendances, first-time entrants to youth justice...), set beside police hot spots.

An upload is a CSV of counts keyed by one of: a postcode sector (``LE1 1``; ``LE11``,
``le1  1`` and other spacings accepted: a sector is its outward code plus one digit), a full
postcode (counted in its sector; a postcode not in the shipped Code-Point Open is refused by
line unless ``unknown_postcodes=by_sector``), an LSOA 2011 code, an LSOA 2021 code (Leicester
city: through the shipped APPROXIMATE 2021->2011 crosswalk; splits are summed into their
2011 LSOA, the one 3->3 redraw is refused) or a ward code. Optional ``denominator`` (for a
rate) and ``period`` columns. Faults are reported by line and field; a faulty file is
rejected whole and nothing is stored.

Every indicator carries its own disclosure rule (NHS practice by default: counts 1-7
suppressed, others rounded to 5) applied to every output except to its owner and admins.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geo_api.analysis.defaults import DEFAULT_SEED
from geo_api.analysis.grids import h3_polygons_lonlat
from geo_api.crs import METRIC_EPSG
from geo_api.data.boundaries_build import read_postcodes
from geo_api.errors import IngestRejected, InvalidParameter, RowError
from geo_api.services import hotspots as h
from geo_api.services.kernels import keep_esda_kernels
from geo_api.services.sites import SiteSets, body_rows, read_table
from geo_api.services.units import UnitSpec

LAYER_OF_KEY = {"sector": "sector", "postcode": "sector", "lsoa11": "lsoa", "lsoa21": "lsoa",
                "ward": "ward"}
KEY_ALIASES = {
    "sector": ("sector", "postcode sector", "pcd sector", "pcds"),
    "postcode": ("postcode", "post code", "full postcode", "pcd"),
    "lsoa11": ("lsoa", "lsoa11", "lsoa11cd", "lsoa code", "lsoa 2011", "lsoa11 code"),
    "lsoa21": ("lsoa21", "lsoa21cd", "lsoa 2021", "lsoa21 code"),
    "ward": ("ward", "ward code", "wd22cd", "wardcode"),
}
VALUE_ALIASES = {"count": ("count", "n", "number", "value"),
                 "denominator": ("denominator", "population", "pupils", "base"),
                 "period": ("period", "year", "month")}
COLUMN_OF = {a: c for c, names in {**KEY_ALIASES, **VALUE_ALIASES}.items() for a in names}
COLUMNS = ["layer", "code", "period", "count", "denominator"]
MAX_ROWS = 50_000
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9])([A-Z]{2})$")
_SECTOR = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9])$")


def sector_code(text: str) -> str | None:
    """'LE1 1' for 'LE1 1', 'le11', 'LE1  1' (a sector is outward code + one digit, so
    the last digit is the sector whatever the spacing); None if it is not one."""
    m = _SECTOR.match(re.sub(r"\s+", "", text).upper())
    return f"{m[1]} {m[2]}" if m else None


def postcode_sector(text: str) -> tuple[str, str] | None:
    """(normalised postcode, its sector) for a full postcode in any spacing; else None."""
    pc = re.sub(r"\s+", "", text).upper()
    m = _POSTCODE.match(pc)
    return (pc, f"{m[1]} {m[2]}") if m else None


@dataclass
class Lookups:
    """What codes are valid here (from the shipped boundaries and postcodes)."""

    sectors: set[str]
    lsoa11: set[str]
    wards: set[str]
    postcodes: set[str] = field(default_factory=set)  # normalised, no spaces
    lsoa21_to_11: dict[str, str] = field(default_factory=dict)  # GROUP_... = redrawn


def _column(header: str) -> str:
    key = re.sub(r"[\s_-]+", " ", header.strip().lower()).strip()
    return COLUMN_OF.get(key, key)


def parse_indicator_csv(data: bytes, source: str, lookups: Lookups,
                        unknown_postcodes: str = "reject") -> tuple[pd.DataFrame, list[str]]:
    """(rows: layer, code, period, count, denominator - summed per area and period;
    warnings) of an uploaded indicator. Raises IngestRejected naming lines and fields."""
    rows, delimiter = read_table(data, source)
    header = [_column(c) for c in rows[0]]
    keys = [c for c in header if c in KEY_ALIASES]
    problems = _header_problems(header, keys)
    if problems:
        raise IngestRejected(source=source, errors=problems)
    key = keys[0]
    errors: list[RowError] = []
    warnings: list[str] = []
    out = []
    for line, r in body_rows(rows, source, "rows", MAX_ROWS):
        row = _indicator_row(line, r, header, key, lookups, unknown_postcodes, delimiter,
                             errors, warnings)
        if row is not None:
            out.append(row)
    if errors:
        raise IngestRejected(source=source, errors=errors)
    df = pd.DataFrame(out, columns=COLUMNS)
    agg = df.groupby(["layer", "code", "period"], as_index=False).agg(
        count=("count", "sum"),
        denominator=("denominator", lambda s: s.sum() if s.notna().all() else np.nan))
    agg["count"] = agg["count"].astype(int)
    return agg[COLUMNS], warnings


def _header_problems(header: list[str], keys: list[str]) -> list[RowError]:
    """What is wrong with an indicator file's header (line 1)."""
    problems = [RowError(1, c, "unknown column", c) for c in header
                if c not in KEY_ALIASES and c not in VALUE_ALIASES]
    problems += [RowError(1, c, "duplicate column") for c in set(header) if header.count(c) > 1]
    if len(set(keys)) != 1:
        problems.append(RowError(1, None, "give exactly one area column: sector, postcode, "
                                          "lsoa (2011), lsoa21 or ward"))
    if "count" not in header:
        problems.append(RowError(1, "count", "missing column"))
    return problems


def _indicator_row(line: int, r: list[str], header: list[str], key: str, lookups: Lookups,
                   unknown_postcodes: str, delimiter: str, errors: list[RowError],
                   warnings: list[str]) -> tuple | None:
    """One row as (layer, code, period, count, denominator), or None; what is wrong with it
    added to ``errors``, what was assumed to ``warnings``."""
    if len(r) != len(header):
        errors.append(RowError(line, None, f"expected {len(header)} fields, got {len(r)}"))
        return None
    rec = dict(zip(header, (c.strip() for c in r), strict=True))
    code, msg = _area(key, rec[key], lookups, unknown_postcodes)
    if code is None:
        errors.append(RowError(line, key, msg or "not an area code", rec[key]))
    elif msg:
        warnings.append(f"line {line}: {msg}")
    count = _number(rec["count"], delimiter)
    if count is None or count < 0 or count != int(count):
        errors.append(RowError(line, "count", "not a whole number >= 0", rec["count"]))
    den = None
    if rec.get("denominator", ""):
        den = _number(rec["denominator"], delimiter)
        if den is None or den <= 0:
            errors.append(RowError(line, "denominator", "not a number > 0",
                                   rec["denominator"]))
    period = rec.get("period", "")
    if len(period) > 40 or any(ord(ch) < 32 for ch in period):
        errors.append(RowError(line, "period", "longer than 40 characters or contains "
                                               "control characters"))
    if code is None or count is None:
        return None
    return LAYER_OF_KEY[key], code, period, count, den


def _number(text: str, delimiter: str) -> float | None:
    t = text.replace(",", ".") if delimiter == ";" else text.replace(",", "")
    try:
        v = float(t)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _area(key: str, value: str, lk: Lookups, unknown_postcodes: str
          ) -> tuple[str | None, str | None]:
    """(area code, warning) or (None, why it is refused)."""
    if key == "sector":
        sec = sector_code(value)
        if sec is None:
            return None, "not a postcode sector (e.g. LE1 1)"
        return (sec, None) if sec in lk.sectors else (None, ("not a sector of the shipped "
                                                            "postcode sectors (LE area)"))
    if key == "postcode":
        ps = postcode_sector(value)
        if ps is None:
            return None, "not a full postcode (e.g. LE1 1AA)"
        pc, sec = ps
        if sec not in lk.sectors:
            return None, "its sector is not one of the shipped postcode sectors (LE area)"
        if pc not in lk.postcodes:
            if unknown_postcodes == "by_sector":
                return sec, (f"{value} is not in Code-Point Open (July 2018): terminated, "
                             f"newer, or mistyped; counted in its sector {sec}")
            return None, ("not in Code-Point Open (July 2018): terminated, newer or mistyped "
                          "(unknown_postcodes=by_sector counts such postcodes in their sector)")
        return sec, None
    code = value.upper()
    if key == "lsoa11":
        return (code, None) if code in lk.lsoa11 else (None, ("not an LSOA 2011 code of the "
                                                            "force area"))
    if key == "lsoa21":
        if code in lk.lsoa11 and code not in lk.lsoa21_to_11:
            return code, None  # unchanged codes are the same in both
        to = lk.lsoa21_to_11.get(code)
        if to is None:
            return None, "not an LSOA 2021 code in the shipped (Leicester city) crosswalk"
        if to.startswith("GROUP_"):
            return None, ("redrawn with its neighbours in 2021 (3->3); give the 2011 LSOAs or "
                          "postcode sectors for this area")
        return to, None
    return (code, None) if code in lk.wards else (None, "not a ward code of the force area")


# ------------------------------------------------------------------ disclosure -----------
@dataclass(frozen=True)
class IndicatorRule:
    """Counts 1..``suppress_below``-1 withheld, others rounded to ``round_to``."""

    suppress_below: int = 8
    round_to: int = 5

    def count(self, n) -> int | None:
        if n is None or (isinstance(n, float) and math.isnan(n)):
            return None
        n = int(n)
        if 0 < n < self.suppress_below:
            return None
        return int(self.round_to * round(n / self.round_to)) if self.round_to > 1 else n

    def describe(self) -> str:
        return (f"counts 1-{self.suppress_below - 1} withheld, others rounded to the nearest "
                f"{self.round_to}")


# ------------------------------------------------------------------ service --------------
HOT_AREA_SHARE = 0.25  # "in a hot spot area": at least this share of its area in hot cells
NOUN = "partner indicator"


def indicator_store(svc):
    """The indicators kept beside the site sets (same owner / atomic-replace rules)."""

    return SiteSets(svc.settings.store_dir / "indicators", noun=NOUN, field="indicators",
                    columns=COLUMNS, listing="GET /indicators", db=svc.named_sets("indicators"))


_LOOKUPS: dict[str, Lookups] = {}


def lookups(svc) -> Lookups:
    """Valid codes from the shipped boundaries, Code-Point Open and the crosswalk (once per
    boundary set)."""
    key = svc.boundaries.version
    if key not in _LOOKUPS:
        src = svc.settings.boundaries_dir / "sources"
        xw = pd.read_csv(src / "population" /
                         "leicester_lsoa21_to_lsoa11_crosswalk_APPROXIMATE.csv", dtype=str)
        b = svc.boundaries
        _LOOKUPS[key] = Lookups(
            sectors=set(b.get("sector").gdf["code"]), lsoa11=set(b.get("lsoa").gdf["code"]),
            wards=set(b.get("ward").gdf["code"]),
            postcodes={re.sub(r"\s+", "", p).upper() for p in read_postcodes(src)["postcode"]},
            lsoa21_to_11={a: c for a, c, r in zip(xw["lsoa21_code"], xw["lsoa11_code_or_group"],
                                                  xw["relationship"]) if r != "unchanged"})
    return _LOOKUPS[key]


def rule_of(about: dict) -> IndicatorRule:
    r = about.get("disclosure", {})
    return IndicatorRule(int(r.get("suppress_below", 8)), int(r.get("round_to", 5)))


def may_see_raw(about: dict, who) -> bool:
    """The indicator's owner and admins see its counts as uploaded; everyone else through
    its disclosure rule."""
    return who.at_least("admin") or about.get("owner") == who.owner


@dataclass(frozen=True)
class ConcentrationStep:
    """The share of the indicator in the top ``k`` areas ranked by violence."""

    k: int
    code: str
    violence: int
    cumulative_share: float | None


@dataclass(frozen=True)
class LocalBV:
    """One area's bivariate local Moran: its statistic, pseudo p and quadrant."""

    code: str
    Is: float
    p_sim: float
    quadrant: str


@dataclass(frozen=True)
class MoranBV:
    """Where high indicator values sit beside high violence (esda's Moran_Local_BV)."""

    permutations: int
    seed: int
    weights: str
    areas: list[LocalBV]


@dataclass(frozen=True)
class Association:
    """How the indicator and violence go together across the areas (not cause)."""

    n_areas: int
    note: str
    spearman_rho: float | None = None
    ci95: list[float] | None = None
    local_moran_bv: MoranBV | None = None


@dataclass(frozen=True)
class Overlay:
    """How much of a partner indicator lies in violence hot spot areas, area by area."""

    name: str
    about: dict[str, Any]
    layer: str
    periods: list[str]
    mapped: str
    disclosure: str
    hot_spot_area_rule: str
    sentence: str
    share_in_hot_spot_areas: float | None
    hot_spot_areas: list[str]
    concentration: list[ConcentrationStep]
    association: Association
    areas: list[dict[str, Any]]  # per area: the indicator, violence, hot share and rates
    filter: dict[str, Any]
    dataset_version: str | None


def overlay(svc, name: str, flt, who, period: str | None = None,
            layer: str | None = None) -> Overlay:
    """Per area of the indicator's layer (or of ``layer``: sector, lsoa or ward, the counts
    moved by land-area share where the layers differ): the indicator (count, rate per 1,000
    of its denominator), violence (count, rate per 1,000 residents) for ``flt``, the share of
    the area in Gi* hot cells and whether that makes it "in a hot spot area"; the needs
    assessment's sentence computed; the concentration curve; the rank correlation with a
    95% CI; a bivariate local Moran (esda) of indicator rate vs violence rate."""
    about, own_layer, given, periods, raw, rule = source_counts(svc, name, who, period)
    layer = layer or own_layer
    same = layer == own_layer
    areas = svc.boundaries.get(layer).gdf[["code", "name", "population", "geometry"]]
    moved, denominators, withheld = move_onto(svc, given, own_layer, areas, same=same)
    table = areas.drop(columns="geometry").reset_index(drop=True)
    table["count"] = [None if held else (int(np.rint(count)) if same else round(float(count), 2))
                      for count, held in zip(moved, withheld)]
    table["denominator"] = denominators
    violence, _ = svc.store.area_counts(layer, flt)
    table = table.merge(violence.rename(columns={"count": "violence"}), on="code", how="left")
    table["violence"] = table["violence"].fillna(0).astype(int)
    table["hot_share"] = hot_area_share(svc, flt, areas)
    table["in_hot_spot_area"] = table["hot_share"] >= HOT_AREA_SHARE
    table["indicator_rate_per_1000"] = [
        None if count is None or not (denominator > 0) else 1000 * count / denominator
        for count, denominator in zip(table["count"], table["denominator"])]
    population = pd.to_numeric(table["population"], errors="coerce")
    table["violence_rate_per_1000"] = np.where(population > 0,
                                               1000 * table["violence"] / population, np.nan)
    known = table[table["count"].notna()]
    total = float(known["count"].sum())
    hot = known[known["in_hot_spot_area"]]
    share = float(hot["count"].sum()) / total if total else None
    measure = about.get("measure", name)
    sentence = (f"{share:.0%} of {measure} are in the {len(hot)} "
                f"{'postcode sectors' if layer == 'sector' else layer + 's'} that are in "
                "violence hot spot areas" if share is not None else
                f"No {measure} to compare")
    return Overlay(
        name=name, about={k: v for k, v in about.items() if k != "owner"},
        layer=layer, periods=periods,
        mapped=("as given" if same else f"from {own_layer}s by overlapping land area "
                "(APPROXIMATE where they do not nest)"),
        disclosure="as uploaded (you own it)" if raw else rule.describe(),
        hot_spot_area_rule=(f"at least {HOT_AREA_SHARE:.0%} of the area lies in Gi* hot "
                            "cells (H3 r9, 95% confidence, FDR) for the chosen offences and "
                            "period"),
        sentence=sentence, share_in_hot_spot_areas=share,
        hot_spot_areas=sorted(hot["code"].tolist()),
        concentration=concentration(known),
        association=association(table, svc, areas),
        areas=_records(table.drop(columns=["denominator"] if not raw else [])),
        filter=flt.describe(), dataset_version=svc.store.dataset_version(),
    )


def hot_area_share(svc, flt, areas) -> np.ndarray:
    """Share of each area (EPSG:27700 polygons) covered by Gi* hot cells at 95% (FDR)."""
    import geopandas as gpd  # noqa: PLC0415 - lazy: heavy import (geopandas)


    rows, _ = h.gi(svc, flt, UnitSpec(grid="h3", resolution=9), h.Significance())
    hot = [r["id"] for r in rows if r["label"] in ("hot 95%", "hot 99%")]
    if not hot:
        return np.zeros(len(areas))
    cells = gpd.GeoSeries(h3_polygons_lonlat(np.array([int(c, 16) for c in hot],
                                                      dtype=np.uint64)), crs=4326)
    union = shapely.union_all(cells.to_crs(METRIC_EPSG).values)
    geoms = areas.geometry.values
    return np.asarray(shapely.area(shapely.intersection(geoms, union)) / shapely.area(geoms))


def concentration(table: pd.DataFrame) -> list[ConcentrationStep]:
    """Share of the indicator in the top k areas ranked by violence count (k = 1..n)."""
    total = float(table["count"].sum())
    ranked = table.sort_values(["violence", "code"], ascending=[False, True])
    cumulative = np.cumsum(ranked["count"].to_numpy(float))
    return [ConcentrationStep(k=k + 1, code=code, violence=int(violence),
                              cumulative_share=(float(running) / total) if total else None)
            for k, (code, violence, running) in enumerate(zip(ranked["code"], ranked["violence"],
                                                              cumulative))]


def association(table: pd.DataFrame, svc, areas) -> Association:
    """Spearman rank correlation of indicator rate (count where no denominator) and violence
    rate with a 95% CI (Fisher z, SE sqrt(1.06 / (n - 3)), Fieller et al. 1957), and esda's
    bivariate local Moran (queen contiguity, 999 permutations, seed ``DEFAULT_SEED``)."""
    from scipy import stats  # noqa: PLC0415 - lazy: heavy import (scipy)

    indicator = pd.to_numeric(table["indicator_rate_per_1000"], errors="coerce")
    if indicator.isna().all():
        indicator = pd.to_numeric(table["count"], errors="coerce")
    violence = pd.to_numeric(table["violence_rate_per_1000"], errors="coerce")
    ok = (indicator.notna() & violence.notna()).to_numpy()
    n = int(ok.sum())
    note = ("association, not cause: both may follow deprivation, population or how the "
            "data were recorded")
    if n < 5:
        return Association(n_areas=n, note=note, spearman_rho=None)
    rho = float(stats.spearmanr(indicator[ok], violence[ok]).statistic)
    z, se = math.atanh(max(min(rho, 0.999999), -0.999999)), math.sqrt(1.06 / (n - 3))
    return Association(
        n_areas=n, note=note, spearman_rho=rho,
        ci95=[math.tanh(z - 1.96 * se), math.tanh(z + 1.96 * se)],
        local_moran_bv=bivariate_moran(indicator.to_numpy(float), violence.to_numpy(float),
                                       ok, areas, table["code"].tolist()))


def bivariate_moran(x, y, ok, areas, codes, permutations: int = 999, seed: int = DEFAULT_SEED
                    ) -> MoranBV:
    """esda Moran_Local_BV of x (indicator) against the spatial lag of y (violence) on queen
    contiguity among areas with both values: per area Is, pseudo p and quadrant."""
    import libpysal  # noqa: PLC0415 - lazy: heavy import (libpysal)
    from esda.moran import Moran_Local_BV  # noqa: PLC0415 - lazy: heavy import (esda)

    keep_esda_kernels()
    kept_areas = areas[ok].reset_index(drop=True)
    weights = libpysal.weights.Queen.from_dataframe(kept_areas, use_index=False,
                                                    silence_warnings=True)
    weights.transform = "r"
    moran = Moran_Local_BV(x[ok], y[ok], weights, permutations=permutations, seed=seed)
    quadrants = {1: "high-high", 2: "low-high", 3: "low-low", 4: "high-low"}
    kept = [code for code, keep in zip(codes, ok) if keep]
    return MoranBV(permutations=permutations, seed=seed, weights="queen, row-standardised",
                   areas=[LocalBV(code=code, Is=float(i), p_sim=float(p),
                                  quadrant=quadrants[int(q)])
                          for code, i, p, q in zip(kept, moran.Is, moran.p_sim, moran.q)])


def _records(df: pd.DataFrame) -> list[dict]:
    out = []
    for r in df.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and math.isnan(v) else
                        v.item() if hasattr(v, "item") else v) for k, v in r.items()})
    return out


@dataclass(frozen=True)
class SavedIndicator:
    """What was stored for an uploaded indicator, and the lines accepted with a caveat."""

    name: str
    measure: str
    source_org: str
    licence: str
    period: str | None
    synthetic: bool
    layer: str
    n_areas: int
    approximate: str | None
    disclosure: IndicatorRule
    uploaded: str
    warnings: list[str]


def save_indicator(svc, name: str, data: bytes, who_owner: str, is_admin: bool, *,
                   source_org: str, licence: str, measure: str, period: str | None = None,
                   synthetic: bool = False, suppress_below: int = 8, round_to: int = 5,
                   unknown_postcodes: str = "reject") -> SavedIndicator:
    """Validate and store an indicator (whole file or nothing; replaces one of the same
    name atomically, if the caller may). Returns its description with the warnings."""
    store = indicator_store(svc)
    store.check_may_change(name, who_owner, is_admin)
    rows, warnings = parse_indicator_csv(data, f"indicators/{name}", lookups(svc),
                                         unknown_postcodes)
    if period:
        rows.loc[rows["period"] == "", "period"] = period

    saved = SavedIndicator(
        name=name, measure=measure, source_org=source_org, licence=licence,
        period=period or ", ".join(sorted(set(rows["period"]) - {""})) or None,
        synthetic=synthetic, layer=rows["layer"].iloc[0], n_areas=int(rows["code"].nunique()),
        approximate=("LSOA 2021 codes mapped to 2011 with the APPROXIMATE Leicester crosswalk"
                     if "lsoa21" in data[:2000].decode("utf-8", "replace").lower() else None),
        disclosure=IndicatorRule(suppress_below, round_to),
        uploaded=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        warnings=warnings)
    about = {"measure": saved.measure, "source_org": saved.source_org, "licence": saved.licence,
             "period": saved.period, "synthetic": saved.synthetic, "layer": saved.layer,
             "owner": who_owner, "n_areas": saved.n_areas, "approximate": saved.approximate,
             "disclosure": {"suppress_below": suppress_below, "round_to": round_to},
             "uploaded": saved.uploaded}
    store.save(name, rows, who_owner, is_admin, about=about)
    return saved


@dataclass(frozen=True)
class ListedIndicator:
    """An indicator loaded: what it counts, from whom, by which areas, whose it is."""

    name: str
    owner: str | None
    updated: str
    measure: str | None
    source_org: str | None
    layer: str | None
    synthetic: bool
    n_areas: int | None


def list_indicators(svc) -> list[ListedIndicator]:
    store = indicator_store(svc)
    listed = []
    for stored in store.list():
        about = store.about(stored["name"])
        listed.append(ListedIndicator(
            name=stored["name"], owner=stored["owner"], updated=stored["updated"],
            measure=about.get("measure"), source_org=about.get("source_org"),
            layer=about.get("layer"), synthetic=bool(about.get("synthetic")),
            n_areas=about.get("n_areas")))
    return listed


@dataclass(frozen=True)
class PartnerComponent:
    """How a partner indicator became a People Zone component, for the answer's meta."""

    name: str
    measure: str | None
    layer: str
    synthetic: bool
    mapped: str
    per: str
    disclosure: str
    n_areas_without_value: int


def people_zone_component(svc, name: str, who, areas, areas_layer: str,
                          residents: np.ndarray) -> tuple[np.ndarray, PartnerComponent]:
    """The indicator as a People Zone component for ``areas`` (EPSG:27700 polygons with
    ``code``, of the boundary layer ``areas_layer``): its count per 1,000 of its denominator
    (else per 1,000 ``residents``) after moving it onto the areas - directly when the layers
    match, otherwise in proportion to the overlapping land area (approximate where the
    layers do not nest). Counts go through the indicator's disclosure rule unless ``who``
    owns it; an area fed by a withheld count has no value (it then contributes nothing to
    its score)."""
    about, layer, given, _, raw, rule = source_counts(svc, name, who)
    same = layer == areas_layer
    moved, denominators_moved, withheld = move_onto(svc, given, layer, areas, same=same)
    denominators = pd.to_numeric(given["denominator"], errors="coerce").to_numpy(float)
    has_denominators = np.isfinite(denominators).all() and len(denominators)
    base = denominators_moved if has_denominators else residents
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(base > 0, 1000 * moved / base, np.nan)
    value[withheld] = np.nan
    how = ("same areas" if same else f"from {layer}s in proportion to overlapping land "
           "area (APPROXIMATE where they do not nest)")
    return value, PartnerComponent(
        name=name, measure=about.get("measure"), layer=layer,
        synthetic=bool(about.get("synthetic")), mapped=how,
        per="1,000 of its denominator" if has_denominators else "1,000 residents",
        disclosure="as uploaded" if raw else rule.describe(),
        n_areas_without_value=int(np.isnan(value).sum()))


def source_counts(svc, name: str, who, period: str | None = None):
    """(about, layer, counts per area - code, count, denominator -, periods, raw, rule) of
    an indicator, summed over its periods (or one), with its disclosure rule applied where
    the counts were given (before any moving) unless ``who`` may see them raw."""
    store = indicator_store(svc)
    about, rows = store.about(name), store.load(name)
    raw, rule = may_see_raw(about, who), rule_of(about)
    periods = sorted(set(rows["period"]))
    if period is not None:
        rows = rows[rows["period"] == period]
        if not len(rows):
            raise InvalidParameter(f"period: {name!r} has no rows for {period!r}; its periods "
                                   f"are {periods}")
    src = rows.groupby("code").agg(count=("count", "sum"),
                                   denominator=("denominator", "sum")).reset_index()
    if not raw:
        src["count"] = [rule.count(v) for v in src["count"]]
    return about, rows["layer"].iloc[0], src, periods, raw, rule


def move_onto(svc, src: pd.DataFrame, src_layer: str, areas, same: bool
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(counts, denominators, withheld) of ``src`` (code, count - None where withheld -,
    denominator) on ``areas`` (EPSG:27700 polygons with ``code``): directly when ``same``
    layer, else in proportion to each source area's land falling in each target area. An
    area fed by a withheld count is withheld; areas fed by nothing get 0."""

    if same:
        pos = {c: i for i, c in enumerate(src["code"])}
        share = np.zeros((len(src), len(areas)))
        for j, c in enumerate(areas["code"]):
            if c in pos:
                share[pos[c], j] = 1.0
    else:
        src_geo = np.asarray(svc.boundaries.get(src_layer).gdf.set_index("code")
                             .loc[src["code"]].geometry.array, dtype=object)
        dst_geo = np.asarray(areas.geometry.array, dtype=object)
        inter = shapely.area(shapely.intersection(src_geo[:, None], dst_geo[None, :]))
        share = inter / shapely.area(src_geo)[:, None]
    counts = pd.to_numeric(src["count"], errors="coerce").to_numpy(float)
    withheld = (np.isnan(counts)[:, None] & (share > 1e-6)).any(axis=0)
    den = pd.to_numeric(src["denominator"], errors="coerce").to_numpy(float)
    den_moved = np.nan_to_num(den) @ share
    den_moved[(~np.isfinite(den)[:, None] & (share > 1e-6)).any(axis=0)] = np.nan
    return np.nan_to_num(counts) @ share, den_moved, withheld
