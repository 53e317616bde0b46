"""A neighbourhood team's patch: a policing area (NPA) or a ward, named in a request as
``npa:NC`` / ``ward:<code>`` (``area=``) or by layer and code (``/briefings/npa/NC``); which
analysis units lie in it; and the months a briefing covers.

A unit belongs to the patch its offences mostly fall in (the most common ward or NPA code of
its offences in the months counted; ties go to the smaller code) - the same rule that names
a focus place's ward and NPA, so every place listed for a patch is shown in it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from geo_api.data.store.base import OffenceFilter
from geo_api.errors import InvalidParameter, NotFound
from geo_api.services.report_words import npa_name

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
    def key(self) -> str:
        """As a request names it: 'npa:NC'."""
        return f"{self.layer}:{self.code}"

    @property
    def label(self) -> str:
        """How people name it: 'Central (NC)', 'Castle ward'."""
        return patch_label(self.layer, self.code, self.name)

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


def patch_label(layer: str, code: str, name: str) -> str:
    """How people name a patch: 'Central (NC)' for an NPA, 'Castle ward' for a ward."""
    return npa_name(code, name) if layer == "npa" else f"{name} ward"


def parse_patch(svc, area: str | None, field: str = "area") -> Patch | None:
    """The patch ``area`` names ('npa:NC', 'ward:E05010464'); None for none. Raises
    ``InvalidParameter`` naming ``field`` for an unknown layer or code."""
    if not area:
        return None
    layer, sep, code = area.partition(":")
    if not sep or layer not in PATCH_LAYERS:
        raise InvalidParameter(f"{field}: give npa:<code> or ward:<code> (e.g. npa:NC), not "
                               f"{area!r}")
    try:
        return find_patch(svc, layer, code)
    except NotFound:
        some = ", ".join(sorted(_areas(svc, layer))[:4])
        raise InvalidParameter(f"{field}: no {layer} with code {code!r} (codes: {some}, ...; "
                               f"see the map's drop-down)") from None


def _areas(svc, layer: str) -> dict[str, str]:
    g = svc.boundaries.get(layer).gdf
    return dict(zip(g["code"].astype(str), g["name"].astype(str)))


def patch_choices(svc) -> list[tuple[str, str]]:
    """(value, label) of every patch, for a drop-down: NPAs as 'Central (NC)', then wards
    by name."""
    out = []
    for layer in PATCH_LAYERS:
        areas = sorted(_areas(svc, layer).items(), key=lambda kv: kv[1])
        out += [(f"{layer}:{code}", patch_label(layer, code, name)) for code, name in areas]
    return out


def units_in_patch(svc, flt: OffenceFilter, units, months: list[str], patch: Patch
                   ) -> np.ndarray:
    """Boolean per unit of ``units``: its offences of ``flt`` in ``months`` fall mostly in
    ``patch`` (see the module's rule)."""
    period = dataclasses.replace(flt, start=pd.Timestamp(months[0] + "-01").to_pydatetime(),
                                 end=(pd.Timestamp(months[-1] + "-01")
                                      + pd.offsets.MonthBegin(1)).to_pydatetime())
    column = f"{patch.layer}_code"
    offences = svc.store.located_values(tuple(dict.fromkeys((*units.assign_columns, column))),
                                        period)
    inside = np.zeros(len(units.ids), dtype=bool)
    if offences.empty:
        return inside
    offences = pd.DataFrame({"unit": units.assign(offences), "code": offences[column]})
    offences = offences[(offences["unit"] >= 0) & offences["code"].notna()]
    counts = offences.groupby(["unit", "code"]).size().reset_index(name="n")
    mode = (counts.sort_values(["unit", "n", "code"], ascending=[True, False, True])
            .drop_duplicates("unit"))
    inside[mode.loc[mode["code"] == patch.code, "unit"].to_numpy(int)] = True
    return inside
