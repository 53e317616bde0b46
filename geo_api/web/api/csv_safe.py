"""CSV that spreadsheets open safely: text cells that Excel, LibreOffice or Google Sheets
would run as a formula (leading ``=``, ``+``, ``-``, ``@``, tab or carriage return) get a
leading ``'`` (OWASP's CSV injection advice). Numbers are left as numbers."""

from __future__ import annotations

import pandas as pd

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
