"""The backtest and the focus list through the API on the shipped police.uk months: answers
re-counted from the store, the metrics' identities, the chosen method, formats and the
map page."""

from __future__ import annotations

import csv
import html
import io
import re

import numpy as np
import pytest

from geo_api.analysis.forecast import METHODS

G = "group=violence_robbery_weapons"


@pytest.fixture(scope="module")
def evaluation(client):
    r = client.get(f"/evaluate/hotspots?{G}")
    assert r.status_code == 200, r.text
    return r.json()


def test_backtest_covers_every_method_and_fold(evaluation):
    meta = evaluation["meta"]
    months = meta["months"]
    assert months[0] == "2019-12" and months[-1] == "2020-09" and meta["n_folds"] == 7
    assert [s["method"] for s in evaluation["summary"]] == list(METHODS)
    assert len(evaluation["folds"]) == 7 * len(METHODS)
    for row in evaluation["folds"]:
        c = row["cutoff"]
        assert row["train_months"] == [months[c - 3], months[c - 1]]
        assert row["test_months"] == [months[c], months[c]]
        assert row["hit_rate"] == pytest.approx(row["n_inside"] / row["n_test"])
        assert row["pai"] == pytest.approx(row["hit_rate"] / meta["coverage"])
        assert 0 <= row["pei"] <= 1 + 1e-9
    assert evaluation["best_method"] == max(
        evaluation["summary"], key=lambda s: s["mean_pai"])["method"]
    assert len(evaluation["curves"]["coverage"]) == 20
    assert all(np.all(np.diff(c) >= -1e-12) for c in evaluation["curves"]["hit_rate"].values())


def test_kde_bandwidth_reaches_the_neighbouring_units(client):
    """At H3 r8 the 400 m default is below the 800 m between centres (KDE would be naive
    again): the bandwidth is raised to 1.5 unit spacings and KDE differs from naive."""
    r = client.get(f"/evaluate/hotspots?{G}&resolution=8&methods=kde").json()
    meta = r["meta"]
    assert meta["bandwidth_requested_m"] == 400
    assert 700 < meta["unit_spacing_m"] < 900
    assert meta["bandwidth_m"] == pytest.approx(1.5 * meta["unit_spacing_m"], abs=0.1)
    assert min(meta["ensemble_candidates"]["bandwidth_m"][1:]) >= meta["bandwidth_m"]
    by = {(f["cutoff"], f["method"]): f["pai"] for f in r["folds"]}
    differ = sum(abs(by[(c, "kde")] - by[(c, "naive")]) > 1e-9 for c, _ in by if _ == "naive")
    assert differ >= len(r["folds"]) // 2 // 2
    r9 = client.get(f"/evaluate/hotspots?{G}&methods=kde").json()["meta"]
    assert r9["bandwidth_m"] == 483.3 or r9["bandwidth_m"] >= 1.5 * r9["unit_spacing_m"]


def test_test_period_counts_are_the_stores(client, evaluation, demo_service):
    """n_test of each fold = the city's offences of that month (by district code) in the
    city's H3 r9 cells, counted another way (the store's H3 column against the study
    cells), which hold every one of them."""
    import dataclasses

    from geo_api.services.filters import build_filter
    from geo_api.services.units import UnitSpec, analysis_units

    with demo_service.pinned() as svc:
        cells = {int(i, 16) for i in analysis_units(svc, UnitSpec(grid="h3")).ids}
        for row in evaluation["folds"][:: len(METHODS)]:
            month = row["test_months"][0]
            flt = dataclasses.replace(build_filter(month, "violence_robbery_weapons"),
                                      study_area="city")
            in_city = svc.store.h3_cells(9, flt)
            n = sum(int(c) in cells for c in in_city)
            assert row["n_test"] == n == len(in_city)


def test_paired_comparison_matches_the_folds(evaluation):
    by = {(r["cutoff"], r["method"]): r["pai"] for r in evaluation["folds"]}
    for p in evaluation["paired_vs_naive"]:
        d = [by[(c, p["method"])] - by[(c, "naive")] for c, m in by if m == "naive"]
        assert p["wins"] == sum(x > 1e-9 for x in d) and p["losses"] == sum(x < -1e-9 for x in d)
        assert p["mean_pai_difference"] == pytest.approx(np.mean(d))


