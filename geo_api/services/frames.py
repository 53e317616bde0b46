"""Shaping results for the response models: no NaN reaches JSON, numpy scalars become
Python ones, and nothing round-trips through a JSON string."""

from __future__ import annotations

import pandas as pd


def records(df: pd.DataFrame) -> list[dict]:
    """Rows as dicts of Python values, missing values (NaN, NaT, None) as None."""
    return df.astype(object).where(df.notna(), None).to_dict("records")
