"""The lockdown answer in words (services/report_words.py): hand-checkable rows, the public
view's withheld numbers, and the demo case study's sentences against GET /compare/report."""

import re

import pytest

from geo_api.services.report_words import (
    WDQ_CAVEAT,
    npa_name,
    report_sentences,
    share_sentence,
    wdq_sentences,
)

RISE, FALL, SAME = ("rose relative to overall", "fell relative to overall",
                    "no change beyond the overall trend")


def row(code, name, before, after, total_before, total_after, direction):
    """A ``compare_areas`` row by hand (shares from the counts)."""
    return {"code": code, "name": name, "before": before, "after": after,
            "share_before": before / total_before, "share_after": after / total_after,
            "direction": direction}


@pytest.mark.parametrize("r, sentence", [
    (row("NC", "Central", 230, 140, 1000, 1000, FALL),
     "Central (NC)'s share fell from 23% to 14% (a clear fall)."),
    (row("NW", "West", 300, 360, 1000, 1000, RISE),
     "West (NW)'s share rose from 30% to 36% (a clear rise)."),
    (row("NE", "East", 341, 342, 1000, 1000, SAME), "East (NE)'s share did not change (34%)."),
    (row("NS", "South", 130, 160, 1000, 1000, SAME),
     "South (NS)'s share went from 13% to 16%: too close to call."),
    # a clear change whose whole percentages are equal is given to one decimal
    (row("NE", "East", 3410, 3440, 10000, 10000, RISE),
     "East (NE)'s share rose from 34.1% to 34.4% (a clear rise)."),
    # the public view: counts kept, shares withheld -> the verdict without numbers
    ({"code": "NC", "name": "Central", "before": 920, "after": 570, "share_before": None,
      "share_after": None, "direction": FALL}, "Central (NC)'s share fell (a clear fall)."),
    ({"code": "NE", "name": "East", "before": 1345, "after": 1380, "share_before": None,
      "share_after": None, "direction": SAME},
     "East (NE)'s share did not clearly change (too close to call)."),
    # a suppressed count (None in JSON, "<5" on the map pages): no verdict, no numbers
    ({"code": "NS", "name": "South", "before": None, "after": 10, "share_before": 0.0,
      "share_after": 0.05, "direction": RISE}, "South (NS): withheld (few offences)."),
    ({"code": "NS", "name": "South", "before": "<5", "after": "<5", "share_before": None,
      "share_after": None, "direction": SAME}, "South (NS): withheld (few offences)."),
])
def test_share_sentences_by_hand(r, sentence):
    assert share_sentence(r) == sentence


def test_npa_names_carry_their_codes():
    assert npa_name("NC", "Central") == "Central (NC)"
    assert npa_name("NC", None) == "NC" and npa_name("NC", float("nan")) == "NC"
    assert npa_name("X1", "X1") == "X1"


WDQ = {"wdq": 0.64, "reading_rule": "wdq_positive",
       "areas": {"target": ["NC"], "displacement": ["NE", "NW"], "control": ["NS"]},
       "tests": {"control_vs_city": {"significant": True, "ratio": 1.25}}}
NAMES = {"NC": "Central (NC)", "NE": "East (NE)", "NW": "West (NW)", "NS": "South (NS)"}


@pytest.mark.parametrize("rule, wdq, words", [
    ("wdq_positive", 0.64, ("No sign of it: Central (NC) fell against South (NS), the "
                           "comparison area, and East (NE) and West (NW) together fell "
                           "against it too (WDQ +0.64)")),
    ("wdq_negative", -0.4, "Possibly in part:"),
    ("wdq_below_minus_1", -1.5, "by more than Central (NC) fell (WDQ −1.50)"),
    ("target_worse", 2.0, "No: Central (NC) got worse against South (NS)"),
    ("target_not_measurable", None, "Cannot tell"),
])
def test_wdq_reading_in_words(rule, wdq, words):
    said = wdq_sentences({**WDQ, "reading_rule": rule, "wdq": wdq}, NAMES)
    assert said[0].startswith("Did violence move from Central (NC) to East (NE) and West (NW)?")
    assert words in said[0]
    assert said[-1] == WDQ_CAVEAT and "cannot prove" in said[-1]
    assert any("below 0" in s and "above 0" in s for s in said)
    assert "Take this with care: South (NS)'s own share rose" in said[1]


