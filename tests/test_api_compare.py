"""Comparison endpoints on the shipped data (Dec 2019-Feb 2020 vs Apr-Jun 2020)."""

import pytest

Q = {"before": "2019-12/2020-02", "after": "2020-04/2020-06", "group": "violence_robbery_weapons"}


def test_report_shows_city_centre_share_change_with_ci_and_wdq(client, demo_service):
    body = client.get("/compare/report", params=Q).json()
    npa = {a["code"]: a for a in body["npa_change"]}
    nc = npa["NC"]
    # independent check of the counts from the store
    from geo_api.services.filters import build_filter

    for period, key in ((Q["before"], "before"), (Q["after"], "after")):
        counts, _ = demo_service.store.area_counts("npa", build_filter(period, Q["group"]))
        assert nc[key] == int(counts.set_index("code").loc["NC", "count"])
    assert nc["share_change_ci95_low"] < nc["share_change"] < nc["share_change_ci95_high"]
    assert sum(a["share_after"] for a in npa.values()) == pytest.approx(1.0)
    w = body["wdq_centre_to_east_west"]
    i = w["inputs"]
    ca, cb = i["control"]["after"], i["control"]["before"]
    expected = ((i["displacement"]["after"] / ca - i["displacement"]["before"] / cb)
                / (i["target"]["after"] / ca - i["target"]["before"] / cb))
    assert w["wdq"] == pytest.approx(expected) and w["interpretation"]
    # South (the control) rose against the city: the lockdown WDQ carries the flag
    assert w["flags"] and w["flags"][0].startswith("control area not stable")
    assert w["tests"]["control_vs_city"]["significant"] and w["interpretable"]
    assert body["meta"]["filters_before"]["group"] == "violence_robbery_weapons"


def test_hotspot_change_classes_follow_the_stated_hot_rule(client):
    """Default: hot = Gi* hot spot at 95% after BH FDR; each class follows from the two hot
    flags, and the hot flags follow from the labels at that level."""
    body = client.get("/compare/hotspots", params=Q).json()
    meta = body["meta"]
    assert (meta["alpha"], meta["fdr"]) == (0.05, True) and "95%" in meta["hot_definition"]
    for c in body["cells"]:
        for when in ("before", "after"):
            assert c[f"hot_{when}"] == (c[f"label_{when}"] in ("hot 95%", "hot 99%"))
        assert c["change"] == {(True, True): "persistent", (False, True): "new",
                               (True, False): "no longer hot",
                               (False, False): "not hot"}[(c["hot_before"], c["hot_after"])]
    assert body["counts"]["persistent"] + body["counts"]["new"] > 0
    assert 0 <= body["jaccard_hot"] <= 1
    loose = client.get("/compare/hotspots", params={**Q, "fdr": False, "alpha": 0.10}).json()
    n_hot = lambda b: sum(b["counts"][k] for k in ("persistent", "new", "no longer hot"))
    assert n_hot(loose) > n_hot(body)  # the old rule (90%, no FDR) calls far more cells hot


def test_kde_difference_and_centre_shift(client):
    k = client.get("/compare/kde", params=Q).json()
    assert k["scale"]["max_decrease_per_km2"] < 0 < k["scale"]["max_increase_per_km2"]
    c = client.get("/compare/centre", params=Q).json()
    assert c["shift"]["distance_m"] == pytest.approx(
        (c["shift"]["dx_m"] ** 2 + c["shift"]["dy_m"] ** 2) ** 0.5)


@pytest.mark.parametrize("params, needle", [
    ({"after": "2020-01/2020-03"}, "overlap"),
    ({"after": "2020-04"}, None),
    ({"before": "2019-12/.."}, "closed interval"),
])
def test_compare_parameter_errors(client, params, needle):
    r = client.get("/compare/areas", params={**Q, **params})
    if needle is None:
        assert r.status_code == 200
    else:
        assert r.status_code == 422 and needle in r.json()["message"]


def test_wdq_rejects_unknown_or_overlapping_areas(client):
    r = client.get("/compare/wdq", params={**Q, "target": "XX"})
    assert r.status_code == 422 and "target" in r.json()["message"]
    r = client.get("/compare/wdq", params={**Q, "target": "NC", "displacement": "NC"})
    assert r.status_code == 422 and "overlap" in r.json()["message"]


def test_emerging_hotspots_endpoint(client):
    q = {"datetime": "2019-12/2020-09", "group": "violence_robbery_weapons", "grid": "h3",
         "resolution": 8, "permutations": 999}
    body = client.get("/hotspots/emerging", params=q).json()
    assert len(body["meta"]["months"]) == 10 and body["meta"]["time_steps"] == 1
    assert sum(body["category_counts"].values()) == len(body["units"])
    assert all(len(u["counts"]) == 10 for u in body["units"])
    r = client.get("/hotspots/emerging", params={**q, "datetime": "2020-01/2020-02"})
    assert r.status_code == 422


def test_report_map_is_small_aggregate_html_with_layers(client):
    r = client.get("/compare/report/map", params=Q)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert len(html.encode()) < 5_000_000
    for layer in ("Policing areas: change in share", "Wards: change in share",
                  "Hot spots: new, lasting or gone (hexagons)", "Centre of offences: shift"):
        assert layer in html
    assert '"type": "Point"' not in html  # aggregates only: no offence points


def test_a_centre_that_did_not_move_is_said_in_words_not_a_500():
    """The public role's centres sit on a coarse grid, so both periods' centres can be the
    same point: the shift is 0 m with no bearing, and the report says so."""
    from geo_api.services.comparison import Shift
    from geo_api.web.maps.report import shift_words

    assert shift_words(Shift(0.0, 0.0, 0.0, None)) == "did not move (at the precision shown)"
    assert shift_words(Shift(850.0, 600.0, 600.0, 45.0)) == "moved 850 m north-east"
