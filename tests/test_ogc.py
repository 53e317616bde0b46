"""OGC API - Features and - Tiles over the service's collections: the documents, paging,
bbox, CRS, roles and disclosure through the HTTP client, and GDAL (Debian's gdal-bin,
installed by scripts/test.sh) as a real client: ogrinfo lists the collections, ogr2ogr
downloads a boundary layer and a filtered offence selection through paging, and ogrinfo
reads a vector tile found through the OGC tile set / TileJSON descriptions."""

from __future__ import annotations

import re
import shutil
import subprocess

import geopandas as gpd
import httpx
import mapbox_vector_tile
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_api.settings import Settings
from geo_api.web.app import create_app

Q = "datetime=2020-04/2020-06&group=violence_robbery_weapons"
BBOX = "-1.145,52.625,-1.12,52.64"  # the city centre, about 1.7 x 1.7 km
OGRINFO, OGR2OGR = shutil.which("ogrinfo"), shutil.which("ogr2ogr")
needs_gdal = pytest.mark.skipif(OGRINFO is None or OGR2OGR is None,
                                reason="GDAL's ogrinfo/ogr2ogr are missing: scripts/test.sh "
                                       "installs Debian's gdal-bin (as root)")


def all_pages(client, url: str) -> tuple[list[dict], list[dict]]:
    """Every feature reached by following 'next' links from ``url``, and each page."""
    feats, pages = [], []
    while url:
        r = client.get(url)
        assert r.status_code == 200, r.text[:300]
        body = r.json()
        pages.append(body)
        feats += body["features"]
        nxt = [lk["href"] for lk in body["links"] if lk["rel"] == "next"]
        url = nxt[0] if nxt else None
    return feats, pages


# ---------------------------------------------------------------- documents --------------
def test_landing_page_is_json_for_clients_and_html_for_people(client):
    for r in (client.get("/?f=json"), client.get("/", headers={"Accept": "application/json"})):
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        rels = {lk["rel"]: lk["href"] for lk in r.json()["links"]}
        for rel in ("self", "service-desc", "conformance", "data",
                    "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"):
            assert rel in rels
        assert rels["data"].endswith("/collections")
    page = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.headers["content-type"].startswith("text/html") and "<title>" in page.text
    conf = client.get("/conformance").json()["conformsTo"]
    assert {"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/" + c
            for c in ("core", "geojson", "oas30")} <= set(conf)


def test_collections_describe_extent_crs_and_links(client, demo_service):
    body = client.get("/collections").json()
    by_id = {c["id"]: c for c in body["collections"]}
    assert {"npa", "ward", "sector", "lsoa", "lad", "oa", "offences", "stats-ward",
            "stats-lsoa", "hotspots-gi", "hotspots-kde"} <= set(by_id)
    months = demo_service.store.months_loaded()
    for c in by_id.values():
        x0, y0, x1, y1 = c["extent"]["spatial"]["bbox"][0]
        assert -1.7 < x0 < x1 < -0.4 and 52.3 < y0 < y1 < 53.0  # Leicestershire, lon/lat
        assert "http://www.opengis.net/def/crs/EPSG/0/27700" in c["crs"]
        assert any(lk["rel"] == "items" for lk in c["links"])
    assert "temporal" not in by_id["ward"]["extent"]
    assert by_id["offences"]["extent"]["temporal"]["interval"][0][0].startswith(months[0])
    assert any(lk["rel"].endswith("tilesets-vector") for lk in by_id["hotspots-gi"]["links"])
    assert not any(lk["rel"].endswith("tilesets-vector") for lk in by_id["offences"]["links"])
    # a derived collection's links carry its default selection: the latest 3 loaded months
    gi = client.get("/collections/hotspots-gi").json()
    items = next(lk["href"] for lk in gi["links"] if lk["rel"] == "items")
    assert "group=violence_robbery_weapons" in items and months[-1] in items
    assert client.get("/collections/nope").status_code == 404


