"""Settings: environment variables with the GEO_API_ prefix, validated by pydantic."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime configuration (env prefix ``GEO_API_``)."""

    model_config = SettingsConfigDict(env_prefix="GEO_API_", extra="forbid")

    store_dir: Path = Field(PROJECT_ROOT / "var" / "store", description="Embedded store directory")
    boundaries_dir: Path = Field(PROJECT_ROOT / "boundaries", description="Shipped boundary layers")
    demo_dir: Path = Field(PROJECT_ROOT / "data" / "demo", description="Shipped demo data")
    npa_file: Path | None = Field(
        None, description="User NPA polygons (GeoJSON/GeoPackage/shapefile) replacing the approximate layer"
    )
    npa_code_field: str = Field("code", description="Code field in npa_file")
    npa_name_field: str = Field("name", description="Name field in npa_file")
    sites_file: Path = Field(PROJECT_ROOT / "data" / "demo" / "sites" /
                             "gias_open_establishments_LLR_2025-05-24.csv",
                             description="Candidate sites CSV: establishment_name (or name) and "
                                         "easting/northing (EPSG:27700) or longitude/latitude")
    osm_file: Path | None = Field(
        None, description="OpenStreetMap extract (.osm.pbf or .osm) of the area, for walking "
                          "distances in kit coverage and siting (distance=walking)")
    max_units: int = Field(250_000, description="Work budget: analysis units per request")
    max_neighbour_pairs: int = Field(5_000_000, description="Work budget: neighbour pairs "
                                                           "(units x neighbours)")
    max_permutation_work: float = Field(3e9, description="Work budget: neighbour pairs x "
                                                          "permutations x periods")
    max_kde_work: float = Field(2e9, description="Work budget: KDE points x kernel "
                                                 "footprint cells")
    max_heavy_requests: int = Field(2, ge=1, description="Analyses and maps computed at once "
                                                         "per process; more get 503")
    aggregates_only: bool = Field(
        False, description="If true, endpoints never return individual offence points"
    )
