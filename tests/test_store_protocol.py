"""The store contract (``data/store/base.py``) is what both backends implement: every
method the ``Store`` and ``StoreReader`` protocols name exists on each backend with the same
parameters, and nothing reaches a store's queries by run-time forwarding (``__getattr__``).
(mypy checks the types statically: ``Service.backend: Store``.)"""

from __future__ import annotations

import inspect

import pytest

from geo_api.data.store.base import Queries, Store, StoreReader
from geo_api.data.store.duckdb_store import DuckDBReader, DuckDBStore
from geo_api.data.store.postgis_store import PostGISReader, PostGISStore
from geo_api.data.store.queries import ReadThrough, SQLReader
from geo_api.errors import StoreEmpty


def members(protocol: type) -> dict[str, object]:
    """Methods and properties a protocol declares (its own and inherited)."""
    out = {}
    for klass in reversed(protocol.__mro__):
        if klass.__module__ != Queries.__module__:  # object, typing.Protocol, Generic
            continue
        for name, value in vars(klass).items():
            if not name.startswith("_") and (callable(value) or isinstance(value, property)):
                out[name] = value
    return out


def parameters(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


@pytest.mark.parametrize(("protocol", "backend"), [
    (Store, DuckDBStore), (Store, PostGISStore),
    (StoreReader, DuckDBReader), (StoreReader, PostGISReader)],
    ids=lambda c: c.__name__)
def test_backend_implements_every_method_of_the_contract(protocol, backend):
    declared = members(protocol)
    assert len(declared) >= 15  # the queries, at least
    for name, spec in declared.items():
        impl = inspect.getattr_static(backend, name, None)
        assert impl is not None, f"{backend.__name__} lacks {name}"
        if isinstance(spec, property):
            assert isinstance(impl, property), f"{backend.__name__}.{name} is not a property"
            continue
        got = parameters(getattr(backend, name))
        want = parameters(spec)
        assert got[:len(want)] == want, f"{backend.__name__}.{name}{got} != {want}"


@pytest.mark.parametrize("klass", [ReadThrough, SQLReader, DuckDBStore, PostGISStore,
                                   DuckDBReader, PostGISReader], ids=lambda c: c.__name__)
def test_no_run_time_forwarding(klass):
    assert not any("__getattr__" in vars(k) for k in klass.__mro__ if k is not object)


def test_store_attributes_of_the_contract():
    for backend in (DuckDBStore, PostGISStore):
        assert hasattr(backend, "arrow_columns")
    assert {"arrow_columns", "rejoin"} <= set(Store.__annotations__)


def test_reads_on_a_store_and_on_its_reader_agree(tmp_path):
    """An empty store: one-off reads and the pinned reader give the same refusal."""
    store = DuckDBStore(tmp_path / "store")
    try:
        assert store.dataset_version() is None
        with pytest.raises(StoreEmpty):
            store.months_loaded()
        with pytest.raises(StoreEmpty), store.reader():
            pass
    finally:
        store.close()
