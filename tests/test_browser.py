"""Pages render in headless Chromium (Debian package): no JS errors, layers present.

Screenshots are written to test-artifacts/ for a person to look at.
"""

import base64
import re
import socket
import threading
import time
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from conftest import CHROMIUM_TIMEOUT_S, clear_site_data

from geo_api.settings import PROJECT_ROOT
from geo_api.web.app import create_app

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
PAGES = {
    "landing": ("/", ["Hot spot map, latest 3 months", "Where to go next month", "Did it move?",
                      "Case study: did violence move in the 2020 lockdown?", "API documentation",
                      "site sets", "Partner data beside the hot spots", "What the words mean"],
                 0),
    "hotspots": ("/maps/hotspots?datetime=2020-04/2020-06&group=violence_robbery_weapons",
                 ["Hot spots (hexagons)", "Cold spots (hexagons)", "Wards (offences on hover)",
                  "legend", "How this was made", "Hot spot, 99% confidence",
                  "Base map could not load", "Print (A4 landscape)", "Made 20",
                  "map-controls", "Latest 3 months", 'href="/glossary"',
                  "Policing area",
                  "Schools"], "hot:2020-04/2020-06"),  # cold spots start switched off
    "compare": (("/compare/report/map?before=2019-12/2020-02&after=2020-04/2020-06"
                 "&group=violence_robbery_weapons"),
                ["Policing areas: change in share", "Hot spots: new, lasting or gone",
                 "Centre of offences: shift", "legend", "Dec 2019–Feb 2020 vs Apr–Jun 2020",
                 "Violence, robbery and weapons", "Area: share fell by more than 4 points",
                 "Hot spot lasting", "Centre moved", "Castle", "Ward names",
                 "The answer in words", ("Central (NC)'s share fell from 23% to 14% (a clear "
                 "fall)."), "too close to call", 'href="/glossary"'], 20),
    "api_docs": ("/docs", ["getAreaStats", "uploadSiteSet", "swagger-ui"], 0),
    "side_by_side": (("/maps/compare?before=2019-12/2020-02&after=2020-04/2020-06"
                      "&group=violence_robbery_weapons"),
                     ["Dec 2019–Feb 2020", "Apr–Jun 2020", "legend",
                      "other follows"], "hot:2019-12/2020-02+hot:2020-04/2020-06"),
    "candidate_sites": (("/maps/hotspots?datetime=2020-04/2020-06&group=violence_robbery_weapons"
                         "&sites=browser-kits"), ["Candidate sites: browser-kits", "Schools",
                                                 "Candidate sites: browser-kits (2 sites)",
                                                 "layer off at first)"],
                        "hot:2020-04/2020-06+2"),
    "planning": ("/maps/planning?datetime=2020-04/2020-09&p=5&existing=browser-kits",
                 ["Where the next 5 kits go", "People Zone shortlist", "Proposed kits (5)",
                  "Existing kits (2)", "Print (A4 landscape)", "size:A4 landscape",
                  "Bleed-control kits and People Zones</title>",
                  "Hot spots no kit reaches", "Reach of every kit (200 m)"],
                 # drawn at first: 21 wards, 2 existing kits and their reach, 5 proposed
                 # kits' reach, ~20 hot spot outlines (the offence hexagons start off)
                 50),
    "focus": ("/maps/focus?datetime=2019-12/2020-09&n=8",
              ["Where to go in October 2020", "The 8 places",
               "How much of next month's violence the chosen places caught",
               "Print (A4 landscape)", "Hit rate against coverage", "kit-no"], 8),
}
# On the SYNTHETIC timed force export (tests/conftest.py): police.uk has no times.
TIMED_PAGES = {
    "time_window": ("/maps/time-window?window=after-school",
                    ["In the window: after school, 15:00-19:00", "All other hours",
                     "offences with a time"], 20),
}


@pytest.fixture(scope="module")
def server(demo_service, demo_settings):
    yield from _serve(demo_settings)


@pytest.fixture(scope="module")
def timed_server(timed_settings):
    yield from _serve(timed_settings)


def _serve(settings):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    srv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # start-up on a loaded machine can take a while
    while True:  # until the server answers (not a fixed number of tries)
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).raise_for_status()
            break
        except httpx.HTTPError:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


