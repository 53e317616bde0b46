"""What more than one router uses, defined once (a router never imports another router):
documented responses and response classes, CSV upload bodies, tile serving, and the map
pages' controls, periods and message page."""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import geopandas as gpd
from fastapi import Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect

from geo_api.data.store.base import OffenceFilter
from geo_api.errors import (
    Forbidden,
    GeoApiError,
    InvalidParameter,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from geo_api.services import feature_collections
from geo_api.services.disclosure import min_records
from geo_api.services.lru import LRU
from geo_api.services.service import Service
from geo_api.services.sites import MAX_BYTES
from geo_api.web.api.models import (
    AreaProperties,
    AreaStat,
    ErrorBody,
    GiCell,
    KdeCellProperties,
)
from geo_api.web.api.models.disclosure import spec_of
from geo_api.web.api.params import FORM_FIELDS
from geo_api.web.auth import disclosure
from geo_api.web.exception_handlers import message_page as page
from geo_api.web.maps.controls import area_bounds, controls_html
from geo_api.web.tiles import boundary_frame, clip_tile, etag, mvt_tile

# ------------------------------------------------------------ documented responses -----
# FastAPI's type of ``responses=``: status code (or "default") -> OpenAPI response fields
Responses = dict[int | str, dict[str, Any]]

ERRORS: Responses = {404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
HTML_EXAMPLE = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">..."
                "</head><body>...</body></html>")
HTML_200: Responses = {200: {"content": {"text/html": {"example": HTML_EXAMPLE}},
                             "description": "An HTML page"}}
PNG_200: Responses = {200: {"content": {"image/png": {
    "schema": {"type": "string", "format": "binary"},
    "example": "(a PNG image, 1600x900 px: the map, title, legend, scale bar)"}},
    "description": "A PNG image"}}

TableFormat = Annotated[Literal["json", "csv"], Query(description="json, or csv: the table "
                                                    "as a download")]
TABLE_FORMATS: Responses = {200: {"content": {"application/json": {}, "text/csv": {}},
                                  "description": "JSON (default) or the table as CSV (f=csv)"}}
CellFormat = Annotated[Literal["json", "geojson"], Query(description="json, or geojson: the "
                                                        "cells as lon/lat polygons")]
GEOJSON_FORMAT: Responses = {200: {"content": {"application/json": {},
                                               "application/geo+json": {}},
                                   "description": "JSON (default) or GeoJSON cells (f=geojson)"}}
FORMATS: Responses = {200: {"content": {"application/geo+json": {}, "text/csv": {}},
                            "description": "JSON (default), GeoJSON (f=geojson) or CSV (f=csv)"}}


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"


def points_geojson(rows: list[dict], meta: dict) -> Response:
    """Rows with ``lon``/``lat`` as a GeoJSON FeatureCollection of points (the other fields
    as properties) with ``meta``."""
    feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
              "properties": {k: v for k, v in r.items() if k not in ("lon", "lat")}}
             for r in rows]
    return Response(json.dumps({"type": "FeatureCollection", "features": feats, "meta": meta},
                               default=str), media_type="application/geo+json")


# ------------------------------------------------------------------- CSV uploads -------
def csv_body(example: str) -> dict:
    """OpenAPI request body of a CSV upload: a text/csv body or a multipart field 'file'."""
    return {"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}, "example": example},
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                           "properties": {"file": {"type": "string",
                                                                   "format": "binary"}}}}}}}


async def read_csv_body(request: Request, limit: int = MAX_BYTES) -> bytes:
    """The uploaded file as bytes: a ``text/csv`` body, or the ``file`` field of a
    ``multipart/form-data`` upload (``curl -F file=@kits.csv``). Refused before it is
    buffered when it is larger than ``limit`` (413, checked against Content-Length and
    while reading) or of another type (415). Request forgery: a cross-site HTML form cannot
    send ``text/csv`` without a CORS preflight, and any upload is refused (403) when the
    browser says it comes from another site (``refuse_cross_site``)."""
    refuse_cross_site(request)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64_000:
        raise PayloadTooLarge(f"file is {int(declared):,} bytes; at most {limit:,}")
    if ctype == "multipart/form-data":
        return await _multipart_file(request, limit)
    if ctype != "text/csv":
        raise UnsupportedMediaType(f"send the file as Content-Type: text/csv or as a "
                                   f"multipart form field 'file' (got {ctype or 'none'})")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"file is {int(declared):,} bytes; at most {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"file is larger than {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def refuse_cross_site(request: Request) -> None:
    """Refuse (403) an upload a browser says another site sent: an ``Origin`` that is not
    this one, ``Sec-Fetch-Site`` cross-site or same-site (a sibling host), or - when a
    browser sends neither - a ``Referer`` from another origin. Scripts and curl send none of
    them and are not refused."""
    own = f"{request.url.scheme}://{request.url.netloc}"
    svc = getattr(request.app.state, "service", None)
    trusted = {own, *(svc.settings.cors_origins if svc is not None else ())}
    origin = request.headers.get("origin")
    if origin is not None and origin not in trusted:
        raise Forbidden(f"upload from another site ({origin}) refused")
    fetch_site = request.headers.get("sec-fetch-site", "").lower()
    if fetch_site in ("cross-site", "same-site") and origin not in trusted:
        raise Forbidden(f"upload from another site (Sec-Fetch-Site: {fetch_site}) refused")
    referer = request.headers.get("referer")
    if origin is None and referer:
        parts = urlsplit(referer)
        if f"{parts.scheme}://{parts.netloc}" != own:
            raise Forbidden("upload from another site (Referer) refused")


async def _multipart_file(request: Request, limit: int) -> bytes:
    try:
        form = await request.form(max_files=1, max_fields=4, max_part_size=limit + 1)
    except ClientDisconnect:
        raise  # the caller went away: not a malformed upload
    except Exception as exc:  # noqa: BLE001 - malformed multipart or a part over the limit
        raise InvalidParameter(f"file: unreadable multipart upload ({exc})") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidParameter("file: send the CSV as the form field 'file'")
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"file is larger than {limit:,} bytes")
    return data