# ---------------------------------------------------------------- features ---------------
def test_paging_reaches_every_feature_once(client, demo_service):
    feats, pages = all_pages(client, "/collections/ward/items?limit=5")
    codes = sorted(demo_service.boundaries.get("ward").gdf["code"])
    assert sorted(f["id"] for f in feats) == codes and len(pages) == 5
    assert all(p["numberMatched"] == 21 for p in pages)
    assert [p["numberReturned"] for p in pages] == [5, 5, 5, 5, 1]
    assert all(f["properties"]["code"] == f["id"] for f in feats)
    assert client.get("/collections/ward/items?limit=10001").status_code == 422


def test_bbox_selects_the_areas_it_touches(client, demo_service):
    body = client.get(f"/collections/lsoa/items?bbox={BBOX}&limit=1000").json()
    lsoa = demo_service.boundaries.get("lsoa").gdf
    box = gpd.GeoSeries([shapely.segmentize(shapely.box(*map(float, BBOX.split(","))), 0.001)],
                        crs=4326).to_crs(27700).iloc[0]
    expected = sorted(lsoa.loc[lsoa.intersects(box), "code"])
    assert sorted(f["id"] for f in body["features"]) == expected
    assert body["numberMatched"] == len(expected) > 10


def test_output_in_british_national_grid(client, demo_service):
    bng = "http://www.opengis.net/def/crs/EPSG/0/27700"
    r = client.get(f"/collections/npa/items?crs={bng}")
    assert r.headers["content-crs"] == f"<{bng}>"
    got = gpd.GeoDataFrame.from_features(r.json()["features"]).set_index("code")
    npa = demo_service.boundaries.get("npa").gdf.set_index("code")
    for code in npa.index:  # metres to the centimetre, same shapes
        a, b = got.loc[code, "geometry"], npa.loc[code, "geometry"]
        assert abs(a.area - b.area) / b.area < 1e-6 and a.hausdorff_distance(b) < 0.02
    lonlat = client.get("/collections/npa/items")
    assert lonlat.headers["content-crs"].endswith("CRS84>")
    assert client.get("/collections/npa/items?crs=EPSG:3857").status_code == 422
    assert client.get(f"/collections/npa/items?bbox-crs={bng}&bbox=1,2,3,4").status_code == 422


def test_area_statistics_match_the_stats_endpoint(client):
    feats, _ = all_pages(client, f"/collections/stats-ward/items?{Q}&limit=100")
    stats = client.get(f"/stats/areas?layer=ward&{Q}").json()["areas"]
    assert {f["id"]: f["properties"]["count"] for f in feats} == \
        {a["code"]: a["count"] for a in stats}
    assert {f["id"]: f["properties"]["rate_per_1000"] for f in feats} == pytest.approx(
        {a["code"]: a["rate_per_1000"] for a in stats}, rel=1e-12)
    # default: the latest 3 loaded months of violence, robbery and weapons
    default = client.get("/collections/stats-ward/items?limit=100").json()
    latest = client.get("/stats/areas?layer=ward&datetime=2020-07/2020-09"
                        "&group=violence_robbery_weapons").json()
    assert default["meta"]["filters"]["group"] == "violence_robbery_weapons"
    assert {f["id"]: f["properties"]["count"] for f in default["features"]} == \
        {a["code"]: a["count"] for a in latest["areas"]}
    one = client.get(f"/collections/stats-ward/items/{stats[0]['code']}?{Q}").json()
    assert one["properties"]["count"] == stats[0]["count"] and one["type"] == "Feature"


