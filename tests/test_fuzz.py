"""Schemathesis against the app (bounded for CI): every operation, schema-generated requests,
every check except positive-data acceptance, 0 server errors. Data-dependent refusals
(a period with no loaded data, a work budget) are 422s for schema-valid requests by design,
which is why positive-data acceptance is left out. A longer run: scripts/fuzz.sh."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from conftest import demo_store_copy
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from geo_api.data.keys import KeyStore
from geo_api.settings import Settings
from geo_api.web.app import create_app

EXAMPLES = int(os.environ.get("GEO_API_FUZZ_EXAMPLES", "2"))
TMP = Path(tempfile.mkdtemp(prefix="geo_api_fuzz_"))
# anonymous callers refused: every case carries an admin key, and Schemathesis' auth check
# (the same request without credentials must be refused) runs on every operation
SETTINGS = Settings(store_dir=TMP / "store", keys_file=TMP / "keys.json",
                    audit_dir=TMP / "audit", anonymous_role="none")
ADMIN_KEY = KeyStore(SETTINGS.keys_path).create("admin", "fuzz")[0]
APP = create_app(SETTINGS)
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def loaded_app(joins, tmp_path_factory):
    """The shipped demo data in the fuzzed app's store (a copy of the test run's demo
    store, tests/conftest.py); the app's lifespan running."""
    demo_store_copy(tmp_path_factory, joins, SETTINGS.store_dir)
    with TestClient(APP):
        yield


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)
def test_schema_fuzz(case):
    case.call_and_validate(headers={"X-API-Key": ADMIN_KEY},
                           excluded_checks=[positive_data_acceptance])
