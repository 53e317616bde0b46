"""Candidate-site sets: upload validation (line + field), atomic replace, GeoJSON, map layer."""

from __future__ import annotations

import pytest

from geo_api.crs import metric_to_lonlat

CSV = {"content-type": "text/csv"}
GOOD = b"name,kind,easting,northing\nClock Tower,bleed kit,458800,304580\nHaymarket,bleed kit,458944,304725\n"
LONLAT = b"name,longitude,latitude\nVictoria Park,-1.1209,52.6250\n"


@pytest.fixture
def site_set(client):
    name = "test-kits"
    yield name
    client.delete(f"/sites/{name}")


def test_upload_list_get_and_map(client, site_set):
    r = client.post(f"/sites/{site_set}", content=GOOD, headers={"content-type": "text/csv"})
    assert r.status_code == 201 and r.json()["n_sites"] == 2
    assert site_set in [s["name"] for s in client.get("/sites").json()["site_sets"]]
    fc = client.get(f"/sites/{site_set}").json()
    lon, lat = metric_to_lonlat([458800], [304580])
    first = fc["features"][0]
    assert first["properties"] == {"name": "Clock Tower", "kind": "bleed kit"}
    assert first["geometry"]["coordinates"] == pytest.approx([lon[0], lat[0]], abs=1e-6)
    page = client.get("/maps/hotspots", params={"datetime": "2020-04/2020-06",
                                               "group": "violence_robbery_weapons",
                                               "sites": site_set}).text
    assert f"Candidate sites: {site_set}" in page and "Haymarket (bleed kit)" in page


def test_lonlat_upload_is_accepted(client, site_set):
    assert client.post(f"/sites/{site_set}", content=LONLAT, headers=CSV).status_code == 201
    assert client.get(f"/sites/{site_set}").json()["features"][0]["properties"]["name"] == "Victoria Park"


@pytest.mark.parametrize("body, needle", [
    (b"", "empty file"),
    (b"name,easting,northing\n", "header only"),
    (b"title,easting,northing\nA,458800,304580\n", "field 'title': unknown column"),
    (b"name,easting\nA,458800\n", "either easting,northing"),
    (b"name,easting,northing,longitude,latitude\nA,1,2,3,4\n", "not both or neither"),
    (b"name,easting,northing\nA,458800,abc\n", "line 2, field 'northing': not a number"),
    (b"name,easting,northing\nA,458800,304580\n,458900,304600\n", "line 3, field 'name': blank"),
    (b"name,easting,northing\nA,458800\n", "line 2: expected 3 fields, got 2"),
    (b"name,easting,northing\nA,304580,458800\n", "line 2, field 'easting': outside the "),
    (b"name,longitude,latitude\nA,52.63,-1.13\n", "line 2, field 'longitude': outside"),
    (b"name,easting,northing\n\x81\x8d,1,2\n", "neither UTF-8 nor Windows-1252"),
    (b"name,easting,northing\n" + b"A" * 200_000 + b",1,2\n", "line 2: unreadable CSV"),
    (b"name,easting,northing\nA\x00,458800,304580\n", "line 2, field 'name': longer than"),
])
def test_bad_uploads_are_422_naming_line_and_field_and_keep_the_old_set(client, site_set,
                                                                        body, needle):
    assert client.post(f"/sites/{site_set}", content=GOOD, headers=CSV).status_code == 201
    r = client.post(f"/sites/{site_set}", content=body, headers=CSV)
    assert r.status_code == 422 and needle in r.json()["message"], r.json()["message"]
    assert len(client.get(f"/sites/{site_set}").json()["features"]) == 2  # unchanged


def test_names_and_missing_sets(client):
    assert client.post("/sites/Bad Name!", content=GOOD, headers=CSV).status_code == 422
    assert client.get("/sites/never-uploaded").status_code == 404
    assert client.delete("/sites/never-uploaded").status_code == 404
    r = client.get("/maps/hotspots", params={"sites": "never-uploaded"})
    assert r.status_code == 404 and "never-uploaded" in r.text


def test_delete(client, site_set):
    client.post(f"/sites/{site_set}", content=GOOD, headers=CSV)
    assert client.delete(f"/sites/{site_set}").status_code == 204
    assert client.get(f"/sites/{site_set}").status_code == 404


def test_too_many_sites_is_rejected(client, site_set):
    rows = b"".join(b"S%d,458800,304580\n" % i for i in range(5001))
    r = client.post(f"/sites/{site_set}", content=b"name,easting,northing\n" + rows, headers=CSV)
    assert r.status_code == 422 and "at most 5,000" in r.json()["message"]


@pytest.mark.parametrize("ctype", [None, "application/x-www-form-urlencoded", "text/plain"])
def test_upload_must_be_declared_text_csv(client, site_set, ctype):
    """A cross-site HTML form can only send urlencoded, multipart or text/plain bodies;
    requiring text/csv (which needs a CORS preflight) keeps such forms out. Multipart uploads
    are accepted but refused from another site's page (tests/test_site_uploads.py)."""
    headers = {"content-type": ctype} if ctype else {}
    r = client.post(f"/sites/{site_set}", content=GOOD, headers=headers)
    assert r.status_code == 415 and "text/csv" in r.json()["message"]
    assert client.get(f"/sites/{site_set}").status_code == 404  # nothing stored


def test_oversized_upload_is_refused_while_reading(client, site_set):
    from geo_api.services.sites import MAX_BYTES

    def chunks():  # no Content-Length: the limit must hold while streaming
        for _ in range(MAX_BYTES // 65536 + 2):
            yield b"x" * 65536

    r = client.post(f"/sites/{site_set}", content=chunks(), headers=CSV)
    assert r.status_code == 413 and "larger than" in r.json()["message"]
    big = b"name,easting,northing\n" + b"A" * (MAX_BYTES + 1)
    r = client.post(f"/sites/{site_set}", content=big, headers=CSV)
    assert r.status_code == 413


def test_set_names_are_matched_whole_and_kinds_have_no_control_characters(client, site_set):
    assert client.post("/sites/kits%0A", content=GOOD, headers=CSV).status_code == 422
    bad = b"name,kind,easting,northing\nA,kit\x1b[31m,458800,304580\n"
    r = client.post(f"/sites/{site_set}", content=bad, headers=CSV)
    assert r.status_code == 422 and "field 'kind'" in r.json()["message"]


def test_error_bodies_list_the_first_50_problems_and_count_all(client, site_set):
    rows = b"".join(b"S%d,458800,abc\n" % i for i in range(120))
    r = client.post(f"/sites/{site_set}", content=b"name,easting,northing\n" + rows,
                    headers=CSV)
    detail = r.json()["detail"]
    assert r.status_code == 422 and detail["n_errors"] == 120 and len(detail["errors"]) == 50


def test_number_of_site_sets_is_capped(client, tmp_path, monkeypatch):
    from geo_api.services import sites

    monkeypatch.setattr(sites, "MAX_SETS", 2)
    store = sites.SiteSets(tmp_path)
    df = sites.parse_sites_csv(GOOD, "t", __import__("shapely").box(0, 0, 1e6, 1e6))
    store.save("a", df)
    store.save("b", df)
    store.save("a", df)  # replacing an existing set is fine
    with pytest.raises(sites.InvalidParameter, match="delete one first"):
        store.save("c", df)