# ------------------------------------------------------------------------ tiles --------
TILES = LRU(20_000, max_bytes=256 * 2**20, weigh=lambda v: len(v[0]))  # (body, etag)
LAYERS = LRU(64)
TILE_PROPS = {"gi": ("id", "label", "count", "gi_z"), "kde": ("density_per_km2", "share_of_max")}
# what the disclosure policy does with the properties of each kind of feature collection
# (OGC API features and tiles): declared by the models of the same values in JSON answers
FEATURE_PROPERTIES = {"boundary": spec_of(AreaProperties), "stats": spec_of(AreaStat),
                      "gi": spec_of(GiCell), "kde": spec_of(KdeCellProperties)}


def tile_properties(layer: str) -> dict | None:
    """What a tile layer's properties are (hot spot layers, else a boundary layer)."""
    return FEATURE_PROPERTIES[layer if layer in TILE_PROPS else "boundary"]


def declare_properties(request: Request, kind: str, single: bool = False) -> None:
    """Tell the disclosure policy (``web/auth.py``) what the features' properties of this
    answer are: the route's response model declares the rest, a collection of ``kind``
    (``Collection.kind``) its properties. ``single``: one feature, not a collection."""
    props = FEATURE_PROPERTIES.get(kind)
    if props is None:
        return
    plan = {"fields": {"properties": props}} if single else {
        "fields": {"features": {"items": {"fields": {"properties": props}}}}}
    request.state.disclosure_spec = plan
MEDIA = {"geojson": "application/geo+json", "mvt": "application/vnd.mapbox-vector-tile"}


def layer_frame(svc: Service, layer: str, flt: OffenceFilter,
                epsg: int = 4326) -> gpd.GeoDataFrame:
    """Whole layer for a filter in EPSG:4326 (GeoJSON tiles) or EPSG:3857 (MVT), cached:
    boundary layers (code, name, population), the Gi* collection's hot and cold cells and
    the KDE collection's cells (``services.feature_collections``)."""
    key = (layer, epsg, svc.store.dataset_version(), svc.boundaries.version,
           repr(sorted(dataclasses.asdict(flt).items())), min_records())  # (and its policy)
    hit = LAYERS.get(key)
    if hit is not None:
        return hit
    if epsg != 4326:
        return LAYERS.put(key, layer_frame(svc, layer, flt).to_crs(epsg))
    if layer in TILE_PROPS:
        c = feature_collections.catalog(svc)["hotspots-" + layer]
        cells, _ = feature_collections.frame(svc, c, flt)
        if layer == "gi":
            cells = cells[cells["label"].str.startswith(("hot", "cold"))]
        gdf = cells[[*TILE_PROPS[layer], "geometry"]].to_crs(4326).reset_index(drop=True)
        if layer == "gi":
            gdf["gi_z"] = gdf["gi_z"].round(3)
    else:
        gdf = boundary_frame(svc.boundaries.get(layer))
    return LAYERS.put(key, gdf)


def serve_tile(request: Request, svc: Service, flt: OffenceFilter, layer: str, z: int, x: int,
               y: int, fmt: str) -> Response:
    """Tile z/x/y of ``layer`` as GeoJSON or MVT (``fmt``), cached, with an ETag (304 when
    it matches) and the public role's disclosure policy applied."""
    policy = disclosure(request)
    key = tile_key(svc, fmt, layer, z, x, y, str(request.query_params), policy)
    cached = TILES.get(key)
    if cached is None:
        frame = layer_frame(svc, layer, flt, 3857 if fmt == "mvt" else 4326)
        if policy is not None:  # the public role's tiles: the disclosure policy's counts
            props = [c for c in frame.columns if c != frame.geometry.name]
            frame = frame.copy()
            frame[props] = policy.protect_frame(frame[props], tile_properties(layer))
        if fmt == "mvt":
            body = mvt_tile(frame, layer, z, x, y)
        else:
            body = clip_tile(frame, z, x, y)
        cached = TILES.put(key, (body, etag(body)))
    return tile_response(request, cached, fmt, policy)


