"""The OpenAPI contract is true: every operation is described and has an example, and every
example and live response (shipped demo data) has exactly the shape of its response model."""

from __future__ import annotations

import types
import typing

import pytest
from pydantic import BaseModel

from geo_api.web.api.examples import load_examples

EXAMPLES = load_examples()


def check_shape(model: type[BaseModel], data, where: str = "$") -> None:
    """Validate ``data`` with ``model`` and also refuse keys the model does not declare
    (unless the model allows extras), recursing into nested models, lists and dicts."""
    model.model_validate(data)
    assert isinstance(data, dict), where
    if model.model_config.get("extra") != "allow":
        unknown = set(data) - set(model.model_fields)
        assert not unknown, f"{where}: keys not in {model.__name__}: {sorted(unknown)}"
    for name, field in model.model_fields.items():
        if data.get(name) is not None:
            _check_value(field.annotation, data[name], f"{where}.{name}")


def _check_value(ann, value, where: str) -> None:
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin in (typing.Union, types.UnionType):
        for a in args:
            if a is not type(None):
                _check_value(a, value, where)
        return
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        check_shape(ann, value, where)
    elif origin is list and args:
        for i, v in enumerate(value):
            _check_value(args[0], v, f"{where}[{i}]")
    elif origin is dict and len(args) == 2:
        for k, v in value.items():
            _check_value(args[1], v, f"{where}.{k}")


def _refs(schema: dict) -> list[str]:
    """Model names a response schema points to: one $ref, or anyOf of $refs (f=... formats)."""
    if "$ref" in schema:
        return [schema["$ref"].rsplit("/", 1)[1]]
    return [r for s in schema.get("anyOf", []) for r in _refs(s)]


def _response_models(schema: dict, op_id: str) -> list[type[BaseModel]]:
    """The pydantic models behind an operation's JSON/GeoJSON success response (empty if
    it is not JSON, e.g. an MVT tile, or if it is a bare GeoJSON tile)."""
    from geo_api.web.api import models

    op = next(op for d in schema["paths"].values() for op in d.values()
              if op["operationId"] == op_id)
    ok = next(c for c in op["responses"] if c.startswith("2"))
    content = op["responses"][ok].get("content", {})
    for media in ("application/json", "application/geo+json"):
        names = _refs(content.get(media, {}).get("schema", {}))
        if names:
            return [getattr(models, n) for n in names]
    return []


def check_any(models: list[type[BaseModel]], data) -> None:
    """``data`` has exactly the shape of one of ``models``."""
    errors = []
    for model in models:
        try:
            check_shape(model, data)
            return
        except Exception as exc:  # noqa: BLE001 - collect and report all
            errors.append(f"{model.__name__}: {exc}")
    raise AssertionError("; ".join(errors))


def test_every_operation_has_summary_description_and_example(client):
    schema = client.app.openapi()
    ops = [(p, m, op) for p, d in schema["paths"].items() for m, op in d.items()]
    assert len(ops) >= 25
    for path, method, op in ops:
        assert op.get("summary") and op.get("description"), f"{method} {path}: no description"
        ok = next(c for c in op["responses"] if c.startswith("2"))
        content = op["responses"][ok].get("content", {})
        if ok == "204":
            assert not content
            continue
        assert content, f"{method} {path}: {ok} response has no content type"
        first = next(iter(content.values()))
        assert "example" in first, f"{method} {path}: no example"
        if "application/json" in content:
            assert _refs(first.get("schema", {})), f"{method} {path}: no response model"


@pytest.fixture(scope="module")
def uploaded(client):
    """Run the example uploads first (the example GETs read what they created)."""
    posts = {k: e for k, e in EXAMPLES.items() if e.get("method") == "POST"}
    responses = {k: client.post(e["request"], content=e["body"].encode(),
                                headers={"content-type": "text/csv"}) for k, e in posts.items()}
    yield responses
    for e in posts.values():
        client.delete(e["request"])


@pytest.mark.parametrize("op_id", sorted(EXAMPLES))
def test_live_response_and_example_match_the_response_model(client, uploaded, op_id):
    models = _response_models(client.app.openapi(), op_id)
    entry = EXAMPLES[op_id]
    r = uploaded[op_id] if op_id in uploaded else client.get(entry["request"])
    assert r.status_code in (200, 201), r.text[:300]
    if not models:  # GeoJSON tile: a FeatureCollection
        assert r.headers["content-type"] == "application/geo+json"
        assert r.json()["type"] == EXAMPLES[op_id]["example"]["type"] == "FeatureCollection"
        return
    check_any(models, r.json())
    check_any(models, EXAMPLES[op_id]["example"])


def test_shape_check_refuses_undeclared_and_missing_fields():
    from geo_api.web.api.models import CentreShiftResponse, Shift

    good = {"distance_m": 1.0, "dx_m": 1.0, "dy_m": 0.0, "bearing_deg": 90.0}
    check_shape(Shift, good)
    with pytest.raises(AssertionError, match="keys not in Shift"):
        check_shape(Shift, {**good, "speed": 3})
    with pytest.raises(Exception, match="after"):
        check_shape(CentreShiftResponse, {"meta": {}, "before": {}, "shift": good})
