"""The pages' HTML comes from Jinja2 templates with autoescape: text from users (site and
kit names, indicator names and sources, key names, area names, query parameters) is shown
literally - never evaluated as a template, never live markup - and the templates ship with
the package.

tests/test_xss.py runs a wider list of payloads through a browser; these are the quick
in-process checks, one per place user text reaches a page."""

from __future__ import annotations

import csv
import glob
import io
import tomllib
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import jinja2
import pytest
from branca.element import Figure
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup
from shapely.geometry import box

from geo_api.services.indicators import (
    Association,
    ConcentrationStep,
    LocalBV,
    MoranBV,
    Overlay,
)
from geo_api.settings import PROJECT_ROOT
from geo_api.web import templating
from geo_api.web.maps.base import Raw, legend
from geo_api.web.maps.controls import controls_html
from geo_api.web.maps.hotspots import label_points, outline_features
from geo_api.web.maps.partners import render_partner_map

EVALUATED = "{{ 6*7 }}{{ 1000+337 }}"  # would show 421337 if run as a template
PAYLOADS = ["{{7*7}}", "{% raw %}", "<script>alert(1)</script>",
            "\"'><img src=x onerror=alert(1)>", EVALUATED]
# how each payload must look in a page: escaped, and the template syntax as it was
SHOWN = ["{{7*7}}", "{% raw %}", "&lt;script&gt;alert(1)&lt;/script&gt;",
         "&quot;&#x27;&gt;&lt;img src=x onerror=alert(1)&gt;", EVALUATED]
LIVE = ["<script>alert(1)", "<img src=x", "'><img", "421337"]
TEMPLATES = PROJECT_ROOT / "geo_api" / "web" / "templates"


def assert_inert(page: str, shown: list[str] = SHOWN) -> None:
    """Every payload is in ``page`` as text and none is live (or was evaluated)."""
    live = [m for m in LIVE if m in page]
    assert not live, f"live or evaluated payloads in the page: {live}"
    # as text, or as a JSON string in a script (GeoJSON of a layer: & < > ' as \u00XX)
    missing = [s for s in shown if s not in page and htmlsafe_json_dumps(s)[1:-1] not in page]
    assert not missing, f"payload text not shown: {missing}"


# --- the Environment ---------------------------------------------------------------------

def test_one_environment_with_autoescape_and_cached_templates():
    env = templating.ENV
    assert env.autoescape is True
    assert isinstance(env.loader, jinja2.PackageLoader)  # found in the installed package
    assert env.undefined is jinja2.StrictUndefined
    assert env.auto_reload is False
    names = env.list_templates()
    assert "landing.html" in names and "maps/legend.html" in names
    for name in names:
        assert env.get_template(name) is env.get_template(name), name  # compiled once


def test_values_are_escaped_and_markup_is_kept():
    out = templating.ENV.from_string("{{ a }}|{{ b }}|{{ c|tojson }}").render(
        a="<b>`${x}`\\</b>", b=Markup("<i>ok</i>"), c={"k": "</script><b>"})
    assert out == ("&lt;b&gt;&#96;&#36;{x}&#96;&#92;&lt;/b&gt;|<i>ok</i>|"
                   '{"k": "\\u003c/script\\u003e\\u003cb\\u003e"}')
    for p, s in zip(PAYLOADS, SHOWN):
        assert templating.render("maps/side_title.html", side="left", label=p).count(s) == 1


def test_every_template_ships_with_the_package():
    """pyproject's package-data globs (setuptools, recursive **) cover every template."""
    data = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    globs = data["tool"]["setuptools"]["package-data"]["geo_api"]
    pkg = PROJECT_ROOT / "geo_api"
    shipped = {Path(f) for g in globs for f in glob.glob(str(pkg / g), recursive=True)}
    files = {p for p in TEMPLATES.rglob("*") if p.is_file()}
    assert files and files <= shipped, sorted(map(str, files - shipped))


