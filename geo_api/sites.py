"""Candidate sites (schools by default, or a user's CSV) for planning layers."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd
import shapely

from geo_api.crs import lonlat_to_metric, metric_to_lonlat
from geo_api.errors import InvalidParameter


@lru_cache(maxsize=4)
def load_sites(path: Path) -> pd.DataFrame:
    """name, lon, lat, x_m, y_m of each site; coordinates from easting/northing or lon/lat."""
    df = pd.read_csv(path)
    name_col = next((c for c in ("establishment_name", "name") if c in df), None)
    if name_col is None:
        raise InvalidParameter(f"sites file {path.name}: needs an establishment_name or name column")
    if {"easting", "northing"} <= set(df.columns):
        df = df.dropna(subset=["easting", "northing"])
        x, y = df["easting"].to_numpy(float), df["northing"].to_numpy(float)
        lon, lat = metric_to_lonlat(x, y)
    elif {"longitude", "latitude"} <= set(df.columns):
        df = df.dropna(subset=["longitude", "latitude"])
        lon, lat = df["longitude"].to_numpy(float), df["latitude"].to_numpy(float)
        x, y = lonlat_to_metric(lon, lat)
    else:
        raise InvalidParameter(f"sites file {path.name}: needs easting/northing or longitude/latitude")
    return pd.DataFrame({"name": df[name_col].astype(str).to_numpy(), "lon": lon, "lat": lat,
                         "x_m": x, "y_m": y})


def sites_in(path: Path, area_m: shapely.Geometry) -> pd.DataFrame:
    s = load_sites(Path(path))
    return s[shapely.contains_xy(area_m, s["x_m"], s["y_m"])].reset_index(drop=True)
