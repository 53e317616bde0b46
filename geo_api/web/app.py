"""App factory: ``create_app(settings)``; the lifespan opens the store and loads boundaries."""

from __future__ import annotations

import asyncio
import threading
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.middleware.cors import CORSMiddleware

from geo_api import __version__
from geo_api.data.audit import AuditLog
from geo_api.data.keys import KeyStore
from geo_api.services.service import Service
from geo_api.settings import Settings
from geo_api.web.api.examples import add_examples, honest_errors
from geo_api.web.api.params import no_repeated_query_params
from geo_api.web.api.routes import router
from geo_api.web.api.routes_briefings import router as briefings_router
from geo_api.web.api.routes_compare import router as compare_router
from geo_api.web.api.routes_forecast import router as forecast_router
from geo_api.web.api.routes_hotspots import router as hotspots_router
from geo_api.web.api.routes_indicators import router as indicators_router
from geo_api.web.api.routes_ogc import router as ogc_router
from geo_api.web.api.routes_pages import router as pages_router
from geo_api.web.api.routes_planning import router as planning_router
from geo_api.web.api.routes_sites import router as sites_router
from geo_api.web.api.routes_tiles import router as tiles_router
from geo_api.web.auth import AccessMiddleware, declare_access
from geo_api.web.compression import GZipResponses
from geo_api.web.exception_handlers import install_error_handlers
from geo_api.web.page_cache import PageCache
from geo_api.web.prebuilt import Prebuilt
from geo_api.web.security import HeadAsGet, SecurityHeaders
from geo_api.web.warm_up import warm_links, warm_up_forever

DESCRIPTION = """Hotspot analysis of knife crime and serious violence in Leicester.

Ingest police.uk and force-export offence files, join them to neighbourhood policing areas,
wards, postcode sectors, LSOAs, districts and H3 cells, and get counts, shares and rates.
Kernel density, Getis-Ord Gi* hot spots, period comparison (lockdown displacement), XYZ
tiles (GeoJSON and Mapbox Vector Tiles), candidate-site sets, and map pages for people who
do not call the API (start at `/`). GeoJSON is EPSG:4326 (lon, lat); metric work is done in
EPSG:27700.

Contains public sector information licensed under the Open Government Licence v3.0.
Contains OS data © Crown copyright and database right.
"""


class GeoApiApp(FastAPI):
    """The app; its OpenAPI document also carries the response examples, each operation's
    role and the error bodies as they are sent."""

    def openapi(self) -> dict[str, Any]:
        return honest_errors(declare_access(add_examples(super().openapi()),
                                            self.state.api_routes))


def install_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the vendored copy in /static, so the docs work offline."""
    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="geo_api - API docs",
                                   swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/static/vendor/leaflet/images/marker-icon.png")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI app; nothing is opened until the lifespan starts."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.service = Service(settings)
        app.state.audit.start()  # entries written off the request path (data.audit)
        warm = (asyncio.create_task(warm_up_forever(app, warm_links,
                                                    settings.warm_up_check_s))
                if settings.warm_up else None)
        try:
            yield
        finally:
            try:
                if warm is not None:
                    warm.cancel()
                    with suppress(asyncio.CancelledError):
                        await warm
                app.state.service.close()
            finally:
                app.state.audit.close()  # every queued entry written before the end

    app = GeoApiApp(title="geo_api", version=__version__, description=DESCRIPTION,
                    lifespan=lifespan, docs_url=None, redoc_url=None,
                    dependencies=[Depends(no_repeated_query_params)])
    install_error_handlers(app)
    app.state.heavy_slots_n = settings.max_heavy_requests
    app.state.heavy_slots = threading.BoundedSemaphore(settings.max_heavy_requests)
    app.state.heavy_queue = threading.BoundedSemaphore(max(settings.max_heavy_waiting, 1))
    app.state.heavy_wait_s = settings.heavy_wait_s if settings.max_heavy_waiting else 0.0
    app.state.export_slots_n = settings.max_export_requests
    app.state.export_slots = threading.BoundedSemaphore(settings.max_export_requests)
    app.state.export_queue = threading.BoundedSemaphore(max(settings.max_heavy_waiting, 1))
    routers = (router, hotspots_router, compare_router, pages_router, tiles_router,
               sites_router, planning_router, forecast_router, indicators_router, ogc_router,
               briefings_router)
    for r in routers:
        app.include_router(r)
    app.state.api_routes = [route for r in routers for route in r.routes]
    install_docs(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.state.keys = KeyStore(settings.keys_path)
    app.state.audit = AuditLog(settings.audit_path, settings.audit_max_bytes,
                               settings.audit_backups)
    app.add_middleware(PageCache, max_bytes=settings.page_cache_bytes)  # inside access
    app.add_middleware(AccessMiddleware, settings=settings, keys=app.state.keys,
                       audit=app.state.audit, prebuilt=Prebuilt())
    app.add_middleware(SecurityHeaders)  # 401/504 from access get headers too
    app.add_middleware(GZipResponses)  # JSON, GeoJSON, CSV (HEAD: the GET's headers)
    app.add_middleware(HeadAsGet)
    # browser preflights: answered for the configured origins only (none by default)
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                       allow_methods=["GET", "HEAD", "POST", "PUT", "DELETE"],
                       allow_headers=["X-API-Key", "Authorization", "Content-Type"])
    return app