def test_results_are_cached_per_dataset_version(client, evaluation):
    again = client.get(f"/evaluate/hotspots?{G}").json()
    assert again == evaluation


def test_other_grids_and_horizons(client):
    r = client.get(f"/evaluate/hotspots?{G}&grid=lsoa&horizon=3&methods=kde&methods=gi")
    assert r.status_code == 200
    body = r.json()
    assert body["meta"]["grid"] == "lsoa" and body["meta"]["horizon_months"] == 3
    assert {s["method"] for s in body["summary"]} == {"naive", "kde", "gi"}
    assert all(len(set(f["test_months"])) == 2 for f in body["folds"])
    r = client.get(f"/evaluate/hotspots?{G}&datetime=2020-07/2020-09")
    assert r.status_code == 422 and "need at least 4 loaded months" in r.json()["message"]
    r = client.get(f"/evaluate/hotspots?{G}&grid=h3&resolution=10&study_area=force")
    assert r.status_code == 422 and "work budget" in r.json()["message"]


def test_a_backtest_over_budget_is_refused_before_its_units_are_built(client, monkeypatch):
    """Every endpoint bounds its work before doing it: a backtest on 190,000 H3 r10 cells is
    refused from the estimate, without building the cells (which takes seconds)."""
    from geo_api.services import forecast

    def built(*args, **kwargs):
        raise AssertionError("the units were built before the budget refused them")

    monkeypatch.setattr(forecast, "units_for", built)
    r = client.get(f"/evaluate/hotspots?{G}&grid=h3&resolution=10&study_area=force"
                   "&datetime=2019-12/2020-08")
    assert r.status_code == 422 and "work budget" in r.json()["message"], r.text


def test_focus_list(client, evaluation, demo_service):
    r = client.get(f"/focus?{G}")
    assert r.status_code == 200, r.text
    body = r.json()
    places = body["places"]
    assert [p["rank"] for p in places] == list(range(1, 9))
    assert body["meta"]["method"] == evaluation["best_method"]
    meta = body["meta"]
    # the in-sample figure is labelled so; the headline is walk-forward, recomputed here
    assert meta["in_sample_mean_pai"] == pytest.approx(next(
        s["mean_pai"] for s in evaluation["summary"] if s["method"] == meta["method"]))
    by = {(r["cutoff"], r["method"]): r["pai"] for r in evaluation["folds"]}
    cuts = sorted({c for c, _ in by})
    chosen = []
    for k in range(1, len(cuts)):
        means = {m: np.mean([by[(c, m)] for c in cuts[:k]]) for m in METHODS}
        best = max(METHODS, key=lambda m: (means[m], -METHODS.index(m)))
        chosen.append(by[(cuts[k], best)])
    assert meta["walk_forward_folds"] == len(chosen) == 6
    assert meta["backtest_mean_pai"] == pytest.approx(np.mean(chosen))
    assert meta["backtest_mean_pai"] == pytest.approx(evaluation["walk_forward"]["mean_pai"])
    assert "walk-forward" in body["reading"] and "in-sample" in body["reading"]
    assert body["meta"]["next_period"] == "2020-10"
    from geo_api.services.filters import build_filter

    with demo_service.pinned() as svc:
        recent = build_filter("2020-07/2020-09", "violence_robbery_weapons")
        cells = svc.store.h3_cells(9, recent)
        year = svc.store.h3_cells(9, build_filter("2019-12/2020-09",
                                                  "violence_robbery_weapons"))
        for p in places:
            cell = int(p["id"], 16)
            assert p["count_last_3_months"] == int((cells == cell).sum())
            assert p["count_last_12_months"] == int((year == cell).sum())
            assert p["streets"] and p["name"] == "; ".join(x["location"] for x in p["streets"])
            assert all(x["location"].strip() and "On or near" not in x["location"]
                       for x in p["streets"])
            assert p["ward"] and p["npa"] and p["trend"] in (
                "rising", "falling", "no clear change")
    assert len({p["id"] for p in places}) == 8


