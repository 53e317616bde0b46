"""Ingest is independent of file order and its per-file report adds up.

Fixtures: tests/corpus/order/ (SYNTHETIC police.uk-format files, see tests/corpus/README.md):
January (6 rows), February (5 rows; Crime ID SYNTHETIC-X is also in January), and January
re-published with the outcome of SYNTHETIC-A changed.
"""

import hashlib
import itertools
from pathlib import Path

import pandas as pd
import pytest
from conftest import demo_csvs

from geo_api.data.ingest.pipeline import FileRejected, ingest_many
from geo_api.data.store.base import FileBatch, FileReport, IngestCountError, OffenceFilter
from geo_api.data.store.duckdb_schema import OFFENCE_COLUMNS
from geo_api.data.store.duckdb_store import DuckDBStore

ORDER = Path(__file__).parent / "corpus" / "order"
JAN, FEB, JAN2 = "jan", "feb", "jan2"
FILES = {JAN: ORDER / "2021-01-synthetic-street.csv",
         FEB: ORDER / "2021-02-synthetic-street.csv",
         JAN2: ORDER / "2021-01-synthetic-street-republished.csv"}
DATA = {k: p.read_bytes() for k, p in FILES.items()}
ID_A = hashlib.sha256(b"SYNTHETIC-A").hexdigest()
ID_X = hashlib.sha256(b"SYNTHETIC-X").hexdigest()
OUTCOME_A = {JAN: "Under investigation", JAN2: "Local resolution"}
COUNTED = ("inserted", "updated", "unchanged", "quarantined", "rejected")


def ingest(store, joins, keys, **kw):
    return ingest_many(store, joins, [(FILES[k].name, DATA[k]) for k in keys], progress=False, **kw)


def rows(store) -> pd.DataFrame:
    """Every stored column except ``ingest_id`` (provenance), rows sorted by key."""
    cols = tuple(c for c in OFFENCE_COLUMNS if c != "ingest_id")
    return store.values(cols, OffenceFilter()).sort_values("offence_key", ignore_index=True)


def content_hash(store) -> str:
    return hashlib.sha256(rows(store).to_csv(index=False).encode()).hexdigest()


def per_month(store) -> dict[str, int]:
    months = store.values(("month",), OffenceFilter())["month"].dt.strftime("%Y-%m")
    return months.value_counts().sort_index().to_dict()


def file_rows(key: str) -> int:
    return len(pd.read_csv(FILES[key]))


def tally(r) -> tuple:
    return tuple(getattr(r, c) for c in (*COUNTED, "outcomes_changed", "crime_id_other_month"))


def assert_adds_up(report) -> None:
    for f in report.files:
        assert sum(getattr(f, c) for c in COUNTED) == f.rows_read, f
    for c in (*COUNTED, "outcomes_changed", "crime_id_other_month"):
        assert getattr(report, c) == sum(getattr(f, c) for f in report.files), c
    assert report.n_rows == sum(f.rows_read for f in report.files)


def sequences():
    """(label, calls): every order of the three files as one call, one call per file, and
    one call holding every file twice."""
    for perm in itertools.permutations(FILES):
        yield f"{'+'.join(perm)} in one call", [list(perm)]
        yield f"{'+'.join(perm)} one call per file", [[k] for k in perm]
        yield f"{'+'.join(perm)} twice in one call", [list(perm) * 2]


def test_any_order_and_any_repeat_give_the_same_store(tmp_path, joins):
    """The store depends only on the set of files and, for a month loaded in two versions,
    on which version was loaded last (the documented rule: the last loaded copy wins)."""
    results = {}
    for i, (label, calls) in enumerate(sequences()):
        store = DuckDBStore(tmp_path / f"s{i}")
        for call in calls:
            assert_adds_up(ingest(store, joins, call))
        last_jan = [k for call in calls for k in call if k in (JAN, JAN2)][-1]
        got = rows(store)
        assert per_month(store) == {"2021-01": file_rows(JAN), "2021-02": file_rows(FEB)}, label
        a = got[got["source_id"] == ID_A]
        assert a["outcome"].tolist() == [OUTCOME_A[last_jan]], label
        assert sorted(got.loc[got["source_id"] == ID_X, "offence_key"]) == [
            f"puk:2021-01:{ID_X}", f"puk:2021-02:{ID_X}"], label
        assert store.summary()["n_crime_id_other_month"] == 2
        results.setdefault(last_jan, set()).add((content_hash(store), store.dataset_version()))
        store.close()
    assert set(results) == {JAN, JAN2}
    for last_jan, seen in results.items():
        assert len(seen) == 1, f"last January copy {last_jan}: {len(seen)} different stores"
    (jan_state,), (jan2_state,) = results[JAN], results[JAN2]
    assert jan_state[0] != jan2_state[0] and jan_state[1] != jan2_state[1]


