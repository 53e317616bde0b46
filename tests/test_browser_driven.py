"""Map pages driven like a person would, in headless Chromium through WebDriver (Debian's
chromium-driver; Selenium is told where it is, so nothing is downloaded): change the period
with the controls and the page reloads with the new selection, zoom to a ward, switch on
the fetched density layer, and use the form with JavaScript switched off."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from conftest import start_chromium
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from test_browser import ARTIFACTS, server  # noqa: F401 (fixture)

G = "group=violence_robbery_weapons"


# `browser` (tests/conftest.py): the run's Chromium, one blank tab in a 1400 x 900 window


def _query(d) -> dict[str, list[str]]:
    return parse_qs(urlparse(d.current_url).query)


def _no_js_errors(d) -> None:
    assert d.find_element(By.TAG_NAME, "html").get_attribute("data-js-errors") is None, (
        d.find_element(By.TAG_NAME, "html").get_attribute("data-js-error-last"))


def _map_name(d) -> str:
    return re.search(r"\b(map_[0-9a-f]{32})\b", d.page_source).group(1)


def _choose(d, element_id: str, *, text: str | None = None, value: str | None = None) -> None:
    """Pick an option of the <select> `element_id` as a person would, once the page has
    settled: Chromium can replace a just-loaded document's nodes between finding the element
    and using it ("Node with given id does not belong to the document"), so find it afresh
    and try again until the choice is made."""
    def attempt(d) -> bool:
        try:
            menu = Select(d.find_element(By.ID, element_id))
            if text is not None:
                menu.select_by_visible_text(text)
            else:
                menu.select_by_value(value)
            return True
        except StaleElementReferenceException:
            return False
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return False
            raise
    WebDriverWait(d, 30).until(attempt)


def _submit_and_wait(d) -> None:
    old = d.find_element(By.ID, "map-controls")
    d.find_element(By.CSS_SELECTOR, "#map-controls button[type=submit]").click()
    WebDriverWait(d, 120).until(lambda d: not _same(old))  # the page reloaded


def _same(element) -> bool:
    try:
        element.is_displayed()
        return True
    except StaleElementReferenceException:  # the page was replaced
        return False
    except WebDriverException as exc:  # replaced while Chromium was looking the node up
        if "does not belong to the document" in str(exc):
            return False
        raise


def test_hotspot_controls_reload_with_the_new_selection(server, browser):  # noqa: F811
    d = browser
    d.get(f"{server}/maps/hotspots?datetime=2020-04/2020-06&{G}")
    assert "Apr–Jun 2020" in d.find_element(By.ID, "legend").text
    _choose(d, "ctl-preset", text="Latest month")
    _choose(d, "ctl-group", value="all")
    _submit_and_wait(d)
    q = _query(d)
    assert q["datetime"] == ["2020-09/2020-09"] and q["group"] == ["all"], q
    assert "Sep 2020: all offences" in d.find_element(By.ID, "legend").text
    assert Select(d.find_element(By.ID, "ctl-group")).first_selected_option.text == \
        "all offences"
    _no_js_errors(d)
    # custom months: from/to
    d.execute_script("var f=document.getElementById('map-controls');"
                     "f.elements['preset'].value='';f.elements['period_from'].value='2020-01';"
                     "f.elements['period_to'].value='2020-02';")
    _submit_and_wait(d)
    assert _query(d)["datetime"] == ["2020-01/2020-02"]
    assert "Jan–Feb 2020" in d.find_element(By.ID, "legend").text
    ARTIFACTS.mkdir(exist_ok=True)
    d.save_screenshot(str(ARTIFACTS / "driven_hotspots_after_controls.png"))


def test_zoom_to_a_ward(server, browser):  # noqa: F811
    d = browser
    d.get(f"{server}/maps/hotspots?datetime=2020-04/2020-06&{G}")
    name = _map_name(d)
    before = d.execute_script(f"return {name}.getZoom();")
    _choose(d, "ctl-zoom", text="Ward: Castle")
    WebDriverWait(d, 30).until(lambda d: d.execute_script(f"return {name}.getZoom();") > before)
    centre = d.execute_script(f"var c={name}.getCenter();return [c.lat,c.lng];")
    assert 52.62 < centre[0] < 52.65 and -1.15 < centre[1] < -1.12, centre  # city centre


def test_two_period_controls(server, browser):  # noqa: F811
    for path in ("/maps/compare", "/compare/report/map"):
        browser.get(f"{server}{path}?before=2019-12/2020-02&after=2020-04/2020-06&{G}")
        browser.execute_script(
            "var f=document.getElementById('map-controls');"
            "f.elements['before_from'].value='2020-01';f.elements['before_to'].value='2020-03';"
            "f.elements['after_from'].value='2020-07';f.elements['after_to'].value='2020-09';")
        _submit_and_wait(browser)
        q = _query(browser)
        assert q["before"] == ["2020-01/2020-03"] and q["after"] == ["2020-07/2020-09"], q
        assert "Jan" in browser.title and "Jul" in browser.title, browser.title
        _no_js_errors(browser)


def test_density_layer_is_fetched_when_switched_on(server, browser):  # noqa: F811
    d = browser
    d.get(f"{server}/maps/hotspots?datetime=2020-04/2020-06&{G}")
    shapes = len(d.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive"))
    label = next(lb for lb in d.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers label")
                 if "Heat map" in lb.text)
    label.find_element(By.TAG_NAME, "input").click()
    WebDriverWait(d, 60).until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute(
        "data-fetched-layers") == "1" or d.find_elements(By.CLASS_NAME, "layer-fetch-failed"))
    assert not d.find_elements(By.CLASS_NAME, "layer-fetch-failed")
    drawn = len(d.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive"))
    assert drawn > shapes + 100, (shapes, drawn)  # the KDE cells
    _no_js_errors(d)
    d.save_screenshot(str(ARTIFACTS / "driven_hotspots_density_on.png"))


def test_controls_work_without_javascript(server):  # noqa: F811
    d = start_chromium(javascript=False)  # a browser of its own: JavaScript off
    try:
        d.get(f"{server}/maps/hotspots?datetime=2020-04/2020-06&{G}")
        _choose(d, "ctl-preset", text="Latest 3 months")
        _submit_and_wait(d)
        q = _query(d)
        assert q["preset"] == ["2020-07/2020-09"], q  # the form's own fields ...
        assert "Jul–Sep 2020" in d.page_source  # ... read by the server
        d.get(f"{server}/maps/compare?before=2019-12/2020-02&after=2020-04/2020-06&{G}")
        _choose(d, "ctl-group", value="all")
        _submit_and_wait(d)
        q = _query(d)
        assert q["before_from"] == ["2019-12"] and q["after_to"] == ["2020-06"], q
        assert "Dec 2019–Feb 2020: all offences" in d.page_source
    finally:
        d.quit()


def test_focus_and_planning_controls(server, browser):  # noqa: F811
    d = browser
    d.get(f"{server}/maps/focus?datetime=2019-12/2020-09&{G}&n=5")
    _choose(d, "ctl-group", value="all")
    _submit_and_wait(d)
    q = _query(d)
    assert q["group"] == ["all"] and q["datetime"] == ["2019-12/2020-09"] and q["n"] == ["5"]
    _no_js_errors(d)
    d.get(f"{server}/maps/planning?p=2&datetime=2020-04/2020-09&{G}")
    _choose(d, "ctl-preset", text="Latest 3 months")
    _submit_and_wait(d)
    q = _query(d)
    assert q["datetime"] == ["2020-07/2020-09"] and q["p"] == ["2"], q
    assert "Jul–Sep 2020" in d.find_element(By.ID, "plan-panel").text
    _no_js_errors(d)
    d.save_screenshot(str(ARTIFACTS / "driven_planning_after_controls.png"))
