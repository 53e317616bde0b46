"""The lockdown question in one call: NPA change, WDQ centre -> East/West, centre shift and
the H3 hotspot change, as JSON (the report) or as the layers of its map."""

from __future__ import annotations

from geo_api.data.store.base import OffenceFilter
from geo_api.services import comparison as c
from geo_api.services.frames import records
from geo_api.services.hotspots import Significance
from geo_api.services.service import Service
from geo_api.services.units import UnitSpec

NPA = UnitSpec(grid="npa")
WARD = UnitSpec(grid="ward")
H3_R9 = UnitSpec(grid="h3", resolution=9, k=1)


def displacement_report(svc: Service, fb: OffenceFilter, fa: OffenceFilter,
                        sig: Significance) -> dict:
    """NPA share change, WDQ (NC -> NE+NW, control NS), centre shift, H3 r9 hot spot change."""
    table, meta = c.compare_areas(svc, fb, fa, NPA, sig.alpha, sig.fdr)
    hs = c.hotspots_change(svc, fb, fa, H3_R9, sig)
    return {
        "meta": meta,
        "npa_change": records(table),
        "wdq_centre_to_east_west": c.displacement(svc, fb, fa, layer="npa", target=["NC"],
                                                  displacement_areas=["NE", "NW"],
                                                  control=["NS"], alpha=sig.alpha),
        "centre_shift": c.centre_shift(svc, fb, fa, "city"),
        "hotspot_change_h3_r9": {k: hs[k] for k in ("jaccard_hot", "counts")},
    }


def report_map_layers(svc: Service, fb: OffenceFilter, fa: OffenceFilter,
                      sig: Significance) -> dict:
    """What the report map draws (aggregates only): NPA and ward change tables, the hot spot
    change cells with their definition, and both mean centres."""
    npa, _ = c.compare_areas(svc, fb, fa, NPA, sig.alpha, sig.fdr)
    wards, _ = c.compare_areas(svc, fb, fa, WARD, sig.alpha, sig.fdr)
    return {"npa_table": npa, "ward_table": wards,
            "hotspots": c.hotspots_change(svc, fb, fa, H3_R9, sig),
            "centres": c.centre_shift(svc, fb, fa, "city")}