def test_per_file_report_counts_against_the_previous_files(store, joins):
    r = ingest(store, joins, [JAN, FEB, JAN2])
    assert_adds_up(r)
    # inserted, updated, unchanged, quarantined, rejected, outcomes changed, other month
    assert [(f.file, f.rows_read, tally(f)) for f in r.files] == [
        (FILES[JAN].name, 6, (6, 0, 0, 0, 0, 0, 0)),
        (FILES[FEB].name, 5, (5, 0, 0, 0, 0, 0, 1)),
        (FILES[JAN2].name, 6, (0, 1, 5, 0, 0, 1, 1)),
    ]
    assert tally(r) == (11, 1, 5, 0, 0, 1, 2) and r.n_rows == 17 and r.no_location == 2
    log = store.ingests()
    assert log["file"].tolist() == [f.file for f in r.files]
    assert log["ingest_id"].tolist() == [1, 2, 3]
    for f, (_, row) in zip(r.files, log.iterrows(), strict=True):
        assert row["rows_read"] == f.rows_read and row["sha256"] == f.sha256
        assert tuple(row[c] for c in (*COUNTED, "outcomes_changed", "crime_id_other_month")) == tally(f)
    # ingest_id is provenance: the row the re-publication changed was last written by it
    prov = store.values(("source_id", "month", "ingest_id"), OffenceFilter())
    assert prov.loc[prov["source_id"] == ID_A, "ingest_id"].tolist() == [3]


def test_one_file_holding_two_months_keeps_both_copies_of_a_crime_id(store, joins):
    both = DATA[JAN] + b"".join(DATA[FEB].splitlines(keepends=True)[1:])
    r = ingest_many(store, joins, [("2021-01-to-02.csv", both)], progress=False)
    assert (r.files[0].rows_read, tally(r.files[0])) == (11, (11, 0, 0, 0, 0, 0, 1))
    assert per_month(store) == {"2021-01": 6, "2021-02": 5}
    twice = both + b"".join(DATA[FEB].splitlines(keepends=True)[1:2])  # X again in February
    with pytest.raises(FileRejected, match="duplicate id"):
        ingest_many(store, joins, [("dup.csv", twice)], progress=False)


def test_an_older_copy_loaded_after_a_newer_one_wins_and_is_reported(store, joins):
    ingest(store, joins, [JAN2, FEB])
    r = ingest(store, joins, [JAN])
    assert tally(r.files[0]) == (0, 1, 5, 0, 0, 1, 1)
    assert rows(store).set_index("source_id").loc[ID_A, "outcome"] == OUTCOME_A[JAN]


def test_reingest_keeps_the_snapshot_and_version(store, joins):
    first = ingest(store, joins, [JAN, FEB])
    snapshot = (store.dir / "CURRENT").read_text()
    again = ingest(store, joins, [FEB, JAN])
    assert [tally(f) for f in again.files] == [(0, 0, 5, 0, 0, 0, 1), (0, 0, 6, 0, 0, 0, 1)]
    assert again.dataset_version == first.dataset_version == store.dataset_version()
    assert (store.dir / "CURRENT").read_text() == snapshot
    assert len(store.ingests()) == 2  # the discarded snapshot's log rows went with it


