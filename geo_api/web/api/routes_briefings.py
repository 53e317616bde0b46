"""Briefing packs (A4 PDF) and the "what changed" digest (JSON and Atom) of a team's patch:
a policing area (npa: NC, NE, NS, NW) or a ward."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from geo_api.services import briefings
from geo_api.services.patches import find_patch
from geo_api.web.api.models import ErrorBody
from geo_api.web.api.models.digest import DigestResponse
from geo_api.web.api.params import HeavySlot, ServiceDep
from geo_api.web.api.shared import Responses
from geo_api.web.auth import PUBLIC, current_principal, disclosure
from geo_api.web.digest_atom import ATOM_200, PDF_200, atom_feed, digest_answer

router = APIRouter(tags=["briefings"], dependencies=[HeavySlot])
ERRORS: Responses = {404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
Layer = Annotated[Literal["npa", "ward"], Path(description="npa (policing area) or ward")]
Code = Annotated[str, Path(description="NPA code (NC, NE, NS, NW) or ward code (GET "
                           "/layers/ward)", max_length=20, examples=["NC"])]
Month = Annotated[str, Query(description="The briefing's last month, YYYY-MM, or latest",
                             pattern=r"^(latest|\d{4}-\d{2})$")]
Kits = Annotated[str | None, Query(description="Site set of the team's kits (uploaded with "
                                   "POST /sites/{name}); none: no kit section",
                                   pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]


@router.get("/briefings/{layer}/{code}", dependencies=[PUBLIC], response_class=Response,
            operation_id="getBriefing", responses={**PDF_200, **ERRORS},
            summary="A patch's monthly briefing pack: A4 PDF, 3 pages")
def briefing(request: Request, svc: ServiceDep, layer: Layer, code: Code,
             month: Month = "latest", kits: Kits = None) -> Response:
    """The three months ending with `month`: what changed against the previous 3 months
    and the same months a year earlier (in words, with certainty), the hot spot map with
    wards and street context, the monthly trend, the patch's focus places, kits in and near
    it and their reach, its People Zone rank. The public role gets counts rounded and no
    focus places, kits or People Zone rank (the PDF says so)."""
    from geo_api.web.maps.briefing_pdf import render_briefing_pdf  # noqa: PLC0415 - lazy: matplotlib

    principal = current_principal(request)
    b = briefings.build_briefing(svc, find_patch(svc, layer, code), month, kits,
                                 disclosure(request), principal.role if principal else "public")
    return Response(render_briefing_pdf(b, svc.boundaries), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{b.filename}"'})


@router.get("/digest/{layer}/{code}.atom", dependencies=[PUBLIC], response_class=Response,
            operation_id="getDigestFeed", responses={**ATOM_200, **ERRORS},
            summary="A patch's digest as an Atom feed (one entry per month)")
def digest_feed(request: Request, svc: ServiceDep, layer: Layer, code: Code) -> Response:
    """New and intensifying hot spots (and rising focus places) of the patch, one entry per
    month, updated with every ingest: subscribe with a feed reader."""
    return atom_feed(request, digest_answer(request, svc, layer, code))


@router.get("/digest/{layer}/{code}", dependencies=[PUBLIC], response_model=DigestResponse,
            operation_id="getDigest", responses={**ATOM_200, **ERRORS},
            summary="What changed in a patch: new and intensifying hot spots, month by month")
def digest_json(request: Request, svc: ServiceDep, layer: Layer, code: Code,
                f: Annotated[Literal["json", "atom"], Query(
                    description="json (default) or atom (the Atom feed)")] = "json"):
    """Each entry: the three months ending with a loaded month against the three before
    (Gi* hot cells on H3 resolution 9, as the hot spot map); computed once per dataset
    version. Atom: `f=atom` or `/digest/{layer}/{code}.atom`."""
    answer = digest_answer(request, svc, layer, code)
    return atom_feed(request, answer) if f == "atom" else answer

