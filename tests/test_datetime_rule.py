"""One rule for periods against month-dated records (police.uk), in every spelling and on
every endpoint family; instants (with a zone) are instants; bad spellings are 422.

The rule (``MONTH_RULE``): a record dated only by month counts when the interval covers at
least half of its month (UK time); a month covered only in part is named in meta.warnings.
Records with a time (force exports) match the instants exactly.
"""

from __future__ import annotations

import math
from datetime import datetime

import pandas as pd
import pytest

from geo_api.data.store.base import OffenceFilter, month_parts
from geo_api.services.filters import build_filter

# "April to June 2020" in the standard spellings
APRIL_TO_JUNE = ["2020-04/2020-06", "2020-04-01/2020-06-30",
                 "2020-04-01T00:00:00Z/2020-06-30T23:59:59Z",
                 "2020-04-01T00:00:00+01:00/2020-06-30T23:59:59+01:00",
                 "2020-04-01T00:00:00/2020-06-30T23:59:59"]
FROM_APRIL = ["2020-04/..", "2020-04-01/..", "2020-04-01T00:00:00Z/..",
              "2020-04-01T00:00:00+01:00/.."]
TO_JUNE = ["../2020-06", "../2020-06-30", "../2020-06-30T23:59:59Z",
           "../2020-06-30T23:59:59+01:00"]


def months(value: str) -> tuple[str | None, str | None]:
    a, b = build_filter(value).month_span()
    return (a and f"{a:%Y-%m}", b and f"{b:%Y-%m}")


@pytest.mark.parametrize("value", APRIL_TO_JUNE)
def test_every_spelling_of_april_to_june_counts_april_to_june(value):
    assert months(value) == ("2020-04", "2020-07")


@pytest.mark.parametrize("value, want", [
    *[(v, ("2020-04", None)) for v in FROM_APRIL], *[(v, (None, "2020-07")) for v in TO_JUNE],
    ("2020-06-30T23:59:59Z", ("2020-08", "2020-08")),  # an instant (01:00 BST, 1 July): none
    ("2020-06-15", ("2020-07", "2020-07")),  # one day: no month by half
    ("2020-04-15/2020-06-15", ("2020-04", "2020-07")),  # 16/30 of April, 15/30 of June
    ("2020-04-17/2020-06-14", ("2020-05", "2020-06")),  # 14/30 and 14/30: May only
    ("2020-01-31T23:30:00Z/2020-02-29", ("2020-02", "2020-03")),  # GMT: Z is UK time
])
def test_open_ends_instants_and_part_months(value, want):
    assert months(value) == want


def test_part_months_are_measured_against_the_month():
    f = build_filter("2020-04-01T00:00:00Z/2020-06-30T23:59:59Z")  # 01:00 BST .. 00:59 BST
    parts = [(f"{m:%Y-%m}", round(share, 4), counted) for m, share, counted in
             month_parts(f.start, f.end)]
    assert parts == [("2020-04", round(1 - 1 / (30 * 24), 4), True),
                     ("2020-07", round(1 / (31 * 24), 4), False)]
    assert month_parts(datetime(2020, 4, 1), datetime(2020, 7, 1)) == []
    assert OffenceFilter().month_span() == (None, None)


@pytest.mark.parametrize("value", ["NaN", "nan", "NaT", "now", "today", "2020-13",
                                   "2020-02-30", "2020-04-01T25:00:00Z", "1e9", "inf"])
@pytest.mark.parametrize("path", [
    "/stats/areas?layer=ward&datetime={v}", "/compare/areas?before={v}&after=2020-05",
    "/compare/areas?before=2020-04&after={v}", "/compare/centre?before={v}&after=2020-05",
    "/compare/hotspots?before=2020-04&after={v}&permutations=0",
    "/compare/wdq?before={v}&after=2020-05", "/compare/kde?before={v}&after=2020-05",
    "/compare/report?before={v}&after=2020-05", "/compare/report/map?before=2020-04&after={v}",
    "/hotspots/emerging?datetime={v}", "/offences?datetime={v}",
    "/collections/offences/items?datetime={v}"])
def test_unparseable_datetimes_are_422_naming_the_field(client, path, value):
    r = client.get(path.format(v=value))
    assert r.status_code in (400, 422), (path, r.status_code, r.text[:200])
    html = r.headers["content-type"].startswith("text/html")  # a map page's own error page
    assert "cannot parse" in (r.text if html else r.json()["message"])


def total(client, url: str, **params) -> int:
    return sum(a["count"] for a in client.get(url, params=params).json()["areas"])