def _broken_february() -> bytes:
    """February with line 3 carrying two errors and line 5 one error."""
    lines = DATA[FEB].decode().splitlines()
    f = lines[2].split(",")
    f[1], f[9] = "2021-13", "Knife crime"  # bad month AND unknown crime type
    lines[2] = ",".join(f)
    f = lines[4].split(",")
    f[5] = ""  # only one coordinate
    lines[4] = ",".join(f)
    return ("\n".join(lines) + "\n").encode()


def test_quarantine_counts_bad_rows_not_errors(store, joins):
    ingest(store, joins, [JAN])
    r = ingest_many(store, joins, [("2021-02-broken.csv", _broken_february())],
                    on_error="quarantine", progress=False)
    assert_adds_up(r)
    assert (r.files[0].rows_read, tally(r.files[0])) == (5, (3, 0, 0, 2, 0, 0, 1))
    assert r.quarantined == 2 and len(r.errors) == 3
    q = store.quarantine()
    assert q["line"].tolist() == [3, 3, 5] and set(q["ingest_id"]) == {2}
    log = store.ingests().set_index("file").loc["2021-02-broken.csv"]
    assert (log["rows_read"], log["inserted"], log["quarantined"], log["rejected"]) == (5, 3, 2, 0)
    assert per_month(store) == {"2021-01": 6, "2021-02": 3}


def test_a_rejected_file_rejects_the_call_and_carries_its_tally(store, joins):
    ingest(store, joins, [JAN])
    before = (store.summary(), (store.dir / "CURRENT").read_text())
    with pytest.raises(FileRejected) as info:
        ingest_many(store, joins, [(FILES[FEB].name, DATA[FEB]), ("broken.csv", _broken_february())],
                    progress=False)
    rep = info.value.report
    assert (rep.file, rep.rows_read, tally(rep)) == ("broken.csv", 5, (0, 0, 0, 0, 5, 0, 0))
    assert len(info.value.errors) == 3 and "store unchanged" in info.value.user_msg
    assert (store.summary(), (store.dir / "CURRENT").read_text()) == before  # February too


def test_counts_that_do_not_add_up_are_an_internal_error():
    with pytest.raises(IngestCountError, match="read 5 != inserted 3"):
        FileReport(file="f.csv", kind="police_uk", sha256="0", rows_read=5, inserted=3,
                   unchanged=1)
    with pytest.raises(IngestCountError):
        FileReport(file="f.csv", kind="police_uk", sha256="0", rows_read=1, inserted=2,
                   rejected=-1)


def test_store_refuses_a_file_with_a_repeated_key(store, joins):
    from geo_api.data.ingest.pipeline import prepare_file

    ingest(store, joins, [JAN])
    before = store.summary()
    batch, _, _ = prepare_file(FILES[FEB].name, DATA[FEB], joins)
    doubled = FileBatch(file="doubled.csv", kind="police_uk", sha256="0", rows_read=10,
                        frame=pd.concat([batch.frame, batch.frame], ignore_index=True))
    with pytest.raises(IngestCountError, match="occurs twice"):
        store.write([doubled], joins.boundaries.version)
    assert store.summary() == before


def test_cli_prints_one_line_per_file_and_a_rejected_files_tally(tmp_path, joins, monkeypatch,
                                                                  capsys):
    from geo_api.__main__ import main
    from geo_api.services.service import Service

    monkeypatch.setattr(Service, "joins", property(lambda self: joins))
    broken = tmp_path / "broken.csv"
    broken.write_bytes(_broken_february())
    store_dir = str(tmp_path / "store")
    assert main(["ingest", "--store-dir", store_dir, str(FILES[JAN]), str(FILES[FEB])]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"{FILES[JAN].name}: read 6 = inserted 6 + updated 0 + unchanged 0 + "
                      "quarantined 0 + rejected 0; outcomes changed 0; "
                      "crime ID also published in another month 0")
    assert out[1].startswith(f"{FILES[FEB].name}: read 5 = inserted 5 + ")
    assert out[1].endswith("crime ID also published in another month 1")
    assert out[2].startswith("total (2 files, police_uk): read 11 = inserted 11 + ")
    assert main(["ingest", "--store-dir", store_dir, str(broken)]) == 2
    cap = capsys.readouterr()
    assert cap.out.startswith("broken.csv: read 5 = inserted 0 + updated 0 + unchanged 0 + "
                              "quarantined 0 + rejected 5;")
    assert "rejected, store unchanged. 3 problem(s)" in cap.err


