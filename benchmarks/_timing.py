"""Shared timing helper for the benchmark scripts."""

import time


def best_of(fn, repeat=3):
    """Fastest wall time of ``repeat`` calls, seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)
