"""Sites for planning layers: shipped schools (or GEO_API_SITES_FILE) and candidate-site sets
that planners upload (e.g. possible bleed-control kit locations or youth venues).

An upload is a UTF-8 CSV with a header: ``name`` (required), ``kind`` (optional) and either
``easting``,``northing`` (EPSG:27700 metres) or ``longitude``,``latitude`` (EPSG:4326). Every
row must be inside the force area. Faults are reported by line (header = line 1) and field;
a faulty file is rejected whole and nothing is stored.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import pandas as pd
import shapely

from geo_api.crs import lonlat_to_metric, metric_to_lonlat
from geo_api.errors import Forbidden, IngestRejected, InvalidParameter, NotFound, RowError

SET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")  # used with fullmatch
MAX_SITES = 5000
MAX_BYTES = 2_000_000
MAX_SETS = 200  # site sets kept at once
MAX_TOTAL_BYTES = 50_000_000  # all site-set files together
COLUMNS = ["name", "kind", "lon", "lat", "x_m", "y_m"]


@lru_cache(maxsize=4)
def load_sites(path: Path) -> pd.DataFrame:
    """name, kind, lon, lat, x_m, y_m of each site; coordinates from easting/northing or lon/lat."""
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
    kind_col = next((c for c in ("kind", "education_phase") if c in df), None)
    kind = df[kind_col].fillna("").astype(str).to_numpy() if kind_col else ""
    return pd.DataFrame({"name": df[name_col].astype(str).to_numpy(), "kind": kind,
                         "lon": lon, "lat": lat, "x_m": x, "y_m": y})


def sites_in(path: Path, area_m: shapely.Geometry) -> pd.DataFrame:
    s = load_sites(Path(path))
    return s[shapely.contains_xy(area_m, s["x_m"], s["y_m"])].reset_index(drop=True)


# header aliases people's spreadsheets use -> the column they mean
ALIASES = {
    "name": ("name", "site", "site name", "location", "establishment name", "place"),
    "kind": ("kind", "type", "category", "site type"),
    "easting": ("easting", "eastings", "x", "east", "x coordinate"),
    "northing": ("northing", "northings", "y", "north", "y coordinate"),
    "longitude": ("longitude", "lon", "lng", "long"),
    "latitude": ("latitude", "lat"),
    "postcode": ("postcode", "post code", "postal code", "zip"),
}
COLUMN_OF = {alias: col for col, names in ALIASES.items() for alias in names}


def _column(header: str) -> str:
    """The column a header names: case, spaces, '_' and '-' do not matter."""
    key = re.sub(r"[\s_-]+", " ", header.strip().lower()).strip()
    return COLUMN_OF.get(key, key)


def normal_postcode(pc: str) -> str:
    return re.sub(r"\s+", "", pc).upper()


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 (with or without a BOM), else Windows-1252 (what Excel saves
    as 'CSV' on Windows)."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="strict"), "windows-1252"


def read_table(data: bytes, source: str, max_bytes: int = MAX_BYTES
               ) -> tuple[list[list[str]], str]:
    """(rows, delimiter) of an uploaded CSV as spreadsheets save them: UTF-8 with or without
    a BOM or Windows-1252; ``,`` ``;`` or tab separated. Rejected (IngestRejected naming the
    line) when too large, not text, unreadable or without a header line."""
    def reject(errors):
        raise IngestRejected(source=source, errors=errors)

    if len(data) > max_bytes:
        reject([RowError(None, None, f"file is larger than {max_bytes:,} bytes")])
    try:
        text, _ = decode_text(data)
    except UnicodeDecodeError as exc:
        reject([RowError(None, None, f"neither UTF-8 nor Windows-1252 text (byte {exc.start})")])
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count) if first else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        reject([RowError(reader.line_num, None, f"unreadable CSV: {exc}")])
    if not rows or not any(c.strip() for c in rows[0]):
        reject([RowError(1, None, "empty file: expected a header line")])
    return rows, delimiter


def body_rows(rows: list[list[str]], source: str, noun: str, max_rows: int, per: str = ""
              ) -> list[tuple[int, list[str]]]:
    """(line, fields) of a table's non-blank rows after its header; refused when there are
    none or more than ``max_rows`` (``noun``: what a row is; ``per``: what the limit is
    per, for the message)."""
    body = [(i, r) for i, r in enumerate(rows[1:], start=2) if any(c.strip() for c in r)]
    if not body:
        raise IngestRejected(source=source, errors=[
            RowError(None, None, f"no {noun}: the file has a header only")])
    if len(body) > max_rows:
        raise IngestRejected(source=source, errors=[
            RowError(None, None, f"{len(body):,} {noun}; at most {max_rows:,}{per}")])
    return body


def parse_sites_csv(data: bytes, source: str, force_area_m: shapely.Geometry,
                    postcodes: Callable[[], dict] | None = None) -> pd.DataFrame:
    """Validate an uploaded candidate-sites CSV; raise IngestRejected naming lines/fields.

    Accepts files as spreadsheets save them: UTF-8 with or without a BOM or Windows-1252,
    ``,`` ``;`` or tab separators, header aliases (``lat``/``lon``, ``x``/``y``,
    ``Easting``...), and a ``postcode`` column instead of coordinates (``postcodes()``: the
    shipped Code-Point Open points, normalised postcode -> (easting, northing))."""
    rows, delimiter = read_table(data, source)
    header = [_column(c) for c in rows[0]]
    located_by = _located_by(header)
    problems = _header_problems(header, located_by, postcodes is not None)
    if problems:
        raise IngestRejected(source=source, errors=problems)
    body = body_rows(rows, source, "sites", MAX_SITES, per=" per set")
    lookup = postcodes() if located_by == "postcode" and postcodes is not None else {}
    errors: list[RowError] = []
    out = []
    for line, r in body:
        site = _site_row(line, r, header, located_by, delimiter, lookup, errors)
        if site is not None:
            out.append(site)
    if errors:
        raise IngestRejected(source=source, errors=errors)
    return _placed(pd.DataFrame(out, columns=["line", "name", "kind", "a", "b"]), located_by,
                   force_area_m, source)


def _located_by(header: list[str]) -> str | None:
    """How a sites file places its sites: "metric" (easting, northing), "lonlat", "postcode";
    "both" when it gives two kinds of coordinates, None when it gives none."""
    metric = {"easting", "northing"} <= set(header)
    lonlat = {"longitude", "latitude"} <= set(header)
    if metric and lonlat:
        return "both"
    if metric or lonlat:
        return "metric" if metric else "lonlat"
    return "postcode" if "postcode" in header else None


def _header_problems(header: list[str], located_by: str | None,
                     has_postcodes: bool) -> list[RowError]:
    """What is wrong with a sites file's header (line 1)."""
    problems = [RowError(1, c, "unknown column", c) for c in header if c not in ALIASES]
    problems += [RowError(1, c, "duplicate column") for c in set(header) if header.count(c) > 1]
    if "name" not in header:
        problems.append(RowError(1, "name", "missing column"))
    if located_by in ("both", None):
        problems.append(RowError(1, None, "give either easting,northing (EPSG:27700), "
                                          "longitude,latitude (EPSG:4326) or a postcode "
                                          "column - one of them, not both or neither"))
    if located_by == "postcode" and not has_postcodes:
        problems.append(RowError(1, "postcode", "postcode lookup not available here"))
    return problems