def test_hot_spot_cells_match_the_gi_endpoint(client):
    feats, pages = all_pages(client, f"/collections/hotspots-gi/items?{Q}&limit=10000")
    gi = client.get(f"/hotspots/gi?{Q}").json()
    assert {f["id"]: f["properties"]["label"] for f in feats} == \
        {u["id"]: u["label"] for u in gi["cells"]}
    assert pages[0]["meta"]["permutations"] == 9999 and pages[0]["meta"]["seed"] == 12345
    hot = [f for f in feats if f["properties"]["label"].startswith("hot")]
    assert hot and all(f["geometry"]["type"] == "Polygon" for f in hot)


def test_kde_cells_match_the_kde_endpoint(client):
    feats, pages = all_pages(client, f"/collections/hotspots-kde/items?{Q}&limit=10000")
    kde = client.get(f"/hotspots/kde?{Q}&bandwidth_m=300&cell_size_m=100&kernel=quartic"
                     "&f=geojson").json()
    top = max(f["properties"]["density_per_km2"] for f in kde["features"])
    expected = sorted(round(f["properties"]["density_per_km2"], 3) for f in kde["features"]
                      if f["properties"]["density_per_km2"] >= 0.05 * top)
    assert sorted(f["properties"]["density_per_km2"] for f in feats) == \
        pytest.approx(expected, abs=1e-3)
    assert pages[0]["meta"]["bandwidth_m"] == 300 and pages[0]["meta"]["kernel"] == "quartic"


def test_offences_page_in_the_store_and_match_the_offences_endpoint(client):
    n = client.get(f"/stats/areas?layer=ward&{Q}").json()["meta"]["n_matched"]
    first = client.get(f"/collections/offences/items?{Q}&limit=7&offset=3").json()
    rows = client.get(f"/offences?{Q}&limit=7&offset=3").json()["features"]
    assert first["numberMatched"] == n and first["numberReturned"] == 7
    assert [f["id"] for f in first["features"]] == [f["id"] for f in rows]
    assert [f["geometry"] for f in first["features"]] == [f["geometry"] for f in rows]
    nxt = next(lk["href"] for lk in first["links"] if lk["rel"] == "next")
    assert "offset=10" in nxt and "group=violence_robbery_weapons" in nxt
    key = rows[0]["id"]
    one = client.get(f"/collections/offences/items/{key}").json()
    assert one["properties"]["crime_category"] == rows[0]["properties"]["crime_category"]
    assert client.get("/collections/offences/items/no-such-key").status_code == 404
    bng = client.get(f"/collections/offences/items/{key}?crs=http://www.opengis.net/def/crs/"
                     "EPSG/0/27700").json()["geometry"]["coordinates"]
    assert 400_000 < bng[0] < 500_000 and 250_000 < bng[1] < 350_000


# ---------------------------------------------------------------- roles -----------------
def test_public_role_gets_protected_aggregates_and_no_offences(public):
    client, partner = public
    ids = {c["id"] for c in client.get("/collections").json()["collections"]}
    assert "offences" not in ids and "stats-lsoa" in ids
    assert client.get("/collections/offences/items").status_code in (401, 403)
    assert client.get("/collections/offences").status_code in (401, 403)
    url = "/collections/stats-lsoa/items?datetime=2020-04&group=violence_robbery_weapons" \
          "&limit=1000"
    pub = client.get(url)
    assert pub.headers["x-disclosure-control"].startswith("public")
    counts = [f["properties"]["count"] for f in pub.json()["features"]]
    assert all(c is None or c % 5 == 0 for c in counts) and None in counts
    assert pub.json()["numberMatched"] == 611  # the number of areas is not protected
    full = [f["properties"]["count"] for f in client.get(
        url, headers={"X-API-Key": partner}).json()["features"]]
    assert any(0 < c < 5 for c in full)  # the check can fail
    lsoa = client.get("/collections/lsoa/items?limit=1000").json()["features"]
    assert {f["properties"]["imd_decile"] for f in lsoa} >= {1, 2, 3}  # open data, kept
    assert client.get("/collections/stats-ward/items?bbox=-1.14,52.63,-1.139,52.631"
                      ).status_code == 403  # finer than the bbox floor


