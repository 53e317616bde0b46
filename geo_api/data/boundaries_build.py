"""Derive the shipped boundary layers from the open sources in ``boundaries/sources``.

Re-runnable: ``geo_api build-boundaries`` rewrites ``boundaries/layers/``. Every step is
pure geometry on EPSG:27700; output is GeoJSON in EPSG:4326 (6 decimals, ~0.1 m).

Layers and methods (also in ``boundaries/README.md``):

- ``ward``: ONS Wards Dec 2022 (BGC), Leicester, as published.
- ``lsoa``: ONS LSOA 2011 (generalised) for the nine districts of the force area.
- ``lad``: local authority districts, dissolved from the LSOAs of each district file.
- ``oa``: ONS output areas 2011, Leicester only.
- ``sector``: postcode sectors DERIVED: Voronoi cells of Code-Point Open unit postcodes,
  dissolved by sector and clipped to the force area (APPROXIMATE).
- ``npa``: neighbourhood policing areas DISSOLVED from wards with the APPROXIMATE
  ward->NPA grouping (replace with your own polygons via ``GEO_API_NPA_FILE``).

Population: IoD2019 mid-2015 LSOA denominators (excluding prisoners). Wards, NPAs and
districts sum LSOAs by best fit (LSOA point-on-surface in the area, as in ONS best-fit
lookups); sectors use the Census 2011 population by postcode sector.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_api.crs import METRIC_EPSG, to_metric

LAD_NAMES = {
    "E06000016": "Leicester",
    "E06000017": "Rutland",
    "E07000129": "Blaby",
    "E07000130": "Charnwood",
    "E07000131": "Harborough",
    "E07000132": "Hinckley and Bosworth",
    "E07000133": "Melton",
    "E07000134": "North West Leicestershire",
    "E07000135": "Oadby and Wigston",
}
NPA_NAMES = {"NC": "Central", "NE": "East", "NW": "West", "NS": "South"}
COORD_DECIMALS = 6


def _num(s: pd.Series) -> pd.Series:
    """Parse numbers published with thousands separators ("2,001")."""
    return pd.to_numeric(s.astype(str).str.replace(",", "", regex=False), errors="raise")


def read_lsoas(src: Path) -> gpd.GeoDataFrame:
    """LSOA 2011 polygons of the force area with their district code, EPSG:27700."""
    frames = []
    for f in sorted((src / "ons_2011").glob("lsoa11_*.geojson")):
        g = gpd.read_file(f)
        g["lad_code"] = f.stem.split("_")[1]
        frames.append(g)
    g = to_metric(gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs))
    g = g.rename(columns={"LSOA11CD": "code", "LSOA11NM": "name"})
    g["geometry"] = shapely.make_valid(g.geometry.values)
    return g[["code", "name", "lad_code", "geometry"]]


def lsoa_attributes(src: Path) -> pd.DataFrame:
    """Population (mid-2015) and IMD 2019 rank/decile per LSOA 2011."""
    pop = pd.read_csv(next((src / "population").glob("File_6_*.csv")), dtype=str)
    imd = pd.read_csv(next((src / "population").glob("File_1_*.csv")), dtype=str)
    out = pd.DataFrame({
        "code": pop["LSOA code (2011)"],
        "population": _num(pop["Total population: mid 2015 (excluding prisoners)"]),
        "population_0_15": _num(pop["Dependent Children aged 0-15: mid 2015 (excluding prisoners)"]),
    })
    imd = pd.DataFrame({
        "code": imd["LSOA code (2011)"],
        "imd_rank": _num(imd["Index of Multiple Deprivation (IMD) Rank"]),
        "imd_decile": _num(imd["Index of Multiple Deprivation (IMD) Decile"]),
    })
    return out.merge(imd, on="code", how="outer", validate="one_to_one")


def best_fit_sum(lsoa: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> pd.DataFrame:
    """Sum LSOA population into ``areas`` by best fit (LSOA point-on-surface).

    Returns population, population_0_15 and the % of population living in IMD decile 1
    LSOAs, indexed by area code; areas no LSOA point falls in get NaN.
    """
    pts = lsoa.set_geometry(lsoa.geometry.representative_point())
    j = gpd.sjoin(pts, areas[["code", "geometry"]].rename(columns={"code": "area"}),
                  predicate="within", how="inner")
    j["pop_d1"] = np.where(j["imd_decile"] == 1, j["population"], 0)
    agg = j.groupby("area")[["population", "population_0_15", "pop_d1"]].sum()
    agg["pct_population_imd_decile_1"] = (100 * agg.pop("pop_d1") / agg["population"]).round(2)
    return agg


def derive_postcode_sectors(postcodes: pd.DataFrame, clip: shapely.Geometry) -> gpd.GeoDataFrame:
    """Postcode-sector polygons: Voronoi of unit postcodes, dissolved by sector, clipped.

    Parameters
    ----------
    postcodes : DataFrame with ``postcode``, ``x_m``, ``y_m`` (EPSG:27700, metres).
    clip : polygon (EPSG:27700) the sectors must tile.

    Returns
    -------
    GeoDataFrame (EPSG:27700) with ``code`` (e.g. ``"LE1 1"``), ``n_postcodes``.

    Notes
    -----
    Coincident postcodes (same grid reference) share one Voronoi cell; the cell goes to the
    sector most of them belong to (ties: smallest sector code), so a postcode that shares
    its point with a majority from another sector cannot lie in its own sector.
    """
    pc = postcodes.copy()
    pc["postcode"] = pc["postcode"].str.upper().str.replace(" ", "", regex=False)
    pc["sector"] = pc["postcode"].str[:-3] + " " + pc["postcode"].str[-3]
    # Grid reference (0, 0) is Code-Point's "no coordinates" marker.
    pc = pc[(pc["x_m"] > 0) & (pc["y_m"] > 0)]
    pts = (pc.groupby(["x_m", "y_m"])["sector"]
           .agg(lambda s: s.value_counts().sort_index().idxmax())
           .reset_index())
    mp = shapely.multipoints(np.column_stack([pts["x_m"], pts["y_m"]]))
    env = shapely.envelope(shapely.union(shapely.envelope(mp), shapely.envelope(clip))).buffer(5_000)
    cells = shapely.get_parts(shapely.voronoi_polygons(mp, extend_to=env, ordered=True))
    g = gpd.GeoDataFrame({"code": pts["sector"].values}, geometry=cells, crs=METRIC_EPSG)
    n = pc.groupby("sector").size()
    g = g.dissolve(by="code", as_index=False)
    g["geometry"] = shapely.intersection(g.geometry.values, clip)
    g = g[~g.geometry.is_empty].copy()
    g["geometry"] = shapely.make_valid(g.geometry.values)
    g["n_postcodes"] = g["code"].map(n).astype(int)
    g["name"] = g["code"]
    return g[["code", "name", "n_postcodes", "geometry"]].reset_index(drop=True)


def read_postcodes(src: Path) -> pd.DataFrame:
    """Code-Point Open unit postcodes (no header) as postcode, x_m, y_m."""
    cols = ["postcode", "pqi", "x_m", "y_m", "country", "nhs_region", "nhs_ha", "county",
            "district", "ward"]
    return pd.read_csv(next((src / "postcodes").glob("codepoint_open_*.csv")), header=None,
                       names=cols, dtype={"postcode": str})


def npa_from_wards(wards: gpd.GeoDataFrame, grouping: pd.DataFrame) -> gpd.GeoDataFrame:
    """Dissolve wards into NPAs with the (approximate) ward -> NPA prefix grouping."""
    w = wards.merge(grouping[["WD22CD", "police_area_prefix_GUESS"]], left_on="code",
                    right_on="WD22CD", how="left", validate="one_to_one")
    if w["police_area_prefix_GUESS"].isna().any():
        missing = ", ".join(w.loc[w["police_area_prefix_GUESS"].isna(), "code"])
        raise ValueError(f"wards without an NPA in the grouping: {missing}")
    g = w.dissolve(by="police_area_prefix_GUESS", as_index=False)
    g["code"] = g["police_area_prefix_GUESS"]
    g["name"] = g["code"].map(NPA_NAMES)
    g["wards"] = g["code"].map(w.groupby("police_area_prefix_GUESS")["name"].agg(", ".join))
    return g[["code", "name", "wards", "geometry"]]


def build_layers(src: Path) -> dict[str, gpd.GeoDataFrame]:
    """All shipped layers (EPSG:27700) with population/IMD attributes where defined."""
    lsoa = read_lsoas(src).merge(lsoa_attributes(src), on="code", how="left", validate="one_to_one")
    force_area = shapely.union_all(shapely.make_valid(lsoa.geometry.values), grid_size=0.01)

    lad = lsoa.dissolve(by="lad_code", as_index=False, aggfunc={"population": "sum"})
    lad = lad.rename(columns={"lad_code": "code"})
    lad["name"] = lad["code"].map(LAD_NAMES)

    wards = to_metric(gpd.read_file(src / "wards_2022_leicester.geojson"))
    wards = wards.rename(columns={"WD22CD": "code", "WD22NM": "name"})[["code", "name", "geometry"]]
    npa = npa_from_wards(wards, pd.read_csv(src / "police" / "ward_to_police_area_APPROXIMATE.csv"))

    oa = to_metric(gpd.read_file(src / "ons_2011" / "oa11_E06000016.geojson"))
    oa = oa.rename(columns={"OA11CD": "code"})
    oa["name"] = oa["code"]
    oa = oa[["code", "name", "geometry"]]
    oa["geometry"] = shapely.make_valid(oa.geometry.values)

    sector = derive_postcode_sectors(read_postcodes(src), force_area)
    spop = pd.read_csv(src / "population" / "census2011_population_LE_postcode_sectors.csv", dtype=str)
    spop["code"] = spop["Postcode"].str.split().str.join(" ")
    sector = sector.merge(pd.DataFrame({"code": spop["code"], "population": _num(spop["Population"])}),
                          on="code", how="left")

    for layer in (wards, npa):
        fit = best_fit_sum(lsoa, layer)
        for c in fit.columns:
            layer[c] = layer["code"].map(fit[c])
    lsoa_out = lsoa.drop(columns=["lad_code"])
    return {"npa": npa, "ward": wards, "sector": sector, "lsoa": lsoa_out, "lad": lad, "oa": oa}


def write_layers(layers: dict[str, gpd.GeoDataFrame], out: Path, meta: dict) -> None:
    """Write each layer as EPSG:4326 GeoJSON plus ``metadata.json``."""
    out.mkdir(parents=True, exist_ok=True)
    for name, g in layers.items():
        g = g.sort_values("code").reset_index(drop=True)
        g = g.to_crs(4326)
        g["geometry"] = shapely.set_precision(g.geometry.values, 10 ** -COORD_DECIMALS)
        g.to_file(out / f"{name}.geojson", driver="GeoJSON",
                  layer_options={"COORDINATE_PRECISION": str(COORD_DECIMALS), "RFC7946": "YES"})
    (out / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")
