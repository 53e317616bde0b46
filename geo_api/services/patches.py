"""A neighbourhood team's patch (a policing area or a ward) and the months a briefing
covers."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
import shapely

from geo_api.errors import InvalidParameter, NotFound

PATCH_LAYERS = {"npa": "policing area", "ward": "ward"}
WINDOW_MONTHS = 3


@dataclass(frozen=True)
class Patch:
    """A policing area or ward: its code, name and outline (EPSG:27700)."""

    layer: str
    code: str
    name: str
    geometry_m: shapely.Geometry

    @property
    def label(self) -> str:
        """How people name it: 'Central (NC)', 'Castle ward'."""
        return f"{self.name} ({self.code})" if self.layer == "npa" else f"{self.name} ward"

    @property
    def slug(self) -> str:
        """For file names: 'npa-NC', 'ward-E05010463-castle'."""
        if self.layer == "npa":
            return f"npa-{self.code}"
        name = re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")
        return f"ward-{self.code}-{name}" if name else f"ward-{self.code}"


def find_patch(svc, layer: str, code: str) -> Patch:
    """The patch ``code`` of ``layer`` (npa: NC/NE/NW/NS; ward: a ward code of the loaded
    boundaries). Raises InvalidParameter for another layer, NotFound for an unknown code."""
    if layer not in PATCH_LAYERS:
        raise InvalidParameter(f"layer: must be one of {sorted(PATCH_LAYERS)}, not {layer!r}")
    g = svc.boundaries.get(layer).gdf
    match = g[g["code"] == code]
    if match.empty:
        known = ", ".join(sorted(g["code"]))
        raise NotFound(f"code: no {PATCH_LAYERS[layer]} with code {code!r}; known codes: "
                       f"{known}")
    row = match.iloc[0]
    return Patch(layer=layer, code=code, name=str(row["name"]), geometry_m=row.geometry)


def all_patches(svc) -> list[Patch]:
    """Every policing area, then every ward (code order)."""
    return [find_patch(svc, layer, code) for layer in PATCH_LAYERS
            for code in sorted(svc.boundaries.get(layer).gdf["code"])]


def briefing_window(svc, month: str | None) -> list[str]:
    """The loaded months a briefing covers: the three months ending with ``month``
    ('YYYY-MM', or None / 'latest' for the latest loaded month), fewer when fewer are
    loaded before it. Raises InvalidParameter naming ``month``."""
    loaded = list(svc.store.months_loaded())
    if month in (None, "latest"):
        last = loaded[-1]
    else:
        try:
            last = pd.Period(month, freq="M").strftime("%Y-%m")
        except ValueError:
            raise InvalidParameter(f"month: {month!r} is not YYYY-MM or 'latest'") from None
        if last not in loaded or len(month) != 7:
            raise InvalidParameter(f"month: {month} is not loaded (loaded: {loaded[0]} to "
                                   f"{loaded[-1]})")
    want = pd.period_range(end=last, periods=WINDOW_MONTHS, freq="M").strftime("%Y-%m")
    return [m for m in want if m in loaded]


def shift_months(months: list[str], by: int) -> list[str]:
    """``months`` moved by ``by`` months (negative: earlier)."""
    return [(pd.Period(m, freq="M") + by).strftime("%Y-%m") for m in months]
