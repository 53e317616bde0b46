"""Planning endpoints end to end on the shipped police.uk demo data, checked against direct
computations from the store (not against the planning code's own helpers)."""

from __future__ import annotations

import csv
import html
import io
import re

import numpy as np
import pytest
import shapely
from scipy.spatial import cKDTree

from geo_api.analysis.ranking import eb_rates
from geo_api.crs import lonlat_to_metric
from geo_api.services.filters import build_filter
from geo_api.services.units import study_area_m

PERIOD = "2020-04/2020-09"
Q = f"datetime={PERIOD}"  # the kit solvers take no permutations
QS = f"{Q}&permutations=999"  # endpoints that test hot spots
KITS = (b"name,kind,easting,northing\nClock Tower,bleed kit,458800,304580\n"
        b"Haymarket bus station,bleed kit,458944,304725\n")


@pytest.fixture(scope="module")
def demand_xy(demo_service):
    """Every violence/robbery/weapons offence in the period inside the city (x, y)."""
    with demo_service.pinned() as svc:
        pts = svc.store.points(build_filter(PERIOD, "violence_robbery_weapons"))
        city = study_area_m(svc, "city")
    x, y = pts["x_m"].to_numpy(), pts["y_m"].to_numpy()
    inside = shapely.contains_xy(city, x, y)
    return np.column_stack([x[inside], y[inside]])


@pytest.fixture(scope="module")
def kits(client):
    assert client.post("/sites/plan-kits", content=KITS,
                       headers={"content-type": "text/csv"}).status_code == 201
    return "plan-kits"


def offences_within(demand_xy, lonlat, radius_m=200.0):
    lon, lat = np.array([p[0] for p in lonlat]), np.array([p[1] for p in lonlat])
    x, y = lonlat_to_metric(lon, lat)
    d, _ = cKDTree(np.column_stack([x, y])).query(demand_xy, k=1)
    return int((d <= radius_m + 0.05).sum())  # lon/lat are rounded to 6 decimals (~0.1 m)


def test_next_kits_cover_what_they_say(client, demand_xy):
    r = client.get(f"/plan/kits/next?{Q}&p=5")
    assert r.status_code == 200, r.text
    body = r.json()
    s, sites = body["summary"], body["sites"]
    assert len(sites) == 5 and s["status"] == "optimal"
    assert s["offences_total"] == len(demand_xy)
    assert s["offences_covered"] == offences_within(demand_xy, [(k["lon"], k["lat"])
                                                                for k in sites])
    cum = [k["cumulative_share"] for k in sites]
    assert cum == sorted(cum) and cum[-1] == pytest.approx(s["covered_share"], abs=1e-6)
    gains = [k["added_offences"] for k in sites]
    assert gains == sorted(gains, reverse=True)
    assert s["covered_share_bound"] == pytest.approx(s["covered_share"])
    assert body["meta"]["solver"]["gap"] == 0
    assert body["meta"]["candidates"] == "police_points" and body["meta"]["n_candidates"] > 1000
    # no other choice of one site beats the first site's coverage
    single = client.get(f"/plan/kits/next?{Q}&p=1").json()
    assert single["sites"][0]["added_offences"] >= sites[0]["added_offences"]


def test_existing_kits_are_kept_and_counted(client, demand_xy, kits):
    body = client.get(f"/plan/kits/next?{Q}&p=3&existing={kits}").json()
    s = body["summary"]
    cov = client.get(f"/plan/kits/coverage?{QS}&sites={kits}").json()
    assert s["covered_share_existing"] == pytest.approx(cov["totals"]["covered_share"])
    kit_points = [(k["lon"], k["lat"]) for k in cov["sites"]]
    new_points = [(k["lon"], k["lat"]) for k in body["sites"]]
    assert s["offences_covered"] == offences_within(demand_xy, kit_points + new_points)
    assert s["covered_share"] > s["covered_share_existing"]
    assert body["meta"]["existing"] == kits and body["meta"]["n_existing"] == 2


