"""CSV that spreadsheets open safely: text cells that Excel, LibreOffice or Google Sheets
would run as a formula (leading ``=``, ``+``, ``-``, ``@``, tab or carriage return) get a
leading ``'`` (OWASP's CSV injection advice). Numbers are left as numbers."""

from __future__ import annotations

import csv
import io
import re

import pandas as pd
from fastapi.responses import Response

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


def csv_response(rows: list[dict], filename: str):
    """A CSV download of ``rows``; text a spreadsheet would run as a formula gets a '."""
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: safe_cell(v) for k, v in r.items()})
    return Response(buf.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def table_csv(request, rows: list[dict], table: str, what: str, meta: dict):
    """A table as a CSV download: the caller's disclosure policy applied (public), and a
    file name that says what and when (``<what>_<period>_<dataset version>.csv``)."""
    policy = disclosure(request)
    if policy is not None:  # as the JSON answer: by its response model's declarations
        declared = ((response_spec(route_of(request.scope)) or {}).get("fields") or {})
        spec = {"fields": {table: declared[table]}} if table in declared else None
        rows = policy.protect({table: rows}, spec=spec)[table]
    name = "_".join(p for p in (what, period_words(meta), str(meta.get("dataset_version") or ""))
                    if p)
    response = csv_response(rows, re.sub(r"[^A-Za-z0-9._-]+", "-", name) + ".csv")
    if policy is not None:
        response.headers["X-Disclosure-Control"] = policy.label
    return response


def period_words(meta: dict) -> str:
    """'2020-04-to-2020-06' from a meta's filter(s) (both periods for comparisons)."""
    def one(f):
        if not f or not f.get("start"):
            return "all-months"
        start, end = f["start"][:7], (pd.Timestamp(f["end_exclusive"])
                                      - pd.Timedelta(days=1)).strftime("%Y-%m")
        return start if start == end else f"{start}-to-{end}"

    if "filters_before" in meta:
        return f"{one(meta['filters_before'])}_vs_{one(meta['filters_after'])}"
    return one(meta.get("filters"))
