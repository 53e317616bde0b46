"""The lockdown question in one call: NPA change, WDQ centre -> East/West, centre shift and
the H3 hotspot change, as JSON (the report) or as the layers of its map, and the answer in
words (``report_words``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd

from geo_api.data.store.base import OffenceFilter
from geo_api.services import comparison as c
from geo_api.services.frames import records
from geo_api.services.hotspots import Significance
from geo_api.services.report_words import report_sentences
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
    summary_words: list[str]  # the answer in words (``report_words.report_sentences``)


def centre_to_east_west(svc: Service, fb: OffenceFilter, fa: OffenceFilter,
                        sig: Significance) -> c.Displacement:
    """The report's WDQ: the city centre NC as target, East and West (NE+NW) as the areas
    around, South (NS) as control."""
    return c.displacement(svc, fb, fa, layer="npa", target=["NC"],
                          displacement_areas=["NE", "NW"], control=["NS"], alpha=sig.alpha)


def displacement_report(svc: Service, fb: OffenceFilter, fa: OffenceFilter,
                        sig: Significance) -> DisplacementFindings:
    """NPA share change, WDQ (NC -> NE+NW, control NS), centre shift, H3 r9 hot spot change,
    and the answer in words (from the exact numbers: for the public role the web layer says
    it again from the published ones)."""
    table, meta = c.compare_areas(svc, fb, fa, NPA, sig.alpha, sig.fdr)
    hot_change = c.hotspots_change(svc, fb, fa, H3_R9, sig)
    rows, wdq = records(table), centre_to_east_west(svc, fb, fa, sig)
    return DisplacementFindings(
        meta=meta,
        npa_change=rows,
        wdq_centre_to_east_west=wdq,
        centre_shift=c.centre_shift(svc, fb, fa, "city"),
        hotspot_change_h3_r9=c.HotspotChangeSummary(jaccard_hot=hot_change.jaccard_hot,
                                                    counts=hot_change.counts),
        summary_words=report_sentences(rows, dataclasses.asdict(wdq), sig.alpha, sig.fdr),
    )


@dataclass(frozen=True)
class ReportMapLayers:
    """What does the report map draw (aggregates only)?"""

    npa_table: pd.DataFrame  # ``compare_areas`` on NPAs
    ward_table: pd.DataFrame  # and on wards
    hotspots: c.HotspotChange  # H3 r9 cells with their change and its definition
    centres: c.CentreShift
    wdq: dict[str, Any]  # ``centre_to_east_west`` as a dict (as published: protected copies)
    sig: Significance  # the rule the tables' verdicts used


def report_map_layers(svc: Service, fb: OffenceFilter, fa: OffenceFilter,
                      sig: Significance) -> ReportMapLayers:
    """What the report map draws (aggregates only): NPA and ward change tables, the hot spot
    change cells with their definition, both mean centres, and the WDQ its words read."""
    npa_table, _ = c.compare_areas(svc, fb, fa, NPA, sig.alpha, sig.fdr)
    ward_table, _ = c.compare_areas(svc, fb, fa, WARD, sig.alpha, sig.fdr)
    return ReportMapLayers(npa_table=npa_table, ward_table=ward_table,
                           hotspots=c.hotspots_change(svc, fb, fa, H3_R9, sig),
                           centres=c.centre_shift(svc, fb, fa, "city"),
                           wdq=dataclasses.asdict(centre_to_east_west(svc, fb, fa, sig)),
                           sig=sig)
