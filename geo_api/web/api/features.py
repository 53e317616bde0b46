"""Offence features as GeoJSON (RFC 7946, lon/lat, 6 decimals), CSV or GeoParquet; the
exports read the store in batches, so one costs about a batch of memory whatever its size."""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
from collections.abc import Iterator
from typing import IO

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

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
PARQUET_BATCH = 50_000  # rows per row group
EXTENT_BATCH = 200_000  # rows per read of coordinates only
SPOOL_BYTES = 8_000_000  # a GeoParquet file larger than this is written to disk
CHUNK_BYTES = 1 << 20


def offences_csv_stream(svc: Service, flt: OffenceFilter, limit: int, offset: int
                        ) -> Iterator[str]:
    """The CSV in batches of ``CSV_BATCH`` rows, read from the request's pinned snapshot
    (kept until the response has been sent), one batch in memory at a time."""
    for i, df in enumerate(svc.store.offence_batches(flt, limit, offset, PUBLIC_COLUMNS,
                                                     CSV_BATCH)):
        if i == 0 or len(df):
            yield _csv_text(df, header=i == 0)


def _geoframe(df: pd.DataFrame) -> gpd.GeoDataFrame:
    df["month"] = df["month"].astype(str).str[:7]
    df["h3_r9"] = df["h3_r9"].map(lambda c: f"{int(c):x}" if c else None)
    # an offence without a location has a null geometry (GeoParquet allows it), not an
    # empty point: readers then give the layer a finite extent of the located rows
    lon, lat = df["lon"].to_numpy(float), df["lat"].to_numpy(float)
    points = gpd.points_from_xy(lon, lat)
    points[~(np.isfinite(lon) & np.isfinite(lat))] = None
    return gpd.GeoDataFrame(df.drop(columns=["lon", "lat"]), geometry=points, crs=4326)


def _extent(svc: Service, flt: OffenceFilter, limit: int, offset: int
            ) -> tuple[float, float, float, float] | None:
    """(min lon, min lat, max lon, max lat) of the located rows of the selection."""
    box = None
    for df in svc.store.offence_batches(flt, limit, offset, ("lon", "lat"), EXTENT_BATCH):
        lon, lat = df["lon"].to_numpy(float), df["lat"].to_numpy(float)
        ok = np.isfinite(lon) & np.isfinite(lat)
        if ok.any():
            b = (lon[ok].min(), lat[ok].min(), lon[ok].max(), lat[ok].max())
            box = b if box is None else (min(box[0], b[0]), min(box[1], b[1]),
                                         max(box[2], b[2]), max(box[3], b[3]))
    return box


def _schema(first: gpd.GeoDataFrame, box) -> pa.Schema:
    """The file's schema and metadata, as GeoPandas writes them for the whole selection:
    GeoPandas writes a file of two rows of the first batch at the corners of the
    selection's extent (its bbox and geometry types are the selection's), and its schema
    is read back. A column with no value in the first batch has the type its values take
    (text), not Arrow's null."""
    proto = first.iloc[[0, 0]].copy() if box is not None and len(first) else first.iloc[:0]
    if len(proto):
        proto["geometry"] = gpd.points_from_xy([box[0], box[2]], [box[1], box[3]], crs=4326)
    buf = io.BytesIO()
    proto.to_parquet(buf, index=False)
    schema = pq.read_schema(io.BytesIO(buf.getvalue()))
    for i, f in enumerate(schema):
        if pa.types.is_null(f.type):
            schema = schema.set(i, f.with_type(pa.large_string()))
    return schema


def offences_geoparquet(svc: Service, flt: OffenceFilter, limit: int, offset: int
                        ) -> tuple[IO[bytes], int]:
    """The selection as GeoParquet (points, EPSG:4326; for QGIS and GeoPandas), written one
    row group of ``PARQUET_BATCH`` rows at a time to a temporary file (in memory up to
    ``SPOOL_BYTES``, then on disk; deleted when closed): (the file at its start, rows).
    Nothing is left behind when writing fails."""
    box = _extent(svc, flt, limit, offset)
    sink = tempfile.SpooledTemporaryFile(SPOOL_BYTES)  # noqa: SIM115 - the caller sends it
    writer, rows = None, 0
    try:
        for df in svc.store.offence_batches(flt, limit, offset, PUBLIC_COLUMNS,
                                            PARQUET_BATCH):
            gdf = _geoframe(df)
            if writer is None:
                schema = _schema(gdf, box)
                writer = pq.ParquetWriter(sink, schema, compression="zstd")
            table = pa.table(gdf.to_arrow(index=False, geometry_encoding="WKB"))
            writer.write_table(table.cast(schema))
            rows += len(gdf)
        if writer is not None:
            writer.close()
        sink.seek(0)
        return sink, rows
    except BaseException:
        if writer is not None:
            with contextlib.suppress(Exception):  # the file is discarded: only end the writer
                writer.close()
        sink.close()
        raise


def file_chunks(f: IO[bytes]) -> Iterator[bytes]:
    """A file's bytes in chunks of ``CHUNK_BYTES``; the file is closed at the end."""
    with f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk
