"""The offence-group drop-down offers only the groups the loaded data can answer (issue 30
part 6): on police.uk data alone the force-export-only groups (knife-enabled and VRN serious
violence) are shown disabled with the reason, and every group it does offer maps; with a
force export loaded (the SYNTHETIC timed fixture) they are offered."""

from __future__ import annotations

import html
import re

import pytest

from geo_api.web.maps.controls import GROUPS, NEEDS_FORCE_EXPORT, group_options

FORCE_ONLY = {"vrn_serious_violence", "knife_enabled_serious_violence"}
PAGES = ["/maps/hotspots?datetime=2020-04/2020-06",
         "/maps/compare?before=2020-01/2020-03&after=2020-04/2020-06",
         "/compare/report/map?before=2020-01/2020-03&after=2020-04/2020-06",
         "/maps/planning?p=2&datetime=2020-04/2020-06"]
OPTION = re.compile(r'<option value="([^"]*)"([^>]*)>([^<]*)</option>')


def group_choices(page: str) -> dict[str, tuple[bool, str, str]]:
    """value -> (can be chosen, its label, its title) of the page's group drop-down."""
    m = re.search(r'<select name="group" id="ctl-group">(.*?)</select>', page, re.DOTALL)
    assert m, "no group drop-down on the page"
    out = {}
    for value, attrs, label in OPTION.findall(m.group(1)):
        title = re.search(r'title="([^"]*)"', attrs)
        out[value] = ("disabled" not in attrs, html.unescape(label),
                      html.unescape(title.group(1)) if title else "")
    return out


@pytest.mark.parametrize("path", PAGES)
def test_police_uk_only_data_offers_only_the_groups_it_can_answer(client, path):
    r = client.get(path)
    assert r.status_code == 200, r.text[:300]
    choices = group_choices(r.text)
    assert set(choices) == set(GROUPS)
    for value, (enabled, label, title) in choices.items():
        assert enabled == (value not in FORCE_ONLY), value
        if not enabled:  # shown with why, not silently missing
            assert "force export" in label and title == NEEDS_FORCE_EXPORT


@pytest.mark.parametrize("group", GROUPS)
def test_what_the_drop_down_offers_is_what_the_api_answers(client, group):
    """The drop-down's rule is the API's: an offered group answers, a disabled one is the
    422 the issue met."""
    enabled = {v: not why for v, _, why in group_options(
        client.app.state.service.store.sources())}
    r = client.get(f"/stats/areas?layer=ward&datetime=2020-04/2020-06&group={group}")
    assert r.status_code == (200 if enabled[group] else 422), r.text[:200]


def test_a_force_export_offers_every_group(timed_client):
    page = timed_client.get("/maps/hotspots?datetime=2020-04/2020-06").text
    choices = group_choices(page)
    assert set(choices) == set(GROUPS) and all(c[0] for c in choices.values())
    assert not any("force export" in c[1] for c in choices.values())
    for group in FORCE_ONLY:  # and they answer
        r = timed_client.get(f"/stats/areas?layer=ward&datetime=2020-04/2020-06&group={group}")
        assert r.status_code == 200, r.text[:200]


def test_unknown_sources_offer_every_group():
    assert all(not why for _, _, why in group_options(None))
    assert {v for v, _, why in group_options({"police_uk"}) if why} == FORCE_ONLY
