"""Hotspot endpoints on the shipped data: parameters echoed, results consistent."""

import numpy as np
import pytest

from geo_api.analysis.kde import kde_exact

PERIODS = ["2019-12/2020-02", "2020-04/2020-06"]


@pytest.mark.parametrize("period", PERIODS)
def test_gi_star_h3_res9_returns_hot_cells_with_meta(client, period):
    q = {"datetime": period, "group": "violence_robbery_weapons", "resolution": 9, "seed": 5}
    body = client.get("/hotspots/gi", params=q).json()
    meta = body["meta"]
    assert (meta["resolution"], meta["permutations"], meta["seed"], meta["fdr"]) == (9, 9999, 5,
                                                                                     True)
    assert meta["min_attainable_p"] == pytest.approx(2 / 10000)
    assert meta["p_value"].startswith("two-sided") and meta["dataset_version"]
    hot = [c for c in body["cells"] if c["label"].startswith("hot")]
    assert hot and all(c["gi_z"] > 0 for c in hot)
    assert sum(c["count"] for c in body["cells"]) == meta["n_offences_in_units"]
    again = client.get("/hotspots/gi", params=q).json()
    assert [c["label"] for c in again["cells"]] == [c["label"] for c in body["cells"]]


def test_gi_star_fdr_keeps_fewer_cells_than_per_unit_thresholds(client):
    """FDR is applied: it keeps some hot cells and fewer than per-unit p <= alpha, and the
    labels are BH discoveries at each level (checked against the p-values returned)."""
    from geo_api.analysis.getis_ord import benjamini_hochberg

    q = {"datetime": PERIODS[1], "group": "violence_robbery_weapons"}
    fdr = client.get("/hotspots/gi", params=q).json()
    plain = client.get("/hotspots/gi", params={**q, "fdr": False}).json()
    n = lambda body: sum(c["label"] != "not significant" for c in body["cells"])
    assert 0 < n(fdr) < n(plain)
    assert fdr["meta"]["n_significant"]["90%"] == n(fdr)
    p = np.array([c["p_two_sided"] for c in fdr["cells"]])
    at_95 = [c["label"].endswith(("95%", "99%")) for c in fdr["cells"]]
    assert at_95 == benjamini_hochberg(p, 0.05).tolist()
    plain_p = np.array([c["p_two_sided"] for c in plain["cells"]])
    assert np.array_equal(p, plain_p)  # same draws: only the decision rule differs


def test_gi_star_with_199_permutations_says_why_fdr_keeps_nothing(client):
    q = {"datetime": PERIODS[1], "group": "violence_robbery_weapons", "permutations": 199}
    body = client.get("/hotspots/gi", params=q).json()
    assert body["meta"]["min_attainable_p"] == pytest.approx(0.01)
    assert body["meta"]["n_significant"] == {"90%": 0, "95%": 0, "99%": 0}


def test_gi_star_on_npa_gives_null_z_with_a_reason_not_a_500(client):
    """Four mutually adjacent NPAs: every unit neighbours every unit, z is 0/0."""
    r = client.get("/hotspots/gi", params={"datetime": PERIODS[1], "grid": "npa"})
    assert r.status_code == 200
    cells = r.json()["cells"]
    assert len(cells) == 4 and all(c["gi_z"] is None and c["p_two_sided"] is None for c in cells)
    assert all(c["label"] == "undefined" and "every unit" in c["undefined_reason"] for c in cells)
    assert r.json()["meta"]["n_undefined"] == 4


@pytest.mark.parametrize("period", PERIODS)
def test_kde_surface_matches_exact_at_the_peak(client, demo_service, period):
    from geo_api.services.filters import build_filter
    from geo_api.services.units import study_area_m

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
    ("/hotspots/kde", {"bandwidth_m": 5e-324}),
    ("/hotspots/kde", {"cell_size_m": 1}),
    ("/hotspots/kde", {"kernel": "box"}),
    ("/hotspots/gi", {"datetime": "1999-01"}),
])
def test_hotspot_bad_parameters_are_4xx(client, path, params):
    r = client.get(path, params=params)
    assert 400 <= r.status_code < 500 and r.json()["message"]


