"""Briefing packs (GET /briefings, A4 PDF) and the digest (GET /digest, JSON and Atom) on the
demo data: every NPA's PDF rendered once, its text (poppler's pdftotext) checked against
the API's own numbers, page count and size, roles, errors; the digest's feed parsed, and
the digest changed by the ingest of a SYNTHETIC month."""

from __future__ import annotations

import csv
import re
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from fastapi.testclient import TestClient

from geo_api.settings import Settings
from tests.conftest import DEMO_DIR, demo_store_copy

NPAS = ("NC", "NE", "NS", "NW")
WINDOW = "2020-07/2020-09"
GROUP = "violence_robbery_weapons"
ATOM = "{http://www.w3.org/2005/Atom}"


def pdf_text(pdf: bytes, tmp_path) -> list[str]:
    """The PDF's text, page by page (pdftotext from poppler-utils)."""
    path = tmp_path / "b.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    return [" ".join(page.split()) for page in out.stdout.decode().split("\f")[:-1]]


def pdf_info(pdf: bytes, tmp_path) -> dict[str, str]:
    path = tmp_path / "i.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True)
    return {k.strip(): v.strip() for k, _, v in
            (line.partition(":") for line in out.stdout.decode().splitlines())}


@pytest.fixture(scope="module")
def partner(public):
    """(the client, headers of a partner's key)."""
    client, key = public
    return client, {"X-API-Key": key}


@pytest.fixture(scope="module")
def npa_pdfs(partner, tmp_path_factory):
    """Each NPA's briefing as a partner sees it: (response, pages of text, pdfinfo)."""
    client, headers = partner
    tmp = tmp_path_factory.mktemp("pdfs")
    out = {}
    for code in NPAS:
        r = client.get(f"/briefings/npa/{code}", headers=headers)
        assert r.status_code == 200, r.text
        out[code] = (r, pdf_text(r.content, tmp), pdf_info(r.content, tmp))
    return out


@pytest.mark.parametrize("code", NPAS)
def test_every_npa_briefing_is_an_a4_pdf_of_2_to_4_pages(npa_pdfs, partner, code):
    r, pages, info = npa_pdfs[code]
    assert r.headers["content-type"] == "application/pdf"
    assert (f'filename="briefing_npa-{code}_2020-07-to-2020-09.pdf"'
            in r.headers["content-disposition"])
    assert 2 <= int(info["Pages"]) <= 4
    width, height = map(float, re.findall(r"[\d.]+", info["Page size"])[:2])
    assert abs(width - 595.3) < 1.5 and abs(height - 841.9) < 1.5  # A4 portrait, points
    version = partner[0].get("/health").json()["dataset_version"]
    assert version in info["Subject"] and version in pages[0]
    assert code in info["Title"] and "July to September 2020" in info["Title"]


@pytest.mark.parametrize("code", NPAS)
def test_briefing_numbers_are_the_apis(npa_pdfs, partner, code):
    client, headers = partner
    _, pages, _ = npa_pdfs[code]
    text = " ".join(pages)
    areas = {a["code"]: a["count"] for a in client.get(
        "/stats/areas", params={"layer": "npa", "datetime": WINDOW, "group": GROUP},
        headers=headers).json()["areas"]}
    before = {a["code"]: a["count"] for a in client.get(
        "/stats/areas", params={"layer": "npa", "datetime": "2020-04/2020-06",
                                "group": GROUP}, headers=headers).json()["areas"]}
    assert f"had {areas[code]:,} offences in July to September 2020" in text
    assert f"(the whole city {sum(areas.values()):,})" in text
    assert f"{before[code]:,} then {areas[code]:,}" in text
    focus = client.get("/focus", params={"n": 30}, headers=headers).json()["places"]
    mine = [p for p in focus if p["npa_code"] == code]
    for place in mine[:12]:
        assert f"#{place['rank']} {place['name']}" in text
        assert f"{place['count_last_3_months']} offences in the last 3 months" in text
    if not mine:
        assert "None of the city's 30 focus places" in text
    zones = client.get("/plan/people-zones", params={"layer": "npa"},
                       headers=headers).json()["areas"]
    rank = next(z["rank"] for z in zones if z["code"] == code)
    assert re.search(rf"ranks {rank}(st|nd|rd|th) of the city's 4 policing areas", text)