def test_focus_formats_and_map(client):
    r = client.get(f"/focus?{G}&n=3&f=csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert r.status_code == 200 and [x["rank"] for x in rows] == ["1", "2", "3"]
    gj = client.get(f"/focus?{G}&n=3&f=geojson").json()
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 3
    page = client.get(f"/maps/focus?{G}&n=5")
    assert page.status_code == 200
    assert "<title>Where to go in October 2020</title>" in page.text
    assert page.text.count('kit-no\\"') == 5 and "<svg" in page.text  # numbered markers
    assert "size:A4 landscape" in page.text
    first = client.get(f"/focus?{G}&n=3").json()["places"][0]
    assert first["map_url"] == f"/maps/focus?{G}&n=3&zoom_to=1"
    zoomed = client.get(first["map_url"])
    assert zoomed.status_code == 200 and "fitBounds" in zoomed.text
    r = client.get(f"/focus?{G}&grid=ward&n=3")
    assert r.status_code == 200 and r.json()["places"][0]["id"].startswith("E05")


def test_map_points_as_units(client, demo_service):
    """grid=location: distinct locations with Voronoi cells that tile the city exactly."""
    from geo_api.services.filters import build_filter
    from geo_api.services.forecast import units_for
    from geo_api.services.units import study_area_m

    with demo_service.pinned() as svc:
        flt = build_filter(None, "violence_robbery_weapons")
        units = units_for(svc, flt, None, 3)  # the map points of the first 3 months
        city_km2 = study_area_m(svc, "city").area / 1e6
        assert units.area_km2.sum() == pytest.approx(city_km2, rel=1e-6)
        month = build_filter("2020-04", "violence_robbery_weapons")
        n = units.counts(month).sum()
        x, y = svc.store.points(month)[["x_m", "y_m"]].to_numpy().T
        import shapely

        assert n == shapely.contains_xy(study_area_m(svc, "city"), x, y).sum()
    r = client.get(f"/evaluate/hotspots?{G}&grid=location&methods=naive")
    assert r.status_code == 200 and r.json()["meta"]["n_units"] == len(units.ids)
    top = client.get(f"/focus?{G}&grid=location&n=3").json()["places"]
    assert all(p["streets"] and p["name"].startswith(p["streets"][0]["location"]) for p in top)


def test_map_points_are_for_analysts(demo_service, demo_settings, tmp_path):
    from fastapi.testclient import TestClient

    from geo_api.data.keys import KeyStore
    from geo_api.settings import Settings
    from geo_api.web.app import create_app

    settings = Settings(store_dir=demo_settings.store_dir, keys_file=tmp_path / "k.json",
                        audit_dir=tmp_path / "a", anonymous_role="none")
    partner = KeyStore(settings.keys_path).create("partner", "p")[0]
    with TestClient(create_app(settings)) as c:
        h = {"X-API-Key": partner}
        assert c.get(f"/focus?{G}&grid=location", headers=h).status_code == 403
        assert c.get(f"/focus?{G}&n=2", headers=h).status_code == 200


def test_focus_for_the_hours_a_team_works(timed_client):
    """On the SYNTHETIC timed export: after school the top place is the after-school
    cluster, late at night the late-night one."""
    import math

    from geo_api.crs import lonlat_to_metric
    from tests.conftest import AFTER_SCHOOL_CENTRE_M, LATE_NIGHT_CENTRE_M

    def top(hours):
        r = timed_client.get(f"/focus?group=all&hours={hours}&window=1&n=1")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["meta"]["filters"]["hours"] == [int(h) for h in hours.split("-")]
        p = body["places"][0]
        x, y = lonlat_to_metric([p["lon"]], [p["lat"]])
        return float(x[0]), float(y[0])

    for hours, centre in (("15-19", AFTER_SCHOOL_CENTRE_M), ("22-02", LATE_NIGHT_CENTRE_M)):
        x, y = top(hours)
        assert math.hypot(x - centre[0], y - centre[1]) < 400


# -- a team's own patch -----------------------------------------------------------------
@pytest.fixture(scope="module")
def offence_patches(demo_service):
    """(H3 r9 cell, ward code, NPA code) of every offence of the group in the loaded months,
    with the cell worked out here from the offence's coordinates."""
    import h3

    from geo_api.crs import metric_to_lonlat
    from geo_api.services.filters import build_filter

    with demo_service.pinned() as svc:
        df = svc.store.located_values(("x_m", "y_m", "ward_code", "npa_code"), build_filter(
            "2019-12/2020-09", "violence_robbery_weapons"))
    lon, lat = metric_to_lonlat(df["x_m"].to_numpy(), df["y_m"].to_numpy())
    df["cell"] = [h3.latlng_to_cell(b, a, 9) for a, b in zip(lon, lat)]
    return df


def _most_common(codes) -> str:
    counts = codes.dropna().value_counts()
    return min(c for c, n in counts.items() if n == counts.max())


@pytest.mark.parametrize(("area", "field", "name"), [
    ("npa:NC", "npa_code", "Central (NC)"), ("npa:NE", "npa_code", "East (NE)"),
    ("ward:E05010464", "ward_code", "Evington ward")])
def test_focus_for_a_patch_lists_only_places_in_it(client, offence_patches, area, field,
                                                   name):
    code = area.split(":")[1]
    body = client.get(f"/focus?{G}&area={area}&n=5").json()
    places = body["places"]
    assert len(places) == 5 and body["meta"]["area"] == area
    assert body["meta"]["area_name"] == name and f" in {name} " in body["reading"]
    for p in places:  # in the patch: most of its offences fall in it
        rows = offence_patches[offence_patches["cell"] == p["id"]]
        assert len(rows) == p["count_last_12_months"]
        assert p[field] == code == _most_common(rows[field]), p
    # the city's ranking, kept: the patch's places in the order of the whole city's list
    city = client.get(f"/focus?{G}&n=30").json()["places"]
    in_patch = [p["id"] for p in city if p[field] == code]
    assert [p["id"] for p in places][:len(in_patch)] == in_patch[:5]
    page = client.get(f"/maps/focus?{G}&area={area}&n=5").text
    assert f"<title>Where to go in October 2020: {name}</title>" in page
    assert f"The 5 places in {name}</h2>" in page
    assert f'<option value="{area}" selected>{name}</option>' in page
    assert page.count('kit-no\\"') == 5 and f"Your patch: {name}" in page


def test_focus_patch_drop_down_and_bad_codes(client):
    page = client.get(f"/maps/focus?{G}&n=3").text
    menu = re.search(r'<select name="area".*?</select>', page, re.DOTALL).group(0)
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', menu)
    assert options[0] == ("", "Whole city") and 'value="" selected' in menu
    assert options[1:5] == [("npa:NC", "Central (NC)"), ("npa:NE", "East (NE)"),
                            ("npa:NS", "South (NS)"), ("npa:NW", "West (NW)")]
    wards = [label for value, label in options if value.startswith("ward:")]
    assert len(wards) == 21 and wards == sorted(wards) and "Castle ward" in wards
    assert client.get(f"/focus?{G}&n=3&area=").json()["meta"]["area"] is None  # whole city
    for path in ("/focus", "/maps/focus"):
        for area, words in (("npa:XX", "no npa with code 'XX'"),
                            ("ward:E05999999", "no ward with code 'E05999999'"),
                            ("lsoa:E01", "give npa:<code> or ward:<code>"),
                            ("NC", "give npa:<code> or ward:<code>")):
            r = client.get(f"{path}?{G}&area={area}")
            assert r.status_code == 422, (path, area)
            assert f"area: {words}" in html.unescape(r.text), r.text


def test_focus_headings_name_the_months_they_count(client):
    meta = client.get(f"/focus?{G}&n=3").json()["meta"]
    assert meta["months_last_3"] == ["2020-07", "2020-09"]
    assert meta["months_last_12"] == ["2019-12", "2020-09"]  # only 10 months are loaded
    page = client.get(f"/maps/focus?{G}&n=3").text
    heads = re.search(r'<table id="focus-places"><tr>(.*?)</tr>', page, re.DOTALL).group(1)
    assert re.findall(r"<th[^>]*>([^<]*)</th>", heads) == [
        "#", "Place", "Offences Jul–Sep 2020 (3 months)",
        "Offences Dec 2019–Sep 2020 (10 months)", "Trend"]
    later = client.get(f"/maps/focus?{G}&n=3&datetime=2020-03/2020-09").text
    assert "Offences Mar–Sep 2020 (7 months)" in later
