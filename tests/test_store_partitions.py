"""The embedded store's partitioned layout: an ingest rewrites only the partitions its rows
fall in, and tallies across partitions it did not load exactly as in one ingest.

Fixtures: the SYNTHETIC order files of test_ingest_order (January, February with Crime ID
SYNTHETIC-X also in January, January re-published) and the first shipped demo months.
"""

import json
import os

import pandas as pd
from conftest import demo_csvs
from test_ingest_order import FEB, JAN, JAN2, content_hash, ingest, tally

from geo_api.data.ingest.pipeline import ingest_files
from geo_api.data.store import duckdb_parts
from geo_api.data.store.base import OffenceFilter
from geo_api.data.store.duckdb_store import DuckDBStore


def rows_in_several_months(store) -> int:
    """police.uk rows whose Crime ID is stored under more than one month, counted here."""
    v = store.values(("source", "source_id", "month"), OffenceFilter())
    v = v[(v["source"] == "police_uk") & v["source_id"].notna()]
    months = v.groupby("source_id")["month"].transform("nunique")
    return int((months > 1).sum())


def test_tallies_do_not_depend_on_how_files_are_split_into_ingests(tmp_path, joins):
    """February's Crime ID stored under January counts as 'other month' whether January is
    in the same ingest, an earlier one (a partition this ingest never loads), or loaded
    by a later file of the same ingest; so do the rows, the log and the version."""
    one = DuckDBStore(tmp_path / "one")
    expected = [tally(f) for f in ingest(one, joins, [JAN, FEB, JAN2]).files]
    assert [t[-1] for t in expected] == [0, 1, 1]
    for i, calls in enumerate([[[JAN], [FEB, JAN2]], [[JAN, FEB], [JAN2]],
                               [[JAN], [FEB], [JAN2]], [[FEB], [JAN], [JAN2]]]):
        store = DuckDBStore(tmp_path / f"split{i}")
        got = []
        for call in calls:
            got += [tally(f) for f in ingest(store, joins, call).files]
            # the count the writer keeps up to date without grouping every stored id
            assert store.summary()["n_crime_id_other_month"] == rows_in_several_months(store)
        if calls[0] == [FEB]:  # February first: January's copy is the later one
            assert [t[-1] for t in got] == [0, 1, 1], calls
        else:
            assert got == expected, calls
            assert store.ingests()["crime_id_other_month"].tolist() == [0, 1, 1]
        assert content_hash(store) == content_hash(one), calls
        assert store.dataset_version() == one.dataset_version(), calls
        store.close()
    one.close()


def _files(store_dir):
    manifest = json.loads((store_dir / (store_dir / "CURRENT").read_text() / "manifest.json")
                          .read_text())
    return {part: e["files"] for part, e in manifest["partitions"].items()}


def test_a_new_month_writes_only_its_partition(tmp_path, joins):
    """Adding a month leaves every stored partition's file as it was (same file, not
    rewritten or copied); the new month is one new partition; the old snapshot's files
    stay readable until the snapshot after next."""
    store = DuckDBStore(tmp_path / "s")
    csvs = demo_csvs()
    ingest_files(store, joins, csvs[:2], progress=False)
    before = _files(store.dir)
    stat = {f: os.stat(store.dir / f) for fs in before.values() for f in fs}
    assert sorted(before) == ["puk-2019-12", "puk-2020-01"]
    n_before = store.summary()["n_offences"]

    with store.reader() as pinned:  # a request that started before the ingest
        r = ingest_files(store, joins, csvs[2:3], progress=False)
        assert pinned.summary()["n_offences"] == n_before
    after = _files(store.dir)
    assert sorted(after) == ["puk-2019-12", "puk-2020-01", "puk-2020-02"]
    for part, files in before.items():
        assert after[part] == files
        for f in files:
            s = os.stat(store.dir / f)
            assert (s.st_ino, s.st_mtime_ns, s.st_size) == (
                stat[f].st_ino, stat[f].st_mtime_ns, stat[f].st_size)
    assert store.summary()["n_offences"] == n_before + r.inserted

    # the same three months in one ingest: the same rows and version
    fresh = DuckDBStore(tmp_path / "fresh")
    ingest_files(fresh, joins, csvs[:3], progress=False)
    assert content_hash(fresh) == content_hash(store)
    assert fresh.dataset_version() == store.dataset_version()
    # a re-published month rewrites that month only
    ingest_files(store, joins, csvs[1:2], progress=False)  # unchanged: nothing written
    assert _files(store.dir) == after
    fresh.close()
    store.close()


