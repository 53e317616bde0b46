"""Read and validate offence CSVs into one normalised frame with row-level errors.

File-level problems (encoding, header, columns, empty file) reject the file. Row-level
problems are collected as ``RowError`` with the file line (header = line 1); the caller
decides whether they reject the file or quarantine the rows (see ``pipeline``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
from pandas.core.util.hashing import combine_hash_arrays

from geo_api.crs import lonlat_to_metric, metric_to_lonlat
from geo_api.data.ingest.schema import (
    FORCE_COLUMNS,
    FORCE_COORD_PAIRS,
    FORCE_REQUIRED,
    POLICE_UK_CATEGORIES,
    POLICE_UK_COLUMNS,
)
from geo_api.errors import IngestRejected, RowError

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
EXCEL_MONTH_RES = (
    re.compile(r"^[A-Za-z]{3}-\d{2,4}$"),  # Dec-19
    re.compile(r"^\d{1,2}/\d{4}$"),  # 12/2019
    re.compile(r"^\d{1,2}/\d{1,2}/\d{2,4}"),  # 01/12/2019
    re.compile(r"^\d{4}-\d{2}-\d{2}"),  # 2019-12-01 00:00:00
    re.compile(r"^\d{5}(\.0+)?$"),  # 43800 (Excel serial day)
)
TRUE = {"y", "yes", "true", "t", "1"}
FALSE = {"n", "no", "false", "f", "0"}
BNG_X = (0.0, 700_000.0)
BNG_Y = (0.0, 1_300_000.0)
UK_LON = (-9.0, 2.5)
UK_LAT = (49.5, 61.0)

NORMALISED_COLUMNS = (
    "line", "source", "source_id", "offence_key", "month", "occurred_at", "crime_category",
    "ho_code", "ho_description", "outcome", "context", "location_text", "lsoa_code_source",
    "falls_within", "lon", "lat", "x_m", "y_m", "has_location", "knife_sharp_instrument",
    "alcohol", "domestic", "victim_age", "suspect_age", "public_place", "location_type",
)


@dataclass
class ParsedFile:
    """A validated file: ``frame`` holds the good rows, ``errors`` the bad ones."""

    kind: str
    name: str
    sha256: str
    n_rows: int
    frame: pd.DataFrame
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)

    @property
    def bad_lines(self) -> set[int]:
        return {e.line for e in self.errors if e.line is not None}


def _decode(data: bytes, name: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IngestRejected(name, [RowError(line, None, f"not UTF-8: byte 0x{data[exc.start]:02x} "
                                             f"at offset {exc.start}; save the file as UTF-8")]) from None


def _read_csv(text: str, name: str) -> pd.DataFrame:
    if not text.strip():
        raise IngestRejected(name, [RowError(None, None, "file is empty")])
    header = next(csv.reader(io.StringIO(text)))
    names = [c.strip() for c in header]
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:  # pandas would silently rename them ("x.1")
        raise IngestRejected(name, [RowError(1, c, "duplicate column") for c in dup])
    df = _read_csv_arrow(text, len(names))
    if df is not None:
        df.columns = names
        return df
    try:  # the reference reader: its errors name the line, and short rows read as blank
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.ParserError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise IngestRejected(name, [RowError(int(m[1]) if m else None, None,
                                             f"not a valid CSV row: {exc}".strip())]) from None
    df.columns = names
    return df.fillna("")  # short rows: missing trailing fields read as blank


def _read_csv_arrow(text: str, n_columns: int) -> pd.DataFrame | None:
    """Every field as text, read by Arrow's CSV reader (one thread; about 5x faster than
    pandas' on police.uk files), or None when the file is not a plain rectangle of fields
    (a short or long row, ...): ``_read_csv`` then reads it the reference way, so a file
    reads the same, and errors the same, either way."""

    try:
        table = pcsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pcsv.ReadOptions(use_threads=False, skip_rows=1,
                                          column_names=[f"c{i}" for i in range(n_columns)]),
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types={f"c{i}": pa.string() for i in range(n_columns)},
                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow", np.nan)}.get)


def detect_kind(columns) -> str:
    """'police_uk' or 'force_export' from the header."""
    cols = set(columns)
    if {"Crime ID", "Month", "Crime type"} & cols:
        return "police_uk"
    if {"offence_id", "offence_datetime"} & cols:
        return "force_export"
    raise ValueError("unrecognised header")


def _column_errors(columns, required, allowed) -> list[RowError]:
    cols = [c for c in columns if c != "line"]
    errs = [RowError(1, c, "missing required column") for c in required if c not in cols]
    errs += [RowError(1, c, f"unexpected column (allowed: {', '.join(allowed)})")
             for c in cols if c not in allowed]
    return errs


def _blank(s: pd.Series) -> pd.Series:
    return s.str.strip().str.lower().isin(["", "nan", "null", "na"])


def _coords(df: pd.DataFrame, xcol: str, ycol: str, errors: list[RowError]) -> tuple[pd.Series, pd.Series]:
    """Numeric coordinates; both blank -> NaN (no location); one blank/non-numeric -> error."""
    bx, by = _blank(df[xcol]), _blank(df[ycol])
    x = pd.to_numeric(df[xcol].where(~bx), errors="coerce")
    y = pd.to_numeric(df[ycol].where(~by), errors="coerce")
    for col, blank, num in ((xcol, bx, x), (ycol, by, y)):
        for i in df.index[~blank & num.isna()]:
            errors.append(RowError(int(df.at[i, "line"]), col, "not a number", df.at[i, col]))
    half = bx ^ by
    for i in df.index[half]:
        errors.append(RowError(int(df.at[i, "line"]), f"{xcol}/{ycol}",
                               "only one coordinate given; give both or neither"))
    return x.where(~half), y.where(~half)


def _check_lonlat(df, lon, lat, errors) -> None:
    has = lon.notna() & lat.notna()
    swapped = has & lon.between(*UK_LAT) & lat.between(*UK_LON)
    for i in df.index[swapped]:
        errors.append(RowError(int(df.at[i, "line"]), "Longitude/Latitude",
                               "latitude and longitude appear swapped",
                               f"lon={lon[i]}, lat={lat[i]}"))
    bad = has & ~swapped & ~(lon.between(*UK_LON) & lat.between(*UK_LAT))
    for i in df.index[bad]:
        errors.append(RowError(int(df.at[i, "line"]), "Longitude/Latitude",
                               "coordinates outside Great Britain", f"lon={lon[i]}, lat={lat[i]}"))


def _check_area(df, x_m, y_m, in_area, errors, fields) -> None:
    has = np.isfinite(x_m) & np.isfinite(y_m)
    ok = np.zeros(len(df), bool)
    if has.any():
        ok[has] = in_area(x_m[has], y_m[has])
    for pos in np.flatnonzero(has & ~ok):
        errors.append(RowError(int(df["line"].iloc[pos]), fields,
                               "point outside the force area",
                               f"x={x_m[pos]:.0f}, y={y_m[pos]:.0f} (EPSG:27700)"))


def _duplicates(df, keys: pd.Series, col: str, errors) -> None:
    """A row error for each repeat of a non-blank key; the message names the id in ``col``."""
    dup = keys.duplicated(keep=False) & (keys != "")
    first = df[dup].groupby(keys[dup])["line"].min()
    for i in df.index[dup & keys.duplicated(keep="first")]:
        errors.append(RowError(int(df.at[i, "line"]), col,
                               f"duplicate id (first seen on line {int(first[keys[i]])})",
                               df.at[i, col].strip()))


def hex64(values, index=None) -> pd.Series:
    """``f"{v:016x}"`` of each unsigned 64-bit value as a text Series (on ``index``), without
    a Python call per value: the hex digits are cut into 16-byte Arrow strings in place."""

    text = np.ascontiguousarray(values, dtype=">u8").tobytes().hex().encode("ascii")
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), len(text) // 16,
                                                 [None, pa.py_buffer(text)])
    return pd.Series(fixed.cast(pa.large_string()).to_pandas(
        types_mapper={pa.large_string(): pd.StringDtype("pyarrow", np.nan)}.get).array,
        index=index)


def per_distinct(s: pd.Series, fn) -> pd.Series:
    """``s.map(fn)``, calling ``fn`` once per distinct value (floats are told
    apart by their bits, so -0.0 and 0.0 stay apart). For columns with few distinct values
    (months, categories, snap points) this is most of the cost of a per-row Python call."""
    if fn is str and pd.api.types.is_string_dtype(s.dtype) and not s.hasnans:
        return s.copy()  # str() of a string is the string
    values = s.to_numpy()
    keys = values.view(np.int64) if values.dtype == np.float64 else values
    codes, _ = pd.factorize(keys, use_na_sentinel=False)
    first = np.zeros(codes.max() + 1 if len(codes) else 0, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    out = s.iloc[first].map(fn).take(codes)
    out.index = s.index
    return out


def _key(*parts: pd.Series) -> pd.Series:
    """Stable 64-bit content hash (hex) of the given columns (as text), row by row."""
    return hash_columns([per_distinct(p, str) for p in parts], parts[0].index)


def hash_columns(columns: list[pd.Series], index: pd.Index) -> pd.Series:
    """Hex of pandas' ``hash_pandas_object`` of ``columns`` as one frame, without the index
    (categorised), computed column by column: each column's hashes (``hash_values``),
    combined by pandas' own step (pinned pandas; tests hold the result to
    ``hash_pandas_object``), without building the frame."""
    h = combine_hash_arrays((hash_values(c) for c in columns), len(columns), len(index))
    return hex64(h, index)


def hash_values(col: pd.Series) -> np.ndarray:
    """A column's part of ``hash_pandas_object``. A column with every value missing (most of
    a police.uk file's force-export fields) is hashed from its first value: each value's
    hash depends on that value alone."""
    if len(col) > 1 and col.isna().all():
        return np.repeat(hash_values(col.iloc[:1]), len(col))
    values = col.to_numpy() if isinstance(col.dtype, np.dtype) else col.array
    return pd.util.hash_array(values, categorize=True)


def _cumcount(keys: list[pd.Series]) -> pd.Series:
    """``groupby(keys).cumcount()``: each row's number among the earlier rows with the same
    keys, NaN (and the result float) where a key is missing - grouped by one integer code
    made of the keys' codes instead of by the keys themselves."""
    code = np.zeros(len(keys[0]), dtype=np.int64)
    missing = np.zeros(len(keys[0]), dtype=bool)
    for key in keys:
        k, uniques = pd.factorize(key)
        missing |= k < 0
        code = pd.factorize(code * (len(uniques) + 1) + k)[0]
    count = pd.Series(code).groupby(code).cumcount().to_numpy()
    if missing.any():
        count = np.where(missing, np.nan, count)
    return pd.Series(count, index=keys[0].index)