def tile_key(svc: Service, fmt: str, layer: str, z: int, x: int, y: int, query: str,
             policy) -> tuple:
    """What a tile is cached under (``TILES``): also the data's versions, the query and the
    disclosure policy it was made under."""
    return (fmt, layer, z, x, y, svc.store.dataset_version(), svc.boundaries.version, query,
            policy)


def tile_response(request: Request, cached: tuple[bytes, str], fmt: str, policy) -> Response:
    """A tile as sent, from its (body, etag) - also by ``web.prebuilt`` for a cached tile."""
    body, tag = cached
    # protected when made: the access middleware leaves it as it is
    extra = {"X-Disclosure-Control": policy.label} if policy is not None else {}
    return revalidated(request, body, tag, MEDIA[fmt], max_age_s=300, headers=extra)


def revalidated(request: Request, body: bytes, tag: str, media_type: str, *, max_age_s: int,
                headers: dict[str, str] | None = None) -> Response:
    """``body`` with its ETag, or 304 (no body) when the client already has it. Answers
    depend on the caller's role: browsers may cache them, shared caches may not."""
    headers = {"ETag": tag, "Cache-Control": f"private, max-age={max_age_s}",
               "Vary": "Authorization, X-API-Key", **(headers or {})}
    if matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def matches(if_none_match: str | None, tag: str) -> bool:
    """Whether ``If-None-Match`` names ``tag``: weak comparison (RFC 9110 13.1.2), so the
    weak tag of a gzipped answer (``web.compression``) revalidates it too."""
    if not if_none_match:
        return False
    opaque = tag.removeprefix("W/")
    return any(t.strip() == "*" or t.strip().removeprefix("W/") == opaque
               for t in if_none_match.split(","))


# ------------------------------------------------------------------ map pages ----------
TIME_HINT = ("police.uk data has no times of day, so time-window maps (for example after "
             "school, 15:00-19:00) need a force export with offence times.")


def message_page(exc: GeoApiError, timed: bool = False) -> HTMLResponse:
    """The plain page for a selection that cannot be mapped; ``timed``: the map needed
    offences with a time of day."""
    return page(exc.user_msg, exc.status_code, TIME_HINT if timed else "")


def page_controls(request: Request, svc: Service, flt: OffenceFilter,
                  pair: tuple[str | None, str | None] | None = None, with_period: bool = True,
                  inline: bool = False) -> Callable[[str], str]:
    """The controls form for this page (a function of the map's JavaScript name);
    ``with_period``/``inline``: see ``controls_html``."""
    own = FORM_FIELDS if with_period else FORM_FIELDS - {"datetime"}
    keep = [(k, v) for k, v in request.query_params.multi_items() if k not in own]
    months = list(svc.store.months_loaded())
    areas = area_bounds(svc.boundaries)
    return lambda map_name: controls_html(
        path=request.url.path, months=months, group=flt.group, period=as_period(flt),
        extra=keep, areas=areas, map_name=map_name, with_period=with_period, inline=inline,
        sources=svc.store.sources(),
        pair=None if pair is None else (pair[0] or "", pair[1] or ""))  # open: shown empty


def map_pair(request: Request, svc: Service, before: str | None, after: str | None
             ) -> tuple[str, str]:
    """The two periods of a comparison map: the controls form's month fields when it was
    sent without JavaScript (``before_from``/``before_to``, ``after_from``/``after_to``),
    else the parameters, else the latest 3 loaded months against the 3 before them."""
    q = request.query_params
    for name in ("before", "after"):
        if q.get(f"{name}_from"):
            a = q[f"{name}_from"]
            value = f"{a}/{q.get(f'{name}_to') or a}"
            before, after = (value, after) if name == "before" else (before, value)
    if before is None or after is None:
        months = list(svc.store.months_loaded())
        if len(months) < 6 and (before is None and after is None):
            raise InvalidParameter("before/after: give both periods (fewer than 6 months are "
                                   "loaded, so there is no default pair)")
        before = before or months_period(months[-6:-3])
        after = after or months_period(months[-3:])
    return before, after


def as_period(flt: OffenceFilter) -> str | None:
    """'YYYY-MM/YYYY-MM' of a whole-month filter (None otherwise)."""
    if flt.start is None or flt.end is None:
        return None
    last = flt.end - datetime.timedelta(days=1)
    return f"{flt.start:%Y-%m}/{last:%Y-%m}"


def months_period(months: list[str]) -> str:
    """'2020-07/2020-09' for a run of months ('' for none)."""
    return f"{months[0]}/{months[-1]}" if months else ""
