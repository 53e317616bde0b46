"""The time by which a request's work must stop, so the request time cap stops the work itself
and not only the answer.

The access middleware sets the deadline (``GEO_API_REQUEST_TIMEOUT_S`` from the request's
start) before the route runs; worker threads inherit it (their context is copied). Long loops
call ``check(stage)`` between steps and solvers take ``remaining_s()`` as their own time
limit, so a request that runs out of time raises ``Timeout`` (504) at its next step and
frees its analysis slot, instead of running on after the client was answered. Outside a
request (command line, tests calling services directly) there is no deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from geo_api.errors import Timeout

DEADLINE: ContextVar[float | None] = ContextVar("geo_api_deadline", default=None)
CHEAPER = ("ask for less: a shorter period, a coarser grid, fewer permutations or "
           "simulations, study_area=city, or use the command line for long runs")


def remaining_s(default: float | None = None) -> float | None:
    """Seconds left before the deadline (>= 0), or ``default`` when there is none."""
    deadline = DEADLINE.get()
    return default if deadline is None else max(deadline - time.monotonic(), 0.0)


def check(stage: str) -> None:
    """Raise ``Timeout`` if the deadline has passed; ``stage`` names the step for the user."""
    deadline = DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline:
        raise Timeout(f"the time for this request ran out during {stage}; the work was "
                      f"stopped. {CHEAPER.capitalize()}")


@contextmanager
def until(seconds_from_now: float | None) -> Iterator[None]:
    """Work in this block (and threads started from it) must stop within the seconds given
    (None: no deadline)."""
    token = DEADLINE.set(None if seconds_from_now is None
                         else time.monotonic() + seconds_from_now)
    try:
        yield
    finally:
        DEADLINE.reset(token)