def test_coverage_per_site_matches_a_direct_count(client, demand_xy, kits):
    body = client.get(f"/plan/kits/coverage?{QS}&sites={kits}&radius_m=300").json()
    for site in body["sites"]:
        assert site["offences_within"] == offences_within(
            demand_xy, [(site["lon"], site["lat"])], 300)
    t = body["totals"]
    assert t["offences_covered"] == offences_within(
        demand_xy, [(k["lon"], k["lat"]) for k in body["sites"]], 300)
    assert t["offences_covered"] + t["offences_not_covered"] == t["n_offences"]
    assert all(h["distance_to_nearest_site_m"] > 300 for h in body["uncovered_hot_spots"])
    assert t["n_hot_cells_uncovered"] == len(body["uncovered_hot_spots"]) <= t["n_hot_cells"]
    assert body["meta"]["distance"] == "straight"


def test_coverage_curve_rises_and_agrees_with_coverage(client):
    curve = client.get(f"/plan/kits/coverage-curve?datetime={PERIOD}&sites=schools").json()
    shares = [c["covered_share"] for c in curve["curve"]]
    assert shares == sorted(shares) and len(shares) == 20
    at200 = next(c for c in curve["curve"] if c["radius_m"] == 200)
    cov = client.get(f"/plan/kits/coverage?{QS}&sites=schools").json()
    assert at200["covered_share"] == pytest.approx(cov["totals"]["covered_share"])
    assert client.get("/plan/kits/coverage-curve?radii_m=20").status_code == 422


def test_how_many_is_the_fewest(client):
    body = client.get(f"/plan/kits/how-many?{Q}&target_share=0.1").json()
    s = body["summary"]
    n = s["n_new_sites"]
    assert s["covered_share"] >= 0.1 and s["status"] == "optimal"
    assert s["sites_lower_bound"] == n == len(body["sites"])
    fewer = client.get(f"/plan/kits/next?{Q}&p={n - 1}").json()["summary"]
    assert fewer["covered_share"] < 0.1 and fewer["status"] == "optimal"


def test_p_curve_matches_single_solves(client):
    curve = client.get(f"/plan/kits/p-curve?{Q}&max_p=4&method=exact").json()["curve"]
    shares = [c["covered_share"] for c in curve]
    assert shares == sorted(shares)
    exact3 = client.get(f"/plan/kits/next?{Q}&p=3").json()["summary"]["covered_share"]
    assert shares[2] == pytest.approx(exact3)
    assert sum(c["added_share"] for c in curve) == pytest.approx(shares[-1], abs=1e-5)
    band = client.get(f"/plan/kits/p-curve?{Q}&max_p=4").json()
    assert band["meta"]["curve_method"] == "bounds"
    for b, e in zip(band["curve"], curve):  # the band holds the exact optimum
        assert b["covered_share"] - 1e-6 <= e["covered_share"] <= b["covered_share_bound"] + 1e-6
    text = client.get(f"/plan/kits/p-curve?{Q}&max_p=2&f=csv").content.decode("utf-8-sig")
    assert text.splitlines()[0] == "p,covered_share,covered_share_bound,added_share,status,gap"


def test_people_zones_components_recompute(client, demo_service):
    body = client.get(f"/plan/people-zones?{QS}").json()
    areas = body["areas"]
    assert len(areas) == 21 and min(a["rank"] for a in areas) == 1
    off = np.array([a["offences"] for a in areas], float)
    pop = np.array([a["population_2015"] for a in areas], float)
    assert np.allclose([a["violence_rate"] for a in areas], eb_rates(off, pop) * 1000, atol=1e-5)
    for a in areas:
        parts = [a[f"contribution_{n}"] for n in body["meta"]["weights"]]
        assert sum(parts) == pytest.approx(a["score"], abs=1e-5)
        assert a["rank_best_weights_pm50"] <= a["rank"] <= a["rank_worst_weights_pm50"]
        varied = [r for pair in a["sensitivity"].values() for r in pair]
        assert min(varied + [a["rank"]]) == a["rank_best_weights_pm50"]
        assert max(varied + [a["rank"]]) == a["rank_worst_weights_pm50"]
        assert a["rank_p05_poisson"] <= a["rank_p95_poisson"]
        assert a["offences_recent"] + a["offences_earlier"] == a["offences"]
    scores = [a["score"] for a in areas]
    assert scores == sorted(scores, reverse=True)
    # ward counts agree with /stats/areas for the same filter
    stats = client.get(f"/stats/areas?layer=ward&datetime={PERIOD}"
                       "&group=violence_robbery_weapons").json()["areas"]
    assert {a["code"]: a["offences"] for a in areas} == {s["code"]: s["count"] for s in stats}
    assert any("Crime domain" in w for w in body["meta"]["warnings"])


