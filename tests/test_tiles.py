"""XYZ tiles: bounds, clipping, caching headers and range errors."""

import math

import pytest

from geo_api.web.tiles import tile_bounds


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
    # role-dependent answers: private caching only, varying with the credentials
    assert r.status_code == 200 and r.headers["cache-control"].startswith("private")
    assert "X-API-Key" in r.headers["vary"]
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


def _decode_mvt(body, z, x, y):
    """Decoded MVT layers with geometries back in lon/lat (shapely), for comparison."""
    import mapbox_vector_tile
    import shapely
    from pyproj import Transformer
    from shapely.geometry import shape

    from geo_api.web.tiles import tile_bounds_mercator

    minx, miny, maxx, maxy = tile_bounds_mercator(z, x, y)
    to_lonlat = Transformer.from_crs(3857, 4326, always_xy=True).transform
    out = {}
    for name, layer in mapbox_vector_tile.decode(body).items():
        ext = layer["extent"]
        feats = []
        for f in layer["features"]:
            g = shape(f["geometry"])
            g = shapely.transform(g, lambda c, ext=ext: [minx, miny] + c / ext * [maxx - minx, maxy - miny])
            feats.append((shapely.transform(g, to_lonlat, interleaved=False),
                          f["properties"]))
        out[name] = feats
    return out


def test_mvt_tile_matches_the_geojson_tile(client):
    import shapely
    from shapely.geometry import shape

    z = 13
    x, y = lonlat_to_tile(-1.1332, 52.6349, z)
    r = client.get(f"/tiles/ward/{z}/{x}/{y}.mvt")
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layers = _decode_mvt(r.content, z, x, y)
    assert list(layers) == ["ward"]
    gj = {f["properties"]["code"]: shape(f["geometry"])
          for f in client.get(f"/tiles/ward/{z}/{x}/{y}.geojson").json()["features"]}
    box = shapely.box(*tile_bounds(z, x, y))
    mvt = {p["code"]: g.intersection(box) for g, p in layers["ward"]}
    assert set(mvt) == set(gj)  # the buffer adds no ward that does not touch the tile
    unit_deg = (box.bounds[2] - box.bounds[0]) / 4096
    for code, g in gj.items():
        # quantisation to the 4096 grid moves each edge by at most about one unit
        assert mvt[code].symmetric_difference(g).area <= g.length * unit_deg, code
    assert {p["name"] for _, p in layers["ward"]} >= {"Castle"}
    again = client.get(f"/tiles/ward/{z}/{x}/{y}.mvt", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_mvt_hotspot_tile_carries_labels(client):
    z = 12
    x, y = lonlat_to_tile(-1.1332, 52.6349, z)
    q = {"datetime": "2020-04/2020-06", "group": "violence_robbery_weapons"}
    layers = _decode_mvt(client.get(f"/tiles/gi/{z}/{x}/{y}.mvt", params=q).content, z, x, y)
    labels = {p["label"] for _, p in layers["gi"]}
    assert labels and labels <= {"hot 99%", "hot 95%", "hot 90%", "cold 90%", "cold 95%", "cold 99%"}
    assert client.get("/tiles/gi/3/8/0.mvt", params=q).status_code == 422


def test_tile_cache_is_bounded_by_bytes():
    from geo_api.services.lru import LRU

    c = LRU(100, max_bytes=10, weigh=len)
    for k in range(5):
        c.put(k, b"abcd")  # 4 bytes each
    assert c.nbytes <= 10 and list(c.data) == [3, 4]  # oldest dropped first
    c.put(4, b"a")  # replacing an entry re-weighs it
    assert c.nbytes == 5 and c.get(3) == b"abcd"
