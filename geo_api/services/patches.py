"""A team's own patch: a ward or a neighbourhood policing area (NPA), named in a request as
``ward:<code>`` or ``npa:<code>`` (``area=npa:NC``), and which analysis units lie in it.

A unit belongs to the patch its offences mostly fall in (the most common ward or NPA code of
its offences in the months counted; ties go to the smaller code) - the same rule that names
a focus place's ward and NPA, so every place listed for a patch is shown in it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo_api.data.store.base import OffenceFilter
from geo_api.errors import InvalidParameter

PATCH_LAYERS = ("npa", "ward")


@dataclass(frozen=True)
class Patch:
    """A ward or NPA: layer ("ward"/"npa"), its code and name."""

    layer: str
    code: str
    name: str

    @property
    def key(self) -> str:
        """As the request names it: 'npa:NC'."""
        return f"{self.layer}:{self.code}"

    @property
    def label(self) -> str:
        """As people read it: 'Central (NC)' for an NPA, 'Castle ward' for a ward."""
        return f"{self.name} ({self.code})" if self.layer == "npa" else f"{self.name} ward"


def _areas(svc, layer: str) -> dict[str, str]:
    g = svc.boundaries.get(layer).gdf
    return dict(zip(g["code"].astype(str), g["name"].astype(str)))


def parse_patch(svc, area: str | None, field: str = "area") -> Patch | None:
    """The patch ``area`` names ('npa:NC', 'ward:E05010464'); None for none. Raises
    ``InvalidParameter`` naming ``field`` for an unknown layer or code."""
    if not area:
        return None
    layer, sep, code = area.partition(":")
    if not sep or layer not in PATCH_LAYERS:
        raise InvalidParameter(f"{field}: give npa:<code> or ward:<code> (e.g. npa:NC), not "
                               f"{area!r}")
    names = _areas(svc, layer)
    if code not in names:
        some = ", ".join(sorted(names)[:4])
        raise InvalidParameter(f"{field}: no {layer} with code {code!r} (codes: {some}, ...; "
                               f"see the map's drop-down)")
    return Patch(layer=layer, code=code, name=names[code])


def patch_choices(svc) -> list[tuple[str, str]]:
    """(value, label) of every patch, for a drop-down: NPAs as 'Central (NC)', then wards
    by name."""
    out = []
    for layer in PATCH_LAYERS:
        areas = sorted(_areas(svc, layer).items(), key=lambda kv: kv[1])
        out += [(f"{layer}:{code}", Patch(layer, code, name).label) for code, name in areas]
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