def test_people_zone_weights_drive_the_order(client):
    q = (f"/plan/people-zones?{QS}&weight_violence_rate=0&weight_hot_spot_share=0&weight_trend=0"
         "&weight_young_people=0&weight_deprivation=1&n_sim=100")
    areas = client.get(q).json()["areas"]
    imd = [a["imd_rank"] for a in areas]
    assert imd == sorted(imd)  # most deprived (lowest rank) first
    assert client.get(f"/plan/people-zones?{QS}&weight_trend=-1").status_code == 422


def test_people_zone_formats(client):
    text = client.get(f"/plan/people-zones?{QS}&f=csv&n_sim=100").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 21 and rows[0]["rank"] == "1"
    assert "rank_violence_rate_x0.5" in rows[0] and "sensitivity" not in rows[0]
    fc = client.get(f"/plan/people-zones?{QS}&f=geojson&layer=npa&n_sim=100").json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 4
    lon, lat = fc["features"][0]["geometry"]["coordinates"][0][0][:2] if \
        fc["features"][0]["geometry"]["type"] == "Polygon" else \
        fc["features"][0]["geometry"]["coordinates"][0][0][0][:2]
    assert -1.3 < lon < -1.0 and 52.5 < lat < 52.75


def test_siting_formats_and_csv_formulas_are_neutralised(client):
    bad = b"name,kind,easting,northing\n=HYPERLINK(\"http://x\"),kit,458800,304580\n"
    assert client.post("/sites/formula-kits", content=bad,
                       headers={"content-type": "text/csv"}).status_code == 201
    text = client.get(f"/plan/kits/coverage?{QS}&sites=formula-kits&f=csv"
                      ).content.decode("utf-8-sig")
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["name"].startswith("'=")
    fc = client.get(f"/plan/kits/next?{Q}&p=2&f=geojson").json()
    assert len(fc["features"]) == 2 and fc["features"][0]["properties"]["rank"] == 1


@pytest.mark.parametrize("query, status, words", [
    ("/plan/kits/next?distance=walking", 422, "GEO_API_OSM_FILE"),
    ("/plan/kits/next?candidates=no-such-set", 404, "no candidate-site set"),
    ("/plan/kits/next?p=0", 422, "p"),
    ("/plan/kits/next?radius_m=2000", 422, "radius_m"),
    ("/plan/kits/how-many?target_share=1.5", 422, "target_share"),
    ("/plan/people-zones?layer=oa", 422, "layer"),
    ("/plan/kits/next?datetime=2031-01", 422, "no data loaded"),
    ("/plan/kits/next?group=knife_enabled_serious_violence", 422, "force-export"),
])
def test_planning_errors_are_clear(client, query, status, words):
    r = client.get(query)
    assert r.status_code == status
    assert words in r.json()["message"]


def test_walking_distance_through_the_api(demo_settings, demo_service, tmp_path):
    """A SYNTHETIC river grid in the city centre as the street network: walking coverage
    can only be smaller than straight-line coverage, and meta says which was used."""
    from fastapi.testclient import TestClient
    from test_walking import write_river_grid

    from geo_api.web.app import create_app

    osm = tmp_path / "river_grid_SYNTHETIC.osm.pbf"
    write_river_grid(osm)
    settings = demo_settings.model_copy(update={"osm_file": osm})
    with TestClient(create_app(settings)) as c:
        q = f"{QS}&sites=schools&radius_m=300"
        walk = c.get(f"/plan/kits/coverage?{q}&distance=walking").json()
        straight = c.get(f"/plan/kits/coverage?{q}").json()
    assert walk["meta"]["distance"] == "walking"
    assert "river_grid_SYNTHETIC" in walk["meta"]["distance_source"]
    assert walk["totals"]["offences_covered"] < straight["totals"]["offences_covered"]
    for a, b in zip(walk["sites"], straight["sites"]):
        assert a["offences_within"] <= b["offences_within"]


