"""gzip for JSON, GeoJSON and CSV answers when the client accepts it (a pure ASGI middleware).

Compressed: ``application/json``, ``application/geo+json`` (and other ``+json`` types) and
``text/csv`` bodies of at least ``MIN_BYTES``, when ``Accept-Encoding`` allows gzip. Never
compressed: vector tiles, PNG, HTML and static files, anything already content-coded, and
304/204 answers. Such answers say ``Vary: Accept-Encoding`` whether compressed or not. A
compressed answer's ETag is made weak (``W/"..."``: the same content, another encoding), and
``If-None-Match`` is compared weakly (``shared.revalidated``), so revalidation answers 304
for either encoding.

A one-message body is compressed once and kept by its bytes (``GZIPPED``): an unchanged
answer - a cached tile, a boundary layer, a cached page - is sent precompressed. A streamed
body (offence exports) is compressed chunk by chunk, each chunk flushed so the stream still
arrives as it is produced.
"""

from __future__ import annotations

import zlib

from geo_api.services.lru import LRU

MIN_BYTES = 1024  # smaller answers are sent as they are
LEVEL = 6
COMPRESSED_TYPES = frozenset({b"application/json", b"application/geo+json", b"text/csv"})
GZIPPED = LRU(1024, max_bytes=64 * 2**20, weigh=lambda v: v[0] + len(v[1]))  # (n, gzip)


def accepts_gzip(scope) -> bool:
    """Whether the request's ``Accept-Encoding`` allows gzip (``gzip``, ``x-gzip`` or ``*``,
    not with ``q=0``)."""
    for name, value in scope["headers"]:
        if name.lower() != b"accept-encoding":
            continue
        for item in value.split(b","):
            coding, _, params = item.partition(b";")
            if coding.strip().lower() not in (b"gzip", b"x-gzip", b"*"):
                continue
            q = params.strip().lower()
            if q.startswith(b"q="):
                try:
                    if float(q[2:]) <= 0:
                        continue
                except ValueError:
                    continue
            return True
    return False


def compressible(headers) -> bool:
    ctype = b""
    for name, value in headers:
        name = name.lower()
        if name == b"content-encoding":
            return False
        if name == b"content-type":
            ctype = value.split(b";")[0].strip().lower()
    return ctype in COMPRESSED_TYPES or ctype.startswith(b"application/") and \
        ctype.endswith(b"+json")


def gzip_bytes(body: bytes) -> bytes:
    """``body`` gzipped, kept for the next time the same bytes are sent."""
    hit = GZIPPED.get(body)
    if hit is not None:
        return hit[1]
    c = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)
    return GZIPPED.put(body, (len(body), c.compress(body) + c.flush()))[1]


def _with_vary(headers: list) -> list:
    """``headers`` with Accept-Encoding added to their Vary."""
    out, done = [], False
    for name, value in headers:
        if name.lower() == b"vary" and not done:
            if b"accept-encoding" not in value.lower():
                value = value + b", Accept-Encoding"
            done = True
        out.append((name, value))
    return out if done else [*out, (b"vary", b"Accept-Encoding")]


def _encoded(headers: list, length: int | None) -> list:
    """The start's headers for a gzipped body of ``length`` bytes (None: streamed)."""
    out = []
    for name, value in headers:
        low = name.lower()
        if low == b"content-length":
            continue
        if low == b"etag" and not value.startswith(b"W/"):
            value = b"W/" + value
        out.append((name, value))
    out.append((b"content-encoding", b"gzip"))
    if length is not None:
        out.append((b"content-length", str(length).encode()))
    return out


class GZipResponses:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        gzip_ok = accepts_gzip(scope)
        start: dict | None = None
        stream = None  # the compressor of a streamed body

        async def gzip_send(message):
            nonlocal start, stream
            kind = message["type"]
            if kind == "http.response.start":
                headers = message.get("headers", [])
                if message["status"] in (204, 304) or not compressible(headers):
                    await send(message)
                    return
                headers = _with_vary(list(headers))
                if not gzip_ok:
                    await send({**message, "headers": headers})
                    return
                start = {**message, "headers": headers}  # held until the body decides
                return
            if kind != "http.response.body" or start is None:
                await send(message)
                return
            body, more = message.get("body", b""), message.get("more_body", False)
            if stream is None:
                if not more:  # the whole body in one message
                    head, start = start, None
                    if len(body) < MIN_BYTES:
                        await send(head)
                        await send(message)
                        return
                    gz = gzip_bytes(body)
                    await send({**head, "headers": _encoded(head["headers"], len(gz))})
                    await send({**message, "body": gz})
                    return
                stream = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)
                await send({**start, "headers": _encoded(start["headers"], None)})
            if more:
                out = stream.compress(body) + stream.flush(zlib.Z_SYNC_FLUSH)
                if out:
                    await send({**message, "body": out})
                return
            await send({**message, "body": stream.compress(body) + stream.flush()})

        await self.app(scope, receive, gzip_send)
