"""What the disclosure policy does with each field of a response model, declared beside the
fields (``__disclosure__`` in the model's class, a field name -> a kind below) instead of
guessed from key names: a renamed or new number cannot escape the policy unnoticed, as a
test requires every number of every model a public endpoint answers with to be declared.

Kinds (``services.disclosure`` applies them):

- ``keep``: a parameter, an id, unit geometry or open data (populations, ranks of areas).
- ``count``: offences (or a list of them): suppressed below k, rounded (``Policy.count``).
- ``withhold``: computed from exact counts (z, p, intervals, ratios, densities): null.
- ``banded``: a KDE cell's share of the peak: to one decimal.
- ``share`` / ``rate``: recomputed from the protected counts in complete tables, else null.
- ``rank``: renumbered (and the rows reordered) by the protected counts.
- ``record_text``: text taken from offence records (street names): withheld with a
  suppressed count, and only names resting on at least k records are built.
- ``centre``: (a whole model) a mean centre and ellipse (``Policy.centre``).
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Iterable

from pydantic import BaseModel

KEEP, COUNT, WITHHOLD, BANDED = "keep", "count", "withhold", "banded"
SHARE, RATE, RANK, RECORD_TEXT, CENTRE = "share", "rate", "rank", "record_text", "centre"
KINDS = frozenset({KEEP, COUNT, WITHHOLD, BANDED, SHARE, RATE, RANK, RECORD_TEXT})


def declared(model: type[BaseModel]) -> dict[str, str]:
    """The model's field kinds, its own and its bases' (``__disclosure__``)."""
    out: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        out.update(cls.__dict__.get("__disclosure__", {}))
    return out


def spec_of(annotation) -> dict | None:
    """The policy's plan for a value of ``annotation`` (a model, a list or dict of them,
    optional): ``{"kind": ..., "fields": {name: spec}, "items": spec}``; None where there
    is nothing declared (plain values: the policy's own rules apply)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        specs = [s for s in map(spec_of, typing.get_args(annotation)) if s]
        return specs[0] if specs else None
    if origin in (list, tuple, set):
        args = typing.get_args(annotation)
        inner = spec_of(args[0]) if args else None
        return {"items": inner} if inner else None
    if origin is dict:
        args = typing.get_args(annotation)
        inner = spec_of(args[1]) if len(args) == 2 else None
        return {"values": inner} if inner else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        kinds = declared(annotation)
        if kinds.get("__model__") == CENTRE:
            return {"kind": CENTRE}
        fields = {}
        for name, f in annotation.model_fields.items():
            key = f.alias or name
            sub = spec_of(f.annotation)
            kind = kinds.get(name)
            if kind or sub:
                fields[key] = {**(sub or {}), **({"kind": kind} if kind else {})}
        return {"fields": fields}
    return None


def numeric_fields(model: type[BaseModel]) -> list[str]:
    """The model's own fields that hold numbers (or lists of them): each must be declared."""
    own = inspect.get_annotations(model)
    return [name for name, f in model.model_fields.items()
            if name in own and _numeric(f.annotation)]


def _numeric(annotation) -> bool:
    origin = typing.get_origin(annotation)
    if origin is not None:
        return any(_numeric(a) for a in typing.get_args(annotation))
    return annotation in (int, float)


def declared_by_name(models: Iterable) -> dict[str, dict[str, str]]:
    """Every model reachable from ``models`` (response models: annotations of their fields,
    recursively), by its name as the OpenAPI components name it -> its fields' declared
    kinds by JSON name (a whole-model ``centre`` declares no field kept)."""
    out: dict[str, dict[str, str]] = {}
    todo = list(models)
    while todo:
        annotation = todo.pop()
        for model in _models_in(annotation):
            if model.__name__ in out:
                continue
            kinds = declared(model)
            out[model.__name__] = {(f.alias or name): kinds[name]
                                   for name, f in model.model_fields.items() if name in kinds}
            todo += [f.annotation for f in model.model_fields.values()]
    return out


def _models_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _models_in(a)]