def test_aggregates_only_deployment_has_no_offence_collection(demo_service, demo_settings,
                                                              tmp_path):
    settings = Settings(store_dir=demo_settings.store_dir, keys_file=tmp_path / "k.json",
                        audit_dir=tmp_path / "a", anonymous_role="analyst",
                        aggregates_only=True)
    with TestClient(create_app(settings)) as c:
        ids = {x["id"] for x in c.get("/collections").json()["collections"]}
        assert "offences" not in ids and "ward" in ids
        assert c.get("/collections/offences/items").status_code == 403


# ---------------------------------------------------------------- tiles -----------------
def test_tile_sets_tilejson_and_tiles(client):
    tms = client.get("/tileMatrixSets/WebMercatorQuad").json()
    assert tms["crs"].endswith("EPSG/0/3857") and len(tms["tileMatrices"]) == 25
    assert tms["tileMatrices"][12]["matrixWidth"] == 4096
    sets = client.get("/collections/ward/tiles").json()["tilesets"]
    assert sets[0]["dataType"] == "vector" and sets[0]["tileMatrixSetURI"].endswith(
        "WebMercatorQuad")
    ts = client.get("/collections/ward/tiles/WebMercatorQuad").json()
    z12 = next(lim for lim in ts["tileMatrixSetLimits"] if lim["tileMatrix"] == "12")
    assert (z12["minTileCol"], z12["minTileRow"]) <= (2035, 1341) <= (z12["maxTileCol"],
                                                                     z12["maxTileRow"])
    template = next(lk["href"] for lk in ts["links"] if lk["rel"] == "item"
                    and lk["type"] == "application/vnd.mapbox-vector-tile")
    url = template.replace("{tileMatrix}", "12").replace("{tileRow}", "1341").replace(
        "{tileCol}", "2035")
    ogc_tile = client.get(url)
    assert ogc_tile.content == client.get("/tiles/ward/12/2035/1341.mvt").content
    names = {f["properties"]["name"] for f in
             mapbox_vector_tile.decode(ogc_tile.content)["ward"]["features"]}
    assert "Castle" in names
    tj = client.get(f"/collections/hotspots-gi/tiles/WebMercatorQuad/tilejson?{Q}").json()
    assert tj["tilejson"] == "3.0.0" and tj["vector_layers"][0]["id"] == "gi"
    assert "{z}/{y}/{x}" in tj["tiles"][0] and "datetime=" in tj["tiles"][0]
    gi_url = tj["tiles"][0].replace("{z}", "13").replace("{y}", "2682").replace("{x}", "4070")
    assert client.get(gi_url).content == client.get(
        f"/tiles/gi/13/4070/2682.mvt?{Q}").content
    assert client.get("/collections/offences/tiles").status_code == 404
    assert client.get("/collections/ward/tiles/WorldCRS84Quad").status_code == 422


# ---------------------------------------------------------------- GDAL ------------------
@pytest.fixture(scope="module")
def live(demo_service, demo_settings):
    from tests.test_browser import _serve

    yield from _serve(demo_settings)


def run(*args: str) -> str:
    out = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@needs_gdal
def test_ogrinfo_lists_the_collections(live):
    out = run(OGRINFO, "-ro", "-q", f"OAPIF:{live}")
    listed = re.findall(r"^\d+: (\S+) \(title: ", out, flags=re.MULTILINE)
    ids = [c["id"] for c in httpx.get(f"{live}/collections").json()["collections"]]
    assert listed == ids and "offences" in listed and "hotspots-gi" in listed


