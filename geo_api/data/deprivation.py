"""Area profiles for People Zone ranking: IoD 2019 ranks, mid-2015 populations and Census
2021 ages, per LSOA 2011 and summed into any boundary layer by best fit.

Sources (``boundaries/sources/population``, OGL v3): IoD2019 File 2 (IMD and the seven
domain ranks; rank 1 = most deprived of 32,844 LSOAs in England) and File 6 (mid-2015
population denominators); Census 2021 usual residents by age band per LSOA 2021, moved to
LSOA 2011 with the APPROXIMATE Leicester crosswalk (splits summed; the one 3->3 redraw in
MSOA Leicester 040 shared out by mid-2015 population). Census ages exist for Leicester
city LSOAs only.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

DOMAIN_COLUMNS = {
    "imd_rank": "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)",
    "income_rank": "Income Rank (where 1 is most deprived)",
    "employment_rank": "Employment Rank (where 1 is most deprived)",
    "education_rank": "Education, Skills and Training Rank (where 1 is most deprived)",
    "health_rank": "Health Deprivation and Disability Rank (where 1 is most deprived)",
    "crime_rank": "Crime Rank (where 1 is most deprived)",
    "housing_rank": "Barriers to Housing and Services Rank (where 1 is most deprived)",
    "living_environment_rank": "Living Environment Rank (where 1 is most deprived)",
}
N_LSOA_ENGLAND = 32844
AGE_BANDS = {"Aged 15 years and under": "census21_age_0_15",
             "Aged 16 to 24 years": "census21_age_16_24"}
PROFILE_NOTE = ("IoD 2019 ranks (1 = most deprived of 32,844 LSOAs in England) and mid-2015 "
                "populations per LSOA 2011; areas of other layers take the population-weighted "
                "mean rank of the LSOAs whose point-on-surface lies in them (best fit). Census "
                "2021 ages via an APPROXIMATE LSOA 2021->2011 crosswalk (Leicester city only).")


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.astype(str).str.replace(",", ""), errors="coerce")


@lru_cache(maxsize=2)
def lsoa_profile(population_dir: Path) -> pd.DataFrame:
    """Per LSOA 2011 code: IoD ranks, mid-2015 population (total, 0-15) and Census 2021
    residents (total, 0-15, 16-24; NaN outside the crosswalk)."""
    d = Path(population_dir)
    dom = pd.read_csv(next(d.glob("File_2_*Domains*.csv")))
    out = pd.DataFrame({"code": dom["LSOA code (2011)"]})
    for k, col in DOMAIN_COLUMNS.items():
        out[k] = _num(dom[col])
    den = pd.read_csv(next(d.glob("File_6_*Denominators*.csv")))
    den = pd.DataFrame({
        "code": den["LSOA code (2011)"],
        "population_2015": _num(den["Total population: mid 2015 (excluding prisoners)"]),
        "population_0_15_2015": _num(
            den["Dependent Children aged 0-15: mid 2015 (excluding prisoners)"])})
    out = out.merge(den, on="code", how="left", validate="one_to_one")
    return out.merge(_census21_on_2011(d, out), on="code", how="left",
                     validate="one_to_one").set_index("code")


def _census21_on_2011(d: Path, lsoa11: pd.DataFrame) -> pd.DataFrame:
    ages = pd.read_csv(next(d.glob("census2021_usual_residents_by_age6_lsoa21*.csv")))
    wide = ages.pivot_table(index="lsoa21_code", columns="age_group",
                            values="usual_residents", aggfunc="sum")
    wide = pd.DataFrame({"census21_total": wide.sum(axis=1),
                         **{v: wide[k] for k, v in AGE_BANDS.items()}})
    xw = pd.read_csv(next(d.glob("leicester_lsoa21_to_lsoa11_crosswalk*.csv")))
    j = xw.merge(wide, left_on="lsoa21_code", right_index=True, how="left")
    cols = ["census21_total", *AGE_BANDS.values()]
    direct = j[~j["lsoa11_code_or_group"].str.startswith("GROUP_")]
    out = direct.groupby("lsoa11_code_or_group")[cols].sum()
    names = pd.read_csv(next(d.glob("File_2_*Domains*.csv")),
                        usecols=["LSOA code (2011)", "LSOA name (2011)"])
    by_name = dict(zip(names["LSOA name (2011)"], names["LSOA code (2011)"]))
    pop = lsoa11.set_index("code")["population_2015"]
    for group, rows in j[j["lsoa11_code_or_group"].str.startswith("GROUP_")].groupby(
            "lsoa11_code_or_group"):
        parts = group.split("_")[1:]  # GROUP_040A_040B_040D -> Leicester 040A, ...
        codes = [by_name[f"Leicester {p}"] for p in parts]
        share = pop.loc[codes] / pop.loc[codes].sum()
        for c in codes:
            out.loc[c] = rows[cols].sum() * share[c]
    out.index.name = "code"
    return out.reset_index()


def best_fit(lsoa: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> pd.Series:
    """Area code of each LSOA (index: LSOA code) whose point-on-surface lies in the area."""
    pts = lsoa[["code", "geometry"]].set_geometry(lsoa.geometry.representative_point())
    j = gpd.sjoin(pts, areas[["code", "geometry"]].rename(columns={"code": "area"}),
                  predicate="within", how="inner")
    return j.drop_duplicates("code").set_index("code")["area"]


def area_profile(profile: pd.DataFrame, lsoa: gpd.GeoDataFrame, areas: gpd.GeoDataFrame,
                 same_layer: bool = False) -> pd.DataFrame:
    """Profile per area of ``areas``: sums of populations and Census counts (NaN when any of
    the area's LSOAs has none), population-weighted mean ranks, and ``n_lsoa``."""
    fit = (pd.Series(profile.index, index=profile.index) if same_layer
           else best_fit(lsoa, areas))
    p = profile.join(fit.rename("area"), how="inner")
    w = p["population_2015"].fillna(0)
    rows = {}
    for area, g in p.groupby("area"):
        wg = w.loc[g.index]
        rec = {"n_lsoa": len(g), "population_2015": g["population_2015"].sum(),
               "population_0_15_2015": g["population_0_15_2015"].sum()}
        for k in DOMAIN_COLUMNS:
            rec[k] = float(np.average(g[k], weights=wg)) if wg.sum() > 0 else np.nan
        for k in ("census21_total", *AGE_BANDS.values()):
            rec[k] = g[k].sum() if g[k].notna().all() else np.nan
        rows[area] = rec
    return pd.DataFrame.from_dict(rows, orient="index").reindex(areas["code"])
