"""Offence classification: VRN serious violence, knife-enabled, under-25, night-time economy.

VRN definition (Leicester Knife Crime and Serious Violence Strategy 2021-23): public-place
violence resulting in significant physical injury, all ages, Home Office counting-rule
types: murder, manslaughter, attempted murder, assault with intent to cause serious harm,
endangering life, assault with injury, racially or religiously aggravated assault with
injury, robbery of business property, robbery of personal property; excluding sexual
violence and violence in domestic settings. Knife-enabled: such offences flagged as
involving a knife or sharp instrument, or whose description mentions knife, stab, sharp,
blade or blunt. Possession of an article with a blade or point is NOT knife-enabled SV.

police.uk has no offence codes, flags, times or ages: only the coarse-category proxy group
``violence_robbery_weapons`` is available, with ``POLICE_UK_CAVEAT``.
"""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pandas as pd

NTE_START_HOUR = 22  # night-time economy window 22:00-05:00
NTE_END_HOUR = 5
UNDER_AGE = 25
PROXY_CATEGORIES = ("Violence and sexual offences", "Robbery", "Possession of weapons")
KNIFE_WORDS = r"\b(?:knife|knives|stab\w*|sharp|blade\w*|blunt)\b"

POLICE_UK_CAVEAT = (
    "police.uk categories are coarse: 'violence_robbery_weapons' (Violence and sexual offences, "
    "Robbery, Possession of weapons) is a PROXY for VRN serious violence. It includes violence "
    "without injury, sexual offences, domestic and non-public-place violence, and weapon "
    "possession; it cannot identify knife-enabled offences, ages or times. Locations are "
    "snapped to anonymised map points and dated to the month."
)

OFFENCE_GROUPS = {
    "all": "All offences",
    "violence_robbery_weapons": "police.uk proxy: Violence and sexual offences + Robbery + "
                                "Possession of weapons (any source)",
    "vrn_serious_violence": "VRN serious violence (force export rows with HO codes only)",
    "knife_enabled_serious_violence": "Knife-enabled VRN serious violence (force export only)",
}


def load_ho_codes() -> pd.DataFrame:
    """The shipped Home Office code table: ho_code, sv_category, crime_category, description."""
    text = resources.files("geo_api.data.ingest").joinpath("ho_codes.csv").read_text("utf-8")
    return pd.DataFrame(list(csv.DictReader(text.splitlines())))


def normalise_ho_code(codes: pd.Series) -> pd.Series:
    """Upper-case, strip spaces and leading zeros: ' 08n ' -> '8N', '034B' -> '34B'."""
    s = codes.astype("string").str.upper().str.replace(r"\s+", "", regex=True)
    return s.str.replace(r"^0+(?=\d)", "", regex=True)


def classify_police_uk(df: pd.DataFrame) -> pd.DataFrame:
    """Add classification columns for police.uk rows (proxy only; the rest unknown)."""
    out = df.copy()
    out["violence_robbery_weapons"] = out["crime_category"].isin(PROXY_CATEGORIES)
    for col in ("sv_category", "vrn_serious_violence", "knife_enabled", "under_25",
                "night_time_economy", "after_school"):
        out[col] = pd.NA
    out["classification_basis"] = "police_uk_category_proxy"
    return out


def _hour_flags(ts: pd.Series) -> tuple[pd.Series, pd.Series]:
    hour = ts.dt.hour
    nte = (hour >= NTE_START_HOUR) | (hour < NTE_END_HOUR)
    after_school = (hour >= 15) & (hour < 19)
    return nte.astype("boolean"), after_school.astype("boolean")


def classify_force(df: pd.DataFrame, ho_codes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Add VRN classification columns to validated force-export rows."""
    table = (ho_codes if ho_codes is not None else load_ho_codes()).set_index("ho_code")
    out = df.copy()
    code = normalise_ho_code(out["ho_code"])
    out["ho_code"] = code
    out["sv_category"] = code.map(table["sv_category"].replace("", np.nan)).astype("string")
    derived = code.map(table["crime_category"]).fillna("Other crime")
    given = out["crime_category"].astype("string")
    out["crime_category"] = given.where(given.notna() & (given != ""), derived)
    is_sv_type = out["sv_category"].notna()
    public = out["public_place"].astype("boolean")
    domestic = out["domestic"].astype("boolean")
    # Strict: a public place must be known; a domestic flag excludes.
    sv = is_sv_type & public.fillna(False) & ~domestic.fillna(False)
    sv = sv.astype("boolean").mask(is_sv_type & public.isna(), pd.NA)
    out["vrn_serious_violence"] = sv
    words = out["ho_description"].astype("string").str.contains(KNIFE_WORDS, case=False, regex=True)
    knife = out["knife_sharp_instrument"].astype("boolean").fillna(False) | words.fillna(False)
    out["knife_enabled"] = (sv & knife).astype("boolean")
    ages = out[["victim_age", "suspect_age"]].astype("Float64")
    under = (ages < UNDER_AGE).any(axis=1)
    out["under_25"] = under.astype("boolean").mask(ages.isna().all(axis=1), pd.NA)
    out["night_time_economy"], out["after_school"] = _hour_flags(out["occurred_at"])
    out["violence_robbery_weapons"] = out["crime_category"].isin(PROXY_CATEGORIES)
    out["classification_basis"] = "ho_code"
    return out