def test_planning_demand_defaults_to_knife_enabled_on_force_exports(timed_client, client):
    """On a (SYNTHETIC) force export the default demand is knife-enabled serious violence;
    on police.uk-only data it is the police.uk proxy."""
    r = client.get(f"/plan/kits/coverage?{QS}&sites=schools")
    assert r.json()["meta"]["filters"]["group"] == "violence_robbery_weapons"
    r = timed_client.get("/plan/kits/coverage?sites=schools&permutations=999")
    # the synthetic export has no knife-flagged rows: the refusal names the group it used
    assert r.status_code == 422
    assert "group=knife_enabled_serious_violence" in r.json()["message"]
    r = timed_client.get("/plan/kits/coverage?sites=schools&permutations=999&group=all")
    assert r.status_code == 200 and r.json()["meta"]["filters"]["group"] == "all"


def test_built_in_candidate_sets_are_named_once_per_data_version(demo_service, monkeypatch):
    """Naming every police.uk map point takes seconds: the built-in candidate set is built
    once per dataset version and study area, and each caller gets its own copy."""
    from geo_api.services import planning
    from geo_api.services.lru import LRU

    calls = []
    real = planning.name_places

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(planning, "BUILT_IN_SITES", LRU(8))
    monkeypatch.setattr(planning, "name_places", counting)
    first, _ = planning.site_set(demo_service, "police_points", "city")
    first["name"] = "changed by a caller"
    again, _ = planning.site_set(demo_service, "police_points", "city")
    assert calls == [1] and len(again) == len(first) > 1000
    assert (again["name"] != "changed by a caller").all()
    planning.site_set(demo_service, "police_points", "force")  # another study area
    monkeypatch.setattr(demo_service.store, "dataset_version", lambda: "v-another")
    planning.site_set(demo_service, "police_points", "city")  # new data: built again
    assert calls == [1, 1, 1]


# -- the planner's map: its numbers are the API's, its form chooses the site sets ---------
def _overlays(page: str) -> dict[str, bool]:
    """The map's switchable layers: name -> shown when the page opens."""
    block = re.search(r"overlays\s*:\s*\{(.*?)\}", page, re.DOTALL).group(1)
    layers = dict(re.findall(r'"([^"]+)"\s*:\s*(\w+)', block))
    return {name: f"{var}.addTo(map_" in page for name, var in layers.items()}


def _panel_text(page: str, element_id: str) -> str:
    part = re.search(rf'id="{element_id}"[^>]*>(.*?)</div>', page, re.DOTALL).group(1)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", part)))


