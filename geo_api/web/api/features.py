"""Offence features as GeoJSON (RFC 7946, lon/lat, 6 decimals) or CSV."""

from __future__ import annotations

import io
import math

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_api.data.store.base import OffenceFilter
from geo_api.services.service import Service
from geo_api.web.api.csv_safe import safe_frame

PUBLIC_COLUMNS = ("offence_key", "source", "month", "occurred_at", "crime_category", "ho_code",
                  "outcome", "location_text", "violence_robbery_weapons", "vrn_serious_violence",
                  "knife_enabled", "under_25", "night_time_economy", "npa_code", "ward_code",
                  "sector_code", "lsoa_code", "lad_code", "h3_r9", "lon", "lat")


def _clean(v):
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return v


def offences_geojson(svc: Service, flt: OffenceFilter, limit: int, offset: int) -> tuple[dict, int]:
    df, n = svc.store.query_offences(flt, limit, offset, PUBLIC_COLUMNS)
    df["month"] = df["month"].astype(str).str[:7]
    df["h3_r9"] = df["h3_r9"].map(lambda c: f"{int(c):x}" if c else None)
    features = []
    for rec in df.to_dict("records"):
        lon, lat = _clean(rec.pop("lon")), _clean(rec.pop("lat"))
        geom = None if lon is None else {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}
        features.append({"type": "Feature", "id": rec["offence_key"], "geometry": geom,
                         "properties": {k: _clean(v) for k, v in rec.items()}})
    body = {"type": "FeatureCollection", "features": features, "numberMatched": n,
            "numberReturned": len(features),
            "meta": svc.meta(flt, analysis="offences", limit=limit, offset=offset)}
    return body, n


def _csv_text(df: pd.DataFrame, header: bool) -> str:
    df["month"] = df["month"].astype(str).str[:7]
    df["h3_r9"] = df["h3_r9"].map(lambda c: f"{int(c):x}" if c else "")
    return safe_frame(df).to_csv(index=False, header=header, float_format="%.6f")


CSV_BATCH = 20_000


def offences_csv_stream(service, flt: OffenceFilter, limit: int, offset: int):
    """The CSV in batches of ``CSV_BATCH`` rows, each read from one pinned snapshot (the
    response streams after the request's own pin has ended)."""
    with service.pinned() as svc:
        done = 0
        while done < limit:
            df, _ = svc.store.query_offences(flt, min(CSV_BATCH, limit - done), offset + done,
                                             PUBLIC_COLUMNS)
            if done == 0 or len(df):
                yield _csv_text(df, header=done == 0)
            if len(df) < CSV_BATCH:
                break
            done += len(df)


def offences_geoparquet(svc: Service, flt: OffenceFilter, limit: int, offset: int
                        ) -> tuple[bytes, int, int]:
    """The selection as GeoParquet (points, EPSG:4326; for QGIS and GeoPandas): (bytes,
    rows, number matched)."""
    df, n = svc.store.query_offences(flt, limit, offset, PUBLIC_COLUMNS)
    df["month"] = df["month"].astype(str).str[:7]
    df["h3_r9"] = df["h3_r9"].map(lambda c: f"{int(c):x}" if c else None)
    # an offence without a location has a null geometry (GeoParquet allows it), not an
    # empty point: readers then give the layer a finite extent of the located rows
    lon, lat = df["lon"].to_numpy(float), df["lat"].to_numpy(float)
    points = gpd.points_from_xy(lon, lat)
    points[~(np.isfinite(lon) & np.isfinite(lat))] = None
    gdf = gpd.GeoDataFrame(df.drop(columns=["lon", "lat"]), geometry=points, crs=4326)
    buf = io.BytesIO()
    gdf.to_parquet(buf, index=False, compression="zstd")
    return buf.getvalue(), len(gdf), n
