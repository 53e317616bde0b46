"""Downloads that open right (issue 30 part 6): every CSV is UTF-8 with a byte order mark
(Excel reads "Café" right on a double-click) unless ``bom=false``; every file the API sends
is named for what it is, its period and offence group; no parameter can reach the header."""

from __future__ import annotations

import csv
import io
import re

import pandas as pd
import pytest
import yaml

from geo_api.settings import PROJECT_ROOT
from geo_api.web.api.downloads import EXTENSIONS, disposition, file_stem, name_part

BOM = b"\xef\xbb\xbf"
PERIOD, PERIOD_WORDS = "2020-04/2020-06", "2020-04-to-2020-06"
GROUP = "violence_robbery_weapons"
Q = f"datetime={PERIOD}&group={GROUP}"
P = f"before=2019-12/2020-02&after={PERIOD}&group={GROUP}"
PAIR_WORDS = f"2019-12-to-2020-02_vs_{PERIOD_WORDS}"
FOCUS = f"datetime=2019-12/2020-09&group={GROUP}"
ACCENTED = ["Café kit", "Kit – Haymarket", "£5 kit"]  # "–": an en dash
SITES = "name,kind,easting,northing\n" + "".join(
    f"{n},bleed kit,{458800 + 40 * i},{304580 + 30 * i}\n" for i, n in enumerate(ACCENTED))
NAME = re.compile(r'^(attachment|inline); filename="([A-Za-z0-9._-]{1,160})"$')


@pytest.fixture(scope="module")
def accented_sites(client):
    r = client.post("/sites/accented-kits", content=SITES.encode(),
                    headers={"content-type": "text/csv"})
    assert r.status_code == 201, r.text
    return "accented-kits"


# ------------------------------------------------------------------ CSV and Excel ------
def test_csv_starts_with_a_bom_and_round_trips_accents(client, accented_sites):
    url = f"/plan/kits/coverage?{Q}&sites={accented_sites}&f=csv"
    r = client.get(url)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content[:3] == BOM and r.content.count(BOM) == 1
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert sorted(row["name"] for row in rows) == sorted(ACCENTED)
    frame = pd.read_csv(io.BytesIO(r.content), encoding="utf-8-sig")
    first = next(iter(rows[0]))
    assert frame.columns[0] == first and not first.startswith("\ufeff")
    assert sorted(frame["name"]) == sorted(ACCENTED)

    plain = client.get(url + "&bom=false")  # for scripts: no BOM, the same text
    assert plain.status_code == 200 and not plain.content.startswith(BOM)
    assert plain.content.decode("utf-8") == r.content.decode("utf-8-sig")
    assert plain.headers["content-disposition"] == r.headers["content-disposition"]


@pytest.mark.parametrize("url", [
    f"/stats/areas?layer=ward&{Q}", f"/stats/top?grid=lsoa&limit=5&{Q}",
    f"/compare/areas?{P}", f"/offences?{Q}&limit=2500", f"/plan/kits/p-curve?{Q}&max_p=2",
    f"/focus?{FOCUS}&n=3"])
def test_every_csv_has_the_bom_once_unless_asked_not_to(client, url):
    with_bom, without = client.get(url + "&f=csv"), client.get(url + "&f=csv&bom=false")
    assert with_bom.status_code == without.status_code == 200, with_bom.text[:300]
    assert with_bom.content.startswith(BOM) and with_bom.content.count(BOM) == 1
    assert not without.content.startswith(BOM) and BOM not in without.content
    assert with_bom.content[3:] == without.content
    header = pd.read_csv(io.BytesIO(with_bom.content), encoding="utf-8-sig", nrows=1).columns
    assert header[0] == without.content.decode().split(",", 1)[0]


def test_bom_is_only_for_csv_and_must_be_a_yes_or_no(client):
    r = client.get(f"/stats/areas?layer=ward&{Q}&bom=false")  # a JSON answer
    assert r.status_code == 422 and r.json()["message"].startswith("bom:")
    r = client.get(f"/stats/areas?layer=ward&{Q}&f=csv&bom=perhaps")
    assert r.status_code == 422 and "bom" in r.text
    r = client.get(f"/hotspots/concentration?{Q}&bom=false")  # no CSV here at all
    assert r.status_code in (404, 422)


