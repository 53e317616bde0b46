"""Hotspot endpoints on the shipped data: parameters echoed, results consistent."""

import numpy as np
import pytest

from geo_api.analysis.kde import kde_exact

PERIODS = ["2019-12/2020-02", "2020-04/2020-06"]


@pytest.mark.parametrize("period", PERIODS)
def test_gi_star_h3_res9_returns_hot_cells_with_meta(client, period):
    q = {"datetime": period, "group": "violence_robbery_weapons", "resolution": 9,
         "permutations": 199, "seed": 5}
    body = client.get("/hotspots/gi", params=q).json()
    meta = body["meta"]
    assert (meta["resolution"], meta["permutations"], meta["seed"]) == (9, 199, 5)
    assert meta["p_value"].startswith("two-sided") and meta["dataset_version"]
    hot = [c for c in body["cells"] if c["label"].startswith("hot")]
    assert hot and all(c["gi_z"] > 0 for c in hot)
    assert sum(c["count"] for c in body["cells"]) == meta["n_offences_in_units"]
    again = client.get("/hotspots/gi", params=q).json()
    assert [c["label"] for c in again["cells"]] == [c["label"] for c in body["cells"]]


def test_gi_star_fdr_flags_no_more_cells_than_without(client):
    q = {"datetime": PERIODS[1], "group": "violence_robbery_weapons", "permutations": 199}
    plain = client.get("/hotspots/gi", params=q).json()["cells"]
    fdr = client.get("/hotspots/gi", params={**q, "fdr": 0.05}).json()["cells"]
    n = lambda cells: sum(c["label"] != "not significant" for c in cells)
    assert n(fdr) <= n(plain)


@pytest.mark.parametrize("period", PERIODS)
def test_kde_surface_matches_exact_at_the_peak(client, demo_service, period):
    from geo_api.services.filters import build_filter
    from geo_api.services.hotspots import study_area_m

    q = {"datetime": period, "group": "violence_robbery_weapons", "bandwidth_m": 300,
         "cell_size_m": 100}
    body = client.get("/hotspots/kde", params=q).json()
    g, meta = body["grid"], body["meta"]
    assert (meta["bandwidth_m"], meta["cell_size_m"], meta["kernel"]) == (300, 100, "quartic")
    vals = np.array(g["values"])
    iy, ix = np.unravel_index(vals.argmax(), vals.shape)
    cx = g["x0_m"] + (ix + 0.5) * g["cell_size_m"]
    cy = g["y0_m"] + (iy + 0.5) * g["cell_size_m"]
    pts = demo_service.store.points(build_filter(period, "violence_robbery_weapons"))
    import shapely

    area = study_area_m(demo_service, "city")
    inside = shapely.contains_xy(area, pts.x_m, pts.y_m)
    exact = kde_exact(pts.x_m[inside], pts.y_m[inside], [cx], [cy], 300, "quartic")[0]
    assert vals.max() == pytest.approx(exact, rel=1e-3)  # values rounded to 4 decimals


def test_kde_default_bandwidth_rule_is_stated(client):
    meta = client.get("/hotspots/kde", params={"datetime": PERIODS[0]}).json()["meta"]
    assert meta["bandwidth_rule"].startswith("ArcGIS") and meta["bandwidth_m"] > 0


@pytest.mark.parametrize("path, params", [
    ("/hotspots/gi", {"resolution": 6}),
    ("/hotspots/gi", {"fdr": 2}),
    ("/hotspots/kde", {"cell_size_m": 1}),
    ("/hotspots/kde", {"kernel": "box"}),
    ("/hotspots/gi", {"datetime": "1999-01"}),
])
def test_hotspot_bad_parameters_are_4xx(client, path, params):
    r = client.get(path, params=params)
    assert 400 <= r.status_code < 500 and r.json()["message"]


@pytest.mark.parametrize("grid, extra", [("fishnet", {"cell_size_m": 500}), ("lsoa", {}),
                                         ("ward", {})])
def test_gi_star_on_fishnet_and_polygon_layers(client, grid, extra):
    q = {"datetime": PERIODS[0], "group": "violence_robbery_weapons", "grid": grid,
         "permutations": 99, **extra}
    body = client.get("/hotspots/gi", params=q).json()
    assert body["meta"]["grid"] == grid and body["meta"]["n_units"] == len(body["cells"])
    assert any(c["label"].startswith("hot") for c in body["cells"])


def test_top_n_and_concentration(client, demo_service):
    q = {"datetime": PERIODS[1], "group": "violence_robbery_weapons"}
    top = client.get("/stats/top", params={**q, "grid": "ward", "n": 8}).json()["top"]
    assert [t["rank"] for t in top] == list(range(1, 9))
    assert top[0]["name"] == "Castle"
    counts = [t["count"] for t in top]
    assert counts == sorted(counts, reverse=True)
    conc = client.get("/stats/concentration", params={**q, "grid": "h3", "resolution": 9}).json()
    assert 0 < conc["gini"] < 1
    shares = conc["share_of_offences_in_top_area"]
    assert shares["1%"] <= shares["5%"] <= shares["10%"] <= shares["25%"] <= 1
    assert shares["10%"] > 0.10  # violence is concentrated: more than its share of area


def test_time_profile_says_police_uk_has_no_times(client):
    body = client.get("/profiles/time", params={"datetime": PERIODS[0]}).json()
    assert body["meta"]["n_with_time"] == 0 and body["night_time_economy"]["share"] is None
    assert body["meta"]["extra_caveats"]


def test_kde_geojson_cells_are_lonlat_and_above_threshold(client):
    q = {"datetime": PERIODS[0], "group": "violence_robbery_weapons", "bandwidth_m": 300,
         "cell_size_m": 100, "f": "geojson", "min_share_of_max": 0.5}
    fc = client.get("/hotspots/kde", params=q).json()
    assert fc["type"] == "FeatureCollection" and fc["features"]
    shares = [f["properties"]["share_of_max"] for f in fc["features"]]
    assert min(shares) >= 0.5 and max(shares) == 1.0
    lon, lat = fc["features"][0]["geometry"]["coordinates"][0][0]
    assert -1.3 < lon < -1.0 and 52.5 < lat < 52.8
    assert fc["meta"]["units"] == "offences per km^2"


def test_top_locations_counts_match_offences(client):
    q = {"datetime": PERIODS[0], "group": "violence_robbery_weapons", "grid": "location", "n": 8}
    top = client.get("/stats/top", params=q).json()["top"]
    assert len(top) == 8 and [t["rank"] for t in top] == list(range(1, 9))
    lon, lat = map(float, top[0]["code"].split(","))
    box = f"{lon - 1e-6},{lat - 1e-6},{lon + 1e-6},{lat + 1e-6}"
    n = client.get("/offences", params={"datetime": PERIODS[0], "group": "violence_robbery_weapons",
                                        "bbox": box, "limit": 1}).json()["numberMatched"]
    assert n >= top[0]["count"]
