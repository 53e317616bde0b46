"""The disclosure policy for the ``public`` role: one policy, applied at one place per kind
of output (``web/auth.py`` for every JSON and GeoJSON answer, the tile encoder for vector
tiles, the map builders for pages).

Sources: police.uk already publishes only anonymised map points and months; UK official
statistics practice for small numbers (ONS "Policy on protecting confidentiality in tables
of birth and death statistics", GSS guidance on disclosure control for tables) suppresses
counts below a threshold, protects suppressed cells from being recovered from totals
(secondary suppression) and rounds so that differences of overlapping tables do not
reveal small numbers. The rules:

1. Requests: no point-level location lists (``grid=location``), no units smaller than
   ``min_unit_km2`` (H3 r10, output areas, small fishnet cells), no ``bbox`` smaller than
   ``min_bbox_km2``, KDE bandwidth and cell size at or above their floors (403 otherwise).
2. Counts: 0 stays 0; 1..k-1 become null (shown as "<5"); others are rounded to the nearest
   multiple of ``round_to`` (5), so any difference of two published counts is 0 or at least
   5 and differencing two overlapping requests cannot isolate 1-4 offences. Integers whose
   key is not a known parameter are treated as counts (safe by default).
3. Secondary suppression: in a list of rows, a count key with exactly one suppressed row
   has the smallest other non-zero value suppressed too.
4. Derived numbers: shares and rates are recomputed from the protected counts; statistics
   computed from exact counts (z-scores, p-values, confidence intervals, ratios, trends)
   are withheld (null) - the hot/cold labels and their confidence stay. A row with a
   suppressed count has its other derived numbers (e.g. a mean centre) withheld.
"""

from __future__ import annotations

import math
import re
from contextvars import ContextVar
from dataclasses import dataclass

import h3
import pandas as pd

from geo_api.analysis.compare import shift
from geo_api.errors import Forbidden

KEEP_INT = frozenset({
    "k_ring", "limit", "offset", "n_features", "n_significant_bins", "n_steps",
    "n_undefined", "n_units", "nx", "ny", "permutations", "rank", "resolution", "seed",
    "time_steps", "new", "persistent", "gone", "hour", "weekday", "z", "x", "y", "k",
    "n_sim", "year", "month_index", "level", "rank_low", "rank_high", "hours", "weekdays",
    "radii_m", "population", "numberMatched", "numberReturned",
    # open area attributes (ONS populations, IoD 2019), not offence counts
    "population_0_15", "imd_rank", "imd_decile", "n_postcodes"})
# Parameters and unit geometry; mean centres and their shift (withheld with a suppressed n).
# Densities, shares of exact counts, Gini and the like are NOT here: withheld.
KEEP_FLOAT = frozenset({
    "alpha", "bandwidth_m", "cell_size_m", "fishnet_band_m", "fishnet_cell_size_m",
    "min_attainable_p", "population", "x0_m", "y0_m", "jaccard_hot", "bearing_deg",
    "distance_m", "dx_m", "dy_m", "major_axis_bearing_deg", "mean_x_m", "mean_y_m",
    "sd_major_m", "sd_minor_m", "standard_distance_m", "bandwidth_scott_m",
    "min_share_of_max", "area_km2", "lon", "lat", "coverage",
    "population_0_15", "pct_population_imd_decile_1", "imd_rank", "imd_decile"})
# lists of numbers that are parameters, not data
KEEP_LISTS = frozenset({"radii_m", "coverage", "bbox_lonlat", "hours", "weekdays",
                        "months_loaded", "months", "flags"})
# banded for the public role: a KDE cell's share of the peak, to one decimal
BANDED = frozenset({"share_of_max"})
# share key -> the count key it is a share of (recomputed from protected counts, and only
# in complete tables: a top-n list's shares cannot be recomputed from its rows)
SHARES = {"share": "count", "share_before": "before", "share_after": "after"}
COMPLETE_TABLES = frozenset({"areas", "units", "rows", "cells"})
COUNT_LIST_KEYS = frozenset({"counts", "count", "series"})
GEOMETRY = frozenset({"geometry", "coordinates", "bbox"})
# the decimals no model declares that a row with a suppressed count keeps (open data and
# a parameter): the others are derived from the count, or place it, and are withheld with
# it (a model's declared ``keep`` fields stay)
KEPT_BESIDE_SUPPRESSED = frozenset({"population", "alpha"})
# texts taken from offence records (police.uk street names): withheld with a suppressed count
RECORD_TEXT = ("streets",)


