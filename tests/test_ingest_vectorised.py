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


HEADER = "Crime ID,Month,Longitude,Location,Context"
CSV_CASES = {
    "plain": f"{HEADER}\nab12,2020-01,-1.13,On or near A,\n,2020-01,,On or near B,\n",
    "crlf, no final newline": f"{HEADER}\r\nab12,2020-01,-1.13,On or near A,x\r\nc,2020-02,1,B,",
    "quoted, with a newline, a comma and a quote": (
        f'{HEADER}\n"ab12","2020-01","-1.13","On or\nnear ""A"", east",""\n'),
    "spaces kept, NA-like text kept as text": (
        f"{HEADER}\n ab12 , 2020-01,NA,null,nan\n,,,,\n"),
    "blank lines skipped": f"{HEADER}\n\nab12,2020-01,-1.13,A,\n\n",
    "header only": f"{HEADER}\n",
}


def _reference_read(text: str) -> pd.DataFrame:
    import io

    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)


def test_arrow_csv_reader_reads_every_field_as_the_reference_reader_does():
    from geo_api.data.ingest.parse import _read_csv_arrow

    for case, text in CSV_CASES.items():
        got = _read_csv_arrow(text, len(HEADER.split(",")))
        assert got is not None, case
        got.columns = HEADER.split(",")
        want = _reference_read(text)
        pd.testing.assert_frame_equal(got, want, obj=case)


def test_arrow_csv_reader_leaves_ragged_files_to_the_reference_reader():
    from geo_api.data.ingest.parse import _read_csv, _read_csv_arrow

    short = f"{HEADER}\nab12,2020-01\nc,2020-02,1,B,x\n"  # a short row reads as blanks
    long = f"{HEADER}\nab12,2020-01,1,B,x\nc,2020-02,1,B,x,extra\n"  # an error naming line 3
    for text in (short, long, f"{HEADER}\n   \n"):
        assert _read_csv_arrow(text, 5) is None
    assert _read_csv(short, "f.csv").iloc[0].tolist() == ["ab12", "2020-01", "", "", ""]
    from geo_api.errors import IngestRejected

    try:
        _read_csv(long, "f.csv")
    except IngestRejected as exc:
        assert exc.errors[0].line == 3
    else:
        raise AssertionError("a long row must be rejected")


def test_content_keys_group_as_if_every_row_were_grouped():
    """Rows without a Crime ID are keyed by content and their occurrence among rows of the
    same month, place, location and type; the parser groups only rows of the types such
    rows have. Reference: the grouping of every row, as the keys were first defined."""
    from geo_api.data.ingest.parse import _key, parse_police_uk
    from geo_api.data.ingest.schema import POLICE_UK_COLUMNS

    rows = [  # id, lon, lat, location, type
        ("", "-1.13", "52.63", "On or near A", "Anti-social behaviour"),
        ("", "-1.13", "52.63", "On or near A", "Anti-social behaviour"),  # occurrence 1
        ("c1", "-1.13", "52.63", "On or near A", "Anti-social behaviour"),  # has an id
        ("", "-1.13", "52.63", "On or near A", "Anti-social behaviour"),  # occurrence 2
        ("", "-1.13", "52.63", "On or near A", "Shoplifting"),  # no id, not ASB
        ("c2", "-1.13", "52.63", "On or near A", "Shoplifting"),
        ("", "-1.13", "52.63", "On or near A", "Shoplifting"),
        ("", "", "", "No location", "Anti-social behaviour"),
        # no coordinates, a type no row without an id has: occurrences are floats all the same
        ("c3", "", "", "No location", "Burglary"),
    ]
    for use in (rows, rows[:-1], rows[:-2], rows[-1:] + rows[:-2]):
        df = pd.DataFrame([{**dict.fromkeys(POLICE_UK_COLUMNS, ""), "Crime ID": i,
                            "Month": "2020-01", "Longitude": x, "Latitude": y, "Location": loc,
                            "Crime type": t, "LSOA code": "E01000001"}
                           for i, x, y, loc, t in use]).astype("str")
        df.insert(0, "line", np.arange(2, len(df) + 2))
        out, _ = parse_police_uk(df, "f.csv", lambda x, y: np.ones(len(x), bool), [])
        lon = pd.to_numeric(df["Longitude"].where(df["Longitude"] != ""))
        lat = pd.to_numeric(df["Latitude"].where(df["Latitude"] != ""))
        lon_text, lat_text = lon.map(str), lat.map(str)
        occurrence = df.groupby([df["Month"], lon_text.where(lon.notna()),
                                 lat_text.where(lat.notna()), df["Location"],
                                 df["Crime type"]]).cumcount()
        no_id = df["Crime ID"] == ""
        want = _key(*(p[no_id] for p in (df["Month"], lon_text, lat_text, df["Location"],
                                          df["LSOA code"], df["Crime type"], occurrence)))
        got = out["offence_key"][no_id]
        assert got.tolist() == ("puk-asb:" + want).tolist(), use
        assert got.nunique() == no_id.sum()


def test_cumcount_and_content_key_equal_pandas_groupby_and_frame_hash():
    """The ASB content key's parts: the occurrence number is groupby(keys).cumcount()
    (NaN, and float, where a key is missing; int where none is), and the key is
    hash_pandas_object of the parts as text in one frame - on random SYNTHETIC keys with
    repeats and missing coordinates."""
    from geo_api.data.ingest.parse import _cumcount, _key

    rng = np.random.default_rng(7)
    n = 2000
    for missing_share in (0.0, 0.1):
        lon = pd.Series(rng.choice(["-1.13", "-1.14", "-1.15"], n), dtype="str")
        lon[rng.random(n) < missing_share] = np.nan
        keys = [pd.Series(rng.choice(["2020-01", "2020-02"], n), dtype="str"), lon,
                pd.Series(rng.choice(["On or near A", "On or near B", ""], n), dtype="str"),
                pd.Series(rng.choice(["Anti-social behaviour", "Drugs"], n), dtype="str")]
        for k in keys:
            k.index = k.index + 5
        want = pd.concat(keys, axis=1).groupby(keys).cumcount()
        got = _cumcount(keys)
        assert got.dtype == want.dtype and got.index.equals(want.index)
        assert got.fillna(-1).tolist() == want.fillna(-1).tolist(), missing_share
        parts = [*keys, got]
        frame = pd.concat([per_distinct(p, str).reset_index(drop=True) for p in parts], axis=1)
        expected = hex64(pd.util.hash_pandas_object(frame, index=False).to_numpy()).tolist()
        assert _key(*parts).tolist() == expected