# A page is read as headless Chromium's --dump-dom, --screenshot and --print-to-pdf read it
# (with --window-size=1200,900 --virtual-time-budget=8000): in a tab of its own with a
# 1200 x 900 viewport, loaded to its load event, then given 8 s of the page's virtual time
# (its timers run, fetches it starts finish first) before the DOM, picture or PDF is taken.
VIEWPORT = (1200, 900)
VIRTUAL_TIME_BUDGET_MS = 8000
# document.documentElement as --dump-dom prints it (its doctype, then the outer HTML)
DUMP_DOM = ("return (document.doctype ? new XMLSerializer().serializeToString(document.doctype)"
            " + '\\n' : '') + document.documentElement.outerHTML;")


@contextmanager
def rendered(browser, url):
    """``url`` loaded in a new tab of the shared browser (see above); the tab and what the
    site stored are gone afterwards."""
    from selenium.webdriver.support.ui import WebDriverWait

    home = browser.current_window_handle
    browser.switch_to.new_window("tab")
    try:
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1,
            "mobile": False})
        browser.get(url)  # to the load event (WebDriver's page load timeout)
        start = browser.execute_script("return performance.now();")
        browser.execute_cdp_cmd("Emulation.setVirtualTimePolicy", {
            "policy": "pauseIfNetworkFetchesPending", "budget": VIRTUAL_TIME_BUDGET_MS,
            "maxVirtualTimeTaskStarvationCount": 9999})
        # the page's clock is virtual now: it stands still at the budget's end
        WebDriverWait(browser, CHROMIUM_TIMEOUT_S, poll_frequency=0.05).until(
            lambda d: d.execute_script("return performance.now();") - start
            >= VIRTUAL_TIME_BUDGET_MS, f"{url}: the page's virtual time did not run out")
        yield browser
    finally:
        try:
            clear_site_data(browser)
        finally:
            browser.close()
            browser.switch_to.window(home)


def dump_dom(browser, url) -> str:
    with rendered(browser, url) as d:
        return d.execute_script(DUMP_DOM)


def screenshot_png(browser) -> bytes:
    return base64.b64decode(browser.execute_cdp_cmd("Page.captureScreenshot",
                                                    {"format": "png"})["data"])


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_in_chromium(server, browser, name):
    if name in ("candidate_sites", "planning"):
        r = httpx.post(f"{server}/sites/browser-kits", content=b"name,kind,easting,northing\n"
                       b"Clock Tower,bleed kit,458800,304580\nHaymarket,bleed kit,458944,304725\n",
                       headers={"content-type": "text/csv"})
        assert r.status_code == 201
    check_page(browser, server, name, *PAGES[name])


@pytest.mark.parametrize("name", list(TIMED_PAGES))
def test_timed_page_renders_in_chromium(timed_server, browser, name):
    check_page(browser, timed_server, name, *TIMED_PAGES[name])


def shapes_drawn(server, spec) -> int:
    """The SVG paths a hot spot map draws at first: for each map ("hot:<period>") its 21
    wards, 4 NPAs and the hot cells the API gives for the same selection (cold cells start
    switched off); plus a number of site markers."""
    n = 0
    for part in str(spec).split("+"):
        if not part.startswith("hot:"):
            n += int(part)
            continue
        cells = httpx.get(f"{server}/hotspots/gi", params={
            "datetime": part[4:], "group": "violence_robbery_weapons", "resolution": 9},
            timeout=300).json()["cells"]  # the server's own time cap (120 s) answers first
        hot = sum(c["label"].startswith("hot") for c in cells)
        assert hot > 5
        n += 21 + 4 + hot
    return n


def check_page(browser, server, name, path, expected, min_shapes):
    """The page's DOM and a screenshot (test-artifacts/<name>.png), from one load."""
    with rendered(browser, server + path) as d:
        dom = d.execute_script(DUMP_DOM)
        png = screenshot_png(d)
    title = re.search(r"<title>([^<]+)</title>", dom)
    assert title and title.group(1).strip(), "every page has a <title>"
    assert dom.split("</head>")[0].count("<title>") == 1
    html_tag = re.search(r"<html[^>]*>", dom).group(0)
    assert "data-js-errors" not in html_tag, html_tag  # set by the page's error probe
    for text in expected:
        assert text in dom, text
    if isinstance(min_shapes, str):
        min_shapes = shapes_drawn(server, min_shapes)
    assert dom.count("leaflet-interactive") >= min_shapes  # drawn SVG paths
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    shot.write_bytes(png)
    assert shot.stat().st_size > 10_000


