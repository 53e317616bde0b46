"""Built map pages and analysis answers, cached per (path, query, dataset version,
boundaries version, role, date) with a byte bound (``GEO_API_PAGE_CACHE_BYTES``), so each is
computed once per selection and data version instead of on every request.

A pure ASGI middleware inside the access middleware: the caller is known, every hit is still
audited and still passes the disclosure policy on its way out, and the role is part of the
key (an answer cached for an analyst is never shown to a public caller, nor to a role the
route would refuse: such a caller misses and the route decides). Not cached: anything naming
a site set (``sites=``, ``existing=``, ``candidates=``: a set can be replaced at any time) or
a partner indicator (``indicator=``: its owner sees more than other callers of the role),
kit planning (site sets), offence records (point level, streamed), site sets themselves,
and one answer larger than a tenth of the bound. Hits do not take one of the analysis slots.
"""

from __future__ import annotations

import asyncio
import datetime

from geo_api.services.lru import LRU

CACHED_PATHS = frozenset({
    "/maps/hotspots", "/maps/hotspots.png", "/maps/compare", "/maps/time-window",
    "/maps/focus", "/maps/planning", "/compare/report/map",
    "/stats/areas", "/stats/top", "/stats/concentration", "/profiles/time",
    "/hotspots/gi", "/hotspots/kde", "/hotspots/emerging",
    "/compare/areas", "/compare/hotspots", "/compare/kde", "/compare/centre", "/compare/wdq",
    "/compare/report", "/evaluate/hotspots", "/focus", "/plan/people-zones"})
# site sets can change at any time; a partner indicator's answer depends on who asks (its
# owner sees its counts unrounded), so the role alone does not key it
NOT_CACHED_PARAMS = (b"sites=", b"existing=", b"candidates=", b"indicator=")


class PageCache:
    """The cache; concurrent requests for the same uncached answer wait for the one build in
    progress instead of each building it (no stampede when a page is shared widely)."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.building: dict[tuple, asyncio.Event] = {}
        self.lru = LRU(10_000, max_bytes=max_bytes, weigh=lambda v: len(v[1]) + 200)
        self.max_entry_bytes = max_bytes // 10

    def _key(self, scope):
        if (not self.max_entry_bytes or scope["type"] != "http" or scope["method"] != "GET"
                or scope["path"] not in CACHED_PATHS):
            return None
        query = scope.get("query_string", b"")
        if any(p in query for p in NOT_CACHED_PARAMS):
            return None
        service = getattr(scope["app"].state, "service", None)
        principal = scope.get("state", {}).get("principal")
        if service is None or principal is None:
            return None
        parts = sorted(query.split(b"&"))
        return (scope["path"], tuple(parts), service.store.dataset_version(),
                service.boundaries.version, principal.role,
                datetime.date.today())  # pages say the date they were made

    async def __call__(self, scope, receive, send):
        key = self._key(scope)
        hit = self.lru.get(key) if key is not None else None
        if hit is not None:
            await self._send_hit(scope, send, hit)
            return
        if key is None:
            await self.app(scope, receive, send)
            return
        if (building := self.building.get(key)) is not None:
            await building.wait()  # the same answer is being built: use it when ready
            if (hit := self.lru.get(key)) is not None:
                await self._send_hit(scope, send, hit)
                return
            await self.app(scope, receive, send)  # it failed or was not cacheable
            return
        self.building[key] = done = asyncio.Event()
        try:
            await self._build(key, scope, receive, send)
        finally:
            del self.building[key]
            done.set()

    async def _send_hit(self, scope, send, hit) -> None:
        headers, body, note = hit
        if note:  # what the route noted for the audit entry (rows, point level)
            scope.setdefault("state", {})["audit"] = dict(note)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*headers, (b"x-page-cache", b"hit")]})
        await send({"type": "http.response.body", "body": body})

    async def _build(self, key, scope, receive, send) -> None:
        held: dict = {"chunks": []}

        async def capture(message):
            if message["type"] == "http.response.start":
                held["start"] = message
            elif message["type"] == "http.response.body":
                held["chunks"].append(message.get("body", b""))
                state = scope.get("state", {})
                if (not message.get("more_body") and held["start"]["status"] == 200
                        and sum(map(len, held["chunks"])) <= self.max_entry_bytes
                        # computed on the snapshot the key names (an ingest may have
                        # swapped it between the key and the route's pin)
                        and state.get("snapshot_version") == key[2]):
                    headers = [(k, v) for k, v in held["start"].get("headers", [])
                               if k.lower() != b"content-length"]
                    body = b"".join(held["chunks"])
                    note = dict(state.get("audit") or {})
                    self.lru.put(key, ([*headers, (b"content-length",
                                                  str(len(body)).encode())], body, note))
            await send(message)

        await self.app(scope, receive, capture)
