"""Exports an analyst can open (f=csv on the area tables, with file names that say what and
when; an unknown or unsupported f is 422) and HEAD wherever GET is answered."""

from __future__ import annotations

import csv
import io

import pytest

Q = "datetime=2020-04/2020-06&group=violence_robbery_weapons"
P = "before=2019-12/2020-02&after=2020-04/2020-06&group=violence_robbery_weapons"


G = "_violence_robbery_weapons_"  # the offence group, in every file name


@pytest.mark.parametrize("url, table, name", [
    (f"/stats/areas?layer=ward&{Q}", "areas", f"offences-by-ward_2020-04-to-2020-06{G}"),
    (f"/stats/top?grid=lsoa&limit=10&{Q}", "top", f"top-lsoa_2020-04-to-2020-06{G}"),
    (f"/compare/areas?{P}", "areas",
     f"change-by-npa_2019-12-to-2020-02_vs_2020-04-to-2020-06{G}"),
])
def test_tables_as_csv_match_the_json(client, url, table, name):
    r = client.get(url + "&f=csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    disposition = r.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="{name}')
    assert disposition.endswith('.csv"')
    assert r.content.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM (Excel)
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    expected = client.get(url).json()[table]
    assert len(rows) == len(expected) and set(rows[0]) <= set(expected[0])
    key = "count" if "count" in expected[0] else "after"
    assert {r["code"]: r[key] for r in rows} == {w["code"]: str(w[key]) for w in expected}


def test_unknown_or_unsupported_format_is_422(client):
    r = client.get(f"/stats/areas?{Q}&f=xlsx")
    assert r.status_code == 422
    r = client.get("/groups?f=csv")  # this endpoint has no formats: not silently ignored
    assert r.status_code == 422 and r.json()["message"].startswith("f:")


def test_public_csv_goes_through_the_disclosure_policy(demo_service, demo_settings,
                                                       tmp_path):
    from fastapi.testclient import TestClient

    from geo_api.settings import Settings
    from geo_api.web.app import create_app

    settings = Settings(store_dir=demo_settings.store_dir, keys_file=tmp_path / "k.json",
                        audit_dir=tmp_path / "a", anonymous_role="public")
    url = "/stats/areas?layer=lsoa&datetime=2020-04&group=all&crime_category=Robbery&f=csv"
    with TestClient(create_app(settings)) as c:
        r = c.get(url)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    counts = [row["count"] for row in rows]
    assert r.headers["x-disclosure-control"] and "" in counts  # suppressed cells are empty
    assert all(v == "" or int(v) == 0 or int(v) % 5 == 0 for v in counts)


@pytest.mark.parametrize("url", ["/health", f"/stats/areas?layer=ward&{Q}", "/",
                                 "/tiles/ward/12/2035/1341.geojson", "/static/vendor/leaflet/leaflet.js"])
def test_head_is_answered_wherever_get_is(client, url):
    get, head = client.get(url), client.head(url)
    assert head.status_code == get.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


@pytest.mark.parametrize("url, key", [
    (f"/hotspots/gi?{Q}&only_significant=true", "cells"),
    (f"/hotspots/gi?{Q}&permutations=99&grid=ward", "cells"),
    (f"/compare/hotspots?{P}&permutations=99", "cells"),
])
def test_hot_spot_cells_as_geojson_polygons(client, url, key):
    import shapely
    from shapely.geometry import shape

    rows = client.get(url).json()[key]
    r = client.get(url + "&f=geojson")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == len(rows) > 0
    for feat, row in zip(fc["features"], rows):
        assert feat["id"] == row["id"] and feat["properties"] == row
        g = shape(feat["geometry"])
        assert g.geom_type in ("Polygon", "MultiPolygon") and g.is_valid
        lon, lat = shapely.get_coordinates(g)[0]
        assert -1.4 < lon < -0.9 and 52.4 < lat < 52.8  # lon/lat order, Leicester


def test_offences_csv_streams_beyond_ten_thousand_rows(client):
    r = client.get("/offences?f=csv&limit=30000&offset=5")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    # the BOM once, at the start only (not before each streamed batch)
    assert r.content.startswith(b"\xef\xbb\xbf") and r.content.count(b"\xef\xbb\xbf") == 1
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 30_000 == int(r.headers["x-number-returned"])
    assert int(r.headers["x-number-matched"]) > 30_000
    keys = [row["offence_key"] for row in rows]
    assert len(set(keys)) == 30_000  # no row twice across the streamed batches
    page = client.get("/offences?limit=10&offset=20004").json()["features"]
    assert keys[19_999:20_009] == [feat["id"] for feat in page]  # batches line up
    assert client.get("/offences?limit=20000").status_code == 422  # GeoJSON pages: 10,000


def test_offences_as_geoparquet(client, tmp_path):
    import geopandas as gpd

    r = client.get("/offences?f=parquet&limit=2500&datetime=2020-04")
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.apache.parquet"
    path = tmp_path / "offences.parquet"
    path.write_bytes(r.content)
    gdf = gpd.read_parquet(path)
    assert len(gdf) == 2500 == int(r.headers["x-number-returned"]) and gdf.crs.to_epsg() == 4326
    page = client.get("/offences?limit=3&datetime=2020-04").json()["features"]
    for feat, (_, row) in zip(page, gdf.head(3).iterrows()):
        assert feat["id"] == row["offence_key"]
        if feat["geometry"]:
            lon, lat = feat["geometry"]["coordinates"]
            assert (round(row.geometry.x, 6), round(row.geometry.y, 6)) == (lon, lat)


def test_geoparquet_rows_without_a_location_have_null_geometry(client, tmp_path):
    """Not POINT EMPTY: null, so readers give the layer the extent of the located rows."""
    import geopandas as gpd
    import pyarrow.parquet as pq

    r = client.get("/offences?f=parquet&limit=10000&datetime=2020-04")
    path = tmp_path / "offences.parquet"
    path.write_bytes(r.content)
    gdf = gpd.read_parquet(path)
    raw = pq.read_table(path, columns=["geometry"])["geometry"]
    feats = client.get("/offences?limit=10000&datetime=2020-04").json()["features"]
    unlocated = sum(f["geometry"] is None for f in feats)
    assert unlocated > 0 and raw.null_count == unlocated == gdf.geometry.isna().sum()
    assert not gdf.geometry.dropna().is_empty.any()
    x0, y0, x1, y1 = gdf.total_bounds
    assert -9 < x0 < x1 < 2 and 49 < y0 < y1 < 61  # finite, in Great Britain


def test_landing_page_opens_the_latest_months_and_lists_site_sets(client):
    import re

    up = client.post("/sites/landing-kits", content=b"name,easting,northing\nA,458800,304580\n",
                     headers={"content-type": "text/csv"})
    assert up.status_code == 201
    page = client.get("/").text
    links = re.findall(r'href="([^"]+)"', page)
    assert "/maps/hotspots?datetime=2020-07/2020-09&amp;group=violence_robbery_weapons" in links
    assert any("before=2020-04/2020-06&amp;after=2020-07/2020-09" in u for u in links)
    dated = [u for u in links if "2020-0" in u or "2019-" in u]
    # only the latest 3 months, the 3 before, and the named 2020 lockdown case study
    assert all("2020-07/2020-09" in u or "2019-12/2020-02" in u for u in dated)
    assert "datetime=2020-07/2020-09&group" in page  # the upload form opens the latest months
    assert "landing-kits</a> (1 sites, yours)" in page and 'data-set="landing-kits"' in page
    client.delete("/sites/landing-kits")


def test_top_cells_and_areas_are_named_by_their_streets_with_a_centre(client):
    import h3

    top = client.get(f"/stats/top?grid=h3&limit=5&{Q}").json()["top"]
    for t in top:
        # places as people know them: real streets, each once, no prefix, no blanks
        assert t["streets"] and len(set(t["streets"])) == len(t["streets"])
        assert all(s.strip() and "On or near" not in s for s in t["streets"])
        assert t["name"] == "; ".join(t["streets"])
        assert h3.latlng_to_cell(t["lat"], t["lon"], 9) == t["code"]  # the centre is inside
    wards = client.get(f"/stats/top?grid=ward&limit=3&{Q}").json()["top"]
    assert wards[0]["name"] == "Castle" and wards[0]["streets"]
    page = client.get(f"/maps/hotspots?{Q}").text
    import re

    named = re.findall(r'"streets": "([^"]*)"', page)  # hot cells' tooltips name their streets
    assert named and all(n.strip() and "On or near" not in n for n in named)


def test_built_pages_are_cached_per_selection_and_role(client, demo_service, demo_settings,
                                                        tmp_path):
    url = "/maps/hotspots?datetime=2020-05/2020-07&group=violence_robbery_weapons"
    first, second = client.get(url), client.get(url)
    assert first.status_code == second.status_code == 200
    assert "x-page-cache" not in first.headers and second.headers["x-page-cache"] == "hit"
    assert second.text == first.text
    assert "x-page-cache" not in client.get(url + "&resolution=8").headers  # another selection
    with_sites = url + "&sites=schools"
    client.get(with_sites)
    assert "x-page-cache" not in client.get(with_sites).headers  # site sets change: not cached
    from fastapi.testclient import TestClient

    from geo_api.data.keys import KeyStore
    from geo_api.settings import Settings
    from geo_api.web.app import create_app

    settings = Settings(store_dir=demo_settings.store_dir, keys_file=tmp_path / "k.json",
                        audit_dir=tmp_path / "a", anonymous_role="public")
    partner = {"X-API-Key": KeyStore(settings.keys_path).create("partner", "p")[0]}
    with TestClient(create_app(settings)) as c:  # one cache, the role in the key
        c.get("/maps/focus", headers=partner)
        assert c.get("/maps/focus", headers=partner).headers["x-page-cache"] == "hit"
        refused = c.get("/maps/focus")  # the public may not: the route decides, not the cache
        assert refused.status_code == 401 and "x-page-cache" not in refused.headers
        c.get(url, headers=partner)
        public = c.get(url)
        assert "x-page-cache" not in public.headers and "counts 1-4 suppressed" in public.text
        assert c.get(url).headers["x-page-cache"] == "hit"


def test_time_window_map_has_controls_and_the_latest_months(timed_client):
    page = timed_client.get("/maps/time-window?window=evening").text  # SYNTHETIC: Apr-Jun 2020
    assert 'id="map-controls"' in page
    assert '<input type="hidden" name="window" value="evening">' in page  # kept on submit
    assert 'name="period_from" value="2020-04"' in page  # the latest 3 loaded months
    assert 'name="period_to" value="2020-06"' in page


def test_map_controls_and_the_default_period(client):
    page = client.get("/maps/hotspots").text  # no period: the latest 3 loaded months
    assert "Jul–Sep 2020" in page and 'id="map-controls"' in page
    for text in ("Latest month", "Latest 3 months", "Ward: Castle", "Policing area: Central (NC)",
                 'type="month"', "fitBounds"):
        assert text in page, text
    # the form's own fields work without JavaScript too
    assert "Sep 2020: all offences" in client.get("/maps/hotspots?preset=2020-09/2020-09").text
    assert "May–Jun 2020" in client.get(
        "/maps/hotspots?period_from=2020-05&period_to=2020-06").text
    assert client.get("/maps/hotspots?preset=junk").status_code == 422
    for url in (f"/maps/compare?{P}", f"/compare/report/map?{P}&permutations=99"):
        side = client.get(url).text
        assert 'name="before_from" value="2019-12"' in side
        assert 'name="after_to" value="2020-06"' in side


def test_two_period_maps_without_javascript_and_by_default(client):
    """The side-by-side and report maps read the form's month fields when it is sent without
    JavaScript, and open the latest 3 loaded months against the 3 before with no periods."""
    form = ("before_from=2019-12&before_to=2020-02&after_from=2020-04&after_to=2020-06"
            "&group=violence_robbery_weapons&crime_category=Robbery"
            "&crime_category=Violence+and+sexual+offences")
    for path, extra in (("/maps/compare", ""), ("/compare/report/map", "&permutations=99")):
        page = client.get(f"{path}?{form}{extra}")
        assert page.status_code == 200, page.text[:300]
        assert "Dec 2019–Feb 2020" in page.text and "Apr–Jun 2020" in page.text, path
        assert 'name="after_from" value="2020-04"' in page.text
        # kept filters stay as hidden fields, both categories (a name may repeat)
        assert page.text.count('<input type="hidden" name="crime_category"') == 2
        assert 'type="hidden" name="before_from"' not in page.text  # the form's own fields
        default = client.get(f"{path}?{extra[1:]}").text  # shipped: Dec 2019 - Sep 2020
        assert 'name="before_from" value="2020-04"' in default, path
        assert 'name="after_to" value="2020-09"' in default, path
    assert client.get("/maps/compare?before_from=junk&after_from=2020-04").status_code == 422


def test_analysis_answers_are_cached_and_the_public_still_gets_protected_counts(
        demo_service, demo_settings, tmp_path):
    """JSON/CSV/GeoJSON analysis answers share the page cache: a hit is the same answer, the
    role is in the key, public answers still pass the disclosure policy, and requests naming
    site sets or offence records are never cached."""
    from fastapi.testclient import TestClient

    from geo_api.settings import Settings
    from geo_api.web.app import create_app

    for role in ("analyst", "public"):
        settings = Settings(store_dir=demo_settings.store_dir, keys_file=tmp_path / "k.json",
                            audit_dir=tmp_path / "a", anonymous_role=role)
        with TestClient(create_app(settings)) as c:
            for url in (f"/stats/areas?layer=lsoa&{Q}", f"/hotspots/gi?{Q}&permutations=99",
                        f"/compare/areas?{P}&f=csv", f"/hotspots/gi?{Q}&f=geojson"):
                first, hit = c.get(url), c.get(url)
                assert "x-page-cache" not in first.headers, url
                assert hit.headers.get("x-page-cache") == "hit", url
                assert hit.content == first.content, url
                assert hit.headers["content-type"] == first.headers["content-type"]
                if role == "public" and "geojson" not in url and "csv" not in url:
                    assert hit.headers["x-disclosure-control"]
                    body = hit.json()
                    rows = body.get("areas") or body.get("cells")
                    assert not [r for r in rows if isinstance(r.get("count"), int)
                                and 0 < r["count"] < 5], url
            for url in ("/offences?datetime=2020-04&limit=5",
                        f"/plan/kits/coverage?{Q}&existing=schools"):
                c.get(url)
                assert "x-page-cache" not in c.get(url).headers, url


def test_concurrent_requests_for_one_page_build_it_once(demo_service, demo_settings,
                                                         tmp_path, monkeypatch):
    """Four people opening the same new page at once: one build, three wait and get it."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    import geo_api.web.maps.hotspots as maps
    from geo_api.settings import Settings
    from geo_api.web.app import create_app

    builds, lock = [], threading.Lock()
    real = maps.render_hotspot_map

    def slow_render(*args, **kwargs):
        with lock:
            builds.append(1)
        time.sleep(1.0)  # long enough for the others to arrive while it builds
        return real(*args, **kwargs)

    monkeypatch.setattr(maps, "render_hotspot_map", slow_render)
    settings = Settings(store_dir=demo_settings.store_dir, keys_file=tmp_path / "k.json",
                        audit_dir=tmp_path / "a", anonymous_role="analyst",
                        max_heavy_requests=4)
    url = "/maps/hotspots?datetime=2020-02/2020-03&group=all"
    with TestClient(create_app(settings)) as c, ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: c.get(url), range(4)))
    assert [r.status_code for r in answers] == [200] * 4
    assert len(builds) == 1
    assert sorted(r.headers.get("x-page-cache", "") for r in answers) == ["", "hit", "hit",
                                                                          "hit"]
    assert len({r.text for r in answers}) == 1


def test_planning_and_focus_maps_have_controls_in_their_panels(client):
    plan = client.get("/maps/planning?p=2&datetime=2020-04/2020-09&group=all").text
    assert '<div id="plan-panel"><form id="map-controls"' in plan
    assert 'name="period_from" value="2020-04"' in plan and 'name="period_to" value="2020-09"' in plan
    assert '<input type="hidden" name="p" value="2">' in plan
    focus = client.get("/maps/focus?datetime=2019-12/2020-09&group=all&n=5").text
    assert '<div id="plan-panel" class="focus-panel"><form id="map-controls"' in focus
    assert 'name="period_from"' not in focus  # it learns from the months it is given
    assert '<input type="hidden" name="datetime" value="2019-12/2020-09">' in focus
    assert "Ward: Castle" in focus


def _csv_in_one_frame(svc, flt, limit, offset) -> bytes:
    """The CSV as the whole page in one frame (what the batches must add up to)."""
    from geo_api.web.api.features import PUBLIC_COLUMNS, _csv_text

    return _csv_text(svc.store.query_offences(flt, limit, offset, PUBLIC_COLUMNS)[0],
                     header=True).encode()


def test_streamed_exports_equal_the_selection_read_at_once(client, demo_service, tmp_path,
                                                           monkeypatch):
    """Streamed in batches (many, here), the CSV is byte for byte and the GeoParquet row for
    row the selection read in one query, with GeoPandas' GeoParquet metadata for the whole
    selection (bbox, geometry types, CRS)."""
    import geopandas as gpd
    import pyarrow.parquet as pq

    from geo_api.services.filters import build_filter
    from geo_api.web.api import features

    monkeypatch.setattr(features, "CSV_BATCH", 1_234)
    monkeypatch.setattr(features, "PARQUET_BATCH", 1_500)
    monkeypatch.setattr(features, "EXTENT_BATCH", 2_000)
    flt = build_filter("2020-03/2020-05", "all")
    r = client.get("/offences?f=csv&limit=7000&offset=321&datetime=2020-03/2020-05")
    with demo_service.pinned() as svc:
        assert r.content == b"\xef\xbb\xbf" + _csv_in_one_frame(svc, flt, 7000, 321)
        df = svc.store.query_offences(flt, 7000, 321, features.PUBLIC_COLUMNS)[0]
    whole = features._geoframe(df)
    expected = tmp_path / "whole.parquet"
    whole.to_parquet(expected, index=False, compression="zstd")

    r = client.get("/offences?f=parquet&limit=7000&offset=321&datetime=2020-03/2020-05")
    assert r.status_code == 200 and int(r.headers["content-length"]) == len(r.content)
    assert r.headers["x-number-returned"] == "7000"
    got = tmp_path / "got.parquet"
    got.write_bytes(r.content)
    assert pq.ParquetFile(got).metadata.num_row_groups == 5  # written a batch at a time
    a, b = pq.read_schema(got), pq.read_schema(expected)
    assert a.metadata[b"geo"] == b.metadata[b"geo"] and a.names == b.names
    pd_got, pd_expected = gpd.read_parquet(got), gpd.read_parquet(expected)
    assert pd_got.crs == pd_expected.crs and pd_got.geometry.equals(pd_expected.geometry)
    # a column with no value at all (ho_code: police.uk rows) is typed text, not Arrow's null
    assert str(a.field("ho_code").type) == "large_string" and pd_got["ho_code"].isna().all()
    rest = [k for k in pd_expected.columns if k not in ("ho_code", "geometry")]
    assert (pd_got[rest].astype(object).fillna("null").values.tolist()
            == pd_expected[rest].astype(object).fillna("null").values.tolist())


def _export_settings(demo_settings, **update):
    return demo_settings.model_copy(update={"max_export_requests": 1, "heavy_wait_s": 0.2,
                                           **update})


def test_exports_beyond_the_export_slots_get_503_and_other_work_goes_on(demo_settings,
                                                                         demo_service):
    """While the one export slot is taken, a big export of any format (and a GeoJSON or OGC
    page of more than 1,000 rows) is refused with Retry-After instead of also
    materialising; small pages and analyses (their own slots) are still answered."""
    from fastapi.testclient import TestClient

    from geo_api.web.app import create_app

    with TestClient(create_app(_export_settings(demo_settings))) as c:
        slots = c.app.state.export_slots
        assert slots.acquire(blocking=False)  # a long export holds the only slot
        try:
            for url in ("/offences?f=csv&limit=1000000", "/offences?f=parquet&limit=5000",
                        "/offences?limit=1001", "/collections/offences/items?limit=2000"):
                r = c.get(url)
                assert r.status_code == 503 and r.headers["retry-after"] == "5", url
                assert r.json()["code"] == "busy" and "exports" in r.json()["message"]
            assert c.get("/offences?limit=1000").status_code == 200
            assert c.get("/offences?f=csv&limit=50").status_code == 200
            assert c.get("/collections/offences/items?limit=100").status_code == 200
            assert c.get("/hotspots/gi?permutations=9").status_code == 200
            assert c.get("/offences?limit=20000").status_code == 422  # bad input first
        finally:
            slots.release()
        assert c.get("/offences?f=csv&limit=5000").status_code == 200
        assert slots.acquire(blocking=False)  # the export gave its slot back
        slots.release()


def test_a_flood_of_exports_waits_in_a_bounded_queue(demo_settings, demo_service):
    """Of many exports at once, one runs, ``max_heavy_waiting`` wait for it and the rest
    are refused at once: the number building an export at a time never grows."""
    import threading

    from fastapi.testclient import TestClient

    from geo_api.web.app import create_app

    settings = _export_settings(demo_settings, heavy_wait_s=30, max_heavy_waiting=1)
    with TestClient(create_app(settings)) as c:
        slots, queue = c.app.state.export_slots, c.app.state.export_queue
        assert slots.acquire(blocking=False)
        statuses: list[int] = []
        threads = [threading.Thread(target=lambda: statuses.append(
            c.get("/offences?f=parquet&limit=3000").status_code)) for _ in range(6)]
        for t in threads:
            t.start()
        while len(statuses) < 5:  # five refused at once, one waiting
            threading.Event().wait(0.05)
        assert statuses == [503] * 5 and not queue.acquire(blocking=False)
        slots.release()  # the running export ends: the waiting one runs
        for t in threads:
            t.join()
        assert sorted(statuses) == [200] + [503] * 5


def _drive(c, path: str, on_body) -> tuple[list[dict], BaseException | None]:
    """Call the app as a server would, with ``on_body(message)`` on each body message sent
    (it may raise: a client gone, a socket closed); the messages and what was raised."""
    from urllib.parse import urlsplit

    url = urlsplit(path)
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"},
             "http_version": "1.1", "method": "GET", "scheme": "http", "path": url.path,
             "raw_path": url.path.encode(), "query_string": url.query.encode(),
             "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 5000),
             "server": ("testserver", 80), "root_path": "", "state": {}}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body":
            on_body(message)

    async def run():
        try:
            await c.app(scope, receive, send)
        except BaseException as e:  # noqa: BLE001 - what the server would see
            return e
        return None

    return sent, c.portal.call(run)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_export_cut_off_midway_leaves_nothing_behind(demo_settings, demo_service, fmt,
                                                        monkeypatch):
    """The client goes away after the first chunk: the export's slot is free again, its
    snapshot is no longer pinned and its temporary file is gone."""
    import tempfile

    from fastapi.testclient import TestClient

    from geo_api.web.api import features
    from geo_api.web.app import create_app

    monkeypatch.setattr(features, "CHUNK_BYTES", 4096)
    files: list = []
    spooled = tempfile.SpooledTemporaryFile
    monkeypatch.setattr(features.tempfile, "SpooledTemporaryFile",
                        lambda *a, **k: files.append(spooled(*a, **k)) or files[-1])
    seen: list[bool] = []

    def gone_after_first(message):
        slots = c.app.state.export_slots
        free = slots.acquire(blocking=False)  # False: the export holds it while sending
        if free:
            slots.release()
        seen.append(free)
        raise OSError("client went away")

    with TestClient(create_app(_export_settings(demo_settings))) as c:
        sent, raised = _drive(c, f"/offences?f={fmt}&limit=20000", gone_after_first)
        assert sent[0]["status"] == 200 and seen == [False] and raised is not None
        assert c.app.state.export_slots.acquire(blocking=False)  # released
        c.app.state.export_slots.release()
        backend = c.app.state.service.backend
        assert backend._current.refs == 0  # no snapshot still pinned
        assert all(f.closed for f in files) and len(files) == (fmt == "parquet")


def test_an_export_failing_midway_refuses_or_cuts_off_and_frees_its_slot(
        demo_settings, demo_service, monkeypatch):
    """A store error after the first batch: GeoParquet (sent only when whole) is a 500 with
    no file; the CSV, already streaming, ends without its last chunk (the server closes the
    connection: no complete-looking file). Either way the slot is free again."""
    from fastapi.testclient import TestClient

    from geo_api.data.store.queries import SQLReader
    from geo_api.web.app import create_app

    batches = SQLReader.offence_batches

    def failing(self, *args, **kwargs):
        for i, df in enumerate(batches(self, *args, **kwargs)):
            if i == 1:
                raise RuntimeError("disk gone")
            yield df

    monkeypatch.setattr(SQLReader, "offence_batches", failing)
    with TestClient(create_app(_export_settings(demo_settings)),
                    raise_server_exceptions=False) as c:
        r = c.get("/offences?f=parquet&limit=100000")
        assert r.status_code == 500 and r.headers["content-type"].startswith(
            "application/json") and b"PAR1" not in r.content
        sent, raised = _drive(c, "/offences?f=csv&limit=100000", lambda m: None)
        assert sent[0]["status"] == 200 and isinstance(raised, RuntimeError)
        assert not any(m.get("more_body") is False for m in sent[1:])  # never ended
        assert c.app.state.export_slots.acquire(blocking=False)
        c.app.state.export_slots.release()
