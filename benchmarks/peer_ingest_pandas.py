"""The peer of `geo_api ingest` in benchmarks/run_all.py: police.uk CSVs read with pandas,
joined to all six shipped polygon layers with geopandas.sjoin, written as GeoParquet.

    python benchmarks/peer_ingest_pandas.py OUT.parquet FILE.csv [FILE.csv ...]

What a practitioner would write: read_csv of every month, points from Longitude/Latitude
(EPSG:4326) projected to the layers' British National Grid, one left sjoin (intersects) per
layer keeping the smallest code for a point on a shared edge, one Parquet file. No validation,
classification, H3 cells or de-duplication (geo_api ingest does those as well).
"""

import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd

LAYERS = ("npa", "ward", "sector", "lsoa", "lad", "oa")
BOUNDARIES = Path(__file__).resolve().parent.parent / "boundaries" / "layers"


def main(out: str, files: list[str]) -> None:
    df = pd.concat((pd.read_csv(f) for f in files), ignore_index=True)
    pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["Longitude"], df["Latitude"]),
                           crs=4326).to_crs(27700)
    for name in LAYERS:
        layer = gpd.read_file(BOUNDARIES / f"{name}.geojson").to_crs(27700)
        hit = gpd.sjoin(pts[["geometry"]], layer[["code", "geometry"]], how="left",
                        predicate="intersects")
        hit = hit.sort_values("code", kind="stable")  # on a shared edge: the smallest code
        hit = hit[~hit.index.duplicated(keep="first")]
        pts[f"{name}_code"] = hit["code"]
    pts.to_parquet(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
