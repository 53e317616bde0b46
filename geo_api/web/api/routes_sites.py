"""Candidate-site sets for planners: upload a CSV, list, fetch as GeoJSON, delete, map."""

from __future__ import annotations

import functools
import json
import pathlib
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from geo_api.data.boundaries_build import read_postcodes
from geo_api.services.sites import normal_postcode, parse_sites_csv
from geo_api.services.units import study_area_m
from geo_api.web.api.downloads import named
from geo_api.web.api.models import ErrorBody, FeatureCollection, SiteSetInfo, SiteSetList
from geo_api.web.api.params import ServiceDep
from geo_api.web.api.shared import csv_body, read_csv_body
from geo_api.web.auth import PARTNER, PrincipalDep

router = APIRouter(tags=["sites"])
Name = Annotated[str, Path(description="Set name: 1-40 characters a-z, 0-9, '-' or '_'",
                           examples=["bleed-kits-2020"])]


CSV_BODY = csv_body("name,kind,easting,northing\nClock Tower,bleed kit,458800,304580\n"
                    "Haymarket bus station,bleed kit,458944,304725\n")


@router.post("/sites/{name}", dependencies=[PARTNER], response_model=SiteSetInfo, operation_id="uploadSiteSet",
             openapi_extra=CSV_BODY, status_code=201,
             responses={413: {"model": ErrorBody}, 415: {"model": ErrorBody},
                        422: {"model": ErrorBody}},
             summary="Upload (or replace) a named set of candidate sites as CSV")
async def upload(name: Name, request: Request, svc: ServiceDep,
                 who: PrincipalDep) -> SiteSetInfo:
    """Body: UTF-8 CSV with `name`, optional `kind`, and `easting`,`northing` (EPSG:27700)
    or `longitude`,`latitude` (EPSG:4326); at most 5,000 sites, all inside the force area.
    A file with any fault is rejected whole (422 naming line and field) and the previous set
    of that name, if any, is kept. Shown on `/maps/hotspots?sites={name}`. The set belongs
    to its creator: only they or an admin may replace or delete it (403 otherwise)."""
    is_admin = who.at_least("admin")
    svc.site_sets.check_may_change(name, who.owner, is_admin)  # before reading the body

    def store(data: bytes) -> dict:
        sites = parse_sites_csv(data, f"sites/{name}", study_area_m(svc, "force"),
                                postcodes=lambda: postcode_points(svc.settings.boundaries_dir))
        svc.site_sets.save(name, sites, who.owner, is_admin)
        return next(s for s in svc.site_sets.list() if s["name"] == name)

    # parsing and writing are blocking: keep them off the event loop
    return SiteSetInfo(**await run_in_threadpool(store, await read_csv_body(request)))


def postcode_points(boundaries_dir) -> dict:
    """Normalised postcode -> (easting, northing) from the shipped Code-Point Open points."""
    return _postcode_points(str(boundaries_dir))


@functools.lru_cache(maxsize=2)
def _postcode_points(boundaries_dir: str) -> dict:
    pc = read_postcodes(pathlib.Path(boundaries_dir) / "sources")
    pc = pc[(pc["x_m"] > 0) & (pc["y_m"] > 0)]
    return {normal_postcode(p): (float(x), float(y))
            for p, x, y in zip(pc["postcode"], pc["x_m"], pc["y_m"])}


@router.get("/sites", dependencies=[PARTNER], response_model=SiteSetList, operation_id="listSiteSets",
            summary="Uploaded candidate-site sets")
def list_sets(svc: ServiceDep) -> SiteSetList:
    """The uploaded sets with their number of sites and when they were last replaced. The
    shipped schools layer is always on the hotspot map and is not listed here."""
    return SiteSetList(site_sets=svc.site_sets.list())


@router.get("/sites/{name}", dependencies=[PARTNER], response_model=FeatureCollection, operation_id="getSiteSet",
            responses={200: {"content": {"application/geo+json": {}}},
                       404: {"model": ErrorBody}, 422: {"model": ErrorBody}},
            summary="A candidate-site set as GeoJSON points (EPSG:4326)")
def get_set(name: Name, svc: ServiceDep) -> Response:
    """The sites of a set as an RFC 7946 FeatureCollection with name and kind."""
    s = svc.site_sets.load(name)
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point",
                                         "coordinates": [round(r.lon, 6), round(r.lat, 6)]},
         "properties": {"name": r.name, "kind": r.kind}} for r in s.itertuples()]}
    return named(Response(json.dumps(fc), media_type="application/geo+json"), "sites", None,
                 name, inline=True)


@router.delete("/sites/{name}", dependencies=[PARTNER], status_code=204, operation_id="deleteSiteSet",
               response_class=Response,
               responses={204: {"description": "Deleted"}, 404: {"model": ErrorBody}},
               summary="Delete a candidate-site set")
def delete_set(name: Name, svc: ServiceDep, who: PrincipalDep) -> Response:
    """Removes the set; maps that name it will show a 404 message. Only the set's creator
    or an admin may delete it (403 otherwise)."""
    svc.site_sets.delete(name, who.owner, who.at_least("admin"))
    return Response(status_code=204)
