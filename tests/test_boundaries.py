"""Shipped layers, the postcode-sector derivation and user NPA files."""

import json

import geopandas as gpd
import pytest
import shapely

from geo_api.data.boundaries import load_boundaries
from geo_api.data.boundaries_build import derive_postcode_sectors, read_lsoas, read_postcodes
from geo_api.errors import BoundaryError
from geo_api.settings import PROJECT_ROOT

SRC = PROJECT_ROOT / "boundaries" / "sources"


def test_shipped_layer_sizes_and_flags(boundaries):
    sizes = {n: len(lyr.gdf) for n, lyr in boundaries.layers.items()}
    assert sizes["ward"] == 21 and sizes["lsoa"] == 611 and sizes["lad"] == 9
    assert sizes["oa"] == 969 and sizes["npa"] == 4
    assert boundaries.get("npa").meta["approximate"] and boundaries.get("sector").meta["approximate"]
    assert not boundaries.get("ward").meta["approximate"]
    assert boundaries.get("lad").gdf["population"].sum() == boundaries.get("lsoa").gdf["population"].sum()


@pytest.fixture(scope="module")
def derived_sectors():
    lsoa = read_lsoas(SRC)
    clip = shapely.union_all(lsoa.geometry.values, grid_size=0.01)
    pcs = read_postcodes(SRC)
    return derive_postcode_sectors(pcs, clip), pcs, clip


def test_sectors_tile_the_clip_area_without_overlap(derived_sectors):
    sectors, _, clip = derived_sectors
    total = sectors.area.sum()
    union = shapely.union_all(sectors.geometry.values)
    assert abs(total - clip.area) / clip.area < 1e-6  # areas add up: no overlaps, no gaps
    assert shapely.symmetric_difference(union, clip).area / clip.area < 1e-6


def test_every_postcode_lies_in_its_own_sector(derived_sectors):
    sectors, pcs, clip = derived_sectors
    pcs = pcs[(pcs.x_m > 0)].copy()
    pcs["sector"] = pcs.postcode.str.replace(" ", "").str[:-3] + " " + pcs.postcode.str.replace(" ", "").str[-3]
    # Postcodes sharing a grid reference with a majority of another sector are documented
    # exceptions (one Voronoi cell per point); every other postcode must be in its sector.
    # owner of a grid reference: its most frequent sector (ties: the first sector by name)
    n = pcs.groupby(["x_m", "y_m", "sector"]).size().rename("n").reset_index()
    owner = (n.sort_values(["x_m", "y_m", "n", "sector"], ascending=[True, True, False, True])
             .drop_duplicates(["x_m", "y_m"]).set_index(["x_m", "y_m"])["sector"])
    pcs = pcs.join(owner.rename("owner"), on=["x_m", "y_m"])
    pts = gpd.GeoDataFrame(pcs, geometry=gpd.points_from_xy(pcs.x_m, pcs.y_m), crs=27700)
    pts = pts[pts.within(clip)]
    j = gpd.sjoin(pts, sectors[["code", "geometry"]], predicate="intersects")
    ok = (j["code"] == j["owner"]).groupby(level=0).any()
    assert len(ok) == len(pts) and ok.all()
    # Measured on Code-Point 2018-07: 98.56% of postcodes own their grid reference.
    assert (pts["sector"] == pts["owner"]).mean() > 0.98


def test_user_npa_file_replaces_the_approximate_layer(tmp_path, boundaries):
    wards = boundaries.get("ward").gdf
    mine = gpd.GeoDataFrame({"npa_id": ["A", "B"], "label": ["North", "South"]},
                            geometry=[shapely.union_all(wards.geometry.values[:10]),
                                      shapely.union_all(wards.geometry.values[10:])], crs=27700)
    path = tmp_path / "npa.gpkg"
    mine.to_file(path)
    b = load_boundaries(PROJECT_ROOT / "boundaries", path, "npa_id", "label")
    npa = b.get("npa")
    assert npa.gdf["code"].tolist() == ["A", "B"] and not npa.meta["approximate"]
    assert b.version != boundaries.version


def test_user_npa_file_with_wrong_fields_is_a_clear_error(tmp_path):
    path = tmp_path / "npa.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"x": 1},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}]}))
    with pytest.raises(BoundaryError, match="missing field"):
        load_boundaries(PROJECT_ROOT / "boundaries", path, "code", "name")
