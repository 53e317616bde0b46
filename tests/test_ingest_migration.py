"""A store written before schema 2 (police.uk keyed by Crime ID alone) is migrated on write.

The old store is built by hand: the SYNTHETIC order fixtures are ingested, then the snapshot
is rewritten to the old layout (one DuckDB file per snapshot; keys "puk:<Crime ID>", one copy
of the Crime ID the two months share, ``ingests.n_rows`` and no tally columns, no
``schema_version``). Its next ingest also converts it to the partitioned layout.
"""

import duckdb
from test_ingest_order import FEB, ID_X, JAN, content_hash, ingest, per_month, tally

from geo_api.data.store.base import OffenceFilter
from geo_api.data.store.duckdb_schema import SCHEMA_VERSION
from geo_api.data.store.duckdb_store import DuckDBStore

OLD_INGESTS = ["ingest_id", "file", "kind", "sha256", "n_rows", "inserted", "updated",
               "unchanged", "quarantined", "ingested_at", "boundaries_version"]


def make_old_store(store_dir, joins) -> str:
    """An old-layout store holding January and February as the old code left them."""
    s = DuckDBStore(store_dir)
    ingest(s, joins, [JAN, FEB])
    with s.reader() as r:  # the snapshot's tables, as one file (the old layout)
        tables = {t: r._df(f"SELECT * FROM {t}") for t in ("offences", "ingests",
                                                            "quarantine", "meta")}
    s.close()
    name = "snap-20200101T000000-0ld5a9e0.duckdb"
    con = duckdb.connect(str(store_dir / name))
    for table, frame in tables.items():
        con.register("frame", frame)
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM frame")
        con.unregister("frame")
    for sql in [
        # old code: one row per Crime ID, the later file's copy won
        f"DELETE FROM offences WHERE offence_key = 'puk:2021-01:{ID_X}'",
        ("UPDATE offences SET offence_key = 'puk:' || source_id "
         "WHERE source = 'police_uk' AND source_id IS NOT NULL"),
        "DELETE FROM ingests",
        "ALTER TABLE ingests DROP COLUMN rejected",
        "ALTER TABLE ingests DROP COLUMN outcomes_changed",
        "ALTER TABLE ingests DROP COLUMN crime_id_other_month",
        "ALTER TABLE ingests RENAME COLUMN rows_read TO n_rows",
        ("INSERT INTO ingests VALUES (1, 'a .. b (2 files)', 'police_uk', 'abc', 11, 10, 0, 0, "
         "0, now(), 'b1')"),
        "DELETE FROM meta WHERE key IN ('schema_version', 'n_crime_id_other_month')",
        "UPDATE meta SET value = 'v1-0123456789' WHERE key = 'dataset_version'",
    ]:
        con.execute(sql)
    assert [r[0] for r in con.execute("DESCRIBE ingests").fetchall()] == OLD_INGESTS
    con.close()
    (store_dir / "CURRENT").write_text(name)
    return name


def test_old_store_is_read_then_migrated_without_duplicates(tmp_path, joins):
    fresh = DuckDBStore(tmp_path / "fresh")
    ingest(fresh, joins, [JAN, FEB])
    old_name = make_old_store(tmp_path / "old", joins)
    store = DuckDBStore(tmp_path / "old")
    s = store.summary()  # the read path works on an old store
    assert s["n_offences"] == 10 and s["n_crime_id_other_month"] == 0

    # Nothing new in February, but the store is re-keyed: a new snapshot, schema 2.
    r = ingest(store, joins, [FEB])
    assert [tally(f) for f in r.files] == [(0, 0, 5, 0, 0, 0, 0)]
    assert (store.dir / "CURRENT").read_text() != old_name
    keys = store.values(("offence_key",), OffenceFilter())["offence_key"]
    assert f"puk:2021-02:{ID_X}" in set(keys) and not any(k == f"puk:{ID_X}" for k in keys)

    # January brings back the copy the old code had dropped, and nothing else.
    r = ingest(store, joins, [JAN, FEB])
    assert [tally(f) for f in r.files] == [(1, 0, 5, 0, 0, 0, 1), (0, 0, 5, 0, 0, 0, 1)]
    assert per_month(store) == {"2021-01": 6, "2021-02": 5}
    assert content_hash(store) == content_hash(fresh)
    assert store.dataset_version() == fresh.dataset_version()

    log = store.ingests()
    assert log["ingest_id"].tolist() == [1, 2, 3, 4]
    assert log.loc[0, "rows_read"] == 11 and log.loc[0, "file"] == "a .. b (2 files)"
    assert log["crime_id_other_month"].tolist()[1:] == [0, 1, 1]
    with store.reader() as reader:
        meta = dict(reader._q().execute("SELECT key, value FROM meta").fetchall())
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    store.close()
    fresh.close()
