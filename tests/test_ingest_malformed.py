"""Every malformed file gives a clear error naming line/field and leaves the store unchanged."""

from pathlib import Path

import pytest

from geo_api.data.ingest.pipeline import ingest_bytes
from geo_api.errors import IngestRejected

CORPUS = Path(__file__).parent / "corpus"
BAD = CORPUS / "malformed"

# file, ingest options, expected line (None = file-level), expected field, message regex
CASES = [
    ("puk_missing_column.csv", {}, 1, "Context", "missing required column"),
    ("puk_extra_column.csv", {}, 1, "Notes", "unexpected column"),
    ("puk_duplicate_column.csv", {}, 1, "Crime type", "duplicate column"),
    ("puk_bad_month.csv", {}, 3, "Month", "expected YYYY-MM$"),
    ("puk_excel_month_mmmyy.csv", {}, 3, "Month", "spreadsheet"),
    ("puk_excel_month_ddmmyyyy.csv", {}, 2, "Month", "spreadsheet"),
    ("puk_excel_month_datetime.csv", {}, 4, "Month", "spreadsheet"),
    ("puk_swapped_latlon.csv", {}, 3, "Longitude/Latitude", "swapped"),
    ("puk_one_coordinate.csv", {}, 3, "Longitude/Latitude", "only one coordinate"),
    ("puk_non_numeric_coordinate.csv", {}, 2, "Longitude", "not a number"),
    ("puk_outside_force_area.csv", {"outside_area": "reject"}, 3, "Longitude/Latitude",
     "outside the force area"),
    ("puk_duplicate_crime_id.csv", {}, 4, "Crime ID", r"duplicate id \(first seen on line 2\)"),
    ("puk_unknown_crime_type.csv", {}, 3, "Crime type", "unknown police.uk crime type"),
    ("puk_ragged_row.csv", {}, 3, None, "not a valid CSV row"),
    ("puk_not_utf8.csv", {}, 3, None, "not UTF-8"),
    ("empty.csv", {}, None, None, "empty"),
    ("puk_header_only.csv", {}, None, None, "no rows"),
    ("unrecognised_header.csv", {}, 1, None, "unrecognised header"),
    ("fx_bad_datetime.csv", {}, 3, "offence_datetime", "ISO 8601"),
    ("fx_future_date.csv", {}, 3, "offence_datetime", "future"),
    ("fx_bad_flag.csv", {}, 3, "knife_sharp_instrument", "Y/N"),
    ("fx_bad_age.csv", {}, 3, "victim_age", "whole number"),
    ("fx_blank_offence_id.csv", {}, 3, "offence_id", "blank"),
    ("fx_duplicate_offence_id.csv", {}, 4, "offence_id", "duplicate id"),
    ("fx_missing_coordinate_columns.csv", {}, 1, "easting/northing", "missing coordinate columns"),
    ("fx_not_bng.csv", {}, 3, "easting/northing", "British National Grid"),
    ("fx_outside_force_area.csv", {}, 3, "easting/northing", "outside the force area"),
    ("fx_blank_ho_code.csv", {}, 3, "ho_code", "blank"),
]


def test_corpus_is_complete():
    assert {c[0] for c in CASES} == {p.name for p in BAD.glob("*.csv")}
    assert len(CASES) >= 15


@pytest.fixture
def loaded_store(store, joins):
    ingest_bytes(store, joins, (CORPUS / "police_uk_valid.csv").read_bytes(), "valid.csv")
    return store


@pytest.mark.parametrize("name, opts, line, field, pattern", CASES, ids=[c[0] for c in CASES])
def test_malformed_file_is_rejected_and_store_unchanged(loaded_store, joins, name, opts, line,
                                                        field, pattern):
    before = loaded_store.summary()
    snaps = sorted(p.name for p in loaded_store.dir.glob("snap-*"))
    with pytest.raises(IngestRejected) as info:
        ingest_bytes(loaded_store, joins, (BAD / name).read_bytes(), name, **opts)
    err = info.value
    assert any(e.line == line and e.field == field and __import__("re").search(pattern, e.message)
               for e in err.errors), [str(e) for e in err.errors]
    assert name in err.user_msg and "store unchanged" in err.user_msg
    assert loaded_store.summary() == before
    assert sorted(p.name for p in loaded_store.dir.glob("snap-*")) == snaps


def test_quarantine_loads_good_rows_and_keeps_bad_ones(loaded_store, joins):
    n0 = loaded_store.summary()["n_offences"]
    data = (BAD / "fx_bad_age.csv").read_bytes()
    report = ingest_bytes(loaded_store, joins, data, "fx_bad_age.csv", on_error="quarantine")
    assert (report.inserted, report.quarantined) == (1, 1)
    q = loaded_store.quarantine()
    assert q["line"].tolist() == [3] and q["field"].tolist() == ["victim_age"]
    assert loaded_store.summary()["n_offences"] == n0 + 1


def test_police_uk_outside_area_is_kept_with_a_warning_by_default(store, joins):
    r = ingest_bytes(store, joins, (BAD / "puk_outside_force_area.csv").read_bytes(), "o.csv")
    assert r.inserted == 2 and r.n_warnings == 1 and "outside the force area" in r.warnings[0]
