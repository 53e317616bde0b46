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
