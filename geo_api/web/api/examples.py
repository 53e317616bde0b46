"""Response examples for the OpenAPI document, keyed by operationId.

``examples.json`` holds real responses of the shipped demo data (lists cut to a few items,
polygons replaced by their bounding box), made by ``python scripts/make_examples.py``; each
entry records the request that produced it. ``tests/test_openapi_contract.py`` re-runs
every request and checks the live response and the example against the response model.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from geo_api.web.exception_handlers import is_page

EXAMPLES_FILE = Path(__file__).with_name("examples.json")


@lru_cache(maxsize=1)
def load_examples() -> dict:
    return json.loads(EXAMPLES_FILE.read_text()) if EXAMPLES_FILE.exists() else {}


def add_examples(schema: dict) -> dict:
    """Put each operation's example on its success response (first content type);
    idempotent."""
    examples = load_examples()
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            entry = examples.get(op.get("operationId"))
            ok = next((c for c in op.get("responses", {}) if c.startswith("2")), None)
            content = op["responses"][ok].get("content", {}) if ok else {}
            if entry and content:
                first = next(iter(content.values()))
                first.setdefault("example", entry["example"])
    return schema


def honest_errors(schema: dict) -> dict:
    """Declare error responses as they are sent: the one ``ErrorBody`` JSON shape for API
    paths (FastAPI would otherwise document them in the route's media type, e.g. GeoJSON,
    and 422 as its own HTTPValidationError), a plain HTML page for map pages; idempotent."""
    body = {"$ref": "#/components/schemas/ErrorBody"}
    common = {"404": "Unknown layer, site set or path",
              "409": "The store has no data yet",
              "503": "Busy (another ingest writing, or all analysis slots taken): retry "
                     "after the Retry-After seconds"}
    for path, ops in schema.get("paths", {}).items():
        for op in ops.values():
            responses = op.get("responses", {})
            if "422" in responses:  # operations that take parameters and read the store
                for code, text in common.items():
                    responses.setdefault(code, {"description": text})
            for code, resp in responses.items():
                if not code[:1] in ("4", "5"):
                    continue
                if is_page(path):
                    resp["content"] = {"text/html": {"schema": {"type": "string"}}}
                else:
                    resp["content"] = {"application/json": {"schema": body}}
                if code == "422":
                    resp["description"] = "Invalid parameter or a selection the loaded data cannot answer"
    comps = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        comps.pop(name, None)
    return schema
