"""Arrays kept between processes beside the store (``Service.join_cache_dir``): geometry
that depends only on the boundaries (e.g. the H3 cells of a study area), so a new process
does not build it again. The file name carries the boundaries version; a file is written
under a temporary name and moved into place, and an unreadable or read-only cache only
costs the speed-up."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np


def cached_array(path: Path, build: Callable[[], np.ndarray]) -> np.ndarray:
    """The array stored at ``path`` (``.npy``), else ``build()`` kept there."""
    with contextlib.suppress(OSError, ValueError):
        return np.load(path, allow_pickle=False)
    array = build()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        with open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
        os.replace(tmp, path)
    return array
