"""benchmarks/run_all.py: every comparison's values check passes at small sizes (timings are
not checked; the full run is `python benchmarks/run_all.py`)."""

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import run_all


def test_kde_exact_and_kdepy_equal_on_a_finer_lattice():
    same_grid, finer = run_all.compare_kde((5_000,), repeat=1)
    assert same_grid.peer.endswith("the cell centres") and same_grid.goal is None
    assert "exact sum to" in same_grid.check
    assert finer.equal, finer.check  # KDEpy within the tolerance on a finer lattice


def test_gi_z_equals_esda():
    (row,) = run_all.compare_gi(half_km=3, permutations=0, repeat=1, n_jobs_tried=(1,))
    assert row.equal, row.check


def test_mclp_same_optimum_as_highs_milp():
    (row,) = run_all.compare_mclp(400, 120, p=4, repeat=1)
    assert row.equal, row.check


def test_join_equals_sjoin_on_every_layer():
    rows = run_all.compare_join(2_000, repeat=1)
    assert len(rows) == 6
    assert all(r.equal for r in rows), [r.check for r in rows if not r.equal]


def test_ingest_cli_and_pandas_peer_agree():
    rows = run_all.compare_ingest(run_all.SHIPPED[:1], repeat=1)
    assert [r.equal for r in rows] == [True, True], rows[0].check


def test_table_says_when_a_goal_is_not_met():
    rows = [run_all.Row("a", 1.0, 5.0, "p", 3.0, "ok", True),
            run_all.Row("b", 1.0, 2.0, "p", 3.0, "ok", True),
            run_all.Row("c", 1.0, 9.0, "p", 3.0, "differ", False)]
    lines = run_all.table(rows).split("\n")[2:]
    assert [line.split(" | ")[6] for line in lines] == ["yes", "no", "no (values differ)"]
