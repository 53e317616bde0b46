"""Security headers on every response (a pure ASGI middleware, so streaming is untouched).

All responses: ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``;
answers (not static files) ``Cache-Control: private`` and ``Vary`` on the credentials,
because what they contain depends on the caller's role.
HTML pages also get a Content-Security-Policy as strict as Folium allows (its maps are
inline scripts, so ``script-src 'self' 'unsafe-inline'``; nothing from other origins except
the OpenStreetMap base tiles as images) and may not be framed by other sites.
"""

from __future__ import annotations

CSP_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: https://tile.openstreetmap.org https://*.tile.openstreetmap.org",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
CSP = "; ".join(CSP_DIRECTIVES)
COMMON = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
HTML_ONLY = [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY")]


class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                headers += COMMON + (HTML_ONLY if ctype.startswith(b"text/html") else [])
                names = {k.lower() for k, _ in headers}
                if b"cache-control" not in names and not scope["path"].startswith("/static/"):
                    # answers depend on the caller's role: no shared caches
                    headers += [(b"cache-control", b"private, no-cache"),
                                (b"vary", b"Authorization, X-API-Key")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeadAsGet:
    """``HEAD`` answered wherever ``GET`` is: the GET response's status and headers, no
    body (the outermost layer, so access control and disclosure see an ordinary GET; the
    audit entry says HEAD)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def no_body(message):
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET", "geo_api.head": True}, receive, no_body)
