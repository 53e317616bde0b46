"""Static PNG maps for briefings: the right size, not empty, the hot spots the API reports
drawn in their colours, cached like the pages; written to test-artifacts/ to look at."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from geo_api.settings import PROJECT_ROOT
from geo_api.web.maps.hotspots import GI_COLOURS

Q = "datetime=2020-04/2020-06&group=violence_robbery_weapons"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


def _pixels(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)).convert("RGB"))


def _share_of(img: np.ndarray, colour: str) -> float:
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return float((np.abs(img.astype(int) - rgb).sum(axis=2) <= 6).mean())


@pytest.mark.parametrize("layout, size", [("slide", (1600, 900)), ("a4", (1403, 992))])
def test_png_is_the_right_size_and_not_empty(client, layout, size):
    r = client.get(f"/maps/hotspots.png?{Q}&layout={layout}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"].startswith(
        'inline; filename="hotspots_h3-r9_2020-04-to-2020-06_violence_robbery_weapons_')
    assert r.headers["content-disposition"].endswith('.png"')
    img = _pixels(r.content)
    assert abs(img.shape[1] - size[0]) <= 2 and abs(img.shape[0] - size[1]) <= 2, img.shape
    assert len(r.content) > 30_000
    white = float((img.min(axis=2) >= 250).mean())
    assert 0.5 < white < 0.97, white  # a map on a white page, not a blank one
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"hotspots_{layout}.png").write_bytes(r.content)


def test_png_draws_the_hot_spots_the_api_reports(client):
    gi = client.get(f"/hotspots/gi?{Q}").json()
    labels = {u["label"] for u in gi["cells"]}
    img = _pixels(client.get(f"/maps/hotspots.png?{Q}&cold=true").content)
    for label, colour in GI_COLOURS.items():
        drawn = _share_of(img, colour) > 0
        # a class is drawn if and only if the API has cells of it (legend swatches aside:
        # a swatch is ~150 px, far below the area of one drawn cell class)
        assert drawn == (label in labels) or _share_of(img, colour) < 2e-4, label
    hot = [k for k in GI_COLOURS if k.startswith("hot") and k in labels]
    assert hot and max(_share_of(img, GI_COLOURS[k]) for k in hot) > 2e-4
    without_cold = _pixels(client.get(f"/maps/hotspots.png?{Q}").content)
    cold = [k for k in GI_COLOURS if k.startswith("cold") and k in labels]
    for k in cold:  # cold spots only when asked for (swatches aside)
        assert _share_of(without_cold, GI_COLOURS[k]) < _share_of(img, GI_COLOURS[k])


def test_png_is_cached_and_checks_its_parameters(client):
    url = f"/maps/hotspots.png?{Q}&layout=a4&resolution=8"
    first = client.get(url)
    again = client.get(url)
    assert again.headers.get("x-page-cache") == "hit" and again.content == first.content
    assert client.get(f"/maps/hotspots.png?{Q}&layout=poster").status_code == 422
    assert client.get("/maps/hotspots.png?datetime=1999-01").status_code == 422


def test_the_hotspot_map_links_its_picture(client):
    import html
    import re

    page = client.get("/maps/hotspots?preset=2020-08/2020-09&group=all").text  # form fields
    href = html.unescape(re.search(r'id="png-link"[^>]*href="([^"]+)"', page).group(1))
    assert "datetime=2020-08-01%2F2020-09-30" in href and "group=all" in href, href
    r = client.get(href)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
