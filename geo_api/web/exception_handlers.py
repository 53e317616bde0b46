"""One place where errors become HTTP responses.

Every error has the body ``{code, message, detail}`` (``ErrorBody``): domain errors with
their own status, parameter validation 422, unknown paths 404, wrong methods 405, and
unexpected errors 500 with a request id (logged with the traceback; no internals in the
body). Map pages and the landing page answer with a plain-language HTML page instead.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from geo_api.errors import GeoApiError, UnknownParameter
from geo_api.services.disclosure import ACTIVE, public_message
from geo_api.web.templating import render

log = logging.getLogger("geo_api")
# the public role's disclosure policy for the request being answered (set by web/auth.py;
# services read the same variable)
DISCLOSURE = ACTIVE


def shown(message: str) -> str:
    """An error message as this request's caller may see it (disclosure control)."""
    policy = DISCLOSURE.get()
    if policy is None:
        return message
    return public_message(message)


HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}

OGC_PATHS = ("/collections", "/conformance", "/tileMatrixSets")


def status_of(exc: GeoApiError, path: str) -> int:
    """The HTTP status of a domain error: its own, but 400 for an unknown parameter on the
    OGC API paths (OGC API - Features requires it; elsewhere the API's 422)."""
    if isinstance(exc, UnknownParameter) and path.startswith(OGC_PATHS):
        return 400
    return exc.status_code


def is_page(path: str) -> bool:
    """Paths people open in a browser (HTML pages), not API calls."""
    return path == "/" or path.startswith("/maps/") or path == "/compare/report/map"


def message_page(message: str, status: int, hint: str = "") -> HTMLResponse:
    """A plain page explaining why a map cannot be drawn (instead of a JSON error)."""
    return HTMLResponse(status_code=status,
                        content=render("message.html", message=shown(message), hint=hint))


def error_response(request: Request, status: int, code: str, message: str, detail=None,
                   headers: dict | None = None):
    if is_page(request.url.path):
        page = message_page(message, status)
        for k, v in (headers or {}).items():  # e.g. Allow on 405, Retry-After on 503
            page.headers[k] = v
        return page
    if DISCLOSURE.get() is not None and shown(message) != message:
        message, detail = shown(message), None
    return JSONResponse(status_code=status, headers=headers,
                        content={"code": code, "message": message, "detail": detail})


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to the one body shape (or the HTML page for pages)."""

    @app.exception_handler(GeoApiError)
    async def domain_error(request: Request, exc: GeoApiError):
        # e.g. Retry-After on 503, WWW-Authenticate on 401
        return error_response(request, status_of(exc, request.url.path), exc.code,
                              exc.user_msg, exc.detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        detail = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        msg = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in detail)
        return error_response(request, 422, "invalid_parameter", msg, detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = (f"no such path: {request.url.path}" if exc.status_code == 404
                   else str(exc.detail))
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # every method any route of this path accepts
            methods = allowed_methods(request)
            if "GET" in methods:  # (HeadAsGet answers HEAD wherever GET is)
                methods.add("HEAD")
            headers["Allow"] = ", ".join(sorted(methods))
        return error_response(request, exc.status_code, code, message, None, headers)

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect):
        # not a fault of the service: the caller went away (e.g. mid-upload); no traceback,
        # and nothing was stored (an upload is read whole before anything is written)
        log.info("client disconnected during %s %s", request.method, request.url.path)
        return error_response(request, 400, "client_disconnected",
                              "the client closed the connection before the request was read")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        rid = uuid.uuid4().hex[:12]
        log.error("request %s %s failed (request id %s)", request.method, request.url.path, rid,
                  exc_info=exc)
        return error_response(request, 500, "internal_error",
                              f"internal error; quote request id {rid} when reporting it",
                              {"request_id": rid}, {"X-Request-ID": rid})


def allowed_methods(request: Request) -> set[str]:
    """Methods the app's routes accept for this request's path (several routes can share
    a path, one per method; Starlette's own Allow header names only the first)."""
    methods = set()
    # (the app's own route list holds included routers as wrappers; the API's routes are
    # kept in app.state.api_routes)
    routes = [*getattr(request.app.state, "api_routes", []), *request.app.routes]
    for route in routes:
        match, _ = route.matches({**request.scope, "type": "http"})
        if match != Match.NONE and getattr(route, "methods", None):
            methods |= set(route.methods)
    return methods
