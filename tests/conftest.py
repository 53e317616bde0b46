"""Shared fixtures. Index building (~10 s) and the demo load happen once per session."""

from __future__ import annotations

import os
from pathlib import Path

# Tests call the API anonymously as an analyst (the run command's loopback default);
# tests/test_access.py covers every role, keys, tokens and anonymous public / none.
os.environ.setdefault("GEO_API_ANONYMOUS_ROLE", "analyst")
# ... who may upload and delete site sets as the run command's single loopback user does
# (tests/test_access.py checks that anonymous writes are refused without it)
os.environ.setdefault("GEO_API_ANONYMOUS_WRITES", "true")

import pytest

from geo_api.data.boundaries import load_boundaries
from geo_api.settings import PROJECT_ROOT, Settings

DEMO_DIR = PROJECT_ROOT / "data" / "demo"


@pytest.fixture(scope="session")
def boundaries():
    return load_boundaries(PROJECT_ROOT / "boundaries")


@pytest.fixture(scope="session")
def joins(boundaries):
    from geo_api.data.ingest.pipeline import build_join_indexes

    return build_join_indexes(boundaries)


@pytest.fixture
def store(tmp_path):
    from geo_api.data.store.duckdb_store import DuckDBStore

    s = DuckDBStore(tmp_path / "store")
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory) -> Settings:
    """Settings whose store holds all shipped demo months (loaded once)."""
    store_dir = tmp_path_factory.mktemp("demo") / "store"
    return Settings(store_dir=store_dir)


@pytest.fixture(scope="session")
def demo_service(demo_settings, joins):
    from geo_api.services.service import Service

    svc = Service(demo_settings)
    svc._joins = joins  # reuse the session's indexes (same boundaries)
    svc.ingest_paths(svc.demo_files(), progress=False)
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def client(demo_service, demo_settings):
    from fastapi.testclient import TestClient

    from geo_api.web.app import create_app

    with TestClient(create_app(demo_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def public(demo_service, demo_settings, tmp_path_factory):
    """(a client whose anonymous callers are ``public``, a partner's API key) on the demo
    store: disclosure control as the public meets it, and the same app without it."""
    from fastapi.testclient import TestClient

    from geo_api.data.keys import KeyStore
    from geo_api.web.app import create_app

    tmp = tmp_path_factory.mktemp("public")
    settings = Settings(store_dir=demo_settings.store_dir, keys_file=tmp / "keys.json",
                        audit_dir=tmp / "audit", anonymous_role="public")
    partner = KeyStore(settings.keys_path).create("partner", "partner")[0]
    with TestClient(create_app(settings)) as c:
        yield c, partner


def demo_csvs() -> list[Path]:
    return sorted((DEMO_DIR / "police_uk").glob("*.csv"))


# SYNTHETIC timed offences (force-export format) for time-window tests: invented points and
# times, not real offences. An after-school cluster in the east, a late-night cluster in the
# centre, and a background spread over the city at all hours.
AFTER_SCHOOL_CENTRE_M = (461000.0, 305500.0)
LATE_NIGHT_CENTRE_M = (458900.0, 304500.0)


def write_synthetic_timed_export(path: Path, seed: int = 7) -> Path:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    parts = []
    for centre, n, hours in ((AFTER_SCHOOL_CENTRE_M, 250, np.arange(15, 19)),
                             (LATE_NIGHT_CENTRE_M, 250, np.array([22, 23, 0, 1])),
                             (None, 900, np.arange(24))):
        if centre is None:
            x, y = rng.uniform(455500, 462500, n), rng.uniform(300500, 308000, n)
        else:
            x, y = centre[0] + rng.normal(0, 120, n), centre[1] + rng.normal(0, 120, n)
        day = pd.Timestamp("2020-04-01") + pd.to_timedelta(rng.integers(0, 91, n), unit="D")
        t = day + pd.to_timedelta(rng.choice(hours, n), unit="h") + pd.to_timedelta(
            rng.integers(0, 60, n), unit="min")
        parts.append(pd.DataFrame({"easting": x.round(), "northing": y.round(), "t": t}))
    df = pd.concat(parts, ignore_index=True)
    out = pd.DataFrame({
        "offence_id": [f"SYN-T{i:05d}" for i in range(len(df))],
        "offence_datetime": df["t"].dt.strftime("%Y-%m-%d %H:%M"),
        "ho_code": "8N", "ho_description": "Assault with injury",
        "easting": df["easting"].astype(int), "northing": df["northing"].astype(int),
        "public_place": "Y", "domestic": "N"})
    out.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def timed_settings(tmp_path_factory, joins) -> Settings:
    """A store holding only the SYNTHETIC timed force export above."""
    from geo_api.services.service import Service

    root = tmp_path_factory.mktemp("timed")
    settings = Settings(store_dir=root / "store")
    svc = Service(settings)
    svc._joins = joins
    svc.ingest_paths([write_synthetic_timed_export(root / "synthetic_timed_export.csv")],
                     progress=False)
    svc.close()
    return settings


@pytest.fixture(scope="session")
def timed_client(timed_settings):
    from fastapi.testclient import TestClient

    from geo_api.web.app import create_app

    with TestClient(create_app(timed_settings)) as c:
        yield c
