"""The side-by-side maps (issue 30 part 6): each panel's period title and zoom control are
visible - not under the controls bar, nor under anything else - at a desktop, a laptop and
a phone window, in headless Chromium (screenshots in test-artifacts/ for a person)."""

from __future__ import annotations

import pytest
import test_browser
from test_browser import (  # noqa: F401 - the module's server fixtures
    ARTIFACTS,
    rendered,
    screenshot_png,
    server,
    timed_server,
)

SIZES = [(1600, 1000), (1366, 768), (390, 844)]
PAGES = {"compare": ("/maps/compare?before=2019-12/2020-02&after=2020-04/2020-06"
                     "&group=violence_robbery_weapons"),
         "time_window": "/maps/time-window?window=after-school"}  # the timed fixture

# each thing that must be seen: its rectangle, whether the topmost element at its centre
# is itself (nothing covers it), and the rectangle of the map it belongs to
LAYOUT = """
const rect = e => { const r = e.getBoundingClientRect();
  return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; };
const seen = e => { const r = e.getBoundingClientRect();
  const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
  return !!hit && (hit === e || e.contains(hit)); };
const maps = [...document.querySelectorAll('.folium-map')];
const zooms = maps.map(m => m.querySelector('.leaflet-control-zoom'));
const titles = ['title-left', 'title-right'].map(i => document.getElementById(i));
return {width: innerWidth, height: innerHeight,
        bar: rect(document.getElementById('map-controls')),
        maps: maps.map(rect),
        things: [...titles.map((e, i) => ['title ' + i, i, rect(e), seen(e)]),
                 ...zooms.map((e, i) => ['zoom ' + i, i, rect(e), seen(e)])]};
"""


def overlap(a: dict, b: dict) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and \
        a["top"] < b["bottom"] and b["top"] < a["bottom"]


def inside(a: dict, b: dict) -> bool:
    return (a["left"] >= b["left"] - 0.5 and a["right"] <= b["right"] + 0.5
            and a["top"] >= b["top"] - 0.5 and a["bottom"] <= b["bottom"] + 0.5)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(PAGES))
def test_both_titles_and_zoom_controls_are_visible(request, browser, monkeypatch, name, size):
    base = request.getfixturevalue("timed_server" if name == "time_window" else "server")
    monkeypatch.setattr(test_browser, "VIEWPORT", size)  # the window rendered() opens
    with rendered(browser, base + PAGES[name]) as d:
        got = d.execute_script(LAYOUT)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"side_by_side_{name}_{size[0]}x{size[1]}.png").write_bytes(
            screenshot_png(d))
    assert (got["width"], got["height"]) == size
    bar, maps = got["bar"], got["maps"]
    assert len(maps) == 2 and len(got["things"]) == 4
    for what, side, box, on_top in got["things"]:
        assert not overlap(box, bar), (what, box, bar)  # not under the controls bar
        assert on_top, (what, box)  # nor under anything else
        assert 0 <= box["left"] and box["right"] <= size[0] and 0 <= box["top"] \
            and box["bottom"] <= size[1], (what, box)  # in the window
        assert inside(box, maps[side]), (what, box, maps[side])  # on its own map
    titles = [t[2] for t in got["things"][:2]]
    assert not overlap(*titles)
    for m in maps:  # the maps start below the bar and share the window
        assert m["top"] >= bar["bottom"] - 0.5 and m["bottom"] <= size[1] + 0.5
    assert not overlap(*maps)