@needs_gdal
def test_ogr2ogr_downloads_a_boundary_layer(live, demo_service, tmp_path):
    dest = tmp_path / "lsoa.gpkg"
    run(OGR2OGR, "-f", "GPKG", str(dest), f"OAPIF:{live}", "lsoa", "-oo", "PAGE_SIZE=200")
    info = run(OGRINFO, "-ro", "-so", str(dest), "lsoa")
    assert "Feature Count: 611" in info
    got = gpd.read_file(dest).to_crs(27700).set_index("code").sort_index()
    lsoa = demo_service.boundaries.get("lsoa").gdf.set_index("code").sort_index()
    assert list(got.index) == list(lsoa.index)
    assert (got["imd_decile"] == lsoa["imd_decile"]).all()
    assert ((got.area - lsoa.area).abs() / lsoa.area).max() < 1e-4


@needs_gdal
def test_ogr2ogr_pages_through_a_filtered_offence_selection(live, tmp_path):
    query = "datetime=2020-04/2020-05&group=violence_robbery_weapons"
    n = httpx.get(f"{live}/stats/areas?layer=ward&{query}").json()["meta"]["n_matched"]
    dest = tmp_path / "offences.gpkg"
    run(OGR2OGR, "-f", "GPKG", str(dest), f"OAPIF:{live}/collections/offences?{query}",
        "-oo", "PAGE_SIZE=1000")
    info = run(OGRINFO, "-ro", "-so", str(dest), "offences")
    assert f"Feature Count: {n}" in info and n > 3000  # more than 3 pages of 1,000
    got = gpd.read_file(dest)
    csv_keys = httpx.get(f"{live}/offences?{query}&f=csv&limit=1000000").text.splitlines()
    keys = {line.split(",", 1)[0] for line in csv_keys[1:]}
    assert set(got["offence_key"]) == keys and got["offence_key"].is_unique
    assert set(got["crime_category"]) <= {"Violence and sexual offences", "Robbery",
                                          "Possession of weapons"}


@needs_gdal
def test_ogrinfo_reads_a_vector_tile_found_through_tilejson_and_the_tile_set(live):
    tj = httpx.get(f"{live}/collections/ward/tiles/WebMercatorQuad/tilejson").json()
    z, x, y = 12, 2035, 1341  # the tile over the city centre
    url = tj["tiles"][0].format(z=z, x=x, y=y)
    out = run(OGRINFO, "-ro", "-al", "-so", "-oo", f"Z={z}", "-oo", f"X={x}", "-oo", f"Y={y}",
              f"MVT:/vsicurl/{url}")
    assert f"Layer name: {tj['vector_layers'][0]['id']}" in out
    n = int(re.search(r"Feature Count: (\d+)", out)[1])
    expected = len(httpx.get(f"{live}/tiles/ward/{z}/{x}/{y}.geojson").json()["features"])
    assert n == expected > 3
    # the extent GDAL reports lies in the tile (Web Mercator metres, GDAL's georeferencing)
    ext = [float(v) for v in re.search(r"Extent: \(([-\d.]+), ([-\d.]+)\) - \(([-\d.]+), "
                                       r"([-\d.]+)\)", out).groups()]
    from geo_api.web.tiles import tile_bounds_mercator

    x0, y0, x1, y1 = tile_bounds_mercator(z, x, y)
    pad = (x1 - x0) * 0.05
    assert x0 - pad <= ext[0] < ext[2] <= x1 + pad and y0 - pad <= ext[1] < ext[3] <= y1 + pad
    ts = httpx.get(f"{live}/collections/ward/tiles/WebMercatorQuad").json()
    template = next(lk["href"] for lk in ts["links"] if lk["rel"] == "item"
                    and lk["type"] == "application/vnd.mapbox-vector-tile")
    tile_url = template.replace("{tileMatrix}", str(z)).replace("{tileRow}", str(y)).replace(
        "{tileCol}", str(x))
    names = run(OGRINFO, "-ro", "-al", "-q", "-oo", f"Z={z}", "-oo", f"X={x}", "-oo", f"Y={y}",
                f"MVT:/vsicurl/{tile_url}")
    assert "name (String) = Castle" in names
