"""Readers keep working while snapshots are swapped (snapshot + atomic swap), each request
pinned to one snapshot."""

import time

from conftest import demo_csvs

from geo_api.data.store.duckdb_store import DuckDBStore


def test_second_writer_gets_busy_error(tmp_path):
    import fcntl

    import pytest

    from geo_api.errors import StoreBusy

    store = DuckDBStore(tmp_path / "s")
    with open(tmp_path / "s" / ".write.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(StoreBusy):
            store.write(None, {})


def _two_snapshots(tmp_path, joins):
    """A store dir holding two snapshots (1 and 2 demo months); returns (dir, names)."""
    from geo_api.data.ingest.pipeline import ingest_files

    store_dir = tmp_path / "store"
    s = DuckDBStore(store_dir)
    ingest_files(s, joins, demo_csvs()[:1], progress=False)
    a = (store_dir / "CURRENT").read_text()
    ingest_files(s, joins, demo_csvs()[1:2], progress=False)
    b = (store_dir / "CURRENT").read_text()
    s.close()
    return store_dir, (a, b)


def _point_to(store_dir, name):
    import os

    tmp = store_dir / "CURRENT.flip"
    tmp.write_text(name)
    os.replace(tmp, store_dir / "CURRENT")


def test_requests_pin_one_snapshot_while_snapshots_swap(tmp_path, joins):
    """Many concurrent requests while the current snapshot flips back and forth: no request
    fails ("Connection already closed") and none mixes two snapshots (its counts always
    belong to the dataset version it reports)."""
    import threading

    from fastapi.testclient import TestClient

    from geo_api.settings import Settings
    from geo_api.web.app import create_app

    store_dir, names = _two_snapshots(tmp_path, joins)
    truth = {}
    for name in names:
        _point_to(store_dir, name)
        s = DuckDBStore(store_dir)
        truth[s.dataset_version()] = s.summary()["n_offences"]
        s.close()
    failures, results = [], []
    stop = threading.Event()
    with TestClient(create_app(Settings(store_dir=store_dir))) as client:
        def hammer():
            while not stop.is_set():
                r = client.get("/stats/areas?layer=ward")
                if r.status_code != 200:
                    failures.append((r.status_code, r.text[:200]))
                    continue
                m = r.json()["meta"]
                results.append((m["dataset_version"], m["n_matched"],
                                m["n_in_layer"] + m["n_no_location"] + m["n_outside_layer"]))

        threads = [threading.Thread(target=hammer) for _ in range(6)]
        for t in threads:
            t.start()
        for i in range(300):
            _point_to(store_dir, names[i % 2])
            time.sleep(0.002)
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert len({v for v, _, _ in results}) == 2, "both snapshots were served"
    mixed = [r for r in results if truth[r[0]] != r[1] or r[1] != r[2]]
    assert mixed == [], f"{len(mixed)} of {len(results)} responses mixed two snapshots"


def test_a_pinned_reader_keeps_its_snapshot_and_old_connections_close_after_it(tmp_path, joins):
    store_dir, (a, b) = _two_snapshots(tmp_path, joins)
    _point_to(store_dir, a)
    store = DuckDBStore(store_dir)
    with store.reader() as r:
        n_a = r.summary()["n_offences"]
        _point_to(store_dir, b)
        with store.reader() as r2:  # a new reader gets the new snapshot ...
            assert r2.snapshot_name == b and r2.summary()["n_offences"] > n_a
        # ... while the first still reads its own, whose connection stays open
        assert r.snapshot_name == a and r.summary()["n_offences"] == n_a
        old = r._snap
        assert old.con.execute("SELECT 1").fetchall() == [(1,)]
    # the last reader of the retired snapshot has ended: its connection is closed
    import duckdb
    import pytest

    with pytest.raises(duckdb.ConnectionException):
        old.con.execute("SELECT 1")
    assert store._retired == []
    store.close()


def test_second_ingest_is_refused_before_it_reads_its_files(tmp_path, joins):
    import pytest

    from geo_api.data.ingest.pipeline import ingest_many
    from geo_api.errors import StoreBusy

    first = DuckDBStore(tmp_path / "s")
    second = DuckDBStore(tmp_path / "s")

    def items():
        raise AssertionError("a refused ingest must not start reading its files")
        yield

    with first.write_lock(), pytest.raises(StoreBusy):
        ingest_many(second, joins, items(), progress=False)
    first.close()
    second.close()


def test_leftovers_of_a_killed_ingest_are_removed_at_the_next_start(tmp_path, joins):
    from geo_api.data.ingest.pipeline import ingest_files

    store_dir = tmp_path / "store"
    s = DuckDBStore(store_dir)
    ingest_files(s, joins, demo_csvs()[:1], progress=False)
    current = (store_dir / "CURRENT").read_text()
    n = s.summary()["n_offences"]
    s.close()
    kept = sorted((store_dir / "parts").iterdir())
    orphan = store_dir / "snap-20261203T000000-deadbeef"  # as a SIGKILL leaves it: half a
    (orphan / "tmp").mkdir(parents=True)  # snapshot, a part file written for it, and
    (orphan / "catalog.duckdb").write_bytes(b"half a catalog")  # PENDING naming it
    orphan_part = store_dir / "parts" / f"{orphan.name}.0.0.parquet"
    orphan_part.write_bytes(b"half a partition")
    (store_dir / "PENDING").write_text(orphan.name)
    s = DuckDBStore(store_dir)
    assert not orphan.exists() and not orphan_part.exists()
    assert not (store_dir / "PENDING").exists()
    assert (store_dir / current).exists() and s.summary()["n_offences"] == n
    assert sorted((store_dir / "parts").iterdir()) == kept
    s.close()
