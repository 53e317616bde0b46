"""Join rasters kept between processes give exactly the joins of freshly built ones."""

import numpy as np

from geo_api.data.ingest.pipeline import build_join_indexes


def test_cached_join_indexes_join_like_fresh_ones(boundaries, joins, tmp_path):
    first = build_join_indexes(boundaries, tmp_path)  # builds and keeps
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert len(kept) == 2 * len(boundaries.layers)
    again = build_join_indexes(boundaries, tmp_path)  # maps what was kept
    assert sorted(p.name for p in tmp_path.iterdir()) == kept
    rng = np.random.default_rng(16)
    x0, y0, x1, y1 = boundaries.get("lad").gdf.total_bounds
    x = rng.uniform(x0 - 500, x1 + 500, 20_000)
    y = rng.uniform(y0 - 500, y1 + 500, 20_000)
    lon, lat = np.full_like(x, np.nan), np.full_like(y, np.nan)
    want = joins.join(x, y, lon, lat)
    for built in (first, again):
        for name, index in built.areas.items():
            assert np.array_equal(np.asarray(index.labels), joins.areas[name].labels), name
        assert built.join(x, y, lon, lat).equals(want)
    assert isinstance(again.areas["ward"].labels, np.memmap)

    # a damaged cache is rebuilt, not trusted
    meta = next(tmp_path.glob("*-ward-*.json"))
    meta.write_text("{")
    rebuilt = build_join_indexes(boundaries, tmp_path)
    assert rebuilt.join(x, y, lon, lat).equals(want)
    assert meta.read_text().startswith("{\"x0_m\"")


def test_arrays_kept_beside_the_store_are_built_once_and_rebuilt_when_unreadable(tmp_path):
    """``cached_array``: built once and read back by the next caller; a damaged file is
    rebuilt, and a cache that cannot be written only costs the speed-up."""
    import numpy as np

    from geo_api.data.array_cache import cached_array

    calls = []

    def build():
        calls.append(1)
        return np.arange(5, dtype=np.uint64)

    path = tmp_path / "cache" / "h3-cells-v1-city-r9.npy"
    first = cached_array(path, build)
    again = cached_array(path, build)
    assert calls == [1] and again.dtype == np.uint64 and (again == first).all()
    path.write_bytes(b"not an array")
    assert (cached_array(path, build) == first).all() and calls == [1, 1]
    assert (cached_array(path, build) == first).all() and calls == [1, 1]  # rewritten
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache directory would be")
    assert (cached_array(blocked / "x.npy", build) == first).all() and calls == [1, 1, 1]