@pytest.mark.parametrize("path", ["/", "/docs", PAGES["hotspots"][0], PAGES["side_by_side"][0],
                                  PAGES["compare"][0], "/maps/planning?p=3"])
def test_pages_load_scripts_and_styles_only_from_the_app(client, path):
    """Offline use: every script and stylesheet is served by the app (base map tiles are the
    only network resource, and maps work without them)."""
    page = client.get(path).text
    assert len(page.encode()) < 5_000_000  # small pages: aggregates, no point dumps
    refs = re.findall(r'<script[^>]+src="([^"]+)"', page) + re.findall(
        r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', page) + re.findall(
        r'<link[^>]+href="([^"]+)"[^>]+rel="stylesheet"', page)
    assert all(r.startswith("/") and not r.startswith("//") for r in refs), refs
    for r in refs:
        assert client.get(r).status_code == 200, r


def test_site_names_cannot_run_script_in_map_tooltips(server, browser):
    """A site name written as a JavaScript template expression is shown, not run (the
    tooltip is a template literal in Folium's generated script)."""
    evil = b"name,kind,easting,northing\n${document.title='pwned'},`kit`,458800,304580\n"
    assert httpx.post(f"{server}/sites/evil-kits", content=evil,
                      headers={"content-type": "text/csv"}).status_code == 201
    for path in ("/maps/planning?datetime=2020-04/2020-09&p=2&existing=evil-kits",
                 "/maps/hotspots?datetime=2020-04/2020-06&sites=evil-kits"):
        dom = dump_dom(browser, server + path)
        assert "pwned</title>" not in dom, path  # the expression did not run
        # ... and is shown as text (inline, or as JSON data with & written \u0026)
        assert "&#36;{document.title" in dom or "\\u0026#36;{document.title" in dom, path
        assert "data-js-errors" not in re.search(r"<html[^>]*>", dom).group(0)
    assert "<title>Bleed-control kits and People Zones</title>" in dump_dom(
        browser, server + "/maps/planning?p=2&existing=evil-kits")


@pytest.mark.parametrize("name", ["hotspots", "side_by_side", "compare"])
def test_map_pages_print_on_one_a4_landscape_page(server, browser, name):
    """Print media: one A4 landscape page (842 x 595 pt) with the map, legend and date."""
    assert len(print_to_pdf(browser, server + PAGES[name][0])) > 20_000


def print_to_pdf(browser, url: str) -> bytes:
    """The page printed by Chromium (as --print-to-pdf --no-pdf-header-footer prints);
    asserts one A4 landscape page (842 x 595 pt)."""
    with rendered(browser, url) as d:
        data = printed_pdf(d)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    boxes = {tuple(round(float(v)) for v in m) for m in
             re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)}
    assert pages == 1 and boxes == {(842, 595)}, (pages, boxes)
    return data


def printed_pdf(d) -> bytes:
    """The tab printed as a person prints it: the page's clock runs again first (rendered()
    stopped it; printing refits the maps, which a stopped clock would never let finish)."""
    d.execute_cdp_cmd("Emulation.setVirtualTimePolicy", {"policy": "advance"})
    return base64.b64decode(d.execute_cdp_cmd("Page.printToPDF", {
        "displayHeaderFooter": False, "generateTaggedPDF": True, "printBackground": True,
        "preferCSSPageSize": True})["data"])