def test_planning_map_numbers_are_the_apis(client, kits):
    """The map's shares and hot spot counts for the same kits and parameters as GET
    /plan/kits/coverage (existing kits) and /plan/kits/next (with the proposed ones), and
    it says which kits each count is for."""
    # default permutations (9,999): with fewer, FDR leaves too few hot spots to tell apart
    page = client.get(f"/maps/planning?{Q}&p=3&existing={kits}").text
    cov = client.get(f"/plan/kits/coverage?{Q}&sites={kits}").json()
    nxt = client.get(f"/plan/kits/next?{Q}&p=3&existing={kits}").json()
    n_hot, n_out = cov["totals"]["n_hot_cells"], cov["totals"]["n_hot_cells_uncovered"]
    # with the proposed kits as well: the hot spots the existing kits miss that are also
    # farther than 200 m from every proposed kit (a direct count)
    xs, ys = lonlat_to_metric(np.array([k["lon"] for k in nxt["sites"]]),
                              np.array([k["lat"] for k in nxt["sites"]]))
    hx, hy = lonlat_to_metric(np.array([h["lon"] for h in cov["uncovered_hot_spots"]]),
                              np.array([h["lat"] for h in cov["uncovered_hot_spots"]]))
    near, _ = cKDTree(np.column_stack([xs, ys])).query(np.column_stack([hx, hy]), k=1)
    n_out_all = int((near > 200 + 0.2).sum())  # lon/lat rounded to 6 decimals (~0.1 m)
    assert 0 < n_out_all < n_out <= n_hot  # the check can tell the two counts apart
    hot = _panel_text(page, "plan-hot")
    assert (f"out of reach of your existing kits ({kits}): {n_out} of {n_hot}; with the 3 "
            f"proposed kits as well: {n_out_all} of {n_hot}.") in hot, hot
    share = _panel_text(page, "plan-share")
    s = nxt["summary"]
    assert s["covered_share_existing"] == pytest.approx(cov["totals"]["covered_share"])
    assert f"have {cov['totals']['covered_share']:.1%} of the offences within 200 m" in share
    assert (f"With the 3 proposed kits as well: {s['covered_share']:.1%} (the most any 3 new "
            f"kits could reach: {s['covered_share_bound']:.1%})") in share, share
    layers = _overlays(page)
    assert layers[f"Hot spots no kit reaches ({n_out_all} of {n_hot})"]
    assert layers[f"Hot spots only the proposed kits reach ({n_out - n_out_all} of {n_hot})"]
    names = [k["name"] for k in nxt["sites"]]
    assert [html.unescape(n) for n in re.findall(
        r"<tr><td>\d+</td><td>([^<]*)</td>", page)[:3]] == names


def test_planning_map_layers_switch_and_the_noisy_one_starts_off(client, kits):
    layers = _overlays(client.get(f"/maps/planning?{Q}&p=2&existing={kits}").text)
    assert layers == {
        "People Zone ranking (wards)": True,
        "Offences within reach of a kit (green) or not (pink), small hexagons": False,
        "Existing kits (2)": True, "Proposed kits (2), numbered by what each adds": True,
        "Reach of every kit (200 m)": True,
        **{name: True for name in layers if name.startswith("Hot spots ")}}
    assert sum(name.startswith("Hot spots ") for name in layers) == 2


def test_planning_map_form_chooses_saved_and_built_in_sets(client, kits):
    page = client.get(f"/maps/planning?{Q}&p=2&existing={kits}&layer=npa").text
    form = re.search(r'<form id="plan-sets".*?</form>', page, re.DOTALL).group(0)
    existing = re.search(r'<select name="existing".*?</select>', form, re.DOTALL).group(0)
    candidates = re.search(r'<select name="candidates".*?</select>', form, re.DOTALL).group(0)
    saved = {s["name"] for s in client.get("/sites").json()["site_sets"]}
    assert kits in saved
    for select in (existing, candidates):  # every saved set is offered in both
        assert saved <= set(re.findall(r'<option value="([^"]*)"', select))
    assert f'<option value="{kits}" selected>' in existing
    assert '<option value="">none</option>' in existing
    assert '<option value="police_points" selected>' in candidates
    assert {"schools", "postcodes"} <= set(re.findall(r'<option value="([^"]*)"', candidates))
    # the page's other parameters go along; the form's own are not repeated
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))
    assert hidden == {"datetime": PERIOD, "layer": "npa"}
    assert 'name="p" min="1" max="30" value="2"' in form
    # what the form sends: "none" is an empty existing set; a candidate set by name
    r = client.get(f"/maps/planning?{Q}&layer=npa&existing=&candidates={kits}&p=1"
                   "&radius_m=300")
    assert r.status_code == 200 and "No existing kits chosen." in r.text
    assert f'<option value="{kits}" selected>{kits} (saved set)' in r.text
    assert "Reach of every kit (300 m)" in r.text
    bad = client.get(f"/maps/planning?{Q}&existing=Not%20a%20set")
    assert bad.status_code == 422 and "existing" in bad.text
