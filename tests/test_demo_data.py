"""Area statistics on the shipped police.uk data, checked by an independent computation."""

import geopandas as gpd
import pandas as pd
import pytest
from conftest import demo_csvs

from geo_api.services.filters import build_filter

PROXY = ["Violence and sexual offences", "Robbery", "Possession of weapons"]


def independent_ward_counts(boundaries, months):
    """Raw CSVs -> geopandas points -> the city's points (sjoin within the Leicester district
    polygon) -> their ward (sjoin within; the nearest ward for a city point in a sliver no
    ward polygon covers: wards and districts come from different boundary sets)."""
    frames = [pd.read_csv(p) for p in demo_csvs()]
    df = pd.concat(frames)
    df = df[df["Month"].isin(months) & df["Crime type"].isin(PROXY) & df["Longitude"].notna()]
    pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.Longitude, df.Latitude), crs=4326)
    lad = gpd.read_file(boundaries.get("lad").gdf.to_json()).set_crs(27700, allow_override=True)
    city = lad[lad["code"] == "E06000016"][["geometry"]]
    pts = gpd.sjoin(pts.to_crs(27700), city, predicate="within").drop(columns="index_right")
    wards = gpd.read_file(boundaries.get("ward").gdf.to_json()).set_crs(27700, allow_override=True)
    j = gpd.sjoin_nearest(pts, wards[["name", "geometry"]])  # within: distance 0
    assert len(j) == len(pts)
    return j.groupby("name").size()


def test_castle_share_apr_jun_2020_matches_independent_computation(demo_service, boundaries):
    flt = build_filter("2020-04/2020-06", "violence_robbery_weapons")
    table, meta = demo_service.area_stats("ward", flt)
    ref = independent_ward_counts(boundaries, ["2020-04", "2020-05", "2020-06"])
    castle = table.set_index("name").loc["Castle"]
    assert castle["count"] == ref["Castle"]
    assert castle["share"] == pytest.approx(ref["Castle"] / ref.sum(), rel=1e-12)
    assert castle["share_ci95_low"] < castle["share"] < castle["share_ci95_high"]
    assert meta["n_in_layer"] == ref.sum()


def test_reingest_of_all_demo_months_adds_nothing(demo_service):
    before = demo_service.store.summary()
    r = demo_service.ingest_paths(demo_service.demo_files(), progress=False)
    assert (r.inserted, r.updated) == (0, 0) and r.unchanged == before["n_offences"]
    assert demo_service.store.summary()["dataset_version"] == before["dataset_version"]


def test_no_location_rows_are_kept_and_counted(demo_service):
    s = demo_service.store.summary()
    raw = pd.concat(pd.read_csv(p) for p in demo_csvs())
    assert s["n_offences"] == len(raw)
    assert s["n_offences"] - s["n_with_location"] == raw["Longitude"].isna().sum()