def _site_row(line: int, r: list[str], header: list[str], located_by: str | None,
              delimiter: str, lookup: dict, errors: list[RowError]) -> tuple | None:
    """One row as (line, name, kind, a, b) - a, b: its coordinates as the file gives them -
    or None, with what is wrong with it added to ``errors``."""
    if len(r) != len(header):
        errors.append(RowError(line, None, f"expected {len(header)} fields, got {len(r)}"))
        return None
    rec = dict(zip(header, (c.strip() for c in r), strict=True))
    if not rec["name"]:
        errors.append(RowError(line, "name", "blank"))
    elif len(rec["name"]) > 200 or any(ord(ch) < 32 for ch in rec["name"]):
        errors.append(RowError(line, "name", "longer than 200 characters or contains "
                                             "control characters"))
    kind = rec.get("kind", "")
    if len(kind) > 100 or any(ord(ch) < 32 or ord(ch) == 127 for ch in kind):
        errors.append(RowError(line, "kind", "longer than 100 characters or contains "
                                             "control characters"))
    if located_by == "postcode":
        xy = lookup.get(normal_postcode(rec["postcode"]))
        if xy is None:
            errors.append(RowError(line, "postcode", "not a Leicestershire postcode in "
                                                     "Code-Point Open", rec["postcode"]))
            return None
        return (line, rec["name"], kind, *xy)
    coords = []
    for col in _coordinate_columns(located_by):
        try:
            v = float(rec[col].replace(",", ".") if delimiter == ";" else rec[col])
            if not math.isfinite(v):
                raise ValueError
            coords.append(v)
        except ValueError:
            errors.append(RowError(line, col, "not a number", rec[col]))
    return (line, rec["name"], kind, *coords) if len(coords) == 2 else None


