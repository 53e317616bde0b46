"""Partner indicators by postcode sector, postcode, LSOA or ward: parsing, aggregation,
per-indicator disclosure, and the overlay with violence hot spots (the sentence, the
concentration curve, Spearman with its CI, esda's bivariate local Moran). Uploaded data
here are SYNTHETIC."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient
from test_browser import server  # noqa: F401 (fixture)

from geo_api.data.keys import KeyStore
from geo_api.errors import IngestRejected
from geo_api.services.indicators import (
    IndicatorRule,
    lookups,
    parse_indicator_csv,
    postcode_sector,
    sector_code,
)
from geo_api.settings import PROJECT_ROOT, Settings
from geo_api.web.app import create_app

META = "source_org=test&licence=none&measure=school+exclusions+(SYNTHETIC)&synthetic=true"
Q = "datetime=2019-12/2020-09&group=violence_robbery_weapons"
EXAMPLE = PROJECT_ROOT / "data" / "demo" / "indicators" / "exclusions_SYNTHETIC.csv"


@pytest.fixture(scope="module")
def lk(demo_service):
    return lookups(demo_service)


@pytest.mark.parametrize("text, sector", [
    ("LE1 1", "LE1 1"), ("le11", "LE1 1"), ("LE1  1", "LE1 1"), (" LE2 0 ", "LE2 0"),
    ("LE111", "LE11 1"), ("LE11 1", "LE11 1"), ("LE1", None), ("LE1 1AA", None), ("", None)])
def test_sector_spellings(text, sector):
    assert sector_code(text) == sector


def test_postcodes_are_counted_in_their_sector(lk):
    in_le11 = sorted(p for p in lk.postcodes if postcode_sector(p)[1] == "LE1 1")[:2]
    in_le20 = sorted(p for p in lk.postcodes if postcode_sector(p)[1] == "LE2 0")[:1]
    body = (f"postcode,count\n{in_le11[0].lower()},3\n{in_le11[1][:-3]} {in_le11[1][-3:]},4\n"
            f"{in_le20[0]},5\n").encode()
    rows, warnings = parse_indicator_csv(body, "t", lk)
    assert dict(zip(rows["code"], rows["count"])) == {"LE1 1": 7, "LE2 0": 5}
    assert set(rows["layer"]) == {"sector"} and warnings == []


def test_unknown_postcodes_are_refused_by_line_or_counted_when_asked(lk):
    body = b"postcode,count\nLE1 1ZZ,3\nnot a postcode,1\nZZ9 9ZZ,2\n"
    with pytest.raises(IngestRejected) as e:
        parse_indicator_csv(body, "t", lk)
    lines = {(r.line, r.field) for r in e.value.errors}
    assert lines == {(2, "postcode"), (3, "postcode"), (4, "postcode")}
    assert "Code-Point Open" in str(e.value) and "terminated" in str(e.value)
    ok = b"postcode,count\nLE1 1ZZ,3\n"
    rows, warnings = parse_indicator_csv(ok, "t", lk, unknown_postcodes="by_sector")
    assert list(rows["code"]) == ["LE1 1"] and warnings[0].startswith("line 2:")


def test_lsoa_2021_through_the_crosswalk_and_ward_codes(lk):
    # E01034008 and E01034009 were split from E01013716 in 2021: summed back (exact)
    rows, _ = parse_indicator_csv(b"lsoa21,count\nE01034008,2\nE01034009,5\nE01013600,1\n",
                                  "t", lk)
    assert dict(zip(rows["code"], rows["count"])) == {"E01013716": 7, "E01013600": 1}
    group = next(a for a, b in lk.lsoa21_to_11.items() if b.startswith("GROUP_"))
    with pytest.raises(IngestRejected, match="redrawn"):
        parse_indicator_csv(f"lsoa21,count\n{group},2\n".encode(), "t", lk)
    ward = min(lk.wards)
    rows, _ = parse_indicator_csv(f"ward;count;denominator\n{ward};4;1000\n".encode(), "t", lk)
    assert rows.iloc[0]["layer"] == "ward" and rows.iloc[0]["denominator"] == 1000


def test_whole_file_validation_names_lines_and_fields(lk):
    body = b"sector,count,denominator\nLE1 1,-1,10\nLE1 2,2.5,0\nXX9 9,1,\nLE1 3,1,2,3\n"
    with pytest.raises(IngestRejected) as e:
        parse_indicator_csv(body, "t", lk)
    got = {(r.line, r.field) for r in e.value.errors}
    assert got == {(2, "count"), (3, "count"), (3, "denominator"), (4, "sector"), (5, None)}
    with pytest.raises(IngestRejected, match="exactly one area column"):
        parse_indicator_csv(b"sector,ward,count\nLE1 1,E05010458,1\n", "t", lk)


def test_the_rule_suppresses_and_rounds():
    rule = IndicatorRule()  # NHS practice: 1-7 withheld, others to the nearest 5
    assert [rule.count(n) for n in (0, 1, 7, 8, 12, 13, 100)] == [0, None, None, 10, 10, 15,
                                                                   100]
    assert IndicatorRule(3, 1).count(2) is None and IndicatorRule(3, 1).count(3) == 3


@pytest.fixture(scope="module")
def app(demo_service, demo_settings, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ind")
    settings = Settings(store_dir=demo_settings.store_dir, keys_file=tmp / "keys.json",
                        audit_dir=tmp / "audit", anonymous_role="none")
    ks = KeyStore(settings.keys_path)
    keys = {who: {"X-API-Key": ks.create(role, who)[0]} for who, role in
            (("owner", "partner"), ("other", "partner"), ("admin", "admin"),
             ("public", "public"))}
    with TestClient(create_app(settings)) as c:
        r = c.post(f"/indicators/ex-test?{META}", content=EXAMPLE.read_bytes(),
                   headers={**keys["owner"], "content-type": "text/csv"})
        assert r.status_code == 201, r.text
        yield c, keys
        c.delete("/indicators/ex-test", headers=keys["admin"])


def test_disclosure_rule_applies_to_everyone_but_the_owner(app):
    c, keys = app
    url = f"/indicators/ex-test/overlay?{Q}"
    mine = {a["code"]: a for a in c.get(url, headers=keys["owner"]).json()["areas"]}
    theirs_body = c.get(url, headers=keys["other"]).json()
    theirs = {a["code"]: a for a in theirs_body["areas"]}
    admin = {a["code"]: a for a in c.get(url, headers=keys["admin"]).json()["areas"]}
    assert theirs_body["disclosure"].startswith("counts 1-7 withheld")
    assert admin == mine
    small = [k for k, a in mine.items() if 0 < a["count"] < 8]
    assert small, "the example has small counts to protect"
    for k, a in theirs.items():
        raw = mine[k]["count"]
        assert a["count"] == IndicatorRule().count(raw)
        assert a["count"] is None or a["count"] % 5 == 0
        assert a["denominator"] is None  # not shown to others
        if a["count"] is not None and a["indicator_rate_per_1000"] is not None:
            assert math.isclose(a["indicator_rate_per_1000"],
                                1000 * a["count"] / mine[k]["denominator"])
    assert c.get(url, headers=keys["public"]).status_code == 403
    assert c.get(url).status_code == 401


def test_only_the_owner_or_an_admin_may_replace_and_a_bad_file_keeps_the_old(app):
    c, keys = app
    csv = {"content-type": "text/csv"}
    r = c.post(f"/indicators/ex-test?{META}", content=b"sector,count\nLE1 1,1\n",
               headers={**keys["other"], **csv})
    assert r.status_code == 403
    assert c.delete("/indicators/ex-test", headers=keys["other"]).status_code == 403
    bad = c.post(f"/indicators/ex-test?{META}", content=b"sector,count\nLE1 1,x\n",
                 headers={**keys["owner"], **csv})
    assert bad.status_code == 422 and "line 2" in bad.json()["message"]
    listed = {i["name"]: i for i in c.get("/indicators", headers=keys["other"]).json()[
        "indicators"]}
    assert listed["ex-test"]["n_areas"] > 100 and listed["ex-test"]["synthetic"] is True


def test_the_sentence_and_concentration_recomputed_by_hand(app):
    c, keys = app
    b = c.get(f"/indicators/ex-test/overlay?{Q}", headers=keys["owner"]).json()
    areas = b["areas"]
    hot = [a for a in areas if a["in_hot_spot_area"]]
    assert sorted(a["code"] for a in hot) == b["hot_spot_areas"]
    assert all((a["hot_share"] >= 0.25) == a["in_hot_spot_area"] for a in areas)
    total = sum(a["count"] for a in areas)
    share = sum(a["count"] for a in hot) / total
    assert math.isclose(b["share_in_hot_spot_areas"], share)
    assert b["sentence"] == (f"{share:.0%} of school exclusions (SYNTHETIC) are in the "
                             f"{len(hot)} postcode sectors that are in violence hot spot areas")
    curve = b["concentration"]
    ranked = sorted(areas, key=lambda a: (-a["violence"], a["code"]))
    assert [s["code"] for s in curve] == [a["code"] for a in ranked]
    assert math.isclose(curve[4]["cumulative_share"],
                        sum(a["count"] for a in ranked[:5]) / total)
    assert math.isclose(curve[-1]["cumulative_share"], 1.0)
    # violence counts are the store's own area counts for the same filter
    stats = {a["code"]: a["count"] for a in c.get(
        f"/stats/areas?layer=sector&{Q}", headers=keys["owner"]).json()["areas"]}
    assert all(a["violence"] == stats.get(a["code"], 0) for a in areas)


def test_association_matches_scipy_and_esda(app, demo_service):
    import libpysal
    from esda.moran import Moran_Local_BV
    from scipy import stats

    c, keys = app
    b = c.get(f"/indicators/ex-test/overlay?{Q}", headers=keys["owner"]).json()
    areas = b["areas"]
    x = np.array([np.nan if a["indicator_rate_per_1000"] is None
                  else a["indicator_rate_per_1000"] for a in areas], float)
    y = np.array([np.nan if a["violence_rate_per_1000"] is None
                  else a["violence_rate_per_1000"] for a in areas], float)
    ok = ~np.isnan(x) & ~np.isnan(y)
    rho = stats.spearmanr(x[ok], y[ok]).statistic
    a = b["association"]
    assert math.isclose(a["spearman_rho"], rho, abs_tol=1e-12) and a["n_areas"] == ok.sum()
    se = math.sqrt(1.06 / (ok.sum() - 3))
    assert math.isclose(a["ci95"][0], math.tanh(math.atanh(rho) - 1.96 * se))
    assert "not cause" in a["note"]
    gdf = demo_service.boundaries.get("sector").gdf
    order = [r["code"] for r in areas]
    sub = gdf.set_index("code").loc[order].reset_index()[ok].reset_index(drop=True)
    w = libpysal.weights.Queen.from_dataframe(sub, use_index=False, silence_warnings=True)
    w.transform = "r"
    ref = Moran_Local_BV(x[ok], y[ok], w, permutations=999, seed=12345)
    got = a["local_moran_bv"]["areas"]
    assert [g["code"] for g in got] == list(sub["code"])
    assert np.allclose([g["Is"] for g in got], ref.Is, atol=1e-9, rtol=0)
    # p from the same seed: equal; from another seed within Monte Carlo error
    assert np.allclose([g["p_sim"] for g in got], ref.p_sim)
    other = Moran_Local_BV(x[ok], y[ok], w, permutations=999, seed=7)
    assert np.abs(np.array([g["p_sim"] for g in got]) - other.p_sim).max() < 0.08


def test_command_line_load(tmp_path, capsys):
    from geo_api.__main__ import main

    args = ["indicators", "load", "ex", str(EXAMPLE), "--store-dir", str(tmp_path / "s"),
            "--source-org", "none", "--licence", "none", "--measure", "exclusions (SYNTHETIC)",
            "--synthetic"]
    assert main(args) == 0 and "109 sector areas" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("sector,count\nLE1 1,lots\n")
    assert main([*args[:3], str(bad), *args[4:]]) == 2
    assert "line 2, field 'count'" in capsys.readouterr().err


def test_partner_map_page(app):
    c, keys = app
    page = c.get(f"/maps/partners?indicator=ex-test&{Q}", headers=keys["other"])
    assert page.status_code == 200, page.text[:300]
    text = page.text
    ov = c.get(f"/indicators/ex-test/overlay?{Q}", headers=keys["other"]).json()
    assert ov["sentence"] in text  # the sentence in the legend, with the K areas named
    assert f"({', '.join(ov['hot_spot_areas'])})" in text
    for words in ("SYNTHETIC example data, not real", "Violence hot spot areas (outlined)",
                  "Rank correlation across areas", "not cause", "counts 1-7 withheld",
                  'id="map-controls"', "<title>school exclusions (SYNTHETIC) and violence"):
        assert words in text, words
    assert '"indicator": "withheld"' in text  # small counts are not on the map either
    bv = ov["association"]["local_moran_bv"]["areas"]
    n_hh = sum(b["quadrant"] == "high-high" and b["p_sim"] < 0.05 for b in bv)
    assert f"{n_hh} cluster{'' if n_hh == 1 else 's'} of areas high on both" in text
    assert c.get(f"/maps/partners?indicator=ex-test&{Q}",
                 headers=keys["public"]).status_code == 403


def test_partner_map_renders_in_chromium_and_prints_on_one_a4_page(server, browser):  # noqa: F811
    import httpx
    from test_browser import check_page, print_to_pdf

    r = httpx.post(f"{server}/indicators/browser-ex?{META}", content=EXAMPLE.read_bytes(),
                   headers={"content-type": "text/csv"})
    assert r.status_code == 201, r.text
    url = f"/maps/partners?indicator=browser-ex&{Q}"
    check_page(browser, server, "partners", url,
               ["SYNTHETIC example data", "in violence hot spot areas", "Ward names",
                "concentration curve"], 100)
    print_to_pdf(browser, server + url)  # one A4 landscape page


def test_schools_ranked_by_offences_nearby_reuse_kit_coverage(client, timed_client):
    q = "datetime=2020-04/2020-06&group=violence_robbery_weapons"
    body = client.get(f"/partners/schools?{q}").json()  # police.uk: no times
    assert body["window"]["applied"] is False and "no time of day" in body["window"]["note"]
    cov = client.get(f"/plan/kits/coverage?{q}&sites=schools&radius_m=400").json()["sites"]
    by_name = {(s["name"], s["lon"]): s["offences_within"] for s in cov}
    ranked = body["schools"]
    assert [s["rank"] for s in ranked] == list(range(1, len(ranked) + 1))
    counts = [s["offences_within"] for s in ranked]
    assert counts == sorted(counts, reverse=True)
    assert {(s["name"], s["lon"]): s["offences_within"] for s in ranked} == by_name
    # SYNTHETIC timed export: the after-school window is applied (15-19 h)
    timed = timed_client.get("/partners/schools?radius_m=600&group=all").json()
    assert "window" in timed, timed
    assert timed["window"]["applied"] is True and timed["window"]["hours"] == [15, 19]
    every = timed_client.get("/partners/schools?radius_m=600&window=all&group=all").json()
    n_window = sum(s["offences_within"] for s in timed["schools"])
    n_all = sum(s["offences_within"] for s in every["schools"])
    assert 0 < n_window < n_all
    direct = timed_client.get("/plan/kits/coverage?sites=schools&radius_m=600&hours=15-19"
                              "&group=all").json()["sites"]
    assert n_window == sum(s["offences_within"] for s in direct)


def test_people_zone_component_maps_the_indicator_onto_the_areas(app, demo_service):
    """Ward counts as a ward component: exactly count per 1,000 of the denominator; onto
    NPAs (wards nest in them): the sums, up to boundary slivers. Others see it through the
    indicator's rule. The weight appears in the sensitivity table. Counts are SYNTHETIC."""
    c, keys = app
    wards = demo_service.boundaries.get("ward").gdf
    codes = sorted(wards["code"])
    rng = np.random.default_rng(5)
    counts = rng.integers(0, 60, len(codes))
    dens = rng.integers(800, 3000, len(codes))
    body = "ward,count,denominator\n" + "".join(
        f"{w},{n},{d}\n" for w, n, d in zip(codes, counts, dens))
    r = c.post(f"/indicators/wards-test?{META}", content=body.encode(),
               headers={**keys["owner"], "content-type": "text/csv"})
    assert r.status_code == 201, r.text
    q = f"{Q}&indicator=wards-test&n_sim=100&weight_partner_indicator=0.3"
    own = c.get(f"/plan/people-zones?{q}", headers=keys["owner"]).json()
    assert own["meta"]["partner_indicator"]["mapped"] == "same areas"
    assert own["meta"]["weights"]["partner_indicator"] == 0.3
    want = {w: 1000 * n / d for w, n, d in zip(codes, counts, dens)}
    for a in own["areas"]:
        assert math.isclose(a["partner_indicator"], want[a["code"]], rel_tol=1e-5)
        assert "partner_indicator" in a["sensitivity"]
    npa = c.get(f"/plan/people-zones?{q}&layer=npa", headers=keys["owner"]).json()
    grouping = demo_service.boundaries.get("npa").gdf
    for a in npa["areas"]:
        names = grouping.loc[grouping["code"] == a["code"], "wards"].iat[0].split(", ")
        idx = [codes.index(wards.loc[wards["name"] == n, "code"].iat[0]) for n in names]
        expect = 1000 * counts[idx].sum() / dens[idx].sum()
        assert math.isclose(a["partner_indicator"], expect, rel_tol=1e-3), a["code"]
    theirs = c.get(f"/plan/people-zones?{q}", headers=keys["other"]).json()
    rule = IndicatorRule()
    for a in theirs["areas"]:
        i = codes.index(a["code"])
        protected = rule.count(counts[i])
        if protected is None:
            assert a["partner_indicator"] is None
        else:
            assert math.isclose(a["partner_indicator"], 1000 * protected / dens[i],
                                rel_tol=1e-5)
    assert c.get(f"/plan/people-zones?{Q}&weight_partner_indicator=0.3",
                 headers=keys["owner"]).status_code == 422


