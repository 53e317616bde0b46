"""OGC API documents: landing page, conformance, collections, feature collections (Features
Part 1 Core/GeoJSON/OAS 3.0; output in EPSG:27700 with Part 2's ``crs`` parameter, though
not its conformance class: ``bbox-crs`` takes CRS84 only), tile sets (Tiles 1.0, the
WebMercatorQuad tile matrix set from ``morecantile``) and TileJSON 3.0.0.

Only shapes and links live here; the features come from ``services.feature_collections``.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from urllib.parse import urlencode

import geopandas as gpd
import morecantile
import numpy as np
import pandas as pd
import shapely

from geo_api import __version__
from geo_api.errors import InvalidParameter
from geo_api.services.feature_collections import Collection

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"
CRS_EPSG = {CRS84: 4326, BNG: 27700}
JSON, GEOJSON, HTML = "application/json", "application/geo+json", "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
MVT = "application/vnd.mapbox-vector-tile"
TMS_ID = "WebMercatorQuad"
REL_CONFORMANCE = "http://www.opengis.net/def/rel/ogc/1.0/conformance"
REL_DATA = "http://www.opengis.net/def/rel/ogc/1.0/data"
REL_TILING_SCHEMES = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
REL_TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
REL_TILESETS_VECTOR = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
TILE_ZOOMS = range(8, 17)  # city to street; clients over-zoom beyond 16
MAX_ITEMS = 10_000
FEATURES = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
TILES = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    FEATURES + "core", FEATURES + "geojson", FEATURES + "oas30",
    TILES + "core", TILES + "tileset", TILES + "tilesets-list", TILES + "geodata-tilesets",
    TILES + "oas30", TILES + "mvt", TILES + "geojson",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
]


def link(href: str, rel: str, type_: str | None = None, title: str | None = None,
         **extra) -> dict:
    out = {"href": href, "rel": rel}
    if type_:
        out["type"] = type_
    if title:
        out["title"] = title
    return {**out, **extra}


def wants_json(f: str | None, accept: str | None) -> bool:
    """Content negotiation for pages that are HTML for people and JSON for clients: ``f``
    wins; otherwise JSON when the Accept header asks for JSON and not for HTML."""
    if f is not None:
        return f == "json"
    a = (accept or "").lower()
    return ("application/json" in a or "application/geo+json" in a) and "text/html" not in a


def landing(base: str, title: str) -> dict:
    return {
        "title": title,
        "description": "Hotspot analysis of knife crime and serious violence in Leicester: "
                       "boundary layers, offence records (analysts), area statistics, Gi* "
                       "and kernel density cells as OGC API Features collections and vector "
                       "tiles.",
        "links": [
            link(f"{base}/?f=json", "self", JSON, "This document"),
            link(f"{base}/", "alternate", HTML, "The landing page for people"),
            link(f"{base}/openapi.json", "service-desc", OPENAPI, "The API definition"),
            link(f"{base}/docs", "service-doc", HTML, "The API documentation"),
            link(f"{base}/conformance", "conformance", JSON, "Conformance classes"),
            link(f"{base}/conformance", REL_CONFORMANCE, JSON, "Conformance classes"),
            link(f"{base}/collections", "data", JSON, "The collections"),
            link(f"{base}/collections", REL_DATA, JSON, "The collections"),
            link(f"{base}/tileMatrixSets", REL_TILING_SCHEMES, JSON, "Tile matrix sets"),
        ]}


def collection_doc(base: str, c: Collection, extent: dict, query: str = "") -> dict:
    """``/collections/{id}``: title, description, extent, CRS list, links (items, tiles)."""
    url = f"{base}/collections/{c.id}"
    q = f"?{query}" if query else ""
    links = [link(f"{url}{q}", "self", JSON, "This collection"),
             link(f"{url}/items{q}", "items", GEOJSON, "The features"),
             link(f"{base}/collections", "collection", JSON, "All collections")]
    if c.tile_layer:
        links += [link(f"{url}/tiles{q}", REL_TILESETS_VECTOR, JSON, "Vector tile sets"),
                  link(f"{url}/tiles/{TMS_ID}/tilejson{q}", "describedby", JSON,
                       "TileJSON 3.0.0 (MapLibre, QGIS vector tiles)")]
    doc = {"id": c.id, "title": c.title, "description": c.description, "itemType": "feature",
           "extent": extent, "crs": [CRS84, BNG], "storageCrs": BNG,
           "x-geo_api-kind": c.kind, "x-geo_api-least-role": c.role, "links": links}
    return doc


def parse_crs(value: str | None, name: str = "crs") -> int:
    """EPSG code of an OGC CRS URI this API serves (CRS84 -> 4326 with lon/lat order)."""
    if value is None:
        return 4326
    v = value.strip().strip("[]<>")
    if v in CRS_EPSG:
        return CRS_EPSG[v]
    raise InvalidParameter(f"{name}: {value!r} is not served; use {CRS84} (lon/lat, the "
                           f"default) or {BNG} (British National Grid, metres)")


def crs_uri(epsg: int) -> str:
    return CRS84 if epsg == 4326 else BNG


def _clean(v):
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float | np.floating):
        return None if not math.isfinite(v) else float(v)
    if isinstance(v, pd.Timestamp | datetime):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return v


def _geometries(gdf: gpd.GeoDataFrame, epsg: int) -> np.ndarray:
    """GeoJSON text of each geometry of ``gdf`` (EPSG:27700) in ``epsg``: 6 decimals of a
    degree (about 0.1 m) or centimetres."""
    geoms = gdf.geometry.values if epsg == 27700 else gdf.geometry.to_crs(epsg).values
    geoms = shapely.set_precision(np.asarray(geoms), 1e-6 if epsg == 4326 else 0.01)
    return shapely.to_geojson(geoms)


def _properties_json(df: pd.DataFrame) -> list[str]:
    """Each row of ``df`` as a JSON object (pandas' C encoder: NaN/None -> null, times as
    ISO 8601)."""
    if df.empty:
        return []
    if len(df.columns) == 0:
        return ["{}"] * len(df)
    text = df.to_json(orient="records", lines=True, date_format="iso", force_ascii=False,
                      double_precision=15)
    return text.rstrip("\n").split("\n")


def features_json(gdf: gpd.GeoDataFrame, epsg: int, props: list[str]) -> list[str]:
    """Each row of ``gdf`` (EPSG:27700, an ``id`` column) as GeoJSON Feature text."""
    geoms: np.ndarray | list[str] = _geometries(gdf, epsg) if len(gdf) else []
    ids = [json.dumps(_clean(i)) for i in gdf["id"].tolist()]
    return [f'{{"type":"Feature","id":{i},"geometry":{g},"properties":{p}}}'
            for i, g, p in zip(ids, geoms, _properties_json(pd.DataFrame(gdf[props])))]


def offence_features_json(df: pd.DataFrame, epsg: int) -> list[str]:
    """Offence rows (store columns) as GeoJSON Feature text: points in lon/lat as stored
    (6 decimals) or in EPSG:27700 (centimetres); null geometry without a location."""
    df = df.copy()
    df["month"] = df["month"].astype(str).str[:7]
    df["h3_r9"] = [f"{int(c):x}" if c else None for c in df["h3_r9"].tolist()]
    if epsg == 4326:
        x, y, fmt = df["lon"].to_numpy(float), df["lat"].to_numpy(float), "{:.6f}"
    else:
        x, y, fmt = df["x_m"].to_numpy(float), df["y_m"].to_numpy(float), "{:.2f}"
    geoms = ["null" if not (math.isfinite(a) and math.isfinite(b)) else
             f'{{"type":"Point","coordinates":[{fmt.format(a)},{fmt.format(b)}]}}'
             for a, b in zip(x.tolist(), y.tolist())]
    props = df.drop(columns=[c for c in ("lon", "lat", "x_m", "y_m") if c in df.columns])
    ids = [json.dumps(k) for k in props["offence_key"].tolist()]
    return [f'{{"type":"Feature","id":{i},"geometry":{g},"properties":{p}}}'
            for i, g, p in zip(ids, geoms, _properties_json(props))]


def page_links(url: str, query: str, limit: int, offset: int, returned: int,
               matched: int) -> list[dict]:
    """self / next / prev links of an items page. The request's other query parameters are
    kept as sent (GDAL, for one, adds its own parameters to a 'next' link unless it finds
    them there verbatim), then ``limit`` and ``offset``."""
    keep = "&".join(p for p in query.split("&")
                    if p and p.split("=", 1)[0] not in ("limit", "offset"))

    def at(off: int) -> str:
        return f"{url}?{keep + '&' if keep else ''}{urlencode({'limit': limit, 'offset': off})}"

    links = [link(at(offset), "self", GEOJSON, "This page")]
    if offset + returned < matched:
        links.append(link(at(offset + returned), "next", GEOJSON, "Next page"))
    if offset > 0:
        links.append(link(at(max(0, offset - limit)), "prev", GEOJSON, "Previous page"))
    return links


def feature_collection(features: list[str], matched: int, links: list[dict],
                       meta: dict | None) -> bytes:
    head = {"type": "FeatureCollection", "numberMatched": matched,
            "numberReturned": len(features),
            "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "links": links}
    if meta is not None:
        head["meta"] = meta
    text = json.dumps(head, separators=(",", ":"), default=str)
    return (text[:-1] + ',"features":[' + ",".join(features) + "]}").encode()


# ------------------------------------------------------------------ tiles ---------------
def tile_matrix_set() -> dict:
    """WebMercatorQuad as OGC TMS 2.0 JSON (from ``morecantile``), also carrying the TMS 1.0
    members (``type``, ``identifier``, ``supportedCRS``, ``boundingBox``, each matrix's
    ``identifier`` and ``topLeftCorner``) that GDAL up to 3.6 - and QGIS builds on it - read;
    2.0 readers ignore them."""
    doc = json.loads(morecantile.tms.get(TMS_ID).model_dump_json(exclude_none=True))
    half = 20037508.342789244
    doc.update({"type": "TileMatrixSetType", "identifier": doc["id"],
                "supportedCRS": doc["crs"],
                "boundingBox": {"type": "BoundingBoxType", "crs": doc["crs"],
                                "lowerCorner": [-half, -half], "upperCorner": [half, half]}})
    for tm in doc["tileMatrices"]:
        tm.update({"type": "TileMatrixType", "identifier": tm["id"],
                   "topLeftCorner": tm["pointOfOrigin"]})
    return doc


def tile_limits(bbox_lonlat: list[float]) -> list[dict]:
    """``tileMatrixSetLimits`` of the tiles covering ``bbox_lonlat`` at ``TILE_ZOOMS``."""
    tms = morecantile.tms.get(TMS_ID)
    out = []
    for z in TILE_ZOOMS:
        ul = tms.tile(bbox_lonlat[0], bbox_lonlat[3], z)
        lr = tms.tile(bbox_lonlat[2], bbox_lonlat[1], z)
        out.append({"tileMatrix": str(z), "minTileRow": ul.y, "maxTileRow": lr.y,
                    "minTileCol": ul.x, "maxTileCol": lr.x})
    return out


def tilesets_doc(base: str, c: Collection, query: str) -> dict:
    url = f"{base}/collections/{c.id}/tiles"
    q = f"?{query}" if query else ""
    return {"links": [link(f"{url}{q}", "self", JSON, "Tile sets of this collection")],
            "tilesets": [{
                "title": f"{c.title} (Web Mercator vector tiles)", "dataType": "vector",
                "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
                "tileMatrixSetURI": "http://www.opengis.net/def/tilematrixset/OGC/1.0/"
                                    "WebMercatorQuad",
                "links": [link(f"{url}/{TMS_ID}{q}", "self", JSON, "The tile set"),
                          link(f"{base}/tileMatrixSets/{TMS_ID}", REL_TILING_SCHEME, JSON,
                               "WebMercatorQuad")]}]}


def tileset_doc(base: str, c: Collection, query: str, bbox: list[float],
                fields: dict[str, str]) -> dict:
    url = f"{base}/collections/{c.id}/tiles/{TMS_ID}"
    q = f"&{query}" if query else ""
    template = f"{url}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"
    return {
        "title": f"{c.title} (Web Mercator vector tiles)", "dataType": "vector",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
        "tileMatrixSetLimits": tile_limits(bbox),
        "boundingBox": {"lowerLeft": bbox[:2], "upperRight": bbox[2:], "crs": CRS84},
        "layers": [{"id": c.tile_layer, "title": c.title, "dataType": "vector",
                    "geometryDimension": 0 if c.geometry == "Points" else 2,
                    "minTileMatrix": str(TILE_ZOOMS[0]), "maxTileMatrix": str(TILE_ZOOMS[-1]),
                    "propertiesSchema": {"type": "object", "properties": {
                        k: {"type": v} for k, v in fields.items()}}}],
        "links": [
            link(f"{url}{('?' + query) if query else ''}", "self", JSON, "This tile set"),
            link(f"{base}/tileMatrixSets/{TMS_ID}", REL_TILING_SCHEME, JSON, "WebMercatorQuad"),
            link(f"{template}?f=mvt{q}", "item", MVT, "Mapbox Vector Tiles", templated=True),
            link(f"{template}?f=geojson{q}", "item", GEOJSON, "GeoJSON tiles", templated=True),
            link(f"{url}/tilejson{('?' + query) if query else ''}", "describedby", JSON,
                 "TileJSON 3.0.0"),
        ]}


def tilejson(base: str, c: Collection, query: str, bbox: list[float],
             fields: dict[str, str], description: str) -> dict:
    url = f"{base}/collections/{c.id}/tiles/{TMS_ID}/{{z}}/{{y}}/{{x}}?f=mvt"
    zooms = TILE_ZOOMS
    return {
        "tilejson": "3.0.0", "name": c.title, "description": description,
        "version": __version__, "scheme": "xyz",
        "tiles": [url + (f"&{query}" if query else "")],
        "minzoom": zooms[0], "maxzoom": zooms[-1], "bounds": bbox,
        "center": [round((bbox[0] + bbox[2]) / 2, 6), round((bbox[1] + bbox[3]) / 2, 6), 12],
        "attribution": "Contains public sector information licensed under the Open Government "
                       "Licence v3.0; contains OS data © Crown copyright and database right",
        "vector_layers": [{"id": c.tile_layer, "description": c.title,
                           "minzoom": zooms[0], "maxzoom": zooms[-1],
                           "fields": {k: v.capitalize() for k, v in fields.items()}}],
    }