def _months(month: pd.Series) -> pd.Series:
    """``pd.to_datetime(month, format="%Y-%m")``, each distinct month read once."""
    codes, uniques = pd.factorize(month, use_na_sentinel=False)
    return pd.Series(pd.to_datetime(uniques, format="%Y-%m").take(codes), index=month.index)


def parse_police_uk(df: pd.DataFrame, name: str, in_area,
                    outside: list[RowError]) -> tuple[pd.DataFrame, list[RowError]]:
    """Validate police.uk street-level rows; returns (normalised frame, row errors)."""
    errs = _column_errors(df.columns, POLICE_UK_COLUMNS, POLICE_UK_COLUMNS)
    if errs:
        raise IngestRejected(name, errs)
    errors: list[RowError] = []
    month = df["Month"].str.strip()
    month_ok = month.str.match(MONTH_RE)
    for i in df.index[~month_ok]:
        v = df.at[i, "Month"]
        hint = (" - looks reformatted by a spreadsheet; re-download or write YYYY-MM"
                if any(r.match(v.strip()) for r in EXCEL_MONTH_RES) else "")
        errors.append(RowError(int(df.at[i, "line"]), "Month", f"expected YYYY-MM{hint}", v))
    ctype = df["Crime type"].str.strip()
    for i in df.index[~ctype.isin(POLICE_UK_CATEGORIES)]:
        errors.append(RowError(int(df.at[i, "line"]), "Crime type", "unknown police.uk crime type",
                               df.at[i, "Crime type"]))
    cid = df["Crime ID"].str.strip()
    # A record is (month, Crime ID): police.uk republishes some ids in a later month, and
    # each month's file is the authority for that month, so only a repeat within a month
    # is a duplicate.
    record = (month + ":" + cid).where(cid != "", "")
    _duplicates(df, record, "Crime ID", errors)
    lon, lat = _coords(df, "Longitude", "Latitude", errors)
    _check_lonlat(df, lon, lat, errors)
    x_m, y_m = lonlat_to_metric(lon.to_numpy(float), lat.to_numpy(float))
    _check_area(df, x_m, y_m, in_area, outside, "Longitude/Latitude")
    # Rows without a Crime ID (anti-social behaviour) get a content key; the outcome is
    # left out so a re-publication with revised outcomes updates rather than duplicates.
    # The key numbers repeats within (month, coordinates as text, location, type), missing
    # coordinates left out of the grouping. Only rows of a type that some row without an id
    # has can share such a row's group, so the grouping (and the coordinates' text) is done
    # on those rows alone: the same occurrence numbers as grouping every row, and the same
    # type (float when any row of the file lacks a coordinate, as pandas gives then).
    no_id = cid == ""
    near = ctype.isin(ctype[no_id].unique())
    lon_near, lat_near = lon[near], lat[near]
    lon_text, lat_text = per_distinct(lon_near, str), per_distinct(lat_near, str)
    occurrence = _cumcount([month[near], lon_text.where(lon_near.notna()),
                            lat_text.where(lat_near.notna()), df["Location"][near], ctype[near]])
    if (lon.isna() | lat.isna()).any():
        occurrence = occurrence.astype(float)
    ix = df.index[no_id]
    content_key = _key(*(part.loc[ix] for part in (month, lon_text, lat_text, df["Location"],
                                                   df["LSOA code"], ctype, occurrence)))
    content_key = content_key.reindex(df.index)
    out = pd.DataFrame({
        "line": df["line"],
        "source": "police_uk",
        "source_id": cid.where(cid != "", None),
        "offence_key": ("puk:" + record).where(cid != "", "puk-asb:" + content_key),
        "month": _months(month.where(month_ok)),
        "occurred_at": pd.NaT,
        "crime_category": ctype,
        "outcome": df["Last outcome category"].replace("", None),
        "context": df["Context"].replace("", None),
        "location_text": df["Location"].replace("", None),
        "lsoa_code_source": df["LSOA code"].replace("", None),
        "falls_within": df["Falls within"],
        "lon": lon, "lat": lat, "x_m": x_m, "y_m": y_m,
    })
    return out, errors