def _coordinate_columns(located_by: str | None) -> tuple[str, str]:
    return ("longitude", "latitude") if located_by == "lonlat" else ("easting", "northing")


def _placed(df: pd.DataFrame, located_by: str | None, force_area_m: shapely.Geometry,
            source: str) -> pd.DataFrame:
    """The sites with both coordinate pairs (EPSG:27700 and EPSG:4326); refused unless every
    one is inside the force area."""
    if located_by == "lonlat":
        df["lon"], df["lat"] = df["a"], df["b"]
        df["x_m"], df["y_m"] = lonlat_to_metric(df["a"].to_numpy(), df["b"].to_numpy())
    else:
        df["x_m"], df["y_m"] = df["a"], df["b"]
        df["lon"], df["lat"] = metric_to_lonlat(df["a"].to_numpy(), df["b"].to_numpy())
    inside = shapely.contains_xy(force_area_m, df["x_m"].to_numpy(), df["y_m"].to_numpy())
    if not inside.all():
        xcol = _coordinate_columns(located_by)[0]
        raise IngestRejected(source=source, errors=[
            RowError(int(r.line), xcol, "outside the Leicestershire force area (wrong "
                                        "columns or CRS?)", f"{r.a}, {r.b}")
            for r in df[~inside].itertuples()])
    return df[COLUMNS].reset_index(drop=True)