# The policy of the request being answered (None: no disclosure control). Set by the web
# layer for every request; read where an answer is built from records whose protection
# needs more than its published numbers (which street names a place may be given).
ACTIVE: ContextVar = ContextVar("disclosure", default=None)


def published_order(count) -> float:
    """Where a published count ranks, highest first: rounded counts by value, then the
    suppressed (None), then empty units (0) - so an order tells no more than the counts."""
    return -2.0 if count == 0 else -1.0 if count is None else float(count)


def min_records() -> int:
    """The fewest offence records a published text (a street name) may rest on: the
    policy's ``k`` under disclosure control, else 1."""
    policy = ACTIVE.get()
    return policy.k if policy is not None else 1


@dataclass(frozen=True)
class Policy:
    k: int = 5
    round_to: int = 5
    min_unit_km2: float = 0.05
    min_bbox_km2: float = 1.0
    min_bandwidth_m: float = 300.0
    min_kde_cell_m: float = 100.0
    min_centre_n: int = 20
    centre_grid_m: float = 250.0

    @classmethod
    def from_settings(cls, s) -> Policy:
        return cls(s.disclosure_k, s.disclosure_round_to, s.disclosure_min_unit_km2,
                   s.disclosure_min_bbox_km2, s.disclosure_min_bandwidth_m,
                   s.disclosure_min_kde_cell_m, s.disclosure_min_centre_n,
                   s.disclosure_centre_grid_m)

    @property
    def label(self) -> str:
        return f"public: counts 1-{self.k - 1} suppressed, others rounded to {self.round_to}"

    # --- 1. requests -------------------------------------------------------------------
    def check_request(self, params: dict[str, str]) -> None:
        """Refuse (403) a public request finer than the floors; ``params`` are the query
        parameters (any endpoint: the names are the API's one vocabulary)."""

        def refuse(what: str, instead: str):
            raise Forbidden(f"disclosure control: {what} is not available to the public "
                            f"role; {instead}")

        grid, layer = params.get("grid"), params.get("layer")
        if grid == "location":
            refuse("a list of offence locations (grid=location)", "use grid=h3 or an area "
                   "layer (ward, lsoa, sector, npa)")
        if "oa" in (grid, layer):
            refuse("output areas", "use lsoa or ward")
        resolution = _num(params.get("resolution"))
        if resolution is not None and grid in (None, "h3") and resolution == int(resolution) \
                and 0 <= resolution <= 15 \
                and h3.average_hexagon_area(int(resolution), "km^2") < self.min_unit_km2:
            refuse(f"H3 resolution {int(resolution)} (cells smaller than "
                   f"{self.min_unit_km2} km²)", "use resolution 9 or coarser")
        cell = _num(params.get("fishnet_cell_size_m"))
        if grid == "fishnet" and cell is not None and (cell / 1000) ** 2 < self.min_unit_km2:
            refuse(f"fishnet cells of {cell:g} m", "use fishnet_cell_size_m >= "
                   f"{math.ceil(math.sqrt(self.min_unit_km2) * 1000)}")
        bandwidth_m = _num(params.get("bandwidth_m"))
        if bandwidth_m is not None and bandwidth_m < self.min_bandwidth_m:
            refuse(f"a KDE bandwidth of {bandwidth_m:g} m", f"use bandwidth_m >= "
                   f"{self.min_bandwidth_m:g}")
        kde_cell_m = _num(params.get("cell_size_m"))
        if kde_cell_m is not None and kde_cell_m < self.min_kde_cell_m:
            refuse(f"KDE cells of {kde_cell_m:g} m",
                   f"use cell_size_m >= {self.min_kde_cell_m:g}")
        if params.get("bbox"):
            sides = bbox_sides_km(params["bbox"])
            side = math.sqrt(self.min_bbox_km2)
            if sides is not None and min(sides) < side:
                refuse(f"a bbox of {sides[0]:.2f} x {sides[1]:.2f} km", f"use a bbox at least "
                       f"{side:g} km on each side or an area layer")
        for name in ("datetime", "before", "after"):
            v = params.get(name)
            if v and not WHOLE_MONTHS.fullmatch(v.strip()):
                refuse(f"{name}={v} (periods finer than whole months)",
                       f"use whole months, e.g. {name}=2020-04 or 2020-04/2020-06")
        if params.get("hours"):
            refuse("a time-of-day window (hours=)", "use the time-window map's presets")

    # --- 2. counts ---------------------------------------------------------------------
    def count(self, v):
        """A protected count: 0, None (suppressed: 1..k-1 either side of 0) or rounded to
        ``round_to`` (a difference keeps its sign)."""
        if v is None or isinstance(v, bool) or not isinstance(v, int | float):
            return v
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if v == 0:
            return 0
        if abs(v) < self.k:
            return None
        return int(math.copysign(self.round_to * math.floor(abs(v) / self.round_to + 0.5),
                                 v))

    def _count_tree(self, v):
        if isinstance(v, list):
            return [self._count_tree(x) for x in v]
        if isinstance(v, dict):
            return {k: self._count_tree(x) for k, x in v.items()}
        return self.count(v)

    # --- 2-4. any JSON-like answer -----------------------------------------------------
    def protect(self, obj, under: str | None = None, spec: dict | None = None):
        """The answer as the public role may see it (a new object); ``under``: the key the
        object sits under in its parent; ``spec``: what its response model declares of each
        field (``web.api.models.disclosure.spec_of``) - a declared kind decides, the rules
        by key name (``_undeclared``) apply only to what nothing declares (GeoJSON
        properties, open dictionaries, tiles and map layers)."""
        spec = spec or {}
        if spec.get("kind") == "centre" and isinstance(obj, dict):
            return self.centre(obj)
        if isinstance(obj, list):
            return self._protect_list(obj, under, spec)
        if not isinstance(obj, dict):
            return obj
        if "mean_x_m" in obj and "n" in obj:
            return self.centre(obj)
        if isinstance(obj.get("shift"), dict) and all(
                isinstance(obj.get(p), dict) and "mean_x_m" in obj[p] for p in ("before", "after")):
            out = {k: self.protect(v, k) for k, v in obj.items() if k != "shift"}
            return {**out, "shift": self.shift(out["before"], out["after"], obj["shift"])}
        return self._protect_dict(obj, spec)

    def _protect_list(self, obj: list, under: str | None, spec: dict):
        """A list: numbers (parameters kept, counts protected, the rest withheld) or a
        table of rows (each protected, then secondary suppression, ranks and shares)."""
        if obj and all(isinstance(x, int | float) and not isinstance(x, bool)
                       or isinstance(x, list) for x in obj) and _all_numbers(obj):
            # numbers not known to be parameters: counts if whole, else withheld
            return obj if under in KEEP_LISTS else (
                self._count_tree(obj) if _all_ints(obj) else _withhold(obj))
        item = spec.get("items")
        rows = [self.protect(x, None, item) for x in obj]
        if not rows or not all(isinstance(r, dict) for r in rows):
            return rows
        if all(isinstance(r.get("properties"), dict) for r in obj):
            # GeoJSON features: the table is their properties (a page of features is not a
            # complete table: shares are withheld, not recomputed)
            props = ((item or {}).get("fields") or {}).get("properties")
            self._secondary([r["properties"] for r in obj], [r["properties"] for r in rows],
                            props)
            self._recompute_shares([r["properties"] for r in rows], complete=False)
            return rows
        self._secondary(obj, rows, item or {})
        self._rerank(rows, item or {})
        self._recompute_shares(rows, complete=under in COMPLETE_TABLES)
        return rows

    def _protect_dict(self, obj: dict, spec: dict) -> dict:
        """An object field by field: by its declared kind, else by ``_undeclared``; if a
        count in it was suppressed, nothing derived from it stays."""
        out, suppressed = {}, False
        fields, values = spec.get("fields") or {}, spec.get("values")
        for key, v in obj.items():
            if hasattr(v, "item") and hasattr(v, "dtype"):  # numpy scalars: as Python's
                v = v.item()
            declared = fields.get(key) or values or {}
            kind = declared.get("kind")
            if kind is not None and v is not None and not isinstance(v, str | bool):
                out[key] = self.declared(kind, v)
                suppressed |= kind == "count" and out[key] is None and v != 0
            elif _plain(key, v):
                out[key] = self._undeclared(key, v)
                suppressed |= isinstance(v, int) and not isinstance(v, bool) and (
                    out[key] is None and v != 0)
            else:
                out[key] = self.protect(v, key, declared)
        if "rate_per_1000" in obj and out.get("population") and "count" in out:
            c = out["count"]
            out["rate_per_1000"] = None if c is None else round(c / out["population"] * 1000,
                                                                3)
        if suppressed:  # nothing derived from a suppressed count stays: numbers (but the
            _withhold_derived(out, fields)  # parameters), and street names of its records
            self._drop_record_text(obj, out)
        return out

    def _undeclared(self, key: str, v):
        """A plain value that no model declares, by its key's name: texts, flags and unit
        geometry kept; whole numbers are counts unless parameters (``KEEP_INT``); other
        numbers withheld unless parameters (``KEEP_FLOAT``) or banded (``BANDED``)."""
        if isinstance(v, bool) or v is None or isinstance(v, str) or key in GEOMETRY:
            return v  # geometries are units' shapes (public: never points)
        if isinstance(v, int):
            # e.g. {"hot 99%": 12} counts units, not offences
            return v if key in KEEP_INT or "%" in key else self.count(v)
        if isinstance(v, float):
            return (v if key in KEEP_FLOAT else
                    round(v, 1) if key in BANDED and math.isfinite(v) else None)
        return self._count_tree(v)  # a list of counts (COUNT_LIST_KEYS)

    def declared(self, kind: str, v):
        """A value by the kind its model declares (``web.api.models.disclosure``)."""
        if kind in ("keep", "rank", "record_text"):
            return v  # (ranks: renumbered with the table; texts: dropped with a suppressed row)
        if kind == "count":
            if isinstance(v, dict):
                return {k: self.declared(kind, x) for k, x in v.items()}
            return self._count_tree(v) if isinstance(v, list) else self.count(v)
        if kind == "banded":
            if isinstance(v, list | dict):
                return _withhold(v)
            return round(v, 1) if isinstance(v, float) and math.isfinite(v) else None
        return _withhold(v)  # withhold; share and rate: recomputed with their table, if any

    @staticmethod
    def _rerank(rows: list[dict], item: dict) -> None:
        """A table's declared ranks renumbered by the protected counts (suppressed rows
        after the published ones, then empty ones; code order within), rows reordered
        with them: the order of hidden counts is not told."""
        fields = item.get("fields") or {}
        rank = [k for k, f in fields.items() if f.get("kind") == "rank"]
        counts = [k for k, f in fields.items() if f.get("kind") == "count"]
        if not rank or not counts or not all(counts[0] in r for r in rows):
            return
        c = counts[0]
        rows.sort(key=lambda r: (-published_order(r.get(c)),
                                 str(r.get("code", r.get("id", "")))))
        for i, r in enumerate(rows, 1):
            r[rank[0]] = i

    @staticmethod
    def _drop_record_text(raw: dict, out: dict) -> None:
        """A suppressed row's texts taken from its records (``RECORD_TEXT``: its streets,
        and a name made of them) are withheld."""
        for key in RECORD_TEXT:
            if out.get(key) is not None:
                joined = out[key] if isinstance(out[key], str) else "; ".join(
                    str(v) for v in out[key]) if isinstance(out[key], list) else None
                out[key] = None
                if joined is not None and raw.get("name") == joined:  # (named by them)
                    out["name"] = raw.get("code", raw.get("id"))

    # --- centres: only for enough offences, on a coarse grid ---------------------------
    def centre(self, c: dict) -> dict:
        """A mean centre and its ellipse as the public role may see them: withheld below
        ``min_centre_n`` offences; otherwise every length and position rounded to
        ``centre_grid_m`` and the bearing to 15 degrees, ``n`` as a protected count."""
        n = c.get("n")
        out = dict(c)
        out["n"] = self.count(n)
        few = not isinstance(n, int | float) or n < self.min_centre_n
        g = self.centre_grid_m
        for key, v in c.items():
            if key == "n" or not isinstance(v, int | float) or isinstance(v, bool):
                continue
            if few or not math.isfinite(v):
                out[key] = None
            elif key.endswith("_deg"):
                out[key] = float(15 * round(v / 15) % 180)
            else:
                out[key] = float(g * round(v / g))
        return out

    def shift(self, before: dict, after: dict, raw: dict) -> dict:
        """The shift between two published centres, computed from them (so it tells
        nothing they do not); withheld (``raw``'s numbers) with either."""

        if before.get("mean_x_m") is None or after.get("mean_x_m") is None:
            return _withhold(raw)
        out = shift(before, after)
        if not (out["dx_m"] or out["dy_m"]):  # no move: no direction
            out["bearing_deg"] = None
        return out

    def _secondary(self, raw: list[dict], rows: list[dict], item: dict | None = None) -> None:
        """Secondary suppression in a table: for each count column with exactly one
        suppressed row, the smallest other non-zero count is suppressed too. The count
        columns are those the rows' model declares (``item``), else whole numbers whose key
        is not a known parameter."""
        raw = [{k: v.item() if hasattr(v, "item") and hasattr(v, "dtype") else v
                for k, v in r.items()} for r in raw]
        fields = (item or {}).get("fields")
        keys = ({k for k, f in fields.items() if f.get("kind") == "count"} if fields else
                {k for r in raw for k, v in r.items() if isinstance(v, int)
                 and not isinstance(v, bool) and k not in KEEP_INT and "%" not in k})
        for key in keys:
            primary = [i for i, r in enumerate(raw) if isinstance(r.get(key), int)
                       and not isinstance(r.get(key), bool) and 0 < r[key] < self.k]
            if len(primary) != 1:
                continue
            others = [(raw[i][key], i) for i, r in enumerate(rows) if i not in primary
                      and isinstance(raw[i].get(key), int) and raw[i][key] > 0
                      and r.get(key) is not None]
            if others:
                i = min(others)[1]
                rows[i][key] = None
                _withhold_derived(rows[i], fields or {})

    @staticmethod
    def _recompute_shares(rows: list[dict], complete: bool) -> None:
        for share, ckey in SHARES.items():
            if not any(share in r and ckey in r for r in rows):
                continue
            total = sum(r.get(ckey) or 0 for r in rows)
            for r in rows:
                c = r.get(ckey)
                r[share] = (None if c is None or not total or not complete
                            else round(c / total, 4))
        if any("share_change" in r for r in rows):
            for r in rows:
                a, b = r.get("share_after"), r.get("share_before")
                r["share_change"] = None if a is None or b is None else round(a - b, 4)
        if any("cumulative_share" in r for r in rows):
            run = 0.0
            for r in rows:
                run = run + (r.get("share") or 0)
                r["cumulative_share"] = None if r.get("share") is None else round(run, 4)

    def protect_frame(self, df, item: dict | None = None):
        """A table (DataFrame) as the public role may see it: the same rules by column;
        ``item``: what its rows' model declares (``spec_of``), else the rules by key name."""

        records = self.protect(df.to_dict("records"), spec={"items": item} if item else None)
        out = df.copy()
        for col in df.columns:  # object columns: a withheld value stays None, not NaN
            out[col] = pd.Series([r[col] for r in records], index=df.index, dtype=object)
        return out

