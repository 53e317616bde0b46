"""Every error the README's error table lists: its status, its body and its message.

API paths answer ``{code, message, detail}``; map pages answer a plain HTML page with the
same status. The shipped data covers 2019-12 .. 2020-09 (police.uk only).
"""

from __future__ import annotations

import pytest

LOADED = "loaded months: 2019-12 to 2020-09"
# (path, params, status, code, words the message must contain)
API_CASES = {
    "period with no data": ("/stats/areas", {"layer": "ward", "datetime": "2021-01/2021-03"},
                            422, "invalid_parameter",
                            ["no data loaded for 2021-01 to 2021-03", LOADED]),
    "open period after the data": ("/hotspots/gi", {"datetime": "2021-01/.."}, 422,
                                   "invalid_parameter", ["no data loaded", LOADED]),
    "top locations in 2030": ("/stats/top", {"grid": "location", "datetime": "2030-01"}, 422,
                              "invalid_parameter", ["no data loaded for 2030-01"]),
    "comparison period with no data": ("/compare/areas", {"before": "2019-12/2020-02",
                                                          "after": "2021-04/2021-06"},
                                       422, "invalid_parameter", ["after: no data loaded"]),
    "unknown crime category": ("/stats/areas", {"crime_category": "knife"}, 422,
                               "invalid_parameter", ["crime_category: unknown ['knife']",
                                                     "Possession of weapons"]),
    "bbox latitude beyond 90": ("/offences", {"bbox": "-1.2,52.6,-1.1,95"}, 422,
                                "invalid_parameter", ["lat -90..90"]),
    "bbox min above max": ("/offences", {"bbox": "-1.1,52.6,-1.2,52.7"}, 422,
                           "invalid_parameter", ["min >= max"]),
    "bbox outside the force area": ("/stats/areas", {"bbox": "-0.2,51.4,-0.1,51.5"}, 422,
                                    "invalid_parameter", ["does not touch the force area"]),
    "bbox in lat,lon order": ("/offences", {"bbox": "52.6,-1.2,52.7,-1.1"}, 422,
                              "invalid_parameter", ["lon,lat order"]),
    "knife group on police.uk data": ("/stats/areas",
                                      {"group": "knife_enabled_serious_violence"}, 422,
                                      "invalid_parameter",
                                      ["police.uk records have no knife flag"]),
    "VRN group on police.uk data": ("/hotspots/gi", {"group": "vrn_serious_violence"}, 422,
                                    "invalid_parameter", ["only force-export records"]),
    "hours on police.uk data": ("/hotspots/gi", {"hours": "15-19"}, 422, "invalid_parameter",
                                ["hours=15-19", "times of day"]),
    "KDE bandwidth 5e-324": ("/hotspots/kde", {"bandwidth_m": 5e-324}, 422,
                             "invalid_parameter", ["bandwidth_m"]),
    "huge offset": ("/offences", {"offset": "999999999999999999999"}, 422,
                    "invalid_parameter", ["offset"]),
    "alpha out of range": ("/compare/hotspots", {"before": "2019-12/2020-02",
                                                 "after": "2020-04/2020-06", "alpha": 0.7},
                           422, "invalid_parameter", ["alpha"]),
    "single-valued parameter repeated": ("/stats/areas", [("layer", "ward"), ("layer", "npa")],
                                         422, "invalid_parameter",
                                         ["layer: given 2 times; it takes one value"]),
    "repeated planning parameter": ("/plan/kits/next", [("p", "3"), ("p", "30")], 422,
                                    "invalid_parameter", ["p: given 2 times"]),
    "unknown boundary layer": ("/layers/nope", {}, 404, "not_found", ["nope"]),
    "unknown path": ("/no/such/path", {}, 404, "not_found", ["no such path: /no/such/path"]),
}


@pytest.mark.parametrize("case", sorted(API_CASES))
def test_api_errors_have_the_one_body_shape(client, case):
    path, params, status, code, words = API_CASES[case]
    r = client.get(path, params=params)
    assert r.status_code == status, r.text[:300]
    body = r.json()
    assert set(body) == {"code", "message", "detail"} and body["code"] == code
    for w in words:
        assert w in body["message"], (w, body["message"])


def test_wrong_method_is_405_with_the_body_shape(client):
    r = client.delete("/health")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"


def test_a_period_partly_outside_the_data_warns_and_names_the_missing_months(client):
    r = client.get("/stats/areas", params={"layer": "npa", "datetime": "2020-08/2020-11"})
    assert r.status_code == 200
    meta = r.json()["meta"]
    assert meta["months_requested_missing"] == ["2020-10", "2020-11"]
    assert meta["months_loaded"][0] == "2019-12" and meta["months_loaded"][-1] == "2020-09"
    assert any("2 of the 4 requested months have no data" in w for w in meta["warnings"])
    inside = client.get("/stats/areas", params={"layer": "npa", "datetime": "2020-08/2020-09"})
    assert [a["count"] for a in inside.json()["areas"]] == [a["count"] for a in
                                                           r.json()["areas"]]


def test_every_analysis_meta_states_its_data_coverage(client):
    q = {"datetime": "2020-04/2020-06", "group": "violence_robbery_weapons"}
    for path, extra in (("/stats/areas", {}), ("/hotspots/gi", {}), ("/hotspots/kde", {}),
                        ("/stats/top", {}), ("/stats/concentration", {}),
                        ("/profiles/time", {}), ("/offences", {"limit": 1})):
        meta = client.get(path, params={**q, **extra}).json()["meta"]
        assert meta["months_requested_missing"] == [] and len(meta["months_loaded"]) == 10, path
    p = {"before": "2019-12/2020-02", "after": "2020-04/2020-06"}
    for path in ("/compare/areas", "/compare/wdq", "/compare/centre", "/compare/kde"):
        meta = client.get(path, params=p).json()["meta"]
        assert meta["months_requested_missing"] == [] and "months_loaded" in meta, path


