"""Settings: environment variables with the GEO_API_ prefix, validated by pydantic."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime configuration (env prefix ``GEO_API_``)."""

    model_config = SettingsConfigDict(env_prefix="GEO_API_", extra="forbid")

    store_dir: Path = Field(PROJECT_ROOT / "var" / "store", description="Embedded store directory")
    database_url: str | None = Field(None, description="PostgreSQL + PostGIS URL "
                                     "(postgresql://user@host/db): the offence store there "
                                     "instead of the embedded DuckDB store")
    database_pool_size: int = Field(10, ge=1, le=200, description="Most pooled reader "
                                    "connections per API process (PostGIS store)")
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
    max_backtest_scores: float = Field(1.5e7, gt=0, description="Work budget: a backtest's "
                                       "unit scores (units x folds x method scores per fold, "
                                       "the ensemble's 20 candidates included); force H3 r9 "
                                       "over 36 months is about 2.5e7")
    max_kde_work: float = Field(2e9, description="Work budget: KDE points x kernel "
                                                 "footprint cells")
    ingest_workers: int = Field(2, ge=1, le=64, description="Processes preparing (parsing, "
                                "validating, joining) files in parallel during a command-line "
                                "ingest of several files; the write stays one at a time")
    max_heavy_requests: int = Field(2, ge=1, description="Analyses and maps computed at once "
                                                         "per process; more wait (see below)")
    heavy_wait_s: float = Field(5, ge=0, le=60, description="How long a request waits for a "
                                "free slot before it gets 503 (0: 503 at once)")
    max_heavy_waiting: int = Field(32, ge=0, description="Requests waiting for a slot at "
                                   "once; more get 503 at once (bounds the queue)")
    max_export_requests: int = Field(2, ge=1, description="Exports of more than 1,000 "
                                     "offence records (CSV, GeoParquet, GeoJSON pages) sent "
                                     "at once per process, each until its last byte; more "
                                     "wait and are refused as analyses are (heavy_wait_s, "
                                     "max_heavy_waiting)")
    cors_origins: list[str] = Field(
        default_factory=list, description="Web origins (https://host:port) whose pages may call "
        "the API from a browser (CORS); preflights from any other origin are refused. "
        "Default: none")
    anonymous_writes: bool = Field(
        False, description="Anonymous callers may upload, replace and delete site sets and "
        "partner indicators (they all share one owner, so each can delete the others'); off "
        "unless set, and set by `geo_api serve` for its single-user loopback default")
    aggregates_only: bool = Field(
        False, description="If true, endpoints never return individual offence points"
    )
    page_cache_bytes: int = Field(200_000_000, ge=0, description="Built map pages kept in "
                                                                 "memory (bytes)")
    request_timeout_s: float = Field(10, gt=0, description="A request's time cap, seconds: its "
                                     "work stops at its next step after this and it is "
                                     "answered 504 (work budgets refuse most requests that "
                                     "would take longer at once, with a 422)")
    warm_up: bool = Field(True, description="After start and after each ingest, compute the "
                          "landing page's maps in the background (as the anonymous caller), "
                          "so their first request is answered from memory")
    warm_up_check_s: float = Field(30, gt=0, description="How often the warm-up looks for a "
                                   "new dataset version, seconds")
    # --- who may see and change what (README "Access, disclosure and audit") ---
    anonymous_role: Literal["none", "public", "partner", "analyst"] = Field(
        "public", description="Role of requests without credentials (none: refuse them). "
                              "`geo_api serve` on 127.0.0.1 with only police.uk data uses "
                              "analyst unless this is set")
    anonymous_role_auto: bool = Field(
        False, description="Set by `geo_api serve` when it chose the anonymous role itself "
                           "(loopback): then anonymous callers drop to public as soon as "
                           "force-export records are loaded")
    keys_file: Path | None = Field(None, description="API keys (hashed); default "
                                                     "<store_dir>/../auth/keys.json")
    audit_dir: Path | None = Field(None, description="Audit log directory (JSON lines); "
                                                     "default <store_dir>/../audit")
    audit_max_bytes: int = Field(20_000_000, ge=10_000, description="Rotate the audit log "
                                                                    "at this size")
    audit_backups: int = Field(50, ge=1, description="Rotated audit files kept")
    oidc_issuer: str | None = Field(None, description="OpenID Connect issuer (iss) of "
                                                      "bearer tokens; enables OIDC")
    oidc_audience: str | None = Field(None, description="Expected audience (aud)")
    oidc_jwks_url: str | None = Field(None, description="The identity provider's JWKS URL")
    oidc_jwks_file: Path | None = Field(None, description="A JWKS file instead of the URL "
                                                          "(air-gapped deployments)")
    oidc_roles_claim: str = Field("roles", description="Claim holding role names (dotted "
                                                       "path, e.g. realm_access.roles)")
    oidc_role_prefix: str = Field("", description="Prefix of role names in that claim, "
                                                  "e.g. geo_api. for geo_api.analyst")
    oidc_algorithms: str = Field("RS256,ES256", description="Accepted signature algorithms")
    # --- disclosure control for the public role ---
    disclosure_k: int = Field(5, ge=2, description="Public: counts 1..k-1 are suppressed")
    disclosure_round_to: int = Field(5, ge=1, description="Public: other counts rounded to a "
                                                          "multiple of this")
    disclosure_min_unit_km2: float = Field(0.05, gt=0, description="Public: smallest "
                                                                   "analysis unit / bbox area")
    disclosure_min_bbox_km2: float = Field(1.0, gt=0, description="Public: smallest bbox")
    disclosure_min_bandwidth_m: float = Field(300, gt=0, description="Public: KDE bandwidth "
                                                                     "floor")
    disclosure_min_kde_cell_m: float = Field(100, gt=0, description="Public: KDE cell floor")
    disclosure_min_centre_n: int = Field(20, ge=3, description="Public: mean centres and "
                                         "ellipses only for selections of at least this many "
                                         "offences")
    disclosure_centre_grid_m: float = Field(250, gt=0, description="Public: centres, axes "
                                            "and shifts rounded to this many metres")

    @property
    def keys_path(self) -> Path:
        return self.keys_file or self.store_dir.parent / "auth" / "keys.json"

    @property
    def audit_path(self) -> Path:
        return self.audit_dir or self.store_dir.parent / "audit"

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and (self.oidc_jwks_url or self.oidc_jwks_file))