def _plain(key: str, v) -> bool:
    """A value the key-name rules decide (``Policy._undeclared``), not a structure to walk."""
    return (v is None or isinstance(v, bool | str | int | float) or key in GEOMETRY
            or isinstance(v, list) and key in COUNT_LIST_KEYS and _all_numbers(v))


def _withhold_derived(row: dict, fields: dict) -> None:
    """The decimals of a row whose count is suppressed, withheld in place: all but those
    its model declares ``keep`` and, where nothing declares, ``KEPT_BESIDE_SUPPRESSED``."""
    for key, v in row.items():
        if isinstance(v, float) and key not in KEPT_BESIDE_SUPPRESSED and (
                (fields.get(key) or {}).get("kind") != "keep"):
            row[key] = None


def _withhold(v):
    """Every number in ``v`` replaced by None (structure kept)."""
    if isinstance(v, list):
        return [_withhold(x) for x in v]
    if isinstance(v, dict):
        return {k: _withhold(x) for k, x in v.items()}
    return None if isinstance(v, int | float) and not isinstance(v, bool) else v


def _all_numbers(v) -> bool:
    if isinstance(v, list):
        return all(_all_numbers(x) for x in v)
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool))


def _all_ints(v) -> bool:
    if isinstance(v, list):
        return bool(v) and all(_all_ints(x) for x in v)
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: str | None) -> float | None:
    try:
        return float(v) if v is not None else None
    except ValueError:
        return None


