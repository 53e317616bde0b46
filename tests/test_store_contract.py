"""The store contract, run against both backends: the embedded DuckDB store and PostgreSQL +
PostGIS. The PostgreSQL cluster is a throwaway one this module starts (initdb as the
`postgres` user when run as root, on a free port, sockets in a temp dir) and stops; the
test command installs Debian's postgresql and postgis. Both backends must give the same
tallies, the same query answers and the same dataset version for the same files."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import threading
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import demo_csvs

from geo_api.data.ingest.pipeline import FileRejected, ingest_files, ingest_many
from geo_api.data.store.duckdb_store import DuckDBStore
from geo_api.errors import StoreBusy, StoreEmpty
from geo_api.services.filters import build_filter

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
FILES = demo_csvs()[:3]  # 2019-12 .. 2020-02, real police.uk rows
FILTERS = [build_filter(None, "all"), build_filter("2020-01", "violence_robbery_weapons"),
           build_filter("2019-12/2020-01", "all", ["Robbery"]),
           build_filter(None, "all", bbox="-1.16,52.62,-1.11,52.65")]


def _as(cmd: list[str]) -> list[str]:
    """``cmd`` as the postgres user when running as root (initdb refuses root)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="module")
def pg_server():
    if not PG_BIN or not os.path.exists(os.path.join(PG_BIN[-1], "initdb")):
        pytest.skip("PostgreSQL is not installed: scripts/test.sh installs postgresql and "
                    "postgis from Debian (as root)")
    if not glob.glob("/usr/share/postgresql/*/extension/postgis.control"):
        pytest.skip("PostGIS is not installed: scripts/test.sh installs postgresql-*-postgis-3")
    import tempfile

    bindir = PG_BIN[-1]
    base = Path(tempfile.mkdtemp(prefix="geo_api-pg-"))  # under /tmp: the postgres user
    if os.geteuid() == 0:  # cannot reach pytest's root-only temp dirs
        shutil.chown(base, "postgres")
    data, sock = base / "data", base
    subprocess.run(_as([f"{bindir}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres"]),
                   check=True, capture_output=True)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    subprocess.run(_as([f"{bindir}/pg_ctl", "-D", str(data), "-l", str(base / "log"), "-w",
                        "-o", (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 "
                               "-c fsync=off"), "start"]), check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(_as([f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"]),
                       check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def new_store(kind: str, tmp_path: Path, pg_url: str | None):
    if kind == "duckdb":
        return DuckDBStore(tmp_path / f"duck-{uuid.uuid4().hex[:6]}")
    import psycopg

    from geo_api.data.store.postgis_store import PostGISStore

    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{pg_url}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return PostGISStore(f"{pg_url}/{name}")


@pytest.fixture(params=["duckdb", "postgis"])
def backend(request, tmp_path):
    pg_url = request.getfixturevalue("pg_server") if request.param == "postgis" else None

    def make():
        return new_store(request.param, tmp_path, pg_url)

    return request.param, make


def tallies(report) -> list[tuple]:
    return [(f.file, f.inserted, f.updated, f.unchanged, f.quarantined, f.rejected,
             f.outcomes_changed, f.crime_id_other_month, f.no_location) for f in report.files]


def answers(store) -> dict:
    """Every query of the interface, on a few filters, in comparable form."""
    out = {"summary": {k: v for k, v in store.summary().items()},
           "months": store.months_loaded(), "sources": store.sources()}
    for i, f in enumerate(FILTERS):
        for layer in ("npa", "ward", "lsoa", "sector", "lad", "oa"):
            counts, totals = store.area_counts(layer, f)
            out[f"areas {i} {layer}"] = (counts.sort_values("code")
                                         .astype({"count": int}).to_dict("list"), totals)
        out[f"h3 {i}"] = np.sort(store.h3_cells(9, f)).tolist()
        pts = store.points(f).sort_values(["x_m", "y_m"]).round(3)
        out[f"points {i}"] = pts.to_dict("list")
        page, n = store.query_offences(f, 25, 10, ("offence_key", "month", "crime_category",
                                                   "lon", "lat", "ward_code"))
        page["month"] = page["month"].dt.strftime("%Y-%m")
        page = page.astype(object).where(page.notna(), None)  # NaN != NaN: compare as None
        out[f"page {i}"] = (page.to_dict("list"), n)
        top = store.top_locations(f, 5)
        out[f"top {i}"] = top.astype({"count": int}).to_dict("list")
        vals = store.located_values(("offence_key", "violence_robbery_weapons"), f)
        out[f"values {i}"] = sorted(map(tuple, vals.astype(object).values.tolist()))
    return out


def test_both_backends_store_and_answer_the_same(pg_server, tmp_path, joins):
    duck, pg = new_store("duckdb", tmp_path, None), new_store("postgis", tmp_path, pg_server)
    rd = ingest_files(duck, joins, FILES, progress=False)
    rp = ingest_files(pg, joins, FILES, progress=False)
    assert tallies(rd) == tallies(rp) and rd.dataset_version == rp.dataset_version
    a, b = answers(duck), answers(pg)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == b[key], key
    offence = duck.offence_by_key(a["page 0"][0]["offence_key"][0], ("offence_key", "outcome"))
    assert offence.equals(pg.offence_by_key(offence["offence_key"][0],
                                            ("offence_key", "outcome")))


def test_reingest_update_and_rejection(backend, joins):
    _, make = backend
    store = make()
    with pytest.raises(StoreEmpty):
        store.summary()
    assert store.dataset_version() is None
    first = ingest_files(store, joins, FILES, progress=False)
    again = ingest_files(store, joins, FILES, progress=False)
    assert again.unchanged == first.inserted and again.dataset_version == first.dataset_version
    # a republished month with one outcome changed: one update, the rest unchanged
    text = FILES[1].read_text().splitlines()
    i = next(i for i, line in enumerate(text[1:], 1) if line.split(",")[0] and '"' not in line)
    cells = text[i].split(",")
    cells[10] = "Investigation complete; no suspect identified" if cells[10] != \
        "Investigation complete; no suspect identified" else "Unable to prosecute suspect"
    text[i] = ",".join(cells)
    r = ingest_many(store, joins, [(FILES[1].name, ("\n".join(text) + "\n").encode())],
                    progress=False)
    assert (r.updated, r.outcomes_changed, r.inserted) == (1, 1, 0)
    assert r.dataset_version != first.dataset_version
    before = (store.summary(), store.dataset_version())
    broken = b"Crime ID,Month\nx,2020-01\n"
    with pytest.raises(FileRejected):
        ingest_many(store, joins, [(FILES[2].name, FILES[2].read_bytes()),
                                   ("broken.csv", broken)], progress=False)
    assert (store.summary(), store.dataset_version()) == before  # the first file too


def test_a_reader_keeps_its_snapshot_and_one_writer_at_a_time(backend, joins):
    _, make = backend
    store = make()
    ingest_files(store, joins, FILES[:1], progress=False)
    with store.reader() as r:
        n_before = r.summary()["n_offences"]
        ingest_files(store, joins, FILES[1:2], progress=False)  # a writer meanwhile
        assert r.summary()["n_offences"] == n_before  # the pinned snapshot
        assert r.months_loaded() == ("2019-12",)
    assert store.summary()["n_offences"] > n_before
    held, release = threading.Event(), threading.Event()

    def hold():
        with store.write_lock():
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    try:
        if _ == "postgis":  # the same database, another client
            from geo_api.data.store.postgis_store import PostGISStore

            other = PostGISStore(store.url)
        else:
            other = DuckDBStore(store.dir)
        with pytest.raises(StoreBusy):
            ingest_files(other, joins, FILES[2:3], progress=False)
    finally:
        release.set()
        t.join()


def test_postgis_has_geometry_in_27700_and_a_lonlat_view(pg_server, tmp_path, joins):
    store = new_store("postgis", tmp_path, pg_server)
    ingest_files(store, joins, FILES[:1], progress=False)
    import psycopg

    with psycopg.connect(store.url) as conn:
        srid, n_geom, n_loc = conn.execute(
            "SELECT max(ST_SRID(geom)), count(geom), count(*) FILTER (WHERE x_m IS NOT NULL) "
            "FROM offences").fetchone()
        lon, lat, x, y = conn.execute(
            "SELECT ST_X(v.geom), ST_Y(v.geom), o.lon, o.lat FROM offences_lonlat v "
            "JOIN offences o USING (offence_key) WHERE v.geom IS NOT NULL LIMIT 1").fetchone()
        indexes = {r[0] for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'offences'")}
    assert srid == 27700 and n_geom == n_loc > 0
    assert abs(lon - x) < 1e-5 and abs(lat - y) < 1e-5  # the view is lon/lat (EPSG:4326)
    assert {"offences_geom", "offences_month", "offences_h3_r9"} <= indexes
    assert pd.Series(sorted(indexes)).str.startswith("offences").all()


def test_the_api_answers_the_same_on_postgis(pg_server, tmp_path, joins):
    """GEO_API_DATABASE_URL switches the whole service to PostGIS: the same answers."""
    from fastapi.testclient import TestClient

    from geo_api.settings import Settings
    from geo_api.web.app import create_app

    pg = new_store("postgis", tmp_path, pg_server)
    ingest_files(pg, joins, FILES, progress=False)
    duck_dir = tmp_path / "duck-api"
    ingest_files(DuckDBStore(duck_dir), joins, FILES, progress=False)
    common = {"keys_file": tmp_path / "k.json", "audit_dir": tmp_path / "a",
              "anonymous_role": "analyst"}
    q = "datetime=2020-01/2020-02&group=violence_robbery_weapons"
    urls = [f"/stats/areas?layer=ward&{q}", f"/hotspots/gi?{q}&permutations=99",
            f"/offences?{q}&limit=5", f"/collections/stats-lsoa/items?{q}&limit=3", "/health"]
    bodies = {}
    for name, settings in (("duckdb", Settings(store_dir=duck_dir, **common)),
                           ("postgis", Settings(store_dir=tmp_path / "unused",
                                                database_url=pg.url, **common))):
        with TestClient(create_app(settings)) as c:
            bodies[name] = [c.get(u).json() for u in urls]
    for url, a, b in zip(urls, bodies["duckdb"], bodies["postgis"]):
        for body in (a, b):
            body.pop("timeStamp", None)
        assert a == b, url


def test_boundaries_are_published_beside_the_offences(pg_server, tmp_path):
    """A service on PostGIS copies every boundary layer into boundary_<layer> (EPSG:27700
    multipolygons, same codes and areas), once per boundaries version."""
    import psycopg

    from geo_api.services.service import Service
    from geo_api.settings import Settings

    store = new_store("postgis", tmp_path, pg_server)
    svc = Service(Settings(store_dir=tmp_path / "unused", database_url=store.url))
    with psycopg.connect(store.url) as conn:
        for name, layer in svc.boundaries.layers.items():
            rows = conn.execute(f"SELECT code, ST_Area(geom), ST_SRID(geom) FROM "
                                f"boundary_{name} ORDER BY code").fetchall()
            assert [r[0] for r in rows] == sorted(layer.gdf["code"]), name
            assert {r[2] for r in rows} == {27700}
            areas = layer.gdf.set_index("code").area
            assert max(abs(a - areas[c]) / areas[c] for c, a, _ in rows) < 1e-9, name
    assert svc.backend.publish_boundaries(svc.boundaries) is False  # already there


def test_site_sets_and_indicators_live_in_the_database_on_postgis(pg_server, tmp_path):
    """On PostGIS every host sees the same named sets: two services on one database (two
    store directories) share site sets and indicators, with owners, and site points are
    GIS-readable in EPSG:27700."""
    import psycopg
    from fastapi.testclient import TestClient

    from geo_api.settings import Settings
    from geo_api.web.app import create_app

    store = new_store("postgis", tmp_path, pg_server)
    sites = b"name,kind,easting,northing\nClock Tower,bleed kit,458800,304580\n" \
            b"Haymarket,bleed kit,458944,304725\n"
    ind = b"sector,count\nLE1 1,12\nLE2 0,3\n"  # SYNTHETIC
    meta = "source_org=test&licence=none&measure=things+(SYNTHETIC)&synthetic=true"
    apps = [create_app(Settings(store_dir=tmp_path / f"host{i}" / "store", database_url=store.url,
                                keys_file=tmp_path / f"k{i}.json", audit_dir=tmp_path / f"a{i}",
                                anonymous_role="analyst")) for i in (1, 2)]
    with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
        assert a.post("/sites/kits", content=sites,
                      headers={"content-type": "text/csv"}).status_code == 201
        assert a.post(f"/indicators/excl?{meta}", content=ind,
                      headers={"content-type": "text/csv"}).status_code == 201
        listed = b.get("/sites").json()["site_sets"]  # the other host sees them
        assert [(s["name"], s["n_sites"]) for s in listed] == [("kits", 2)]
        assert [f["properties"]["name"] for f in b.get("/sites/kits").json()["features"]] == \
            ["Clock Tower", "Haymarket"]
        assert [i["name"] for i in b.get("/indicators").json()["indicators"]] == ["excl"]
        with psycopg.connect(store.url) as conn:
            pts = conn.execute("SELECT name, ST_X(geom), ST_SRID(geom) FROM site_points "
                               "WHERE set_name = 'kits' ORDER BY name").fetchall()
        assert pts == [("Clock Tower", 458800.0, 27700), ("Haymarket", 458944.0, 27700)]
        assert b.delete("/sites/kits").status_code == 204
        assert a.get("/sites").json()["site_sets"] == []
        with psycopg.connect(store.url) as conn:
            assert conn.execute("SELECT count(*) FROM site_points").fetchone()[0] == 0


def test_postgis_readers_reuse_pooled_read_only_connections(pg_server, tmp_path, joins):
    """A request no longer opens a connection: readers take one from the pool (the same
    server process serves sequential requests), each still one read-only snapshot; a
    connection the server dropped is replaced, not handed out."""
    import psycopg

    store = new_store("postgis", tmp_path, pg_server)
    ingest_files(store, joins, FILES[:1], progress=False)
    pids, flags = set(), set()
    for _ in range(20):
        with store.reader() as r:
            assert r.summary()["n_offences"] > 0
            pids.add(r._conn.info.backend_pid)
            flags.add((r._conn.isolation_level, r._conn.read_only))
    assert len(pids) == 1
    assert flags == {(psycopg.IsolationLevel.REPEATABLE_READ, True)}
    with store.reader() as r, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        r._conn.execute("DELETE FROM offences")
    with psycopg.connect(store.url, autocommit=True) as admin:  # the server drops it
        admin.execute("SELECT pg_terminate_backend(%s)", [pids.pop()])
    with store.reader() as r:
        assert r.summary()["n_offences"] > 0
    store.close()


# --- schema 3: H3 cells that contain their points, no geometry without a location --------
def stored_rows(store) -> pd.DataFrame:
    from geo_api.data.store.base import OffenceFilter

    cols = ("offence_key", "lon", "lat", "x_m", "y_m", "has_location", "h3_r7", "h3_r8",
            "h3_r9", "h3_r10", "ward_code", "npa_code", "lad_code")
    return store.values(cols, OffenceFilter()).sort_values("offence_key", ignore_index=True)


def assert_cells_contain_points(rows: pd.DataFrame) -> None:
    """Every located row's stored cell at every resolution is latlng_to_cell of its point;
    rows without a location have no metric coordinates and no cell."""
    import h3

    loc = rows[rows["has_location"]]
    assert len(loc) > 1000
    for r in (7, 8, 9, 10):
        want = [h3.str_to_int(h3.latlng_to_cell(la, lo, r)) for lo, la in zip(loc.lon, loc.lat)]
        np.testing.assert_array_equal(loc[f"h3_r{r}"].to_numpy(np.uint64),
                                      np.array(want, dtype=np.uint64), err_msg=f"r{r}")
    assert np.isfinite(loc[["x_m", "y_m"]].to_numpy(float)).all()
    gone = rows[~rows["has_location"]]
    assert len(gone) > 0 and gone["x_m"].isna().all() and gone["y_m"].isna().all()
    assert (gone[[f"h3_r{r}" for r in (7, 8, 9, 10)]].fillna(0).to_numpy() == 0).all()


def age_to_schema_2(kind: str, store) -> None:
    """Rewrite a store as schema 2 left it: H3 r7-r9 as parents of the r10 cell, metric
    coordinates infinite without a location, ward codes not nested in the district (here:
    none at all), ``schema_version`` 2."""
    import h3

    def parent(c, r):
        return 0 if not c else h3.str_to_int(h3.cell_to_parent(h3.int_to_str(int(c)), r))

    if kind == "duckdb":
        import json

        import duckdb
        import pyarrow as pa
        import pyarrow.parquet as pq

        snap = store.dir / (store.dir / "CURRENT").read_text().strip()
        store.close()
        for part in json.loads((snap / "manifest.json").read_text())["partitions"].values():
            for f in part["files"]:
                t = pq.read_table(store.dir / f)
                r10 = t["h3_r10"].to_pylist()
                for r in (7, 8, 9):
                    i = t.schema.get_field_index(f"h3_r{r}")
                    t = t.set_column(i, t.schema.field(i), pa.array(
                        [parent(c, r) for c in r10], type=pa.uint64()))
                for c in ("x_m", "y_m"):
                    i = t.schema.get_field_index(c)
                    vals = [v if v is not None else float("inf") for v in t[c].to_pylist()]
                    t = t.set_column(i, t.schema.field(i), pa.array(vals, type=pa.float64()))
                i = t.schema.get_field_index("ward_code")
                t = t.set_column(i, t.schema.field(i), pa.nulls(len(t), t.schema.field(i).type))
                pq.write_table(t, store.dir / f)
        con = duckdb.connect(str(snap / "catalog.duckdb"))
        con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        con.close()
        return
    import psycopg

    with psycopg.connect(store.url) as conn:
        cells = conn.execute("SELECT DISTINCT h3_r10 FROM offences WHERE h3_r10 <> 0").fetchall()
        # each cell's parents in one UPDATE (not one per cell: thousands of table scans)
        conn.execute("CREATE TEMP TABLE parents (h3_r10 BIGINT PRIMARY KEY, r7 BIGINT, "
                     "r8 BIGINT, r9 BIGINT)")
        with conn.cursor().copy("COPY parents FROM STDIN") as cp:
            for (c,) in cells:
                cp.write_row([c, parent(c, 7), parent(c, 8), parent(c, 9)])
        conn.execute("UPDATE offences o SET h3_r7 = p.r7, h3_r8 = p.r8, h3_r9 = p.r9 "
                     "FROM parents p WHERE o.h3_r10 = p.h3_r10")
        conn.execute("UPDATE offences SET x_m = 'Infinity', y_m = 'Infinity' "
                     "WHERE NOT has_location")
        conn.execute("UPDATE offences SET ward_code = NULL")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")


def test_new_rows_store_the_cells_that_contain_them(backend, joins):
    _, make = backend
    store = make()
    ingest_files(store, joins, FILES[:1], progress=False)
    assert_cells_contain_points(stored_rows(store))


def test_a_schema_2_store_is_migrated_to_cells_that_contain_their_points(backend, joins):
    """A store whose H3 r7-r9 are parents of r10 (6% of rows in the wrong hexagon) and
    whose ward codes are stale is migrated by ``upgrade`` (and would be by its next
    ingest): cells, coordinates and - with the ingest's join, as the service gives it -
    area codes derived again; the dataset version that of a fresh ingest of the files."""
    kind, make = backend
    fresh = make()
    want = ingest_files(fresh, joins, FILES[:2], progress=False).dataset_version
    old = make()
    ingest_files(old, joins, FILES[:2], progress=False)
    age_to_schema_2(kind, old)
    if kind == "duckdb":
        old = DuckDBStore(old.dir)
    aged = stored_rows(old)
    loc = aged[aged["has_location"]]
    wrong = sum(int(a) != b for a, b in zip(loc["h3_r9"], stored_rows(fresh).loc[
        aged["has_location"], "h3_r9"]))
    assert wrong > 100  # the aged store has the old error
    old.rejoin = lambda x, y, lon, lat: joins.join(x, y, lon, lat)
    assert old.upgrade(joins.boundaries.version) is True
    assert old.upgrade(joins.boundaries.version) is False  # once
    rows = stored_rows(old)
    assert_cells_contain_points(rows)
    pd.testing.assert_frame_equal(rows, stored_rows(fresh))
    assert old.dataset_version() == want
    r = ingest_files(old, joins, FILES[:2], progress=False)  # nothing new after it
    assert r.inserted == r.updated == 0 and r.dataset_version == want


def test_postgis_stores_no_geometry_without_a_location(pg_server, tmp_path, joins):
    """Rows without a location have a NULL geometry (not POINT(Infinity Infinity)): the
    layer's extent is finite and covers the located rows only."""
    store = new_store("postgis", tmp_path, pg_server)
    ingest_files(store, joins, FILES[:1], progress=False)
    import psycopg

    with psycopg.connect(store.url) as conn:
        n_geom, n_loc, n_unloc, n_inf = conn.execute(
            "SELECT count(geom), count(*) FILTER (WHERE has_location), "
            "count(*) FILTER (WHERE NOT has_location), count(*) FILTER (WHERE x_m = "
            "'Infinity' OR y_m = 'Infinity') FROM offences").fetchone()
        xmin, ymin, xmax, ymax = conn.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Extent(geom) AS e FROM offences) s").fetchone()
        lon_ext = conn.execute("SELECT ST_XMax(ST_Extent(geom)) FROM offences_lonlat"
                               ).fetchone()[0]
    assert n_unloc > 0 and n_geom == n_loc and n_inf == 0
    assert 0 < xmin < xmax < 700_000 and 0 < ymin < ymax < 1_300_000  # finite, in GB
    assert -2 < lon_ext < 1


def test_offence_batches_are_the_page_in_order(backend, joins):
    """The export's batches (keyset paging) are exactly the page ``query_offences`` gives,
    for any batch size and offset: no row twice, none lost at a batch boundary."""
    _, make = backend
    store = make()
    ingest_files(store, joins, FILES, progress=False)
    cols = ("offence_key", "crime_category", "lon", "ward_code")  # without the sort keys
    with store.reader() as r:
        for flt in FILTERS[:3]:
            n = r.query_offences(flt, 0, 0, cols)[1]
            for limit, offset, batch in ((10**6, 0, 997), (2500, 13, 400), (n, n - 5, 2),
                                         (10, n + 7, 3), (3000, 0, 3000)):
                page = r.query_offences(flt, limit, offset, cols)[0]
                parts = list(r.offence_batches(flt, limit, offset, cols, batch))
                assert all(len(p) <= batch and tuple(p.columns) == cols for p in parts)
                got = pd.concat(parts, ignore_index=True)

                def rows(df):  # NaN != NaN, and a batch of no values has no dtype: as None
                    return df.astype(object).where(df.notna(), None).values.tolist()

                assert rows(got) == rows(page)
