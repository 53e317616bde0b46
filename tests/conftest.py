"""Shared fixtures. Index building (~10 s) and the demo load happen once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo_api.boundaries import load_boundaries
from geo_api.settings import PROJECT_ROOT, Settings

DEMO_DIR = PROJECT_ROOT / "data" / "demo"


@pytest.fixture(scope="session")
def boundaries():
    return load_boundaries(PROJECT_ROOT / "boundaries")


@pytest.fixture(scope="session")
def joins(boundaries):
    from geo_api.ingest.pipeline import build_join_indexes

    return build_join_indexes(boundaries)


@pytest.fixture
def store(tmp_path):
    from geo_api.store.duckdb_store import DuckDBStore

    s = DuckDBStore(tmp_path / "store")
    yield s
    s.close()


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory) -> Settings:
    """Settings whose store holds all shipped demo months (loaded once)."""
    store_dir = tmp_path_factory.mktemp("demo") / "store"
    return Settings(store_dir=store_dir, cache_dir=store_dir.parent / "cache")


@pytest.fixture(scope="session")
def demo_service(demo_settings, joins):
    from geo_api.service import Service

    svc = Service(demo_settings)
    svc._joins = joins  # reuse the session's indexes (same boundaries)
    svc.ingest_paths(svc.demo_files(), progress=False)
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def client(demo_service, demo_settings):
    from fastapi.testclient import TestClient

    from geo_api.app import create_app

    with TestClient(create_app(demo_settings)) as c:
        yield c


def demo_csvs() -> list[Path]:
    return sorted((DEMO_DIR / "police_uk").glob("*.csv"))
