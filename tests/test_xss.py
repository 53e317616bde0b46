"""Stored XSS: hostile text in site names, kinds and a user's NPA names is shown, never run.

Each payload, if it ran, would set ``data-xss`` on <html>; pages are rendered in headless
Chromium and the DOM must not carry it. Tooltips that only render on hover cannot be run
headless, so the page source must also hold no live markup from the payloads."""

from __future__ import annotations

import csv
import io
import json
import re

import httpx
import pytest
from test_browser import _serve, dump_dom

from geo_api.settings import PROJECT_ROOT

SET = "document.documentElement.setAttribute('data-xss','{}')"
SSTI = "{{ 6*7 }}{{ 1000+337 }}{% if 1 %}ran{% endif %}"  # Jinja: would give 421337ran
PAYLOADS = [
    SSTI,
    "<script>" + SET.format(1) + "</script>",
    '<img src=x onerror="' + SET.format(2) + '">',
    "${" + SET.format(3) + "}",
    "`;" + SET.format(4) + ";`",
    "</script><script>" + SET.format(5) + "</script>",
    '"><svg onload="' + SET.format(6) + '">',
    "'><svg/onload=" + SET.format(7) + ">",
    "javascript:" + SET.format(8),
    '<iframe srcdoc="<script>parent.' + SET.format(9) + '</script>">',
    "\\`${" + SET.format(10) + "}",
    '<details open ontoggle="' + SET.format(11) + '">',
    '<body onload="' + SET.format(12) + '">',
    '<a href="javascript:' + SET.format(13) + '">x</a>',
    "{{7*7}}<img src=x onerror=" + SET.format(14) + ">",
    "<math><mtext></mtext><img src=x onerror=" + SET.format(15) + "></math>",
    "'-" + SET.format(16) + "-'",
    '";' + SET.format(17) + ";//",
    "<input autofocus onfocus=" + SET.format(18) + ">",
    '<video><source onerror="' + SET.format(19) + '">',
    "${alert`20`}<marquee onstart=" + SET.format(20) + ">",
    '<object data="javascript:' + SET.format(21) + '">',
    "<svg><animate onbegin=" + SET.format(22) + " attributeName=x dur=1s>",
]
# raw fragments of the payloads; the page's own markup never contains them
LIVE = ["<script>document", "<img src=x", "<svg onload", "<svg/onload", "<iframe srcdoc",
        "<details open", "<body onload", '<a href="javascript', "<math>", "<input autofocus",
        "<video>", "<marquee", "<object data", "<svg><animate", "${alert", "${document",
        "`;document"]


@pytest.fixture(scope="module")
def xss_server(tmp_path_factory, joins):
    """A store with the demo data, NPA polygons named by payloads (a user's file) and a
    site set whose names and kinds are payloads."""
    import geopandas as gpd

    from geo_api.services.service import Service
    from geo_api.settings import Settings

    root = tmp_path_factory.mktemp("xss")
    npa = gpd.read_file(PROJECT_ROOT / "boundaries" / "layers" / "npa.geojson")
    npa["name"] = PAYLOADS[:len(npa)]
    npa_file = root / "npa_payloads.geojson"
    npa.to_file(npa_file, driver="GeoJSON")
    settings = Settings(store_dir=root / "store", npa_file=npa_file)
    svc = Service(settings)
    svc.ingest_paths(svc.demo_files(), progress=False)
    svc.close()
    yield from _serve(settings)


def _sites_csv() -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["name", "kind", "easting", "northing"])
    for i, p in enumerate(PAYLOADS):
        w.writerow([p, PAYLOADS[(i + 3) % len(PAYLOADS)][:100], 458000 + 100 * i, 304500])
    return buf.getvalue().encode()


PAGES = [
    "/maps/hotspots?datetime=2020-04/2020-06&group=violence_robbery_weapons&sites=xss",
    "/maps/planning?datetime=2020-04/2020-09&p=2&existing=xss&layer=npa&candidates=xss",
    "/compare/report/map?before=2019-12/2020-02&after=2020-04/2020-06",
    "/maps/compare?before=2019-12/2020-02&after=2020-04/2020-06",
]


@pytest.mark.parametrize("path", PAGES)
def test_no_payload_runs_or_stays_live(xss_server, browser, path):
    r = httpx.post(f"{xss_server}/sites/xss", content=_sites_csv(),
                   headers={"content-type": "text/csv"})
    assert r.status_code == 201, r.text
    page = httpx.get(xss_server + path, timeout=120)
    assert page.status_code == 200, page.text[:300]
    live = [m for m in LIVE if m in page.text]
    assert not live, f"live markup from payloads in the page source: {live}"
    dom = dump_dom(browser, xss_server + path)
    html_tag = re.search(r"<html[^>]*>", dom).group(0)
    assert "data-xss" not in html_tag, f"a payload ran: {html_tag}"
    assert "data-js-errors" not in html_tag, html_tag


def test_payload_text_is_still_shown(xss_server):
    """Escaping keeps the words: a planner sees what was uploaded."""
    httpx.post(f"{xss_server}/sites/xss", content=_sites_csv(),
               headers={"content-type": "text/csv"})
    fc = httpx.get(f"{xss_server}/sites/xss").json()
    assert [f["properties"]["name"] for f in fc["features"]] == PAYLOADS  # API: exact text
    page = httpx.get(xss_server + PAGES[0], timeout=120).text
    assert "&lt;img src=x onerror=" in page
    for path in PAGES:  # server side: names are never evaluated as templates (Jinja)
        page = httpx.get(xss_server + path, timeout=120).text
        assert "421337" not in page, path
        assert SSTI in page or json.dumps(SSTI)[1:-1] in page, path
    assert json.dumps(len(PAYLOADS)) and len(PAYLOADS) >= 20
