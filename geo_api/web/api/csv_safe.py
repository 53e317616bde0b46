"""CSV that spreadsheets open safely: text cells that Excel, LibreOffice or Google Sheets
would run as a formula (leading ``=``, ``+``, ``-``, ``@``, tab or carriage return) get a
leading ``'`` (OWASP's CSV injection advice). Numbers are left as numbers. UTF-8 with a
byte order mark by default, so Excel reads accents right (``downloads``)."""

from __future__ import annotations

import csv
import io

import pandas as pd
from fastapi.responses import Response

from geo_api.web.api.downloads import BOM, named, wants_bom
from geo_api.web.auth import disclosure, response_spec, route_of

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(v):
    return "'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell neutralised (object/string columns only)."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(safe_cell)
    return out


def csv_response(request, rows: list[dict], subject: str, meta: dict | None = None,
                 *extra: object) -> Response:
    """A CSV download of ``rows`` (text a spreadsheet would run as a formula gets a ');
    UTF-8 with a byte order mark unless the request asked for ``bom=false``, and named
    ``<subject>_<extra...>_<period>_<group>_<dataset version>.csv`` (``downloads``)."""
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: safe_cell(v) for k, v in r.items()})
    text = (BOM if wants_bom(request) else "") + buf.getvalue()
    return named(Response(text, media_type="text/csv"), subject, meta, *extra)


def table_csv(request, rows: list[dict], table: str, what: str, meta: dict):
    """A table as a CSV download: the caller's disclosure policy applied (public), and a
    file name that says what and when (``<what>_<period>_<group>_<dataset version>.csv``)."""
    policy = disclosure(request)
    if policy is not None:  # as the JSON answer: by its response model's declarations
        declared = ((response_spec(route_of(request.scope)) or {}).get("fields") or {})
        spec = {"fields": {table: declared[table]}} if table in declared else None
        rows = policy.protect({table: rows}, spec=spec)[table]
    response = csv_response(request, rows, what, meta)
    if policy is not None:
        response.headers["X-Disclosure-Control"] = policy.label
    return response