@pytest.mark.parametrize("grid, extra", [("fishnet", {"fishnet_cell_size_m": 500}),
                                         ("lsoa", {}), ("ward", {})])
def test_gi_star_on_fishnet_and_polygon_layers(client, grid, extra):
    q = {"datetime": PERIODS[0], "group": "violence_robbery_weapons", "grid": grid,
         "fdr": False, **extra}
    body = client.get("/hotspots/gi", params=q).json()
    assert body["meta"]["grid"] == grid and body["meta"]["n_units"] == len(body["cells"])
    assert any(c["label"].startswith("hot") for c in body["cells"])


def test_top_n_and_concentration(client, demo_service):
    q = {"datetime": PERIODS[1], "group": "violence_robbery_weapons"}
    top = client.get("/stats/top", params={**q, "grid": "ward", "limit": 8}).json()["top"]
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
    assert any("no matching offences have a time" in w for w in body["meta"]["warnings"])


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
    q = {"datetime": PERIODS[0], "group": "violence_robbery_weapons", "grid": "location",
         "limit": 8}
    top = client.get("/stats/top", params=q).json()["top"]
    assert len(top) == 8 and [t["rank"] for t in top] == list(range(1, 9))
    lon, lat = map(float, top[0]["code"].split(","))
    box = f"{lon - 1e-6},{lat - 1e-6},{lon + 1e-6},{lat + 1e-6}"
    n = client.get("/offences", params={"datetime": PERIODS[0], "group": "violence_robbery_weapons",
                                        "bbox": box, "limit": 1}).json()["numberMatched"]
    assert n >= top[0]["count"]


@pytest.mark.parametrize("resolution", [7, 8, 9, 10])
def test_every_gi_hexagon_contains_the_points_it_counts(client, resolution):
    """The hexagon drawn for a cell holds exactly the city's offences counted in it (H3 cells
    are latlng_to_cell at each resolution, not parents of finer cells), and the cells hold
    every one of them."""
    import shapely

    q = {"datetime": "2020-03", "group": "violence_robbery_weapons", "permutations": 0,
         "resolution": resolution}
    cells = client.get("/hotspots/gi", params={**q, "f": "geojson"}).json()["features"]
    pts = client.get("/offences", params={"datetime": "2020-03", "limit": 10000,
                                          "group": "violence_robbery_weapons"}).json()
    xy = np.array([f["geometry"]["coordinates"] for f in pts["features"] if f["geometry"]
                   and f["properties"]["lad_code"] == "E06000016"])  # the city's offences
    points = shapely.points(xy)
    counted = 0
    for c in cells:
        poly = shapely.geometry.shape(c["geometry"])
        inside = int(shapely.covers(poly, points).sum())
        assert inside == c["properties"]["count"], c["id"]
        counted += inside
    assert counted == len(xy) > 1000


def test_mottisford_road_offences_are_counted_in_the_cell_that_contains_them(client):
    """Issue 26's reproduction: the offences at (-1.134387, 52.663108) in March 2020 are in
    r9 cell 8919434d87bffff (they were counted in its neighbour 8919434d873ffff)."""
    import h3

    q = {"datetime": "2020-03", "group": "violence_robbery_weapons", "permutations": 0,
         "resolution": 9}
    counts = {c["id"]: c["count"] for c in client.get("/hotspots/gi", params=q).json()["cells"]}
    pts = client.get("/offences", params={"datetime": "2020-03", "limit": 10000,
                                          "group": "violence_robbery_weapons",
                                          "bbox": "-1.1345,52.6630,-1.1342,52.6632"}).json()
    here = [f for f in pts["features"] if f["geometry"]["coordinates"] == [-1.134387, 52.663108]]
    assert here and all(f["properties"]["h3_r9"] == "8919434d87bffff" for f in here)
    assert h3.latlng_to_cell(52.663108, -1.134387, 9) == "8919434d87bffff"
    assert counts["8919434d87bffff"] >= len(here)
    assert counts.get("8919434d873ffff", 0) == 0
