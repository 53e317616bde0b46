"""Nothing a user asks for is ignored in silence: a query parameter an endpoint does not
take is refused (422; 400 on OGC API paths, /req/core/query-param-unknown), naming it and
the parameters the endpoint does take; who may call an endpoint is answered first."""

from __future__ import annotations

import pytest

from geo_api.web.exception_handlers import OGC_PATHS


def get_routes(client) -> list[str]:
    """Every GET path of the API without path parameters (pages included)."""
    return sorted({r.path for r in client.app.state.api_routes
                   if "GET" in getattr(r, "methods", ()) and "{" not in r.path})


def test_every_endpoint_refuses_a_parameter_it_does_not_take(client):
    paths = get_routes(client)
    assert len(paths) > 40
    for path in paths:
        r = client.get(path, params={"zz_unknown": "1"})
        want = 400 if path.startswith(OGC_PATHS) else 422
        assert r.status_code == want, (path, r.status_code, r.text[:200])
        text = r.text if r.headers["content-type"].startswith("text/html") else \
            r.json()["message"]
        assert "zz_unknown" in text, path


@pytest.mark.parametrize("url, status, name", [
    ("/compare/areas?before=2020-01&after=2020-04&layer=ward", 422, "layer"),  # issue 26
    ("/stats/areas?layer=ward&datetime=2020-04&foo=bar", 422, "foo"),
    ("/hotspots/gi?datetime=2020-04&permutations=0&resolutoin=8", 422, "resolutoin"),
    ("/collections/offences/items?datetime=2020-04&foo=bar", 400, "foo"),
    ("/collections/stats-ward/items?foo=1", 400, "foo"),
    ("/conformance?foo=1", 400, "foo"),
    ("/maps/hotspots?datetime=2020-04&resolutoin=8", 422, "resolutoin"),
])
def test_unknown_parameters_are_named(client, url, status, name):
    r = client.get(url)
    assert r.status_code == status, r.text[:300]
    text = r.text if r.headers["content-type"].startswith("text/html") else r.json()["message"]
    assert f"{name}: this endpoint takes no such parameter" in text
    if not r.headers["content-type"].startswith("text/html"):
        assert r.json()["code"] == "unknown_parameter"
        assert r.json()["detail"]["unknown"] == [name]


def test_an_empty_source_on_an_offence_feature_is_refused(client):
    key = client.get("/offences?limit=1&datetime=2020-04").json()["features"][0]["id"]
    assert client.get(f"/collections/offences/items/{key}").status_code == 200
    r = client.get(f"/collections/offences/items/{key}?source=")
    assert r.status_code == 400 and "source" in r.json()["message"]


def test_a_map_point_grid_for_the_force_area_is_refused_not_answered_for_the_city(client):
    r = client.get("/evaluate/hotspots?grid=location&study_area=force&datetime=2019-12/2020-09")
    assert r.status_code == 422 and "city only" in r.json()["message"]
    r = client.get("/stats/top?grid=location&study_area=force&datetime=2020-04")
    assert r.status_code == 422 and "city only" in r.json()["message"]


def test_who_may_call_is_answered_before_the_parameters(demo_settings, tmp_path):
    from fastapi.testclient import TestClient

    from geo_api.settings import Settings
    from geo_api.web.app import create_app

    settings = Settings(store_dir=demo_settings.store_dir, keys_file=tmp_path / "k.json",
                        audit_dir=tmp_path / "a", anonymous_role="public")
    with TestClient(create_app(settings)) as c:
        r = c.get("/plan/kits/next?foo=1")  # partners only
        assert r.status_code in (401, 403), r.text[:200]
        r = c.get("/stats/areas?layer=ward&foo=1")  # public may: then the parameter
        assert r.status_code == 422 and "foo" in r.json()["message"]


def test_the_form_fields_of_map_pages_are_known(client):
    r = client.get("/maps/hotspots?period_from=2020-04&period_to=2020-06&preset=")
    assert r.status_code == 200