def test_overlay_by_another_layer_moves_counts_by_land_area(app, demo_service):
    """A sector indicator shown by ward: each sector's count is shared by the land it has in
    each ward (checked against geopandas' overlay, an independent computation)."""
    import geopandas as gpd

    c, keys = app
    b = c.get(f"/indicators/ex-test/overlay?{Q}&layer=ward", headers=keys["owner"]).json()
    assert b["layer"] == "ward" and b["mapped"].startswith("from sectors")
    sectors = demo_service.boundaries.get("sector").gdf[["code", "geometry"]]
    wards = demo_service.boundaries.get("ward").gdf[["code", "geometry"]]
    given = {k: v for k, v in zip(*np.loadtxt(EXAMPLE, delimiter=",", skiprows=1,
                                              usecols=(0, 1), dtype=str).T)}
    pieces = gpd.overlay(sectors.rename(columns={"code": "sector"}),
                         wards.rename(columns={"code": "ward"}), how="intersection")
    pieces["share"] = pieces.area / pieces["sector"].map(sectors.set_index("code").area)
    pieces["n"] = pieces["share"] * pieces["sector"].map(lambda s: float(given.get(s, 0)))
    want = pieces.groupby("ward")["n"].sum()
    got = {a["code"]: a["count"] for a in b["areas"]}
    assert set(got) == set(wards["code"])
    for ward, n in want.items():
        assert math.isclose(got[ward], n, rel_tol=1e-3, abs_tol=0.02), ward
    own = c.get(f"/indicators/ex-test/overlay?{Q}", headers=keys["owner"]).json()
    assert own["mapped"] == "as given" and all(float(a["count"]).is_integer()
                                               for a in own["areas"])