def test_demo_months_stored_count_equals_rows_in_each_file(store, joins):
    from geo_api.data.ingest.pipeline import ingest_files

    r = ingest_files(store, joins, demo_csvs(), progress=False)
    assert_adds_up(r)
    published = {p.name[:7]: len(pd.read_csv(p)) for p in demo_csvs()}
    assert per_month(store) == published
    assert [(f.file[:7], f.rows_read, f.inserted) for f in r.files] == [
        (m, n, n) for m, n in published.items()]
    assert store.summary()["n_crime_id_other_month"] == 0


def test_a_description_only_revision_is_an_update(store, joins):
    """Every stored source field is in the row hash: a force export revising only the offence
    description (which decides knife-enabled) updates the row instead of being ignored."""
    data = (Path(__file__).parent / "corpus" / "force_export_valid.csv").read_bytes()
    revised = data.replace(b"SYN-002,2020-04-18 23:30,34B,Robbery of personal property,",
                           b"SYN-002,2020-04-18 23:30,34B,Robbery of personal property with a knife,")
    assert revised != data
    ingest_many(store, joins, [("fx.csv", data)], progress=False)
    r = ingest_many(store, joins, [("fx-revised.csv", revised)], progress=False)
    assert tally(r.files[0]) == (0, 1, 9, 0, 0, 0, 0)
    got = store.values(("source_id", "knife_enabled"), OffenceFilter()).set_index("source_id")
    assert bool(got.loc["SYN-002", "knife_enabled"]) is True


def test_row_hash_depends_on_values_not_dtypes_or_other_rows():
    from geo_api.data.ingest.pipeline import HASHED, _row_hash

    one = pd.DataFrame({c: [None] for c in HASHED})
    one["month"] = pd.to_datetime(["2021-01-01"])
    one["lon"], one["lat"] = [-1.13], [float("nan")]
    one["knife_sharp_instrument"] = [True]
    typed = one.copy()
    typed["month"] = typed["month"].astype("datetime64[s]")
    typed["knife_sharp_instrument"] = pd.array([True], dtype="boolean")
    typed["victim_age"] = pd.array([pd.NA], dtype="Int64")
    typed["outcome"] = pd.array([pd.NA], dtype="string")
    assert _row_hash(one).tolist() == _row_hash(typed).tolist()
    # a midnight time next to a non-midnight one hashes as it does alone
    two = pd.concat([one, one], ignore_index=True)
    two["occurred_at"] = pd.to_datetime(["2021-01-05 00:00", "2021-01-05 13:30"])
    alone = two.iloc[[0]].copy()
    alone["occurred_at"] = pd.to_datetime(["2021-01-05"])
    assert _row_hash(alone).iloc[0] == _row_hash(two).iloc[0] != _row_hash(two).iloc[1]
    changed = one.copy()
    changed["falls_within"] = ["Leicestershire Police"]
    assert _row_hash(changed).iloc[0] != _row_hash(one).iloc[0]


