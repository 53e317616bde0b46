"""The digest of a patch as the API answers it (JSON) and as an Atom 1.0 feed (RFC 4287)
a team subscribes to: one entry per month, every text XML-escaped by ElementTree."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from geo_api.services import digest
from geo_api.services.briefings import focus_places
from geo_api.services.patches import find_patch
from geo_api.services.planning import default_demand_group
from geo_api.web.api.shared import Responses
from geo_api.web.auth import disclosure

ATOM = "http://www.w3.org/2005/Atom"
ATOM_200: Responses = {200: {"content": {"application/atom+xml": {
    "schema": {"type": "string"},
    "example": "<feed xmlns=\"http://www.w3.org/2005/Atom\">...</feed>"}},
    "description": "JSON (default) or the Atom feed (f=atom or .atom)"}}
PDF_200: Responses = {200: {"content": {"application/pdf": {
    "schema": {"type": "string", "format": "binary"},
    "example": "(an A4 PDF of 3 pages)"}},
    "description": "The briefing pack (Content-Disposition names the file, e.g. "
                   "briefing_npa-NC_2020-07-to-2020-09.pdf)"}}


def digest_answer(request: Request, svc, layer: str, code: str) -> dict[str, Any]:
    """The digest of ``layer``/``code`` for the caller (public: counts protected, names only
    where at least k offences stand behind them, no focus places)."""
    patch = find_patch(svc, layer, code)
    group = default_demand_group(svc)
    policy = disclosure(request)
    places = None
    if policy is None:
        places = focus_places(svc, patch, group, svc.store.months_loaded()[-1])[1]
    entries = digest.entries(svc, patch, group, policy, places)
    return {"layer": layer, "code": code, "name": patch.name, "group": group,
            "dataset_version": svc.store.dataset_version() or "",
            "atom_url": f"/digest/{quote(layer)}/{quote(code)}.atom",
            "entries": [dataclasses.asdict(e) for e in entries]}


def atom_feed(request: Request, answer: dict[str, Any]) -> Response:
    """``answer`` (``digest_answer``) as an Atom 1.0 feed."""
    base = str(request.base_url).rstrip("/")
    layer, code = quote(answer["layer"]), quote(answer["code"])
    tag = f"tag:geo-api,2020:digest/{layer}/{code}/{quote(answer['group'])}"
    label = f"{answer['name']} ({answer['code']})" if answer["layer"] == "npa" else \
        f"{answer['name']} ward"
    feed = ET.Element("feed", xmlns=ATOM)
    ET.SubElement(feed, "id").text = tag
    ET.SubElement(feed, "title").text = f"What changed: {label}"
    ET.SubElement(feed, "subtitle").text = (
        f"New and intensifying hot spots of {answer['group'].replace('_', ' ')}, month by "
        f"month; dataset version {answer['dataset_version']}")
    entries = answer["entries"]
    ET.SubElement(feed, "updated").text = max((e["updated"] for e in entries),
                                              default="1970-01-01T00:00:00Z")
    author = ET.SubElement(feed, "author")
    ET.SubElement(author, "name").text = "geo_api"
    ET.SubElement(feed, "link", rel="self", href=f"{base}/digest/{layer}/{code}.atom")
    ET.SubElement(feed, "link", rel="alternate", type="application/json",
                  href=f"{base}/digest/{layer}/{code}")
    for e in entries:
        entry = ET.SubElement(feed, "entry")
        ET.SubElement(entry, "id").text = f"{tag}/{e['month']}"
        ET.SubElement(entry, "title").text = e["title"]
        ET.SubElement(entry, "updated").text = e["updated"]
        ET.SubElement(entry, "summary", type="text").text = e["summary"]
        ET.SubElement(entry, "link", rel="alternate", type="application/pdf",
                      href=f"{base}/briefings/{layer}/{code}?month={quote(e['month'])}")
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/atom+xml; charset=utf-8")