def test_raw_takes_only_finished_html():
    with pytest.raises(TypeError, match="finished HTML"):
        Raw("<b>{{ 7*7 }}</b>")  # type: ignore[arg-type]  # a str is refused on purpose
    assert Raw(Markup("<b>x</b>")).render() == "<b>x</b>"


# --- pieces of the map pages ---------------------------------------------------------------

def test_legend_shows_user_text_literally():
    fig = Figure()
    legend(fig, PAYLOADS[0] + PAYLOADS[2], {p: "#000" for p in PAYLOADS}, PAYLOADS,
           technical=" ".join(PAYLOADS))
    assert_inert(fig.render())


def test_message_page_shows_the_message_and_hint_as_text():
    from geo_api.web.exception_handlers import message_page

    page = message_page(" ".join(PAYLOADS), 422, " ".join(PAYLOADS)).body.decode()
    assert_inert(page)
    assert page.count("<p>") == 3  # the message, the hint, the way back


def test_controls_keep_query_values_and_area_names_as_text():
    page = controls_html(path="/maps/hotspots", months=["2020-01", "2020-02"], group="all",
                         period="2020-01/2020-02",
                         extra=[(p, p) for p in PAYLOADS],
                         areas={p: [52.6, -1.2, 52.7, -1.1] for p in PAYLOADS},
                         map_name="map_0123abcd")
    assert_inert(page)
    assert 'name="{{7*7}}" value="{{7*7}}"' in page  # a kept parameter, as given
    with pytest.raises(ValueError, match="JavaScript name"):
        controls_html(path="/", months=[], group=None, period=None, extra=[],
                      areas={"a": [0, 0, 1, 1]}, map_name="m);alert(1);(")


def test_area_names_on_the_map_are_escaped():
    """Area names from a user's NPA file, in the outlines' tooltips and the name labels."""
    gdf = gpd.GeoDataFrame({"code": [f"A{i}" for i in range(len(PAYLOADS))],
                            "name": PAYLOADS},
                           geometry=[box(458000 + 500 * i, 304000, 458400 + 500 * i, 304400)
                                     for i in range(len(PAYLOADS))], crs=27700)
    layer = SimpleNamespace(gdf=gdf)
    boundaries = SimpleNamespace(version="payload-test", get=lambda name: layer)
    names = [f["properties"]["name"] for f in outline_features(boundaries, "npa")]
    labels = [p[2] for p in label_points(boundaries, "npa")]
    # NPAs are shown with their codes ("Central (NC)"): the name part still escaped
    assert names == labels == [f"{shown} (A{i})" for i, shown in enumerate(SHOWN)]


def test_partner_map_shows_indicator_text_literally(boundaries):
    """Indicator measure, source, licence, the sentence and area names from an upload."""
    areas = [{"code": f["properties"]["code"], "indicator_rate_per_1000": float(i),
              "count": 10 + i, "violence_rate_per_1000": float(i % 7), "violence": i,
              "in_hot_spot_area": i < 3}
             for i, f in enumerate(outline_features(boundaries, "ward"))]
    text = " ".join(PAYLOADS)
    ov = Overlay(
        name="x", layer="ward", areas=areas, periods=["2019/20"], mapped=text,
        about={"measure": text, "source_org": text, "licence": text, "synthetic": True},
        association=Association(
            spearman_rho=0.5, ci95=[0.1, 0.8], n_areas=len(areas),
            note="association, not cause", local_moran_bv=MoranBV(
                permutations=999, seed=1, weights="queen", areas=[
                    LocalBV(code=areas[0]["code"], Is=1.0, p_sim=0.01,
                            quadrant="high-high")])),
        concentration=[ConcentrationStep(k=k, code=a["code"], violence=a["violence"],
                                         cumulative_share=k / 5)
                       for k, a in enumerate(areas[:5], 1)],
        sentence=text, hot_spot_areas=PAYLOADS, hot_spot_area_rule=text,
        share_in_hot_spot_areas=0.4, disclosure=text, filter={}, dataset_version="test")
    page = render_partner_map(boundaries, ov, f"{text} and violence")
    assert_inert(page)
    assert "<title>{{7*7}} {% raw %} &lt;script&gt;" in page
    assert "1 cluster of areas high on both (orange dashes" in page


