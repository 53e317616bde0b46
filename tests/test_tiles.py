"""XYZ tiles: bounds, clipping, caching headers and range errors."""

import math

import pytest

from geo_api.tiles import tile_bounds


def lonlat_to_tile(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def test_tile_bounds_hand_values():
    assert tile_bounds(0, 0, 0) == pytest.approx((-180, -85.0511287798, 180, 85.0511287798))
    w, s, e, n = tile_bounds(1, 1, 0)  # north-east quarter
    assert (w, e) == (0, 180) and s == pytest.approx(0, abs=1e-9) and n > 85


def test_ward_tile_is_clipped_lonlat_with_etag(client):
    z = 13
    x, y = lonlat_to_tile(-1.1332, 52.6349, z)  # Leicester clock tower
    r = client.get(f"/tiles/ward/{z}/{x}/{y}.geojson")
    assert r.status_code == 200 and r.headers["cache-control"].startswith("public")
    fc = r.json()
    w, s, e, n = tile_bounds(z, x, y)
    assert fc["features"]
    for f in fc["features"]:
        geom = f["geometry"]
        ring = geom["coordinates"][0] if geom["type"] == "Polygon" else geom["coordinates"][0][0]
        for lon, lat in ring:
            assert w - 1e-6 <= lon <= e + 1e-6 and s - 1e-6 <= lat <= n + 1e-6
            assert round(lon, 6) == lon and round(lat, 6) == lat
    again = client.get(f"/tiles/ward/{z}/{x}/{y}.geojson", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_hotspot_tiles_follow_the_filter(client):
    z = 12
    x, y = lonlat_to_tile(-1.1332, 52.6349, z)
    q = {"datetime": "2020-04/2020-06", "group": "violence_robbery_weapons"}
    gi = client.get(f"/tiles/gi/{z}/{x}/{y}.geojson", params=q).json()
    assert gi["features"] and all(f["properties"]["label"] != "not significant" for f in gi["features"])
    kde = client.get(f"/tiles/kde/{z}/{x}/{y}.geojson", params=q).json()
    assert kde["features"] and max(f["properties"]["share_of_max"] for f in kde["features"]) <= 1


@pytest.mark.parametrize("path, status", [
    ("/tiles/ward/21/0/0.geojson", 422),
    ("/tiles/ward/3/8/0.geojson", 422),
    ("/tiles/ward/3/0/-1.geojson", 422),
    ("/tiles/nope/3/0/0.geojson", 422),
])
def test_out_of_range_tiles_are_4xx(client, path, status):
    assert client.get(path).status_code == status
