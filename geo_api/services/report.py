"""The lockdown question in one call: NPA change, WDQ centre -> East/West, centre shift and
the H3 hotspot change, as JSON (the report) or as the layers of its map."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from geo_api.data.store.base import OffenceFilter
from geo_api.services import comparison as c
from geo_api.services.frames import records
from geo_api.services.hotspots import Significance
from geo_api.services.service import Service
from geo_api.services.units import UnitSpec

NPA = UnitSpec(grid="npa")
WARD = UnitSpec(grid="ward")
H3_R9 = UnitSpec(grid="h3", resolution=9, k=1)


@dataclass(frozen=True)
class DisplacementFindings:
    """Did violence move out of the city centre between the periods (the one-call report)?"""

    meta: dict[str, Any]  # the NPA comparison's
    npa_change: list[dict[str, Any]]  # one row per NPA (``AreaChange`` in the web models)
    wdq_centre_to_east_west: c.Displacement
    centre_shift: c.CentreShift
    hotspot_change_h3_r9: c.HotspotChangeSummary


def displacement_report(svc: Service, fb: OffenceFilter, fa: OffenceFilter,
                        sig: Significance) -> DisplacementFindings:
    """NPA share change, WDQ (NC -> NE+NW, control NS), centre shift, H3 r9 hot spot change."""
    table, meta = c.compare_areas(svc, fb, fa, NPA, sig.alpha, sig.fdr)
    hot_change = c.hotspots_change(svc, fb, fa, H3_R9, sig)
    return DisplacementFindings(
        meta=meta,
        npa_change=records(table),
        wdq_centre_to_east_west=c.displacement(svc, fb, fa, layer="npa", target=["NC"],
                                               displacement_areas=["NE", "NW"],
                                               control=["NS"], alpha=sig.alpha),
        centre_shift=c.centre_shift(svc, fb, fa, "city"),
        hotspot_change_h3_r9=c.HotspotChangeSummary(jaccard_hot=hot_change.jaccard_hot,
                                                    counts=hot_change.counts),
    )


@dataclass(frozen=True)
class ReportMapLayers:
    """What does the report map draw (aggregates only)?"""

    npa_table: pd.DataFrame  # ``compare_areas`` on NPAs
    ward_table: pd.DataFrame  # and on wards
    hotspots: c.HotspotChange  # H3 r9 cells with their change and its definition
    centres: c.CentreShift


def report_map_layers(svc: Service, fb: OffenceFilter, fa: OffenceFilter,
                      sig: Significance) -> ReportMapLayers:
    """What the report map draws (aggregates only): NPA and ward change tables, the hot spot
    change cells with their definition, and both mean centres."""
    npa_table, _ = c.compare_areas(svc, fb, fa, NPA, sig.alpha, sig.fdr)
    ward_table, _ = c.compare_areas(svc, fb, fa, WARD, sig.alpha, sig.fdr)
    return ReportMapLayers(npa_table=npa_table, ward_table=ward_table,
                           hotspots=c.hotspots_change(svc, fb, fa, H3_R9, sig),
                           centres=c.centre_shift(svc, fb, fa, "city"))
