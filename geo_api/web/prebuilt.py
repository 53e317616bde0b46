"""Tiles and boundary layers already built, answered without routing.

A map asks for the same cached tiles and layers over and over; routing each request,
resolving its dependencies and hopping to the thread pool cost far more than the answer.
``Prebuilt`` answers ``GET /tiles/{layer}/{z}/{x}/{y}.{geojson,mvt}`` and ``GET
/layers/{layer}`` - without a query string - straight from the route's own cache
(``shared.TILES``, ``routes.LAYER_BYTES``), under the key the route would use and with the
response the route would send (``shared.tile_response``, ``routes.layer_response``: the same
bytes, ETag and 304, headers and disclosure declarations). Everything else, and every miss,
goes to the route. The access middleware asks it once the caller is known (wrong
credentials were answered 401), so the answer is audited and the public role's disclosure
applies as for the route; an answer already built needs no time cap, so it is sent without
the request task. Both routes take any role from ``public`` up, so a hit needs only a
caller (none: anonymous access is off, and the route answers 401).
"""

from __future__ import annotations

import re
from typing import get_args

from starlette.requests import Request

from geo_api.web.api.routes import LAYER_BYTES, layer_response
from geo_api.web.api.routes_tiles import TileLayer
from geo_api.web.api.shared import TILES, tile_key, tile_response
from geo_api.web.auth import disclosure

TILE_PATH = re.compile(rf"/tiles/({'|'.join(get_args(TileLayer))})/(\d{{1,2}})/(\d{{1,7}})/"
                       r"(\d{1,7})\.(geojson|mvt)")
LAYER_PATH = re.compile(r"/layers/([a-z0-9_]{1,40})")
ROUTES = {"tile": "getTile", "mvt": "getVectorTile", "layer": "getLayer"}


class Prebuilt:
    def __init__(self):
        self.routes: dict[str, object] = {}

    def __call__(self, scope):
        """The route's response when what it would send is already built, else None."""
        if (scope["method"] != "GET" or scope.get("query_string")
                or not scope["path"].startswith(("/tiles/", "/layers/"))):
            return None
        return self._prebuilt(scope)

    def _prebuilt(self, scope):
        app = scope.get("app")
        service = getattr(getattr(app, "state", None), "service", None)
        if service is None or (scope.get("state") or {}).get("principal") is None:
            return None
        request = Request(scope)
        if (m := TILE_PATH.fullmatch(scope["path"])) is not None:
            layer, z, x, y, fmt = m.groups()
            policy = disclosure(request)
            cached = TILES.get(tile_key(service, fmt, layer, int(z), int(x), int(y), "",
                                        policy))
            if cached is None:
                return None
            self._route(scope, "mvt" if fmt == "mvt" else "tile")
            return tile_response(request, cached, fmt, policy)
        if (m := LAYER_PATH.fullmatch(scope["path"])) is not None:
            built = LAYER_BYTES.get((m.group(1), service.boundaries.version))
            if built is None:
                return None
            self._route(scope, "layer")
            return layer_response(request, built)
        return None

    def _route(self, scope, kind: str) -> None:
        """Name the route answering in the scope, as routing would (the disclosure policy
        reads its response model)."""
        if not self.routes:
            by_id = {getattr(r, "operation_id", None): r
                     for r in getattr(scope["app"].state, "api_routes", [])}
            self.routes = {k: by_id.get(op) for k, op in ROUTES.items()}
        if (route := self.routes.get(kind)) is not None:
            scope["route"] = route