def test_row_hash_is_hash_pandas_object_of_the_hashed_fields(joins):
    """The row hash, computed column by column (an all-missing column from one value), is
    pandas' hash_pandas_object of the HASHED fields as one frame - checked on the shipped
    months' prepared rows and on columns of every kind wholly or partly missing."""
    import numpy as np

    from geo_api.data.ingest.parse import hex64, per_distinct
    from geo_api.data.ingest.pipeline import HASHED, _iso_second, _row_hash, prepare_file

    def reference(frame):
        cols = {}
        for name in HASHED:
            col = frame[name]
            if pd.api.types.is_datetime64_any_dtype(col.dtype):
                col = per_distinct(col, _iso_second)
            elif pd.api.types.is_float_dtype(col.dtype):
                col = col.where(col.notna(), np.nan)
            elif not pd.api.types.is_string_dtype(col.dtype):
                col = col.astype(object)
            cols[name] = col
        h = pd.util.hash_pandas_object(pd.DataFrame(cols), index=False, categorize=True)
        return hex64(h.to_numpy()).tolist()

    frames = []
    for path in demo_csvs()[:2]:
        batch, _, _ = prepare_file(path.name, path.read_bytes(), joins)
        frames.append(batch.frame)
    n = 5
    kinds = ([None] * n, pd.array([pd.NA] * n, dtype="string"), [float("nan")] * n,
             pd.array([pd.NA] * n, dtype="Int64"), pd.array([pd.NA] * n, dtype="boolean"),
             pd.to_datetime([None] * n))
    for missing in kinds:  # every column wholly missing, as each kind; then partly
        frame = pd.DataFrame({c: missing for c in HASHED})
        frames.append(frame)
        partly = frame.copy()
        partly["month"] = pd.to_datetime(["2021-01-01", None, "2021-02-01", None, None])
        partly["lon"] = [-1.1, None, -1.2, -1.1, None]
        partly["knife_sharp_instrument"] = [True, None, False, None, True]
        partly["location_text"] = ["On or near X", None, "", "On or near X", None]
        frames.append(partly)
    frames.append(frames[-1].iloc[:1])  # one row
    for frame in frames:
        assert _row_hash(frame).tolist() == reference(frame)
        assert _row_hash(frame).index.equals(frame.index)


def test_ingest_streams_one_file_at_a_time_and_a_late_rejection_leaves_nothing(
        store, joins, monkeypatch):
    """Each file is read, prepared and written before the next is read (memory holds one
    file, whatever the number of files); a file rejected after others were written still
    leaves the store as it was, with no snapshot behind."""
    from geo_api.data.store import duckdb_parts

    events = []
    real_write = duckdb_parts.write_file

    def write_file(con, batch, boundaries_version, **kwargs):
        events.append(f"write {batch.file}")
        return real_write(con, batch, boundaries_version, **kwargs)

    monkeypatch.setattr(duckdb_parts, "write_file", write_file)

    def files_in_store():
        return sorted(str(p.relative_to(store.dir)) for p in store.dir.rglob("*"))

    def items(keys, broken=False):
        for k in keys:
            events.append(f"read {FILES[k].name}")
            yield FILES[k].name, DATA[k]
        if broken:
            events.append("read broken.csv")
            yield "broken.csv", _broken_february()

    ingest_many(store, joins, items([JAN, FEB]), progress=False)
    jan, feb = FILES[JAN].name, FILES[FEB].name
    assert events == [f"read {jan}", f"write {jan}", f"read {feb}", f"write {feb}"]
    before = (store.summary(), (store.dir / "CURRENT").read_text(), files_in_store())
    events.clear()
    with pytest.raises(FileRejected):
        ingest_many(store, joins, items([JAN2], broken=True), progress=False)
    jan2 = FILES[JAN2].name
    assert events == [f"read {jan2}", f"write {jan2}", "read broken.csv"]  # written, then
    after = (store.summary(), (store.dir / "CURRENT").read_text(),  # dropped with the
             files_in_store())  # snapshot it was written into (and its part files)
    assert after == before


def test_files_prepared_in_worker_processes_give_the_same_store(tmp_path, joins):
    """The command line prepares files in forked workers and writes them in order: the
    same rows, tallies and dataset version as one process; a rejection still rejects."""
    from geo_api.data.ingest.pipeline import ingest_files

    paths = [FILES[k] for k in (JAN, FEB, JAN2)]
    results = {}
    for workers in (1, 2):
        store = DuckDBStore(tmp_path / f"w{workers}")
        report = ingest_files(store, joins, paths, progress=False, workers=workers)
        results[workers] = ([tally(f) for f in report.files], report.dataset_version,
                            content_hash(store))
        store.close()
    assert results[1] == results[2]
    broken = tmp_path / "2021-02-broken-street.csv"
    broken.write_bytes(_broken_february())
    store = DuckDBStore(tmp_path / "w2")
    before = store.summary()
    with pytest.raises(FileRejected) as info:
        ingest_files(store, joins, [FILES[FEB], broken], progress=False, workers=2)
    assert info.value.report.rejected == 5 and len(info.value.errors) == 3
    assert store.summary() == before