def test_briefing_says_plainly_what_is_not_loaded_and_uses_plain_words(npa_pdfs):
    _, pages, _ = npa_pdfs["NC"]
    text = " ".join(pages)
    assert ("same months a year earlier (July to September 2019): not possible, those "
            "months are not loaded") in text
    main = " ".join(pages).split("How this was made")[0]
    for word in ("Gi*", "H3", "PAI", " pp ", "long_run", "p-value"):
        assert word not in main, word
    assert "Gi*" in text.split("How this was made")[1]  # named in the footer only
    assert "Street names: police.uk location names" in text  # no GEO_API_OSM_FILE here


def test_public_role_gets_a_reduced_briefing(public, npa_pdfs, tmp_path):
    client, _ = public
    r = client.get("/briefings/npa/NC")  # anonymous = public in this app
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = " ".join(pdf_text(r.content, tmp_path))
    assert "Public version" in text and "need a partner key" in text
    partner_text = " ".join(npa_pdfs["NC"][1])
    first_place = re.search(r"#1 ([^(]+) \(", partner_text)
    assert first_place and first_place.group(1) not in text  # no focus places
    count = int(re.search(r"had ([\d,]+) offences", text).group(1).replace(",", ""))
    assert count % 5 == 0  # rounded to 5


def test_kits_section_with_a_site_set(partner, tmp_path):
    client, headers = partner
    r = client.get("/briefings/ward/E05010463", params={"kits": "schools"}, headers=headers)
    assert r.status_code == 200
    assert "briefing_ward-E05010463-castle_2020-07-to-2020-09.pdf" in \
        r.headers["content-disposition"]
    text = " ".join(pdf_text(r.content, tmp_path))
    found = re.search(r"(\d+) kit\(s\) of the set 'schools' in Castle ward", text)
    assert found and int(found.group(1)) > 0
    assert re.search(r"were within 200 m of a kit", text)


@pytest.mark.parametrize(("url", "status", "field"), [
    ("/briefings/npa/XX", 404, "code"), ("/briefings/ward/NC", 404, "code"),
    ("/briefings/lsoa/NC", 422, "layer"), ("/briefings/npa/NC?month=2021-01", 422, "month"),
    ("/briefings/npa/NC?month=July", 422, "month"), ("/digest/npa/XX", 404, "code"),
    ("/digest/npa/XX.atom", 404, "code"), ("/briefings/npa/NC?kits=Bad%20Set", 422, "kits")])
def test_bad_input_is_a_4xx_naming_the_field(partner, url, status, field):
    client, headers = partner
    r = client.get(url, headers=headers)
    assert r.status_code == status, r.text
    assert field in r.json()["message"]


def test_roles_none_is_refused(demo_settings, tmp_path):
    from geo_api.web.app import create_app

    settings = Settings(store_dir=demo_settings.store_dir, keys_file=tmp_path / "k.json",
                        audit_dir=tmp_path / "audit", anonymous_role="none")
    with TestClient(create_app(settings)) as c:
        assert c.get("/briefings/npa/NC").status_code == 401
        assert c.get("/digest/npa/NC.atom").status_code == 401


def atom_entries(body: bytes):
    feed = ET.fromstring(body)
    assert feed.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert feed.find(f"{ATOM}{name}").text
    entries = feed.findall(f"{ATOM}entry")
    for e in entries:
        for name in ("id", "title", "updated", "summary"):
            assert e.find(f"{ATOM}{name}").text, name
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e.find(f"{ATOM}updated").text)
        assert e.find(f"{ATOM}link").get("href").startswith("http")
    return feed, entries