# Printing from an ordinary window (issue 30): whatever the window's size, the printed map
# shows its whole selection - everything drawn on it (the study area's areas and cells,
# kits), or what the page says it prints (the focus page: the places it lists) - clear of
# the legend and panels printed over the map.
PRINT_WINDOWS = [(1600, 1000), (1366, 768), (1200, 900), (390, 844)]
PRINT_PAGES = {
    "hotspots": PAGES["hotspots"][0],
    "report": PAGES["compare"][0],
    "side_by_side": PAGES["side_by_side"][0],
    "planning": "/maps/planning?datetime=2020-04/2020-09&p=5",
    "focus": PAGES["focus"][0],
    "focus_patch": "/maps/focus?datetime=2019-12/2020-09&n=8&area=npa:NE",
}
# every map on the page: is its selection inside its view and clear of what covers the map,
# its size, and how many places/markers the selection has
SELECTION_IN_VIEW = """
var out = [], overlays = document.querySelectorAll('#legend, #verdict, #plan-panel');
for (var k in window) {
  var m;
  try { m = window[k]; } catch (e) { continue; }
  if (!(window.L && m instanceof L.Map)) { continue; }
  var only = (window.geoPrintSelection || []).map(function (n) { return window[n]; })
    .filter(function (l) { return l && m.hasLayer(l); });
  var drawn = L.latLngBounds([]), n = 0;
  var add = function (l) {
    if (l instanceof L.TileLayer) { return; }
    if (typeof l.getBounds === 'function') {
      try { var b = l.getBounds(); if (b && b.isValid()) { drawn.extend(b); n++; } } catch (e) {}
    } else if (typeof l.getLatLng === 'function') { drawn.extend(l.getLatLng()); n++; }
  };
  if (only.length) {
    only.forEach(function (g) { if (g.eachLayer) { g.eachLayer(add); } else { add(g); } });
  } else { m.eachLayer(add); }
  var c = m.getContainer(), box = c.getBoundingClientRect(), covered = [];
  if (drawn.isValid()) {
    var nw = m.latLngToContainerPoint(drawn.getNorthWest()),
        se = m.latLngToContainerPoint(drawn.getSouthEast());
    overlays.forEach(function (el) {
      var r = el.getBoundingClientRect(), st = getComputedStyle(el);
      if (st.display === 'none' || !r.width) { return; }
      var w = Math.min(r.right, box.right) - Math.max(r.left, box.left),
          h = Math.min(r.bottom, box.bottom) - Math.max(r.top, box.top);
      if (w <= 0 || h <= 0 || w > 0.6 * box.width && h > 0.6 * box.height) { return; }
      var x0 = box.left + nw.x, y0 = box.top + nw.y, x1 = box.left + se.x, y1 = box.top + se.y;
      if (x0 < r.right - 1 && x1 > r.left + 1 && y0 < r.bottom - 1 && y1 > r.top + 1) {
        covered.push(el.id);
      }
    });
  }
  out.push([k, drawn.isValid() && m.getBounds().contains(drawn), covered, c.clientWidth,
            c.clientHeight, only.length, n]);
}
return out;"""


@pytest.mark.parametrize("name", sorted(PRINT_PAGES))
def test_printing_fits_the_whole_selection_whatever_the_window(server, browser, name):
    with rendered(browser, server + PRINT_PAGES[name]) as d:
        for width, height in PRINT_WINDOWS:
            d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": height, "deviceScaleFactor": 1,
                "mobile": width < 600})
            d.execute_script("window.dispatchEvent(new Event('resize'));")
            d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
            d.execute_script("window.dispatchEvent(new Event('beforeprint'));")
            maps = d.execute_script(SELECTION_IN_VIEW)
            assert maps, name
            for map_id, inside, covered, w, h, n_selected, n_drawn in maps:
                where = f"{name} at {width}x{height}: {map_id} ({w}x{h})"
                assert inside, f"{where} cuts its selection"
                assert not covered, f"{where}: its selection is under {covered}"
                if name.startswith("focus"):  # the places listed, not the whole city
                    assert n_selected >= 2 and n_drawn >= 8, (where, n_selected, n_drawn)
            d.execute_script("window.dispatchEvent(new Event('afterprint'));")
            d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


VIEW = """var m = Object.keys(window).map(function (k) { try { return window[k]; } catch (e) {
  return null; } }).filter(function (v) { return window.L && v instanceof L.Map; })[0];
return [m.getCenter().lat, m.getCenter().lng, m.getZoom(),
        document.documentElement.className, window.geoPrintFits || 0];"""


@pytest.mark.parametrize("name", ["hotspots", "focus_patch"])
def test_chromium_printing_refits_the_map_and_gives_the_view_back(server, browser, name):
    """Chromium's own printing (as Ctrl+P) runs the refit and, afterwards, the user has the
    view they had (at a desktop window, where the screen view cuts the city)."""
    with rendered(browser, server + PRINT_PAGES[name]) as d:
        before = d.execute_script(VIEW)
        data = printed_pdf(d)
        after = d.execute_script(VIEW)
    assert len(re.findall(rb"/Type\s*/Page[^s]", data)) == 1
    assert after[4] == before[4] + 1, "printing did not fit the map"
    assert after[2] == before[2] and "geo-printing" not in after[3], (before, after)
    assert after[:2] == pytest.approx(before[:2], abs=1e-4), (before, after)  # (~10 m)
