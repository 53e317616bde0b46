"""The vectorised helpers of the ingest give exactly what the per-row Python they replace
gave (keys and row hashes must not change: they are the store's identity)."""

import numpy as np
import pandas as pd

from geo_api.data.ingest.parse import hex64, per_distinct


def test_hex64_is_the_zero_padded_hex_of_each_value():
    values = np.array([0, 1, 255, 2**63, 2**64 - 1, 0x0123456789ABCDEF], dtype=np.uint64)
    assert hex64(values).tolist() == [f"{v:016x}" for v in values.tolist()]
    assert hex64(np.array([], dtype=np.uint64)).tolist() == []


def test_per_distinct_equals_map_for_each_kind_of_column():
    columns = [
        pd.Series([-1.13, 0.0, -0.0, np.nan, -1.13, 52.6, np.nan, 1e-05]),  # -0.0 stays
        pd.Series([3, 1, 3, 0, 2], dtype="int64"),
        pd.Series(["On or near A", "", "On or near A", "b"], dtype="str"),
        pd.Series(["x", None, "x"], dtype="str"),
        pd.to_datetime(pd.Series(["2020-01-01 22:30", None, "2020-01-01 22:30"])),
        pd.Series([], dtype="float64"),
    ]
    for s in columns:
        s.index = s.index + 10  # the index is kept
        got = per_distinct(s, str)
        assert got.tolist() == s.map(str).tolist() and got.index.equals(s.index), s.tolist()
        if pd.api.types.is_float_dtype(s.dtype):  # a grouping key as astype(str) was: NaN
            want = s.astype(str)  # stays missing, equal values group together
            got = per_distinct(s, str).where(s.notna())
            assert got.isna().tolist() == want.isna().tolist()
            assert pd.factorize(got)[0].tolist() == pd.factorize(want)[0].tolist()
