"""One city and one force area for every endpoint: an offence is in the city when the
district it was joined to at ingest is Leicester's (E06000016), in the force area when it
was joined to any district; layers covering the city nest in that district (a point in a
ward polygon but in Blaby has no ward; a city point in a sliver no ward covers gets the
nearest ward), so every endpoint family counts the same offences."""

from __future__ import annotations

import re

import numpy as np
import pytest
import shapely

from geo_api.analysis.join import OUTSIDE, build_area_index, lookup, nest
from geo_api.data.boundaries import CITY_LAD
from geo_api.data.store.base import OffenceFilter

P = {"datetime": "2020-04/2020-09", "group": "all"}


def test_nest_drops_points_outside_the_parent_and_fills_slivers():
    """Two SYNTHETIC squares as the layer; the parent covers x < 150 (so the right half of
    square 1 is outside it) and a gap 100..110 between the squares is inside it."""
    geoms = np.array([shapely.box(0, 0, 100, 100), shapely.box(110, 0, 200, 100)])
    idx = build_area_index(geoms, pixel_m=5)
    x = np.array([50.0, 105.0, 108.0, 160.0, 50.0])
    y = np.array([50.0, 50.0, 50.0, 50.0, 500.0])
    raw = lookup(idx, x, y)
    assert raw.tolist() == [0, OUTSIDE, OUTSIDE, 1, OUTSIDE]
    parent = x < 150
    out = nest(raw, parent, idx, x, y)
    assert out.tolist() == [0, 0, 1, OUTSIDE, 0]  # 105 nearer 0, 108 nearer 1; 500 m north


def test_stored_city_layers_nest_in_the_city_district(demo_service):
    rows = demo_service.store.values(("lad_code", "ward_code", "npa_code", "oa_code",
                                      "lsoa_code", "sector_code", "has_location"),
                                     OffenceFilter())
    city = rows["lad_code"].eq(CITY_LAD)
    for col in ("ward_code", "npa_code", "oa_code"):
        assert rows.loc[city, col].notna().all(), col
        assert rows.loc[~city, col].isna().all(), col
    force = rows["lad_code"].notna()
    for col in ("lsoa_code", "sector_code"):
        assert rows.loc[force, col].notna().all(), col
        assert rows.loc[~force, col].isna().all(), col
    assert city.sum() > 30000 and (force & ~city).sum() > 30000


def n_demand(body: dict) -> int:
    return int(re.match(r"([\d,]+) offences", body["meta"]["demand_definition"])[1]
               .replace(",", ""))


@pytest.mark.parametrize("study_area", ["city", "force"])
def test_every_endpoint_family_counts_the_same_study_area(client, study_area):
    """Area tables, Gi* on H3 and a fishnet, KDE, kit planning and the district count give
    the same total for the same selection (issue 26: 8,900 wards vs 8,899 kits)."""
    def get(url, **kw):
        r = client.get(url, params={**P, **kw})
        assert r.status_code == 200, (url, kw, r.text[:300])
        return r.json()

    lad = {a["code"]: a["count"] for a in get("/stats/areas", layer="lad")["areas"]}
    want = lad[CITY_LAD] if study_area == "city" else sum(lad.values())
    layers = ("ward", "npa", "oa") if study_area == "city" else ("lsoa", "sector", "lad")
    totals = {layer: get("/stats/areas", layer=layer)["meta"]["n_in_layer"]
              for layer in layers}
    totals["gi h3 r9"] = get("/hotspots/gi", permutations=0, study_area=study_area
                             )["meta"]["n_offences_in_units"]
    totals["gi h3 r7"] = get("/hotspots/gi", permutations=0, study_area=study_area,
                             resolution=7)["meta"]["n_offences_in_units"]
    totals["gi fishnet"] = get("/hotspots/gi", permutations=0, grid="fishnet",
                               study_area=study_area)["meta"]["n_offences_in_units"]
    totals["kde"] = get("/hotspots/kde", study_area=study_area, cell_size_m=500,
                        bandwidth_m=1000)["meta"]["n_points"]
    totals["kits"] = n_demand(get("/plan/kits/next", study_area=study_area, p=1))
    totals["coverage"] = n_demand(get("/plan/kits/coverage", study_area=study_area))
    assert want > 20000
    assert totals == {k: want for k in totals}
    units = get("/hotspots/gi", permutations=0, study_area=study_area)["meta"]
    assert "joined to" in units["study_area_definition"] and "overlap" in \
        units["study_area_definition"]
