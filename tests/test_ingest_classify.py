"""Classification of the synthetic force export, idempotence and re-publication updates."""

from pathlib import Path

import pandas as pd
import pytest

from geo_api.data.ingest.pipeline import ingest_bytes
from geo_api.data.store.base import OffenceFilter

CORPUS = Path(__file__).parent / "corpus"
COLS = ("source_id", "vrn_serious_violence", "knife_enabled", "under_25", "night_time_economy",
        "after_school", "sv_category", "crime_category", "has_location", "npa_code", "ward_code")


def rows(store) -> pd.DataFrame:
    df, _ = store.query_offences(OffenceFilter(), 1000, 0, COLS)
    return df.set_index("source_id")


@pytest.fixture
def fx(store, joins):
    ingest_bytes(store, joins, (CORPUS / "force_export_valid.csv").read_bytes(), "fx.csv")
    return rows(store)


# id: (vrn_sv, knife_enabled, under_25, nte, after_school, sv_category, crime_category)
EXPECTED = {
    "SYN-001": (True, True, False, True, False, "violence_with_injury", "Violence and sexual offences"),
    "SYN-002": (True, False, True, True, False, "robbery", "Robbery"),
    "SYN-003": (False, False, False, False, False, "violence_with_injury", "Violence and sexual offences"),
    "SYN-004": (False, False, False, False, False, "violence_with_injury", "Violence and sexual offences"),
    "SYN-005": (False, False, True, False, True, None, "Possession of weapons"),
    "SYN-006": (False, False, False, False, False, None, "Violence and sexual offences"),
    "SYN-007": (True, False, True, False, False, "violence_with_injury", "Violence and sexual offences"),
    "SYN-008": (True, True, None, True, False, "violence_with_injury", "Violence and sexual offences"),
    "SYN-009": (True, False, False, False, True, "robbery", "Robbery"),
    "SYN-010": (None, None, True, False, False, "homicide", "Violence and sexual offences"),
}


@pytest.mark.parametrize("oid", sorted(EXPECTED))
def test_force_export_classification(fx, oid):
    r = fx.loc[oid]
    got = (r.vrn_serious_violence, r.knife_enabled, r.under_25, r.night_time_economy,
           r.after_school, r.sv_category, r.crime_category)
    norm = tuple(None if pd.isna(v) else (bool(v) if isinstance(v, (bool, int)) or
                                          str(v) in ("True", "False") else v) for v in got)
    assert norm == EXPECTED[oid]


def test_no_location_row_is_kept(fx):
    assert not fx.loc["SYN-007", "has_location"] and pd.isna(fx.loc["SYN-007", "ward_code"])
    assert fx.loc["SYN-001", "ward_code"] == "E05010463"  # Castle


def test_force_export_idempotent_and_revision_updates(store, joins):
    data = (CORPUS / "force_export_valid.csv").read_bytes()
    first = ingest_bytes(store, joins, data, "fx.csv")
    again = ingest_bytes(store, joins, data, "fx.csv")
    assert first.inserted == 10 and (again.inserted, again.updated, again.unchanged) == (0, 0, 10)
    assert again.dataset_version == first.dataset_version
    revised = data.replace(b"SYN-006,2020-04-22 10:00,8L,Harassment,460100,305100,N",
                           b"SYN-006,2020-04-22 10:00,8L,Harassment,460100,305100,Y")
    r = ingest_bytes(store, joins, revised, "fx-revised.csv")
    assert (r.inserted, r.updated) == (0, 1) and store.summary()["n_offences"] == 10


def test_police_uk_republication_updates_outcome_not_duplicates(store, joins):
    text = (CORPUS / "police_uk_valid.csv").read_text()
    first = ingest_bytes(store, joins, text.encode(), "2020-04.csv")
    lines = text.splitlines()
    old = lines[1].split(",")
    old[10] = "Offender given a caution"
    lines[1] = ",".join(old)
    r = ingest_bytes(store, joins, ("\n".join(lines) + "\n").encode(), "2020-04-republished.csv")
    assert (r.inserted, r.updated) == (0, 1)
    assert store.summary()["n_offences"] == first.inserted == 40