def _on_disk(store_dir) -> list[str]:
    return sorted(f"{duckdb_parts.PARTS}/{p.name}" for p in (store_dir / "parts").glob("*.parquet"))


def test_rows_written_out_as_they_come_make_the_same_store(tmp_path, joins, monkeypatch):
    """New rows go to Parquet as they come (whenever the rows held pass a bound), not
    through a table: whatever the bound - each file written out at once, or everything held
    to the end of the ingest - the stored rows, tallies, counts and version are the same.
    January re-published in the same ingest loads its partition with the file already
    written for it (then deleted); every file on disk is one the manifest names."""
    results = {}
    for bound in (1, 2**40):
        monkeypatch.setattr(duckdb_parts, "APPEND_BUFFER_BYTES", bound)
        store = DuckDBStore(tmp_path / f"bound{bound}")
        got = [tally(f) for f in ingest(store, joins, [JAN, FEB, JAN2]).files]
        got += [tally(f) for f in ingest_files(store, joins, demo_csvs()[:2],
                                               progress=False).files]
        files = _files(store.dir)
        assert _on_disk(store.dir) == sorted(f for fs in files.values() for f in fs)
        results[bound] = (got, content_hash(store), store.dataset_version(),
                          store.summary()["n_crime_id_other_month"], rows_in_several_months(store))
        store.close()
    assert results[1] == results[2**40]
    assert [t[:3] for t in results[1][0][:3]] == [(6, 0, 0), (5, 0, 0), (0, 1, 5)]


def test_a_partition_grows_by_a_file_an_ingest_and_is_written_as_one_past_a_limit(
        tmp_path, joins, monkeypatch):
    """A month's rows arriving in four ingests (the first shipped month's rows with a Crime
    ID - rows without one are keyed by their content and place in the file - split in four):
    each ingest adds a file and leaves the stored ones as they were, until the partition
    holds MAX_PART_FILES; the next ingest writes it again as one file. The rows and version
    are those of the month ingested at once."""
    monkeypatch.setattr(duckdb_parts, "MAX_PART_FILES", 3)
    month = pd.read_csv(demo_csvs()[0], dtype=str, keep_default_na=False)
    month = month[month["Crime ID"] != ""]
    quarters = []
    for i in range(4):
        path = tmp_path / f"{demo_csvs()[0].stem}-q{i}.csv"
        month.iloc[i::4].to_csv(path, index=False)
        quarters.append(path)
    whole = DuckDBStore(tmp_path / "whole")
    ingest_files(whole, joins, quarters, progress=False)
    store = DuckDBStore(tmp_path / "split")
    counts, before = [], []
    for path in quarters:
        ingest_files(store, joins, [path], progress=False)
        (files,) = _files(store.dir).values()
        counts.append(len(files))
        assert files[:len(before)] == before or len(files) == 1
        assert set(files) <= set(_on_disk(store.dir))  # (and the previous snapshot's)
        before = files
    assert counts == [1, 2, 3, 1]
    assert content_hash(store) == content_hash(whole)
    assert store.dataset_version() == whole.dataset_version()
    assert store.summary()["n_offences"] == len(month)
    whole.close()
    store.close()


def test_a_batch_as_arrow_writes_and_counts_as_its_frame(tmp_path, joins):
    """Ingest workers hand the embedded store each file's rows as Arrow; the writer's
    counts (rows, no location, rejected) and the stored rows are those of the frame."""
    import pytest

    from geo_api.data.ingest.pipeline import prepare_file

    path = demo_csvs()[0]
    batch, _, _ = prepare_file(path.name, path.read_bytes(), joins)
    arrow = batch.as_arrow(DuckDBStore.arrow_columns)
    assert arrow.frame is None and arrow.table.num_rows == len(batch.frame)
    assert (arrow.n_rows, arrow.no_location, arrow.rejected) == (
        batch.n_rows, batch.no_location, batch.rejected)
    assert batch.no_location > 0  # the shipped months have rows without a location
    stores = {}
    for name, b in (("frame", batch), ("arrow", arrow)):
        stores[name] = DuckDBStore(tmp_path / name)
        (report,), version = stores[name].write([b], "b1")
        stores[name].tallies = (tally(report), report.no_location, version)
    assert stores["frame"].tallies == stores["arrow"].tallies
    assert content_hash(stores["frame"]) == content_hash(stores["arrow"])
    with pytest.raises(ValueError):
        type(batch)(file="x", kind="police_uk", sha256="0", rows_read=0, frame=None)