# --- whole pages through the API -----------------------------------------------------------

def _sites_csv() -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["name", "kind", "easting", "northing"])
    for i, p in enumerate(PAYLOADS):
        w.writerow([p, PAYLOADS[-1 - i], 458000 + 150 * i, 304500])
    return buf.getvalue().encode()


@pytest.fixture(scope="module")
def payload_set(client):
    r = client.post("/sites/tpl-payloads", content=_sites_csv(),
                    headers={"content-type": "text/csv"})
    assert r.status_code == 201, r.text
    yield "tpl-payloads"
    client.delete("/sites/tpl-payloads")


def test_hotspot_map_with_uploaded_site_names(client, payload_set):
    page = client.get("/maps/hotspots?datetime=2020-04/2020-06&group=all"
                      f"&sites={payload_set}&resolution=8")
    assert page.status_code == 200, page.text[:300]
    assert_inert(page.text)
    assert f'<input type="hidden" name="sites" value="{payload_set}">' in page.text


def test_planning_map_with_uploaded_kit_names(client, payload_set):
    """Candidate and existing kits' names in the panel's table and the tooltips."""
    page = client.get(f"/maps/planning?datetime=2020-04/2020-09&p=2&layer=npa"
                      f"&existing={payload_set}&candidates={payload_set}")
    assert page.status_code == 200, page.text[:300]
    assert_inert(page.text)
    assert f"Your existing kits ({payload_set}, {len(PAYLOADS)} kits)" in page.text
    # the set names in the panel's site set form (option values and labels) are text too
    assert f'<option value="{payload_set}" selected>{payload_set} (saved set)' in page.text


def test_landing_page_lists_site_sets_and_is_not_a_template_of_user_text(client,
                                                                          payload_set):
    page = client.get("/", headers={"accept": "text/html"}).text
    assert (f'<a href="/maps/hotspots?datetime=2020-07/2020-09&amp;group=violence_robbery_'
            f'weapons&amp;sites={payload_set}">{payload_set}</a>') in page
    assert f'<a href="/maps/planning?p=5&amp;existing={payload_set}">' in page
    assert 'id="upload"' in page and "421337" not in page
    assert "'/maps/hotspots?datetime=2020-07/2020-09&group=" in page  # upload


def test_landing_page_escapes_the_callers_name_and_set_names():
    """The signed-in subject (from an identity provider's token) and site-set names (the
    API restricts them; the page does not rely on it) are shown as text."""
    from geo_api.services.access import Principal

    text = " ".join(PAYLOADS)
    page = templating.render(
        "landing.html", who=Principal(who=f"oidc:{text}", role="partner", method="oidc"),
        role_sees=text, loaded=text, links=[(p, p, p) for p in PAYLOADS],
        latest="2020-07/2020-09", group="all",
        site_sets=[{"name": p, "n_sites": "3", "yours": True, "may_delete": True}
                   for p in PAYLOADS])
    assert_inert(page)
    assert "as <b>partner</b> (oidc:{{7*7}} {% raw %} &lt;script&gt;" in page
    assert 'data-set="&quot;&#x27;&gt;&lt;img src=x onerror=alert(1)&gt;"' in page
    assert ('<a href="/maps/hotspots?datetime=2020-07/2020-09&amp;group=all&amp;sites='
            '%3Cscript%3Ealert%281%29%3C/script%3E">') in page
    assert ('<a href="/maps/planning?p=5&amp;candidates=%3Cscript%3Ealert%281%29%3C/script%3E">'
            in page)


def test_the_period_in_the_upload_script_is_checked():
    from geo_api.web.api.routes_pages import _checked_period

    assert _checked_period("2020-07/2020-09") == "2020-07/2020-09" and _checked_period("") == ""
    with pytest.raises(ValueError, match="not a period"):
        _checked_period("2020-07/2020-09';alert(1);//")
