"""The Dask national batch gives the same monthly counts per area and per H3 cell as the
store's ingest of the same files (one analysis core), on a LocalCluster, on a cluster given
by its scheduler address, and in one process; its rows are GeoParquet by force and month."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import demo_csvs

from geo_api.data import batch
from geo_api.data.store.base import LAYER_COLUMNS
from geo_api.services.filters import build_filter
from geo_api.settings import Settings

MONTHS = ("2020-03", "2020-04", "2020-05")


@pytest.fixture(scope="module")
def files():
    return [p for p in demo_csvs() if p.name[:7] in MONTHS]


@pytest.fixture(scope="module")
def on_cluster(files, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch") / "out"
    totals = batch.run(files, Settings().boundaries_dir, out, n_workers=2)
    return out, totals


def store_counts(demo_service, group: str = "all") -> pd.DataFrame:
    rows = []
    for month in MONTHS:
        flt = build_filter(month, group)
        for layer in LAYER_COLUMNS:
            counts, _ = demo_service.store.area_counts(layer, flt)
            rows.append(counts.assign(layer=layer, month=month))
    return pd.concat(rows).set_index(["layer", "code", "month"])["count"].sort_index()


def test_area_and_h3_counts_equal_the_stores(on_cluster, demo_service):
    out, totals = on_cluster
    areas = pd.read_parquet(out / "area_counts.parquet").set_index(["layer", "code", "month"])
    assert areas["count"].sort_index().astype(int).to_dict() == \
        store_counts(demo_service).astype(int).to_dict()
    assert areas["count_vrw"][areas["count_vrw"] > 0].sort_index().astype(int).to_dict() == \
        store_counts(demo_service, "violence_robbery_weapons").astype(int).to_dict()
    h3 = pd.read_parquet(out / "h3_counts.parquet")
    for month in MONTHS:
        cells = demo_service.store.h3_cells(9, build_filter(month, "all"))
        ids, n = np.unique(cells.astype(np.int64), return_counts=True)
        got = h3[h3["month"] == month].set_index("h3_r9")["count"]
        assert got.sort_index().to_dict() == dict(zip(ids.tolist(), n.tolist()))
    assert totals.files == 3 and not totals.rejected and totals.rows == int(h3["count"].sum())


def test_rows_are_geoparquet_by_force_and_month(on_cluster):
    out, totals = on_cluster
    parts = sorted((out / "rows").glob("force=*/month=*/*.parquet"))
    assert {p.parent.name for p in parts} == {f"month={m}" for m in MONTHS}
    assert {p.parent.parent.name for p in parts} == {"force=leicestershire-police"}
    rows = pd.concat([gpd.read_parquet(p) for p in parts])
    assert len(rows) == totals.rows and rows.crs.to_epsg() == 27700
    assert np.allclose(rows.geometry.x, rows["x_m"]) and rows["offence_key"].is_unique


def test_same_counts_in_one_process_and_on_a_cluster_given_by_address(files, on_cluster,
                                                                      tmp_path):
    from distributed import LocalCluster

    out, _ = on_cluster
    expected = pd.read_parquet(out / "area_counts.parquet")
    local = batch.run(files, Settings().boundaries_dir, tmp_path / "local", local=True)
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        remote = batch.run(files[:1], Settings().boundaries_dir, tmp_path / "remote",
                           scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "local" / "area_counts.parquet"),
                                  expected)
    first = expected[expected["month"] == MONTHS[0]].reset_index(drop=True)
    one = pd.read_parquet(tmp_path / "remote" / "area_counts.parquet")
    pd.testing.assert_frame_equal(one.reset_index(drop=True), first)
    assert local.rows > remote.rows > 0


def test_a_file_that_cannot_be_read_is_reported_not_fatal(tmp_path):
    bad = tmp_path / "2020-01-broken-street.csv"
    bad.write_text("not,a,police.uk,header\n1,2,3,4\n")
    good = [p for p in demo_csvs() if p.name.startswith("2020-01")]
    totals = batch.run([bad, *good], Settings().boundaries_dir, tmp_path / "o", local=True)
    assert len(totals.rejected) == 1 and "2020-01-broken-street.csv" in totals.rejected[0]
    assert totals.files == 2 and totals.rows > 5000