def test_a_withheld_wdq_is_not_quoted_and_a_stable_control_not_flagged():
    said = wdq_sentences({**WDQ, "wdq": None, "tests": {"control_vs_city": {
        "significant": False, "ratio": None}}}, NAMES)
    assert "WDQ +" not in said[0] and "(WDQ" not in said[0]
    assert not any(s.startswith("Take this with care") for s in said)


def test_sentences_start_with_the_target_then_the_areas_around_then_the_control():
    rows = [row(c, n, 100, 100, 400, 400, SAME)
            for c, n in (("NC", "Central"), ("NE", "East"), ("NS", "South"), ("NW", "West"))]
    said = report_sentences(rows, WDQ)
    assert [s.split("'")[0] for s in said[:4]] == ["Central (NC)", "East (NE)", "West (NW)",
                                                   "South (NS)"]
    assert "95% confidence" in said[4] and "4 areas at once" in said[4]


# --- the 2020 lockdown case study on the shipped data -------------------------------------

P = {"before": "2019-12/2020-02", "after": "2020-04/2020-06",
     "group": "violence_robbery_weapons"}
SHARE = re.compile(r"(\w+ \(N[CENSW]\))'s share (rose|fell|went) from (\d+(?:\.\d)?)% to "
                   r"(\d+(?:\.\d)?)%")
SAME_SHARE = re.compile(r"(\w+ \(N[CENSW]\))'s share did not change \((\d+)%\)")


def _numbers(sentences) -> dict[str, tuple[float, float]]:
    """Area -> (share before %, share after %) as the sentences state them."""
    out = {}
    for s in sentences:
        if m := SHARE.search(s):
            out[m[1]] = (float(m[3]), float(m[4]))
        elif m := SAME_SHARE.search(s):
            out[m[1]] = (float(m[2]), float(m[2]))
    return out


def _verdict(page: str) -> list[str]:
    from bs4 import BeautifulSoup

    panel = BeautifulSoup(page, "html.parser").find(id="verdict")
    assert panel is not None, "no answer in words on the page"
    return [" ".join(el.get_text(" ").split()) for el in panel.find_all(["li", "p"])]


def test_case_study_page_states_the_reports_numbers_in_words(client):
    report = client.get("/compare/report", params=P).json()
    page = client.get("/compare/report/map", params=P)
    assert page.status_code == 200
    said = _verdict(page.text)
    stated = _numbers(said)
    rows = {npa_name(r["code"], r["name"]): r for r in report["npa_change"]}
    assert set(stated) == set(rows) == {"Central (NC)", "East (NE)", "West (NW)", "South (NS)"}
    for name, (before, after) in stated.items():
        r = rows[name]
        digits = 0 if before == int(before) and after == int(after) else 1
        assert (before, after) == (round(100 * r["share_before"], digits),
                                   round(100 * r["share_after"], digits)), name
    # the certainty words follow the comparison's verdict, area by area
    for s in said[:4]:
        r = rows[s.split("'")[0]]
        assert ("(a clear" in s) == (r["direction"] != SAME), s
    assert "Central (NC)'s share fell from 23% to 14% (a clear fall)." in said
    assert "East (NE)'s share did not change (34%)." in said
    wdq = report["wdq_centre_to_east_west"]
    assert f"(WDQ {wdq['wdq']:+.2f})" in " ".join(said)
    assert any("cannot prove" in s for s in said)
    # the JSON answer says the same sentences
    assert report["summary_words"][:4] == said[:4]
    assert _numbers(report["summary_words"]) == stated


def test_the_public_view_says_the_verdict_without_withheld_numbers(public):
    c, partner = public
    body = c.get("/compare/report", params=P).json()
    words = body["summary_words"]
    assert all(r["share_before"] is None for r in body["npa_change"])  # withheld here
    assert "Central (NC)'s share fell (a clear fall)." in words
    assert not [s for s in words if re.search(r"\d+(\.\d)?%", s) and "confidence" not in s]
    assert body["wdq_centre_to_east_west"]["wdq"] is None
    assert not any("(WDQ" in s for s in words)
    page_words = _verdict(c.get("/compare/report/map", params=P).text)
    assert "Central (NC)'s share fell (a clear fall)." in page_words
    assert not [s for s in page_words if re.search(r"\d+(\.\d)?%", s)
                and "confidence" not in s]
    # a partner is shown the numbers (the check can fail)
    full = c.get("/compare/report", params=P, headers={"X-API-Key": partner}).json()
    assert _numbers(full["summary_words"])