# --------------------------------------------------------------------- file names ------
# Every GET of openapi.yaml that can answer a file format: how to ask for it (a path on the
# demo data) and what its name must say (the endpoint's subject, then the period and
# group where they apply). A new downloadable endpoint fails the test until it is listed.
D = {
    ("getLayer", "application/geo+json"): ("/layers/ward", ["boundaries", "ward"]),
    ("getOffences", "application/geo+json"): (f"/offences?{Q}&limit=5",
                                              ["offences", PERIOD_WORDS, GROUP]),
    ("getOffences", "text/csv"): (f"/offences?{Q}&limit=5&f=csv",
                                  ["offences", PERIOD_WORDS, GROUP]),
    ("getOffences", "application/vnd.apache.parquet"): (
        f"/offences?{Q}&limit=5&f=parquet", ["offences", PERIOD_WORDS, GROUP]),
    ("getAreaStats", "text/csv"): (f"/stats/areas?layer=ward&{Q}&f=csv",
                                   ["offences-by-ward", PERIOD_WORDS, GROUP]),
    ("getKde", "application/geo+json"): (f"/hotspots/kde?{Q}&f=geojson",
                                         ["hotspots_kde", PERIOD_WORDS, GROUP]),
    ("getGiStar", "application/geo+json"): (f"/hotspots/gi?{Q}&permutations=99&f=geojson",
                                            ["hotspots_gi_h3-r9", PERIOD_WORDS, GROUP]),
    ("getTopAreas", "text/csv"): (f"/stats/top?grid=ward&{Q}&f=csv",
                                  ["top-ward", PERIOD_WORDS, GROUP]),
    ("compareAreas", "text/csv"): (f"/compare/areas?{P}&f=csv",
                                   ["change-by-npa", PAIR_WORDS, GROUP]),
    ("compareHotspots", "application/geo+json"): (
        f"/compare/hotspots?{P}&permutations=99&f=geojson",
        ["hotspot-change_gi_h3-r9", PAIR_WORDS, GROUP]),
    ("hotspotMapPng", "image/png"): (f"/maps/hotspots.png?{Q}",
                                     ["hotspots_h3-r9", PERIOD_WORDS, GROUP]),
    ("getSiteSet", "application/geo+json"): ("/sites/accented-kits",
                                             ["sites", "accented-kits"]),
    **{(op, media): (f"{path}?{Q}&{extra}&f={ext}", [subject, PERIOD_WORDS, GROUP])
       for op, path, subject, extra in [
           ("getKitCoverage", "/plan/kits/coverage", "kit-coverage_accented-kits_200m",
            "sites=accented-kits"),
           ("getNextKits", "/plan/kits/next", "next-kits_2-kits_police_points_200m", "p=2"),
           ("getKitsForTarget", "/plan/kits/how-many",
            "kits-for-target_20pc_police_points_200m", "target_share=0.2"),
           ("getPeopleZones", "/plan/people-zones", "people-zones_ward", "n_sim=100")]
       for media, ext in (("application/geo+json", "geojson"), ("text/csv", "csv"))},
    **{("focusList", media): (f"/focus?{FOCUS}&n=3&f={ext}",  # (it learns from 4+ months)
                              ["focus-list_h3-r9", "2019-12-to-2020-09", GROUP])
       for media, ext in (("application/geo+json", "geojson"), ("text/csv", "csv"))},
    ("getKitsCurve", "text/csv"): (f"/plan/kits/p-curve?{Q}&max_p=2&f=csv",
                                   ["kits-curve_1-to-2-kits_police_points_200m",
                                    PERIOD_WORDS, GROUP]),
}
# answers in a file format that are not downloads: map tiles, and OGC API Features pages
# (read by GIS clients page by page; /offences and f= formats are the downloads)
NOT_DOWNLOADS = {"getTile", "getVectorTile", "getCollectionTile", "getOffenceFeatures",
                 "getOffenceFeature", "getFeatures", "getFeature"}
FILE_TYPES = set(EXTENSIONS) | {"application/vnd.mapbox-vector-tile"}


def openapi_file_answers() -> set[tuple[str, str]]:
    spec = yaml.safe_load((PROJECT_ROOT / "openapi.yaml").read_text())
    return {(op["operationId"], media)
            for methods in spec["paths"].values() for verb, op in methods.items()
            if verb == "get"
            for media in ((op.get("responses", {}).get("200") or {}).get("content") or {})
            if media in FILE_TYPES}


def test_every_file_format_in_the_openapi_document_is_checked_here():
    answers = openapi_file_answers()
    assert {a for a in answers if a[0] not in NOT_DOWNLOADS} == set(D)
    assert {op for op, _ in answers} >= NOT_DOWNLOADS


@pytest.mark.parametrize("op, media", sorted(D))
def test_every_download_is_named_for_what_it_is(client, accented_sites, op, media):
    url, words = D[(op, media)]
    r = client.get(url)
    assert r.status_code == 200, (url, r.text[:300])
    assert r.headers["content-type"].split(";")[0] == media
    m = NAME.match(r.headers["content-disposition"])
    assert m, r.headers["content-disposition"]
    stem, _, ext = m.group(2).rpartition(".")
    assert ext == EXTENSIONS[media]
    at = 0  # the words in order: subject, then period and group
    for word in words:
        found = stem.find(word, at)
        assert found >= 0, (stem, word)
        at = found + len(word)
    if "text/csv" in media or media.startswith("image") or "parquet" in media:
        assert m.group(1) in ("attachment", "inline")


@pytest.mark.parametrize("url", [
    '/hotspots/gi?datetime=2020-04&group=all"%0d%0aX-Evil:%201&f=geojson',
    "/stats/areas?layer=ward%22%0d%0aX-Evil:1&f=csv",
    "/plan/kits/coverage?sites=a%22b%0d%0aX-Evil:1&f=csv",
    "/sites/kits%22%0d%0aX-Evil:1",
    "/layers/ward%22%3B%20filename%3Devil.exe",
])
def test_parameters_cannot_reach_the_header(client, url):
    r = client.get(url)
    assert r.status_code in (404, 422), (url, r.status_code)
    assert "x-evil" not in r.headers and "evil" not in r.headers.get("content-disposition", "")


@pytest.mark.parametrize("text", ['a"b', "a\r\nX-Evil: 1", "Café – £5", "../../etc/passwd",
                                  "x" * 500, ";filename=evil.exe", "", "\u202egnp.exe"])
def test_a_file_name_is_safe_whatever_it_is_made_of(text):
    stem = file_stem("subject", text, None, "2020-04")
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,150}", stem) and stem.startswith("subject")
    assert len(name_part(text)) <= 48 and ".." not in name_part(text).strip(".")
    assert NAME.match(disposition(text, "csv")) or disposition(text, "csv").endswith(
        'filename="download.csv"')
    assert NAME.match(disposition(stem, "csv"))
