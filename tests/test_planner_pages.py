"""The planning and focus pages in words a non-analyst reads (issue 30, part 3): no
statistic's short name in the visible text - the panel outside "How this was made", the
layer names - and, in Chromium, the rendered text, the upload form's next steps and the
focus page printed on one A4 landscape page."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from test_browser import ARTIFACTS, print_to_pdf, rendered, server  # noqa: F401 (fixture)

G = "group=violence_robbery_weapons"
KITS = b"name,kind,easting,northing\nClock Tower,bleed kit,458800,304580\n"
# what a neighbourhood officer, youth worker or planner should not have to decode
JARGON = [r"Gi\*", r"\bH3\b", r"\bPAI\b", r"\bPEI\b", r"long_run", r"\bpp\b",
          r"if weights ±50%", r"by chance \(90%\)", r"\(see GET /sites\)"]
PAGES = {"planning": "/maps/planning?datetime=2020-04/2020-09&p=3&existing=plain-kits",
         "focus": f"/maps/focus?{G}&n=8",
         "focus_patch": f"/maps/focus?{G}&n=8&area=npa:NC"}


def jargon_in(text: str) -> list[str]:
    return [word for word in JARGON if re.search(word, text)]


def visible_text(page: str) -> str:
    """The panel's text outside "How this was made" and scripts, and the layer names."""
    panel = page[page.index('<div id="plan-panel"'):]
    panel = re.sub(r"<(script|style|details)\b.*?</\1>", " ", panel, flags=re.DOTALL)
    layers = re.search(r"overlays\s*:\s*\{(.*?)\}", page, re.DOTALL).group(1)
    names = re.findall(r'"([^"]+)"\s*:', layers)
    return html.unescape(re.sub(r"<[^>]+>", " ", panel)) + " " + " ".join(names)


@pytest.fixture(scope="module")
def plain_kits(client):
    assert client.post("/sites/plain-kits", content=KITS,
                       headers={"content-type": "text/csv"}).status_code == 201
    yield "plain-kits"
    client.delete("/sites/plain-kits")


@pytest.mark.parametrize("name", PAGES)
def test_pages_speak_plainly_outside_how_this_was_made(client, plain_kits, name):
    page = client.get(PAGES[name]).text
    text = visible_text(page)
    assert "How much of next month's violence" in text or "Hot spots no kit reaches" in text
    assert jargon_in(text) == [], (name, jargon_in(text))
    # the technical terms are still there, folded away
    details = re.search(r"<details>(.*?)</details>", page, re.DOTALL).group(1)
    assert len(jargon_in(details)) >= 2, details
    assert '<a href="/glossary">glossary</a>' in details


def test_the_check_finds_jargon():
    assert jargon_in("Gi* hot spots, PAI 4.8 and long_run; +3 pp") == [
        r"Gi\*", r"\bPAI\b", r"long_run", r"\bpp\b"]
    assert jargon_in("happy planners caught 24%") == []


# -- in Chromium ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server_kits(server):  # noqa: F811
    assert httpx.post(f"{server}/sites/plain-kits", content=KITS,
                      headers={"content-type": "text/csv"}).status_code == 201
    yield server
    httpx.delete(f"{server}/sites/plain-kits")


@pytest.mark.parametrize("name", PAGES)
def test_rendered_pages_speak_plainly(server_kits, browser, name):
    """What Chromium shows (a closed <details> shows only its summary)."""
    ARTIFACTS.mkdir(exist_ok=True)
    with rendered(browser, server_kits + PAGES[name]) as d:
        text = d.execute_script("return document.body.innerText;")
        d.save_screenshot(str(ARTIFACTS / f"plain_{name}.png"))
    assert "How this was made" in text and ("Hot spots" in text or "places" in text)
    assert jargon_in(text) == [], (name, jargon_in(text))


@pytest.mark.parametrize("query", ["n=8", "n=8&area=npa:NC", "n=8&area=ward:E05010464"])
def test_focus_page_prints_on_one_page(server, browser, query):  # noqa: F811
    """One A4 landscape page (print_to_pdf asserts it): the list beside the map."""
    pdf = print_to_pdf(browser, f"{server}/maps/focus?{G}&{query}")
    assert len(pdf) > 20_000
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"focus_print_{query.replace('&', '_')}.pdf").write_bytes(pdf)


def test_upload_form_offers_the_next_steps(server, browser, tmp_path):  # noqa: F811
    """Upload a postcode list through the landing page's form: three links, each opening
    what it says."""
    sites = Path(tmp_path) / "kits.csv"
    sites.write_text("name,postcode\nA,LE1 1AD\nB,LE1 5YA\n")
    d = browser
    d.get(f"{server}/")
    d.find_element(By.ID, "sites-file").send_keys(str(sites))
    d.find_element(By.ID, "sites-name").send_keys("browser-next")
    d.find_element(By.CSS_SELECTOR, "#upload button[type=submit]").click()
    WebDriverWait(d, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#upload-next a"))
    assert '2 sites saved as "browser-next"' in d.find_element(By.ID, "upload-result").text
    links = {a.text: a.get_attribute("href").removeprefix(server)
             for a in d.find_elements(By.CSS_SELECTOR, "#upload-next a")}
    assert links == {
        "Plan kits with this set as existing kits": "/maps/planning?p=5&existing=browser-next",
        "Plan kits choosing among these sites (candidate sites)":
            "/maps/planning?p=5&candidates=browser-next",
        "Show on the hot spot map (latest 3 months)":
            f"/maps/hotspots?datetime=2020-07/2020-09&{G}&sites=browser-next"}
    d.find_element(By.LINK_TEXT, "Plan kits with this set as existing kits").click()
    WebDriverWait(d, 300).until(lambda d: d.find_elements(By.ID, "plan-share"))
    assert "Your existing kits (browser-next, 2 kits)" in d.find_element(By.ID, "plan-share").text
    httpx.delete(f"{server}/sites/browser-next")
