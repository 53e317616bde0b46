"""Warm-up: after start and after each ingest, the landing page's maps are requested once in
the background, in-process and as the anonymous caller, so the first person to open them is
answered from memory (the page cache) and every caller finds the shared work done (esda's
compiled kernels, H3 cells, candidate sites, loaded frames).

One request at a time through the whole app (access, audit, disclosure, the page cache and
an analysis slot like any request; the audit log shows them with the client ``warm-up``),
so it never takes more than one of the analysis slots users share.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

from geo_api.services.kernels import warm_esda_kernels
from geo_api.web.api.routes_pages import landing_links

LOG = logging.getLogger("geo_api.warm_up")
CLIENT = ("warm-up", 0)


async def warm_up_forever(app, links, check_s: float) -> None:
    """Warm ``links(service)`` whenever the dataset version is new; look every ``check_s``."""
    warmed: str | None = None
    kernels = False
    while True:
        try:
            service = app.state.service
            version = service.store.dataset_version()
            if version and version != warmed:
                if not kernels:
                    await asyncio.to_thread(warm_esda_kernels)
                    kernels = True
                statuses = [await _get_or_log(app, url) for url in links(service)]
                LOG.info("warm-up of dataset %s: %s", version, statuses)
                warmed = version  # (a page that failed is computed on its first request)
        except asyncio.CancelledError:
            raise
        except Exception:
            LOG.exception("warm-up failed; pages are computed on first request instead")
        await asyncio.sleep(check_s)


async def _get_or_log(app, url: str) -> int | None:
    try:
        return await get(app, url)
    except Exception:
        LOG.exception("warm-up of %s failed", url)
        return None


async def get(app, url: str) -> int | None:
    """GET ``url`` through the whole app, in-process; the response status."""
    parts = urlsplit(url)
    status: list[int | None] = [None]

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": parts.path,
             "raw_path": parts.path.encode(), "query_string": parts.query.encode(),
             "root_path": "", "headers": [(b"host", b"warm-up"), (b"accept", b"text/html")],
             "client": CLIENT, "server": ("warm-up", 80)}
    await app(scope, receive, send)
    return status[0]


def landing_map_links(service) -> list[str]:
    """The landing page's map links for the loaded months (its own list)."""
    months = list(service.store.months_loaded())
    return [url for url, _, _ in landing_links(months, 0)
            if url.startswith(("/maps/", "/compare/"))]


def briefing_links(service) -> list[str]:
    """One policing area's digest and briefing: they build the city-wide answers every
    patch's briefing reuses (per dataset version), so the first team to ask is not kept
    waiting past the request cap."""
    codes = sorted(service.boundaries.get("npa").gdf["code"].astype(str))
    return [f"/digest/npa/{codes[0]}", f"/briefings/npa/{codes[0]}"] if codes else []


def warm_links(service) -> list[str]:
    """What the warm-up requests: the landing page's maps, then a briefing."""
    return landing_map_links(service) + briefing_links(service)