def _flag(df, col, errors) -> pd.Series:
    if col not in df:
        return pd.Series(pd.NA, index=df.index, dtype="boolean")
    v = df[col].str.strip().str.lower()
    out = pd.Series(pd.NA, index=df.index, dtype="boolean")
    out[v.isin(TRUE)] = True
    out[v.isin(FALSE)] = False
    for i in df.index[~(v.isin(TRUE) | v.isin(FALSE) | (v == ""))]:
        errors.append(RowError(int(df.at[i, "line"]), col, "expected Y/N, true/false, 1/0 or blank",
                               df.at[i, col]))
    return out


def _age(df, col, errors) -> pd.Series:
    if col not in df:
        return pd.Series(pd.NA, index=df.index, dtype="Int64")
    v = df[col].str.strip()
    num = pd.to_numeric(v.where(v != ""), errors="coerce")
    bad = (v != "") & (num.isna() | (num % 1 != 0) | (num < 0) | (num > 120))
    for i in df.index[bad]:
        errors.append(RowError(int(df.at[i, "line"]), col, "expected a whole number 0-120 or blank",
                               df.at[i, col]))
    return num.where(~bad).astype("Int64")


def parse_force_export(df: pd.DataFrame, name: str, in_area, outside: list[RowError],
                       now: pd.Timestamp | None = None) -> tuple[pd.DataFrame, list[RowError]]:
    """Validate force-export rows; returns (normalised frame, row errors)."""
    errs = _column_errors(df.columns, FORCE_REQUIRED, FORCE_COLUMNS)
    pairs = [p for p in FORCE_COORD_PAIRS if set(p) <= set(df.columns)]
    if not pairs:
        errs.append(RowError(1, "easting/northing", "missing coordinate columns: give easting and "
                                                    "northing (EPSG:27700) or longitude and latitude"))
    if errs:
        raise IngestRejected(name, errs)
    errors: list[RowError] = []
    oid = df["offence_id"].str.strip()
    for i in df.index[oid == ""]:
        errors.append(RowError(int(df.at[i, "line"]), "offence_id", "blank offence id"))
    _duplicates(df, oid, "offence_id", errors)
    raw_dt = df["offence_datetime"].str.strip()
    ts = pd.to_datetime(raw_dt, format="ISO8601", errors="coerce")
    now = now or pd.Timestamp.now()
    for i in df.index[ts.isna()]:
        errors.append(RowError(int(df.at[i, "line"]), "offence_datetime",
                               "expected ISO 8601 date-time YYYY-MM-DD HH:MM", df.at[i, "offence_datetime"]))
    for i in df.index[ts > now]:
        errors.append(RowError(int(df.at[i, "line"]), "offence_datetime", "date is in the future",
                               df.at[i, "offence_datetime"]))
    for col in ("ho_code", "ho_description"):
        for i in df.index[df[col].str.strip() == ""]:
            errors.append(RowError(int(df.at[i, "line"]), col, "required value is blank"))
    if ("easting", "northing") in pairs:
        x, y = _coords(df, "easting", "northing", errors)
        bad = x.notna() & ~(x.between(*BNG_X) & y.between(*BNG_Y))
        for i in df.index[bad]:
            errors.append(RowError(int(df.at[i, "line"]), "easting/northing",
                                   "not a British National Grid coordinate (metres)",
                                   f"{df.at[i, 'easting']}, {df.at[i, 'northing']}"))
        x_m, y_m = x.where(~bad).to_numpy(float), y.where(~bad).to_numpy(float)
        lon, lat = metric_to_lonlat(x_m, y_m)
        fields = "easting/northing"
    else:
        lon_s, lat_s = _coords(df, "longitude", "latitude", errors)
        _check_lonlat(df, lon_s, lat_s, errors)
        lon, lat = lon_s.to_numpy(float), lat_s.to_numpy(float)
        x_m, y_m = lonlat_to_metric(lon, lat)
        fields = "longitude/latitude"
    _check_area(df, x_m, y_m, in_area, outside, fields)

    def optional(c: str) -> pd.Series | None:
        return df[c].str.strip().replace("", None) if c in df else None

    out = pd.DataFrame({
        "line": df["line"],
        "source": "force_export",
        "source_id": oid,
        "offence_key": "fx:" + oid,
        "month": ts.dt.to_period("M").dt.to_timestamp(),
        "occurred_at": ts,
        "crime_category": optional("crime_category"),
        "ho_code": df["ho_code"].str.strip(),
        "ho_description": df["ho_description"].str.strip(),
        "location_type": optional("location_type"),
        "lon": lon, "lat": lat, "x_m": x_m, "y_m": y_m,
        "knife_sharp_instrument": _flag(df, "knife_sharp_instrument", errors),
        "alcohol": _flag(df, "alcohol", errors),
        "domestic": _flag(df, "domestic", errors),
        "public_place": _flag(df, "public_place", errors),
        "victim_age": _age(df, "victim_age", errors),
        "suspect_age": _age(df, "suspect_age", errors),
    })
    return out, errors