def test_key_set_answers_membership_across_its_merged_runs():
    """The writer's filter of stored keys: every added hash is found, others are not,
    whatever the runs it has merged them into (hashes of real key texts)."""
    import numpy as np
    import pyarrow as pa

    from geo_api.data.store.duckdb_write import KeySet, key_hashes

    keys = KeySet()
    added = []
    for n in (5, 5, 40, 3, 200, 7):  # runs of unequal lengths: merged, and left apart
        h = np.sort(key_hashes(pa.array([f"puk:2021-01:{len(added)}-{i}" for i in range(n)])))
        assert not keys.contains(h).any()
        keys.add(h)
        added.append(h)
    every = np.concatenate(added)
    assert keys.contains(every).all()
    assert len(keys.runs) > 1 and sum(map(len, keys.runs)) == len(every) == 260
    others = np.sort(key_hashes(pa.array([f"fx:{i}" for i in range(100)])))
    assert not keys.contains(others).any()
    both = np.sort(np.r_[every[::7], others])
    assert keys.contains(both).sum() == len(every[::7])


def test_rows_written_from_arrow_read_back_as_a_tables_rows(tmp_path, joins):
    """A partition file written from the workers' Arrow (or a frame's, as converted for
    the writer) has the column types and values of one DuckDB writes from its table."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from geo_api.data.ingest.pipeline import prepare_file
    from geo_api.data.store.duckdb_schema import (
        BATCH_COLUMNS,
        OFFENCE_SCHEMA,
        SOURCE_ID_HASH,
    )
    from geo_api.data.store.duckdb_write import source_id_hashes

    path = demo_csvs()[0]
    batch, _, _ = prepare_file(path.name, path.read_bytes(), joins)
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t {OFFENCE_SCHEMA}")
    for name, b in (("arrow", batch.as_arrow(BATCH_COLUMNS)), ("frame", batch)):
        rows = b.arrow(BATCH_COLUMNS)
        rows = rows.append_column("ingest_id", pa.array([7] * rows.num_rows, pa.int64()))
        con.register("r", rows)
        con.execute("DELETE FROM t")
        con.execute("INSERT INTO t BY NAME SELECT * EXCLUDE (line) FROM r")
        duck, arrow = tmp_path / f"{name}-duckdb.parquet", tmp_path / f"{name}-arrow.parquet"
        con.execute(f"COPY (SELECT *, {SOURCE_ID_HASH} AS source_id_hash FROM t) TO '{duck}'")
        rows = rows.append_column("source_id_hash", source_id_hashes(con, rows["source_id"]))
        pq.write_table(duckdb_parts.partition_file_table(rows), arrow)
        con.unregister("r")
        types = [con.sql(f"DESCRIBE SELECT * FROM '{f}'").fetchall() for f in (duck, arrow)]
        assert types[0] == types[1], name
        differ = con.sql(f"SELECT count(*) FROM (SELECT * FROM '{duck}' EXCEPT ALL "
                         f"SELECT * FROM '{arrow}')").fetchall()[0][0]
        assert differ == 0 and len(pq.read_table(arrow)) == batch.n_rows - batch.rejected, name


def test_a_failed_write_of_held_rows_leaves_the_store_as_it_was(tmp_path, joins, monkeypatch):
    """The rows still held at the end are written while the stored partitions are scanned;
    if that write fails, the ingest fails as a whole: the store keeps its snapshot and
    version and no file of the failed ingest is left."""
    import pytest

    store = DuckDBStore(tmp_path / "s")
    ingest_files(store, joins, demo_csvs()[:1], progress=False)
    before = (store.dataset_version(), _files(store.dir), _on_disk(store.dir))

    def broken(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(duckdb_parts.pq, "write_table", broken)
    with pytest.raises(OSError, match="simulated"):
        ingest_files(store, joins, demo_csvs()[1:2], progress=False)
    assert (store.dataset_version(), _files(store.dir), _on_disk(store.dir)) == before
    store.close()
