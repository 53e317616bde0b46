"""esda's numba kernels kept on disk and compiled before a user waits for them.

esda compiles its numba kernels on first use in every process (about 25 s for the local
Moran kernels behind the partner-data overlay on this 2-core machine) and does not ask numba
to keep them. Here numba keeps them (its own cache, checked against esda's source files, in
esda's ``__pycache__`` or numba's user cache directory; ``NUMBA_CACHE_DIR`` moves it), so
only the first process on a machine compiles them, and the server's warm-up does that in the
background at start.
"""

from __future__ import annotations

import functools
import importlib
import warnings

ESDA_KERNEL_MODULES = ("esda.crand", "esda.moran", "esda.getisord")


@functools.cache
def keep_esda_kernels() -> None:
    """Turn on numba's on-disk cache for esda's kernels (before their first compilation)."""
    from numba.core.dispatcher import Dispatcher  # noqa: PLC0415 - lazy: heavy import (numba)

    for name in ESDA_KERNEL_MODULES:
        for obj in vars(importlib.import_module(name)).values():
            if (isinstance(obj, Dispatcher)
                    and type(getattr(obj, "_cache", None)).__name__ == "NullCache"):
                obj.enable_caching()


def warm_esda_kernels() -> None:
    """Compile (or load from the cache) the kernels the overlay's bivariate local Moran uses,
    on a 4 x 4 lattice of SYNTHETIC values."""
    import libpysal  # noqa: PLC0415 - lazy: heavy import (libpysal)
    import numpy as np  # noqa: PLC0415 - lazy: only with libpysal
    from esda.moran import Moran_Local_BV  # noqa: PLC0415 - lazy: heavy import (esda)

    keep_esda_kernels()
    weights = libpysal.weights.lat2W(4, 4)
    weights.transform = "r"
    x = np.arange(16, dtype=float)
    with warnings.catch_warnings():  # (a degenerate cell of the tiny lattice is not news)
        warnings.simplefilter("ignore", RuntimeWarning)
        Moran_Local_BV(x, (x * 7) % 5, weights, permutations=99, seed=1)