def test_every_endpoint_family_gives_april_to_june_for_every_spelling(client):
    """Analysis (area stats, Gi*, compare), OGC items, tiles and maps: the same answer for
    each spelling, April to June; part months named in meta.warnings, never silent."""
    base = "2020-04/2020-06"
    want_areas = total(client, "/stats/areas", layer="npa", datetime=base)
    want_items = client.get("/collections/offences/items",
                            params={"datetime": base, "limit": 1}).json()["numberMatched"]
    want_gi = client.get("/hotspots/gi", params={"datetime": base, "permutations": 0}).json()
    want_tile = client.get("/tiles/gi/9/254/167.geojson", params={"datetime": base}).content
    want_cmp = client.get("/compare/areas", params={"before": "2019-12/2020-02",
                                                    "after": base}).json()["areas"]
    assert want_areas > 5000 and want_items >= want_areas
    months_of = {m: n for m, n in pd.Series(
        [f["properties"]["month"] for f in client.get("/offences", params={
            "datetime": base, "limit": 10000, "crime_category": "Robbery"}).json()["features"]]
    ).value_counts().items()}
    assert set(months_of) == {"2020-04", "2020-05", "2020-06"}
    for value in APRIL_TO_JUNE[1:]:
        r = client.get("/stats/areas", params={"layer": "npa", "datetime": value}).json()
        assert sum(a["count"] for a in r["areas"]) == want_areas, value
        assert r["meta"]["filters"]["month_dated"] == "2020-04/2020-06"
        items = client.get("/collections/offences/items", params={"datetime": value,
                                                                  "limit": 1}).json()
        assert items["numberMatched"] == want_items, value
        gi = client.get("/hotspots/gi", params={"datetime": value, "permutations": 0}).json()
        assert [(c["id"], c["count"]) for c in gi["cells"]] == \
            [(c["id"], c["count"]) for c in want_gi["cells"]], value
        tile = client.get("/tiles/gi/9/254/167.geojson", params={"datetime": value})
        assert tile.status_code == 200 and tile.content == want_tile, value
        cmp = client.get("/compare/areas", params={"before": "2019-12/2020-02",
                                                   "after": value}).json()
        assert [(a["code"], a["after"]) for a in cmp["areas"]] == \
            [(a["code"], a["after"]) for a in want_cmp], value
        page = client.get("/maps/hotspots", params={"datetime": value})
        assert page.status_code == 200 and "Apr–Jun 2020" in page.text, value
        part = [w for w in r["meta"]["warnings"] if w.startswith("datetime:")]
        if "Z/" in value:  # 01:00 BST on 1 April to 00:59 BST on 1 July
            assert len(part) == 1 and "99.9% of 2020-04 (its records are counted)" in part[0]
            assert "0.1% of 2020-07 (left out)" in part[0]
            assert "covers 99.9% of 2020-04" in page.text  # the map says it too
        else:
            assert part == [], value


def test_an_instant_counts_no_month_and_says_so(client):
    r = client.get("/offences", params={"datetime": "2020-06-30T23:59:59Z", "limit": 5}).json()
    assert r["numberMatched"] == 0
    assert any("an instant of 2020-07 (left out)" in w or "less than 0.1% of 2020-07" in w
               for w in r["meta"]["warnings"])
    assert r["meta"]["filters"]["month_dated"] == "none"


@pytest.mark.parametrize("value", ["2020-04/2020-06", "2020-04-01T00:00:00Z/2020-06-30T23:59:59Z"])
def test_forecasts_and_emerging_take_the_months_the_rule_counts(client, value):
    r = client.get("/hotspots/emerging", params={"datetime": value, "permutations": 0})
    assert r.status_code == 200 and r.json()["meta"]["months"] == ["2020-04", "2020-05",
                                                                   "2020-06"]


def test_force_export_times_match_instants_exactly(timed_client, timed_settings):
    """Rows with a time: an hour given in UTC is that hour (BST = UTC+1 in April), not the
    month; with +01:00 the same hour; open ends too."""
    from geo_api.data.store.duckdb_store import DuckDBStore

    store = DuckDBStore(timed_settings.store_dir)
    try:
        t = store.values(("occurred_at",), OffenceFilter())["occurred_at"]
    finally:
        store.close()
    lo, hi = pd.Timestamp("2020-04-10 15:00"), pd.Timestamp("2020-04-10 18:00")  # UK time
    want = int(((t >= lo) & (t < hi)).sum())
    assert 0 < want < len(t)

    def n(value):
        return timed_client.get("/offences", params={"datetime": value, "limit": 1,
                                                     "group": "all"}).json()["numberMatched"]

    assert n("2020-04-10T14:00:00Z/2020-04-10T16:59:59.999999Z") == want
    assert n("2020-04-10T15:00:00+01:00/2020-04-10T17:59:59.999999+01:00") == want
    assert n("2020-04-10T15:00:00/2020-04-10T17:59:59.999999") == want
    assert n("2020-04-10T14:00:00Z/..") == int((t >= lo).sum())
    assert n("../2020-04-10T16:59:59.999999Z") == int((t < hi).sum())
    assert not math.isnan(want)