def test_emerging_leaves_out_months_without_data_and_says_so(client):
    q = {"datetime": "2019-06/2020-09", "grid": "ward", "permutations": 999}
    body = client.get("/hotspots/emerging", params=q).json()
    assert body["meta"]["months"][0] == "2019-12" and len(body["meta"]["months"]) == 10
    assert body["meta"]["months_requested_missing"][0] == "2019-06"
    assert all(len(u["counts"]) == 10 for u in body["units"])


PAGE_CASES = {
    "map: period with no data": ("/maps/hotspots", {"datetime": "2021-01/2021-03"}, 422,
                                 "no data loaded"),
    "map: bad resolution": ("/maps/hotspots", {"resolution": 99}, 422, "resolution"),
    "map: unparseable datetime": ("/maps/hotspots", {"datetime": "last week"}, 422,
                                  "cannot parse"),
    "map: knife group on police.uk": ("/maps/hotspots",
                                      {"group": "knife_enabled_serious_violence"}, 422,
                                      "knife flag"),
    "compare map: before missing": ("/maps/compare", {"after": "2020-04/2020-06"}, 422,
                                    "before"),
    "report map: overlapping periods": ("/compare/report/map", {"before": "2019-12/2020-04",
                                                                "after": "2020-03/2020-06"},
                                        422, "overlap"),
    "time-window map: unknown window": ("/maps/time-window", {"window": "lunch"}, 422,
                                        "window"),
    "unknown map page": ("/maps/nope", {}, 404, "no such path"),
}


@pytest.mark.parametrize("case", sorted(PAGE_CASES))
def test_map_pages_answer_bad_parameters_with_a_plain_html_page(client, case):
    path, params, status, words = PAGE_CASES[case]
    r = client.get(path, params=params)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert "<title>No map for this selection</title>" in r.text and words in r.text
    assert '"code"' not in r.text  # not the JSON body


def test_user_text_in_an_error_page_is_escaped(client):
    r = client.get("/maps/hotspots", params={"datetime": "<script>alert(1)</script>"})
    assert r.status_code == 422 and "<script>alert(1)" not in r.text
    assert "&lt;script&gt;" in r.text


def test_unexpected_errors_are_500_with_a_request_id_and_no_internals(demo_settings, caplog):
    from fastapi.testclient import TestClient

    from geo_api.web.app import create_app

    app = create_app(demo_settings)

    def boom():
        raise RuntimeError("secret internal detail /var/lib/db")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    body = r.json()
    assert body["code"] == "internal_error" and "secret" not in r.text
    rid = body["detail"]["request_id"]
    assert rid in body["message"] and r.headers["X-Request-ID"] == rid
    assert any(rid in rec.getMessage() for rec in caplog.records)  # logged with the id


def test_health_on_an_empty_store_is_200_no_data_loaded(tmp_path):
    from fastapi.testclient import TestClient

    from geo_api.settings import Settings
    from geo_api.web.app import create_app

    with TestClient(create_app(Settings(store_dir=tmp_path / "empty"))) as c:
        r = c.get("/health")
        assert r.status_code == 200
        body = r.json()
        assert body["data_loaded"] is False and body["message"].startswith("no data loaded")
        assert body["n_offences"] == 0 and body["dataset_version"] is None
        r = c.get("/stats/areas")
        assert r.status_code == 409 and r.json()["code"] == "store_empty"
        assert c.get("/").status_code == 200  # the landing page says nothing is loaded


def test_list_parameters_may_repeat(client):
    r = client.get("/stats/areas", params=[("layer", "npa"), ("crime_category", "Robbery"),
                                          ("crime_category", "Possession of weapons")])
    assert r.status_code == 200
    assert r.json()["meta"]["filters"]["crime_categories"] == ["Robbery",
                                                               "Possession of weapons"]


def test_repeated_parameter_on_a_map_page_gets_the_html_page(client):
    r = client.get("/maps/hotspots", params=[("resolution", "9"), ("resolution", "8")])
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    assert "given 2 times" in r.text


@pytest.mark.parametrize("path", ["/", "/maps/hotspots?datetime=2020-04/2020-06", "/docs",
                                  "/maps/planning?p=2", "/maps/hotspots?datetime=2031-01"])
def test_html_pages_carry_security_headers(client, path):
    r = client.get(path)
    assert "text/html" in r.headers["content-type"]
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "default-src 'self'" in csp and "https://cdn" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_api_responses_are_not_sniffed(client):
    r = client.get("/health")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in r.headers


def test_csv_cells_that_spreadsheets_would_run_are_neutralised():
    import pandas as pd

    from geo_api.web.api.csv_safe import safe_frame

    df = pd.DataFrame({"t": ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "On or near Park", None],
                       "n": [-1.5, 2, 3, 4, 5, 6, 7]})
    out = safe_frame(df)
    assert list(out["t"][:5]) == ["'=1+1", "'+SUM(A1)", "'-2+3", "'@cmd", "'\tx"]
    assert out["t"][5] == "On or near Park" and pd.isna(out["t"][6])
    assert list(out["n"]) == list(df["n"])  # numbers stay numbers (negative ones too)