class SiteSets:
    """Named candidate-site sets as small CSV files, each written atomically, owned by their
    creator. Also the store of partner indicators (``noun``, ``columns``: what is kept; an
    optional JSON description beside each file)."""

    def __init__(self, root: Path, noun: str = "candidate-site set", field: str = "sites",
                 columns: list[str] = COLUMNS, listing: str = "GET /sites", db=None):
        self.root = Path(root)
        self.noun, self.field, self.columns, self.listing = noun, field, columns, listing
        self.db = db  # a database store of named sets (PostGIS deployments), else files

    def _exists(self, name: str) -> bool:
        self._path(name)  # checks the name
        return self.db.get(name) is not None if self.db else self._path(name).exists()

    def _path(self, name: str) -> Path:
        if not SET_NAME.fullmatch(name):
            raise InvalidParameter(f"name: {name!r} must be 1-40 characters a-z, 0-9, '-' or "
                                   "'_', starting with a letter or digit")
        return self.root / f"{name}.csv"

    def owner(self, name: str) -> str | None:
        """Who created the set (None for sets stored before owners were recorded: only an
        admin may change those)."""
        if self.db:
            row = self.db.get(name)
            return row["owner"] if row else None
        p = self._path(name).with_suffix(".owner")
        return p.read_text().strip() if p.exists() else None

    def check_may_change(self, name: str, who: str, is_admin: bool) -> None:
        """Only the set's creator or an admin may replace or delete an existing set."""
        if is_admin or not self._exists(name):
            return
        owner = self.owner(name)
        if owner != who:
            raise Forbidden(f"{self.field}: {name!r} belongs to "
                            f"{'another user' if owner else 'an admin'}; only they or an "
                            "admin may replace or delete it (choose another name)")

    @contextlib.contextmanager
    def _locked(self):
        """Check-then-write of owners and files under one lock (processes included)."""
        if self.db:
            with self.db.locked():
                yield
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def save(self, name: str, sites: pd.DataFrame, who: str = "anonymous",
             is_admin: bool = False, about: dict | None = None) -> None:
        """Write the set (and ``about``, its JSON description) atomically: readers see the
        old one or the new one, never half."""
        with self._locked():
            self._save(name, sites, who, is_admin, about)

    def _save(self, name: str, sites: pd.DataFrame, who: str, is_admin: bool,
              about: dict | None) -> None:
        path = self._path(name)
        self.check_may_change(name, who, is_admin)
        if self.db:
            self._save_db(name, sites, who, about)
            return
        others = [p for p in self.root.glob("*.csv") if p != path]
        if len(others) >= MAX_SETS:
            raise InvalidParameter(f"{self.field}: {len(others)} are stored, the most this "
                                   f"service keeps is {MAX_SETS}; delete one first")
        if sum(p.stat().st_size for p in others) > MAX_TOTAL_BYTES:
            raise InvalidParameter(f"{self.field}: stored files exceed {MAX_TOTAL_BYTES:,} "
                                   "bytes together; delete some first")
        tmps = []
        try:
            tmps.append(self._write_tmp(lambda fh: sites[self.columns].to_csv(fh, index=False)))
            if about is not None:
                tmps.append(self._write_tmp(lambda fh: json.dump(about, fh, indent=1)))
            if not path.exists():  # the creator owns it (written first: never unowned)
                path.with_suffix(".owner").write_text(who)
            if about is not None:
                os.replace(tmps[1], path.with_suffix(".json"))
            os.replace(tmps[0], path)
        except BaseException:
            for t in tmps:
                Path(t).unlink(missing_ok=True)
            raise

    def _save_db(self, name: str, sites: pd.DataFrame, who: str, about: dict | None) -> None:
        others = [s for s in self.db.listing() if s["name"] != name]
        if len(others) >= MAX_SETS:
            raise InvalidParameter(f"{self.field}: {len(others)} are stored, the most this "
                                   f"service keeps is {MAX_SETS}; delete one first")
        if sum(s["bytes"] for s in others) > MAX_TOTAL_BYTES:
            raise InvalidParameter(f"{self.field}: stored sets exceed {MAX_TOTAL_BYTES:,} "
                                   "bytes together; delete some first")
        points = sites[["name", "kind", "x_m", "y_m"]] if self.field == "sites" else None
        self.db.put(name, sites[self.columns].to_csv(index=False), about, who, points)

    def _write_tmp(self, write) -> str:
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        with os.fdopen(fd, "w", newline="") as fh:
            write(fh)
        return tmp

    def load(self, name: str) -> pd.DataFrame:
        path = self._path(name)
        source: Path | io.StringIO | None = path
        if self.db:
            row = self.db.get(name)
            source = None if row is None else io.StringIO(row["csv"])
        elif not path.exists():
            source = None
        if source is None:
            raise NotFound(f"{self.field}: no {self.noun} named {name!r} (see {self.listing})")
        return pd.read_csv(source, keep_default_na=False,
                           dtype={"name": str, "kind": str, "code": str, "period": str})

    def about(self, name: str) -> dict:
        """The JSON description saved with ``name`` ({} if none)."""
        if not self._exists(name):
            raise NotFound(f"{self.field}: no {self.noun} named {name!r} (see {self.listing})")
        if self.db:
            return self.db.get(name)["about"] or {}
        p = self._path(name).with_suffix(".json")
        return json.loads(p.read_text()) if p.exists() else {}

    def delete(self, name: str, who: str = "anonymous", is_admin: bool = False) -> None:
        path = self._path(name)
        with self._locked():
            if not self._exists(name):
                raise NotFound(f"{self.field}: no {self.noun} named {name!r}")
            self.check_may_change(name, who, is_admin)
            if self.db:
                self.db.delete(name)
                return
            path.with_suffix(".owner").unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)
            path.unlink()

    def list(self) -> list[dict]:
        if self.db:
            return [{"name": r["name"], "n_sites": r["n_rows"], "owner": r["owner"],
                     "updated": pd.Timestamp(r["updated"]).tz_convert(None)
                     .isoformat(timespec="seconds")} for r in self.db.listing()]
        if not self.root.exists():
            return []
        return [{"name": p.stem, "n_sites": sum(1 for _ in p.open()) - 1,
                 "owner": self.owner(p.stem),
                 "updated": pd.Timestamp(p.stat().st_mtime, unit="s").isoformat(timespec="seconds")}
                for p in sorted(self.root.glob("*.csv"))]
