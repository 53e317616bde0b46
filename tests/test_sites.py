"""Candidate-site sets: upload validation (line + field), atomic replace, GeoJSON, map layer."""

from __future__ import annotations

import pytest

from geo_api.crs import metric_to_lonlat

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
    assert client.post(f"/sites/{site_set}", content=LONLAT).status_code == 201
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
    (b"name,easting,northing\n\xff\xfe,1,2\n", "not UTF-8"),
    (b"name,easting,northing\n" + b"A" * 200_000 + b",1,2\n", "line 2: unreadable CSV"),
    (b"name,easting,northing\nA\x00,458800,304580\n", "line 2, field 'name': longer than"),
])
def test_bad_uploads_are_422_naming_line_and_field_and_keep_the_old_set(client, site_set,
                                                                        body, needle):
    assert client.post(f"/sites/{site_set}", content=GOOD).status_code == 201
    r = client.post(f"/sites/{site_set}", content=body)
    assert r.status_code == 422 and needle in r.json()["message"], r.json()["message"]
    assert len(client.get(f"/sites/{site_set}").json()["features"]) == 2  # unchanged


def test_names_and_missing_sets(client):
    assert client.post("/sites/Bad Name!", content=GOOD).status_code == 422
    assert client.get("/sites/never-uploaded").status_code == 404
    assert client.delete("/sites/never-uploaded").status_code == 404
    r = client.get("/maps/hotspots", params={"sites": "never-uploaded"})
    assert r.status_code == 404 and "never-uploaded" in r.text


def test_delete(client, site_set):
    client.post(f"/sites/{site_set}", content=GOOD)
    assert client.delete(f"/sites/{site_set}").status_code == 204
    assert client.get(f"/sites/{site_set}").status_code == 404


def test_too_many_sites_is_rejected(client, site_set):
    rows = b"".join(b"S%d,458800,304580\n" % i for i in range(5001))
    r = client.post(f"/sites/{site_set}", content=b"name,easting,northing\n" + rows)
    assert r.status_code == 422 and "at most 5,000" in r.json()["message"]