def bbox_sides_km(bbox: str) -> tuple[float, float] | None:
    """Width and height of a lon/lat bbox string in km (None if it does not parse: the
    route says why)."""
    try:
        x0, y0, x1, y1 = (float(p) for p in bbox.split(","))
    except ValueError:
        return None
    if not all(map(math.isfinite, (x0, y0, x1, y1))):
        return None
    mid = math.radians((y0 + y1) / 2)
    return abs(x1 - x0) * 111.32 * math.cos(mid), abs(y1 - y0) * 110.57


# a month, or a closed or open interval of months (YYYY-MM, '..' open)
WHOLE_MONTHS = re.compile(r"(\d{4}-\d{2}|\.\.)(/(\d{4}-\d{2}|\.\.))?")
SMALL_COUNT_MESSAGE = re.compile(r"fewer than (two|three|four|\d+) |at least (two|three|four) "
                                 r"(points|offences)|need at least three points", re.IGNORECASE)


def public_message(message: str) -> str:
    """An error message as the public role may see it: one that would tell a small count
    (e.g. 'fewer than two offences match') says only that too few match."""
    if SMALL_COUNT_MESSAGE.search(message):
        return ("too few offences match this selection to show it (disclosure control); "
                "choose a longer period, a wider area or a broader group")
    return message
