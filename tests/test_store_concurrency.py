"""Readers keep working while another process ingests (snapshot + atomic swap)."""

import subprocess
import sys
import time

from conftest import demo_csvs

from geo_api.data.store.duckdb_store import DuckDBStore
from geo_api.services.filters import build_filter


def test_reader_sees_old_or_new_snapshot_never_partial(tmp_path, joins):
    from geo_api.data.ingest.pipeline import ingest_files

    store_dir = tmp_path / "store"
    writer_store = DuckDBStore(store_dir)
    first = ingest_files(writer_store, joins, demo_csvs()[:1], progress=False)
    reader = DuckDBStore(store_dir)
    n_first = reader.summary()["n_offences"]
    code = ("import sys; from pathlib import Path; from geo_api.services.service import Service; "
            "from geo_api.settings import Settings; "
            f"s = Service(Settings(store_dir=Path({str(store_dir)!r}))); "
            "s.ingest_paths(s.demo_files()[1:4], progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code])
    seen, matched = set(), set()
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline:
        s = reader.summary()  # must never raise (lock) nor show a half-written state
        seen.add((s["dataset_version"], s["n_offences"]))
        _, totals = reader.area_counts("ward", build_filter())
        matched.add(totals["n_matched"])
        time.sleep(0.05)
    assert proc.wait(timeout=60) == 0
    final = reader.summary()
    assert final["dataset_version"] != first.dataset_version
    allowed = {(first.dataset_version, n_first), (final["dataset_version"], final["n_offences"])}
    assert seen <= allowed
    assert matched <= {n for _, n in allowed}
    assert final["n_offences"] > n_first
    assert len(list(store_dir.glob("snap-*.duckdb"))) <= 2


def test_second_writer_gets_busy_error(tmp_path):
    import fcntl

    import pytest

    from geo_api.errors import StoreBusy

    store = DuckDBStore(tmp_path / "s")
    with open(tmp_path / "s" / ".write.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(StoreBusy):
            store.write(None, {}, None)