OUTSIDE_AREA_DEFAULT = {"police_uk": "keep", "force_export": "reject"}


def parse_file(data: bytes, name: str, in_area, kind: str = "auto",
               outside_area: str | None = None, sha256: str | None = None) -> ParsedFile:
    """Decode, detect the format and validate; raise ``IngestRejected`` for file-level faults.

    ``outside_area`` says what a point outside the force area is: ``"reject"`` (a row
    error) or ``"keep"`` (a warning; the row is kept with its location and no area codes).
    Default: keep for police.uk, which publishes a few crimes the force recorded elsewhere;
    reject for force exports, where it usually means a wrong CRS or a typo.
    ``sha256``: the file's, when the caller has it already.
    """
    text = _decode(data, name)
    df = _read_csv(text, name)
    if kind == "auto":
        try:
            kind = detect_kind(df.columns)
        except ValueError:
            raise IngestRejected(name, [RowError(1, None, "unrecognised header: expected police.uk "
                                                         "columns or the force export schema")]) from None
    if len(df) == 0:
        raise IngestRejected(name, [RowError(None, None, "file has a header but no rows")])
    df.insert(0, "line", np.arange(2, len(df) + 2))
    parser = {"police_uk": parse_police_uk, "force_export": parse_force_export}.get(kind)
    if parser is None:
        raise IngestRejected(name, [RowError(None, None, f"unknown file kind {kind!r}")])
    outside: list[RowError] = []
    frame, errors = parser(df, name, in_area, outside)
    policy = outside_area or OUTSIDE_AREA_DEFAULT[kind]
    if policy not in ("keep", "reject"):
        raise IngestRejected(name, [RowError(None, None, "outside_area must be keep or reject")])
    warnings = outside if policy == "keep" else []
    errors = errors + ([] if policy == "keep" else outside)
    for c in NORMALISED_COLUMNS:
        if c not in frame:
            frame[c] = None
    frame["has_location"] = np.isfinite(frame["x_m"].astype(float))
    errors.sort(key=lambda e: (e.line or 0, e.field or ""))
    return ParsedFile(kind=kind, name=name, sha256=sha256 or hashlib.sha256(data).hexdigest(),
                      n_rows=len(df), frame=frame[list(NORMALISED_COLUMNS)], errors=errors,
                      warnings=warnings)
