"""Site files as people's spreadsheets save them (SYNTHETIC site lists: invented names,
real Leicester coordinates and Code-Point Open postcodes). Each file has a documented
outcome (README "Candidate-site uploads")."""

from __future__ import annotations

import pytest

CLOCK = (458800, 304580)  # Leicester Clock Tower, EPSG:27700
CORPUS = {
    # name: (body bytes, expected status, what the answer must say or contain)
    "excel_windows_1252": ("Name,Type,Easting,Northing\r\nCaf\xe9 Nero,kit,458800,304580\r\n"
                           .encode("cp1252"), 201, "Café Nero"),
    "utf8_with_bom": ("\ufeffname,kind,latitude,longitude\nClock Tower,kit,52.6344,-1.1332\n"
                      .encode("utf-8"), 201, "Clock Tower"),
    "semicolons_decimal_commas": (b"Name;Latitude;Longitude\nClock Tower;52,6344;-1,1332\n",
                                  201, "Clock Tower"),
    "tab_separated": (b"site\tx\ty\nHaymarket\t458944\t304725\n", 201, "Haymarket"),
    "aliases_lat_lon": (b"Site Name,LAT,Lng\nClock Tower,52.6344,-1.1332\n", 201,
                        "Clock Tower"),
    "postcodes": (b"name,postcode\nShop A,LE1 1AD\nShop B,le11af\n", 201, "Shop B"),
    "unknown_postcode": (b"name,postcode\nShop A,LE1 1AD\nShop C,ZZ9 9ZZ\n", 422,
                         "line 3, field 'postcode'"),
    "mixed_valid_invalid": ((b"name,easting,northing\nA,458800,304580\nB,abc,304580\n"
                             b"C,458800,\n"), 422, "line 3, field 'easting'"),
    "both_coordinate_systems": (b"name,easting,northing,lat,lon\nA,1,2,3,4\n", 422,
                                "one of them"),
    "lat_lon_swapped": (b"name,longitude,latitude\nA,52.6344,-1.1332\n", 422,
                        "outside the Leicestershire force area"),
    "not_text": (b"name,easting,northing\n\x81\x8d\x8f,458800,304580\n", 422,
                 "neither UTF-8 nor Windows-1252"),
    "unknown_column": (b"name,easting,northing,colour\nA,458800,304580,red\n", 422,
                       "unknown column"),
}


@pytest.mark.parametrize("case", list(CORPUS))
def test_upload_corpus(client, case):
    body, status, text = CORPUS[case]
    r = client.post(f"/sites/corpus-{case.replace('_', '-')}", content=body,
                    headers={"content-type": "text/csv"})
    assert r.status_code == status, r.text
    if status == 201:
        fc = client.get(f"/sites/corpus-{case.replace('_', '-')}").json()
        names = [f["properties"]["name"] for f in fc["features"]]
        assert text in names
        lon, lat = fc["features"][0]["geometry"]["coordinates"]
        assert -1.2 < lon < -1.0 and 52.6 < lat < 52.7
    else:
        assert text in r.text


def test_postcodes_land_on_their_code_point_points(client):
    r = client.post("/sites/corpus-pc", content=b"name,postcode\nA,LE1 1AD\n",
                    headers={"content-type": "text/csv"})
    assert r.status_code == 201
    from geo_api.crs import metric_to_lonlat

    lon, lat = metric_to_lonlat([459040.0], [304553.0])  # LE1 1AD in Code-Point Open
    got = client.get("/sites/corpus-pc").json()["features"][0]["geometry"]["coordinates"]
    assert got == [round(float(lon[0]), 6), round(float(lat[0]), 6)]


def test_multipart_upload_and_cross_site_forms(client):
    files = {"file": ("kits.csv", b"name,easting,northing\nClock,458800,304580\n", "text/csv")}
    r = client.post("/sites/corpus-multipart", files=files)
    assert r.status_code == 201 and r.json()["n_sites"] == 1
    r = client.post("/sites/corpus-multipart2", files=files,
                    headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    r = client.post("/sites/corpus-multipart3", files={"other": ("a.csv", b"x", "text/csv")})
    assert r.status_code == 422 and "form field 'file'" in r.json()["message"]
    big = {"file": ("big.csv", b"name,easting,northing\n" + b"A,458800,304580\n" * 150_000,
                    "text/csv")}
    assert client.post("/sites/corpus-multipart4", files=big).status_code == 413


def test_the_upload_form_names_every_way_to_place_a_site(client):
    """The landing page's form lists the columns the parser takes, postcodes included."""
    import html
    import re

    from geo_api.services.sites import ALIASES

    page = client.get("/", headers={"accept": "text/html"}).text
    columns = html.unescape(re.sub(r"<[^>]+>", "", re.search(
        r'<p id="upload-columns">(.*?)</p>', page, re.DOTALL).group(1)))
    for column in ALIASES:  # name, kind, easting, northing, longitude, latitude, postcode
        assert re.search(rf"\b{column}\b", columns), column
    assert "postcode" in columns.lower() and "LE1" in columns


def test_a_saved_set_opens_the_planner_and_the_latest_months_in_one_click(client):
    """After an upload (a postcode list) the set's links plan kits with it as existing kits
    or as candidate sites, and show it on the hot spot map of the latest 3 months."""
    import html
    import re

    r = client.post("/sites/corpus-next", content=b"name,postcode\nA,LE1 1AD\nB,LE1 5YA\n",
                    headers={"content-type": "text/csv"})
    assert r.status_code == 201
    page = client.get("/", headers={"accept": "text/html"}).text
    item = re.search(r"<li><a [^>]*>corpus-next</a>.*?</li>", page, re.DOTALL).group(0)
    links = [html.unescape(u) for u in re.findall(r'href="([^"]+)"', item)]
    assert links == [("/maps/hotspots?datetime=2020-07/2020-09&group=violence_robbery_weapons"
                     "&sites=corpus-next"), "/maps/planning?p=5&existing=corpus-next",
                     "/maps/planning?p=5&candidates=corpus-next"]
    hot = client.get(links[0]).text
    assert "Jul–Sep 2020" in hot and "Candidate sites: corpus-next (2 sites)" in hot
    as_existing = client.get(links[1].replace("p=5", "p=2")).text
    assert '<option value="corpus-next" selected>corpus-next (saved set)' in as_existing
    assert "Your existing kits (corpus-next, 2 kits)" in as_existing
    as_candidates = client.get(links[2].replace("p=5", "p=2")).text
    assert "No existing kits chosen." in as_candidates
    assert re.search(r'<select name="candidates"[^>]*>.*?<option value="corpus-next" '
                     r"selected>", as_candidates, re.DOTALL)
    # the upload form's script offers the same three steps
    assert "'/maps/planning?p=5&existing=' + n" in page
    assert "'/maps/planning?p=5&candidates=' + n" in page
    assert "'/maps/hotspots?datetime=2020-07/2020-09&group=violence_robbery_weapons&sites=' + n" \
        in page
    client.delete("/sites/corpus-next")