def test_digest_json_and_atom_agree_and_escape_text(partner):
    client, headers = partner
    code = "E05010462"  # Braunstone Park & Rowley Fields: an ampersand in every title
    answer = client.get(f"/digest/ward/{code}", headers=headers).json()
    assert [e["month"] for e in answer["entries"]] == ["2020-09", "2020-08", "2020-07",
                                                       "2020-06"]
    r = client.get(answer["atom_url"], headers=headers)
    assert r.headers["content-type"].startswith("application/atom+xml")
    assert b"Braunstone Park &amp; Rowley Fields" in r.content
    feed, entries = atom_entries(r.content)
    assert "Braunstone Park & Rowley Fields" in feed.find(f"{ATOM}title").text
    assert [e.find(f"{ATOM}title").text for e in entries] == \
        [e["title"] for e in answer["entries"]]
    assert client.get(f"/digest/ward/{code}?f=atom", headers=headers).content == r.content
    nc = client.get("/digest/npa/NC", headers=headers).json()["entries"][0]
    assert nc["new"] or nc["intensifying"]  # the demo's summer rise in the centre
    assert all(s["change"] == "new" and not s["label_before"].startswith("hot")
               for s in nc["new"])
    assert nc["places"] is not None  # partner: the rising focus places


def test_public_digest_protects_counts_and_leaves_out_places(public):
    client, _ = public
    entry = client.get("/digest/npa/NC").json()["entries"][0]
    assert entry["places"] is None
    counts = [s["count"] for s in entry["new"] + entry["intensifying"]]
    assert counts and all(c is None or c % 5 == 0 for c in counts)


def synthetic_month(path, points_lonlat) -> None:
    """SYNTHETIC: the demo's September 2020 re-dated to October 2020 (new Crime IDs), plus
    30 invented violent offences at each of ``points_lonlat`` - not real data."""
    src = DEMO_DIR / "police_uk" / "2020-09-leicestershire-street.csv"
    with open(src, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0])
    extra = [{**rows[0], "Crime ID": "x", "Longitude": f"{lon:.6f}", "Latitude": f"{lat:.6f}",
              "Location": "On or near Synthetic Street",
              "Crime type": "Violence and sexual offences"}
             for lon, lat in points_lonlat for _ in range(30)]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for i, row in enumerate(rows + extra):
            w.writerow({**row, "Month": "2020-10",
                        "Crime ID": f"{0x5E0000 + i:064x}" if row["Crime ID"] else ""})


def test_digest_follows_an_ingest(tmp_path_factory, joins, partner):
    from geo_api.crs import metric_to_lonlat
    from geo_api.services.service import Service
    from geo_api.web.app import create_app

    root = tmp_path_factory.mktemp("digest_ingest")
    settings = Settings(store_dir=demo_store_copy(tmp_path_factory, joins, root / "store"))
    with TestClient(create_app(settings)) as c:
        before = c.get("/digest/npa/NS").json()
        svc = c.app.state.service
        pt = svc.boundaries.get("npa").gdf.set_index("code").geometry["NS"]
        x, y = pt.representative_point().x, pt.representative_point().y
    # a 3 x 3 block of points 200 m apart: a cluster over neighbouring cells (Gi* looks
    # at a cell and the cells around it, so one busy point alone need not be a hot spot)
    dx, dy = np.meshgrid([-200.0, 0.0, 200.0], [-200.0, 0.0, 200.0])
    lon, lat = metric_to_lonlat(x + dx.ravel(), y + dy.ravel())
    month = root / "2020-10-leicestershire-street_SYNTHETIC.csv"
    synthetic_month(month, list(zip(lon.tolist(), lat.tolist())))
    svc = Service(settings)
    svc._joins = joins
    svc.ingest_paths([month], progress=False)
    svc.close()
    with TestClient(create_app(settings)) as c:
        after = c.get("/digest/npa/NS").json()
        _, entries = atom_entries(c.get("/digest/npa/NS.atom").content)
    assert before["entries"][0]["month"] == "2020-09"
    assert after["entries"][0]["month"] == "2020-10"
    assert after["dataset_version"] != before["dataset_version"]
    newest = after["entries"][0]
    assert any("Synthetic Street" in s["place"] for s in newest["new"] + newest["intensifying"])
    assert entries[0].find(f"{ATOM}id").text.endswith("/2020-10")
    assert "Synthetic Street" in entries[0].find(f"{ATOM}summary").text
