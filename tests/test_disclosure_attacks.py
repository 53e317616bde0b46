"""Attacks on the disclosure policy, run as the public role against the shipped data - and
as a partner (no disclosure control), where each must succeed, so each attack can fail.

The attacks of issue 27: solving mean-centre equations over overlapping selections for a
withheld count and the location of one offence; street names and the number of rows of
suppressed cells; KDE peaks over a box holding a withheld count; error oracles; the count
in /health's words.
"""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from geo_api.settings import Settings
from geo_api.web.app import create_app

BOX = "-1.16,52.616,-1.14,52.628"
CENTRE = "/compare/centre?before=2020-04&after=2020-05&bbox=" + BOX


def as_role(public, who):
    """GET as the public role or as a partner (``public``: the conftest fixture)."""
    c, key = public
    headers = {} if who == "public" else {"X-API-Key": key}
    return lambda url: c.get(url, headers=headers)


def centre_of(get, *categories):
    q = "".join(f"&crime_category={c.replace(' ', '+')}" for c in categories)
    r = get(CENTRE + q)
    assert r.status_code == 200, r.text[:300]
    b = r.json()["before"]
    return b["n"], b["mean_x_m"], b["mean_y_m"]


def centre_attack(get):
    """Issue 27's five requests: from the centres and counts of A, B, A+T and B+T solve for
    the count and the mean location of T (Theft from the person). Returns (n_T, x, y) or
    None when the answers do not allow it."""
    estimates = []
    for other in ("Burglary", "Shoplifting"):  # two independent solutions, averaged
        n1, x1, y1 = centre_of(get, other)
        n2, x2, y2 = centre_of(get, other, "Theft from the person")
        if None in (n1, x1, n2, x2) or n2 - n1 <= 0:
            return None
        nt = n2 - n1
        estimates.append((nt, (n2 * x2 - n1 * x1) / nt, (n2 * y2 - n1 * y1) / nt))
    nt, x, y = np.mean(estimates, axis=0)
    return nt, x, y


def true_theft_points(demo_service):
    from geo_api.services.filters import build_filter

    flt = build_filter("2020-04", "all", ["Theft from the person"], bbox=BOX)
    pts = demo_service.store.points(flt)
    return pts["x_m"].to_numpy(), pts["y_m"].to_numpy()


def test_centre_equations_locate_a_withheld_offence_only_without_disclosure_control(
        public, demo_service):
    tx, ty = true_theft_points(demo_service)
    assert len(tx) == 1  # the withheld count of the box: one offence
    got = centre_attack(as_role(public, "partner"))
    assert got is not None and got[0] == 1
    assert np.hypot(got[1] - tx[0], got[2] - ty[0]) < 0.01  # to under a centimetre
    got = centre_attack(as_role(public, "public"))
    assert got is None or np.hypot(got[1] - tx[0], got[2] - ty[0]) > 500


def test_public_centres_are_withheld_for_small_selections_and_on_a_grid_otherwise(public):
    get = as_role(public, "public")
    for cats in (("Burglary",), ("Theft from the person",), ("Shoplifting",)):
        _, x, y = centre_of(get, *cats)
        assert x is None and y is None  # a box of a few offences: no centre at all
    r = get("/compare/centre?before=2020-04&after=2020-05&group=all").json()  # the city
    for p in ("before", "after"):
        c = r[p]
        assert c["n"] >= 20 and c["n"] % 5 == 0
        for k in ("mean_x_m", "mean_y_m", "sd_major_m", "sd_minor_m", "standard_distance_m"):
            assert c[k] % 250 == 0, (k, c[k])
        assert c["major_axis_bearing_deg"] % 15 == 0
    s = r["shift"]
    assert s["dx_m"] == r["after"]["mean_x_m"] - r["before"]["mean_x_m"]


def test_too_few_for_a_centre_is_one_answer_not_an_oracle(public):
    """1-2 offences (too few for any centre) and 3-19 (too few for the public) look the
    same: 200, null centre, the same count treatment - no 422 for some and 200 for others."""
    get = as_role(public, "public")
    answers = []
    for cats in (("Theft from the person",), ("Burglary",), ("Shoplifting",)):
        q = "".join(f"&crime_category={c.replace(' ', '+')}" for c in cats)
        r = get(CENTRE + q)
        assert r.status_code == 200
        b = r.json()["before"]
        answers.append((b["mean_x_m"], b["sd_major_m"], b["n"] is None or b["n"] % 5 == 0))
    assert set(answers) == {(None, None, True)}
    partner = as_role(public, "partner")
    r = partner(CENTRE + "&crime_category=Theft+from+the+person")
    assert r.status_code == 200 and r.json()["before"]["n"] == 1  # not a 422 for anyone
    assert r.json()["before"]["mean_x_m"] is None


TOP = ("/stats/top?grid=h3&datetime=2020-04&crime_category=Theft%20from%20the%20person"
       "&bbox=" + BOX)


def test_suppressed_cells_show_no_street_and_the_row_count_tells_nothing(public):
    partner = as_role(public, "partner")(TOP).json()["top"]
    assert any(r["count"] == 1 and r["streets"] for r in partner)  # the attack's answer
    r = as_role(public, "public")(TOP)
    assert r.status_code == 200
    rows = r.json()["top"]
    assert len(rows) == 8  # `limit` rows whatever the number of non-empty cells
    for row in rows:
        if row["count"] is None or row["count"] == 0:
            assert not row["streets"], row
            assert row["name"] == row["code"], row
    suppressed = [row["code"] for row in rows if row["count"] is None]
    assert suppressed == sorted(suppressed)  # ordered by code, not by the hidden count


def test_public_streets_rest_on_at_least_k_offences(public, demo_service):
    """A published street name of a cell is backed by at least 5 of its offences."""
    from geo_api.services.filters import build_filter

    url = "/stats/top?grid=h3&limit=20&datetime=2020-04&group=violence_robbery_weapons"
    rows = as_role(public, "public")(url).json()["top"]
    flt = build_filter("2020-04", "violence_robbery_weapons")
    df = demo_service.store.located_values(("h3_r9", "location_text"), flt)
    df["cell"] = [f"{int(c):x}" for c in df["h3_r9"]]
    checked = 0
    for row in rows:
        for street in row["streets"] or []:
            n = df[(df["cell"] == row["code"]) & df["location_text"].str.endswith(street)]
            assert len(n) >= 5, (row["code"], street, len(n))
            checked += 1
    assert checked > 5


KDE = ("/hotspots/kde?datetime=2020-04&crime_category=Theft%20from%20the%20person"
       "&bbox=-1.16,52.61,-1.10,52.66&f=geojson&min_share_of_max=0.9")


def kde_peak_distances(r, demo_service) -> list[float]:
    """Distance (m) from each returned cell to the nearest true offence of the box."""
    from geo_api.crs import lonlat_to_metric
    from geo_api.services.filters import build_filter

    flt = build_filter("2020-04", "all", ["Theft from the person"],
                       bbox="-1.16,52.61,-1.10,52.66")
    pts = demo_service.store.points(flt)
    px, py = pts["x_m"].to_numpy(), pts["y_m"].to_numpy()
    out = []
    for f in r.json()["features"]:
        ring = np.array(f["geometry"]["coordinates"][0])
        cx, cy = lonlat_to_metric(ring[:, 0].mean(), ring[:, 1].mean())
        out.append(float(np.min(np.hypot(px - cx, py - cy))))
    return out


def test_kde_peaks_of_a_few_offences_are_not_published(public, demo_service):
    partner = as_role(public, "partner")(KDE)
    near = kde_peak_distances(partner, demo_service)
    assert near and min(near) < 60  # the attack works without disclosure control
    r = as_role(public, "public")(KDE)
    if r.status_code == 200:
        assert kde_peak_distances(r, demo_service) == []
    else:
        assert r.status_code == 422 and "too few offences" in r.json()["message"]


def test_public_kde_shows_only_density_resting_on_many_offences(public, demo_service):
    """On a busy selection the public surface exists, and no published cell has fewer than
    5 offences within one bandwidth."""
    from geo_api.crs import lonlat_to_metric
    from geo_api.services.filters import build_filter

    url = ("/hotspots/kde?datetime=2020-04&group=violence_robbery_weapons&bandwidth_m=300"
           "&cell_size_m=100&f=geojson&min_share_of_max=0.01")
    feats = as_role(public, "public")(url).json()["features"]
    assert len(feats) > 50
    pts = demo_service.store.points(build_filter("2020-04", "violence_robbery_weapons"))
    from scipy.spatial import cKDTree

    tree = cKDTree(np.column_stack([pts["x_m"], pts["y_m"]]))
    for f in feats[::10]:
        ring = np.array(f["geometry"]["coordinates"][0])
        cx, cy = lonlat_to_metric(ring[:-1, 0].mean(), ring[:-1, 1].mean())
        assert len(tree.query_ball_point([float(cx), float(cy)], 300)) >= 5


def test_health_says_no_exact_count_in_words(public):
    body = as_role(public, "public")("/health").json()
    assert body["n_offences"] % 5 == 0
    assert not any(ch.isdigit() for ch in body["message"].replace("2019-12", "").replace(
        "2020-09", "")), body["message"]


def test_map_tooltips_of_suppressed_cells_name_no_street(public):
    import re

    url = ("/maps/compare?before=2019-12/2020-02&after=2020-04/2020-06&group=all"
           "&crime_category=Theft+from+the+person")
    partner = as_role(public, "partner")(url).text
    assert re.findall(r'"count": [1-4], "gi_z": [^,]+, "id": "[^"]+", "label": "[^"]+", '
                      r'"meaning": "[^"]+", "streets": "[^"]+"', partner)  # without control small cells are named
    page = as_role(public, "public")(url).text
    small = re.findall(r'"count": "(?:<|\\u0026lt;)5"[^}]*?"streets": "([^"]*)"', page)
    assert small and all(s == "" for s in small), small[:3]


def test_surfaces_cached_for_one_role_are_not_served_to_another(public, demo_service):
    """The KDE collection and its tiles are cached: a surface built for a partner first
    must not reach the public caller (nor the public one a partner)."""
    q = ("datetime=2020-04&group=all&crime_category=Theft%20from%20the%20person"
         "&bbox=-1.16,52.61,-1.10,52.66")
    partner, public = as_role(public, "partner"), as_role(public, "public")
    url = f"/collections/hotspots-kde/items?{q}&limit=10000"
    first = partner(url)
    assert first.status_code == 200 and first.json()["features"]
    r = public(url)
    assert r.status_code in (200, 422)
    if r.status_code == 200:
        assert kde_peak_distances(r, demo_service) == [] or min(
            kde_peak_distances(r, demo_service)) > 60
    tile = "/tiles/kde/12/2035/1341.geojson?" + q
    n_partner = len(partner(tile).json()["features"])
    t = public(tile)
    assert n_partner > 0 and (t.status_code == 422 or len(t.json()["features"]) < n_partner)
    assert len(partner(tile).json()["features"]) == n_partner  # and not the other way round


def test_every_number_a_public_endpoint_answers_with_is_declared(client):
    """Protection is tied to the response models' fields: every number (or list of numbers)
    of every model a public or anyone's endpoint answers with declares what the policy does
    with it, and declares only fields that exist - a renamed or new number fails here."""
    import typing

    from pydantic import BaseModel

    from geo_api.web.api.models.disclosure import CENTRE, KINDS, declared, numeric_fields
    from geo_api.web.auth import required_role

    seen: set = set()

    def walk(ann):
        if typing.get_origin(ann) is not None:
            for a in typing.get_args(ann):
                walk(a)
            return
        if isinstance(ann, type) and issubclass(ann, BaseModel) and ann not in seen:
            seen.add(ann)
            for f in ann.model_fields.values():
                walk(f.annotation)

    for r in client.app.state.api_routes:
        if getattr(r, "response_model", None) is not None and \
                required_role(r) in ("public", "anyone"):
            walk(r.response_model)
    assert len(seen) > 40
    missing, unknown = [], []
    for model in seen:
        kinds = declared(model)
        if kinds.get("__model__") == CENTRE:
            continue
        for base in model.__mro__:
            if isinstance(base, type) and issubclass(base, BaseModel) and base is not BaseModel:
                missing += [f"{base.__name__}.{n}" for n in numeric_fields(base)
                            if n not in kinds]
        unknown += [f"{model.__name__}.{n}" for n in kinds if n not in model.model_fields]
        assert set(kinds.values()) <= KINDS, model
    assert not missing and not unknown, (missing, unknown)


@pytest.mark.parametrize("z", [11, 12, 13, 14])
def test_kde_tiles_at_every_zoom_show_no_peak_of_a_few_offences(public, demo_service, z):
    import math

    from geo_api.crs import lonlat_to_metric

    lon, lat = -1.13, 52.635  # the box of the KDE attack
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    q = ("datetime=2020-04&group=all&crime_category=Theft%20from%20the%20person"
         "&bbox=-1.16,52.61,-1.10,52.66")
    pts = demo_service.store.points(__import__("geo_api.services.filters", fromlist=["x"])
                                    .build_filter("2020-04", "all", ["Theft from the person"],
                                                  bbox="-1.16,52.61,-1.10,52.66"))
    px, py = pts["x_m"].to_numpy(), pts["y_m"].to_numpy()

    def nearest(r) -> list[float]:
        out = []
        for f in r.json().get("features", []):
            ring = np.array(f["geometry"]["coordinates"][0])
            cx, cy = lonlat_to_metric(ring[:-1, 0].mean(), ring[:-1, 1].mean())
            out.append(float(np.min(np.hypot(px - cx, py - cy))))
        return out

    url = f"/tiles/kde/{z}/{x}/{y}.geojson?{q}"
    r = as_role(public, "public")(url)
    assert r.status_code in (200, 422)
    if r.status_code == 200:
        assert all(d > 60 for d in nearest(r)), nearest(r)


def test_public_csv_of_a_top_list_names_no_street_of_a_suppressed_cell(public):
    import csv
    import io

    text = as_role(public, "public")(TOP + "&f=csv").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and all(r.get("streets") in ("", "[]") for r in rows if r["count"] in ("", "0"))
    partner = as_role(public, "partner")(TOP + "&f=csv").content.decode("utf-8-sig")
    assert any(r["streets"] and r["count"] == "1"
               for r in csv.DictReader(io.StringIO(partner)))


def test_centre_and_kde_attacks_fail_on_a_force_export(timed_settings, tmp_path):
    """The SYNTHETIC force export (exact locations, not public): a small box's centre and
    KDE peaks are not published to the public."""
    from geo_api.data.keys import KeyStore

    s = Settings(store_dir=timed_settings.store_dir, keys_file=tmp_path / "k.json",
                 audit_dir=tmp_path / "a", anonymous_role="public")
    partner = {"X-API-Key": KeyStore(s.keys_path).create("partner", "p")[0]}
    box = "-1.150,52.628,-1.128,52.642"  # about 1.5 x 1.5 km in the centre
    with TestClient(create_app(s)) as c:
        url = f"/compare/centre?before=2020-04&after=2020-05&group=all&bbox={box}"
        seen = c.get(url, headers=partner).json()["before"]
        assert seen["mean_x_m"] is not None and seen["mean_x_m"] % 250 != 0
        pub = c.get(url).json()["before"]
        assert pub["mean_x_m"] is None or (pub["n"] >= 20 and pub["mean_x_m"] % 250 == 0)
        kde = f"/hotspots/kde?datetime=2020-04&group=all&bbox={box}&f=geojson"
        assert c.get(kde, headers=partner).json()["features"]
        r = c.get(kde)
        assert r.status_code in (200, 422)


def test_centre_differencing_of_two_boxes_does_not_locate_the_strip_between_them(
        public, demo_service):
    """Box A and box A' = A plus a thin strip holding one police.uk map point: the two
    centres and counts give that point's position exactly - unless the policy holds."""
    from geo_api.crs import metric_to_lonlat
    from geo_api.services.filters import build_filter

    s, w, n, e = 52.61, -1.16, 52.65, -1.12
    pts = demo_service.store.points(build_filter("2020-04", "violence_robbery_weapons"))
    lon, lat = metric_to_lonlat(pts["x_m"].to_numpy(), pts["y_m"].to_numpy())
    east = np.unique(np.round(lon[(lon > e) & (lat > s) & (lat < n)], 6))
    edge = round((east[0] + east[1]) / 2, 6)  # A' takes in the map point(s) at east[0] only
    inside = (lat > s) & (lat < n) & (lon > e) & (lon <= edge)
    tx, ty = pts["x_m"].to_numpy()[inside].mean(), pts["y_m"].to_numpy()[inside].mean()

    def solve(get):
        out = []
        for east_edge in (e, edge):
            r = get(f"/compare/centre?before=2020-04&after=2020-05&group="
                    f"violence_robbery_weapons&bbox={w},{s},{east_edge},{n}").json()["before"]
            out.append((r["n"], r["mean_x_m"], r["mean_y_m"]))
        (n1, x1, y1), (n2, x2, y2) = out
        if None in (n1, x1, n2, x2) or n2 <= n1:
            return None
        return (n2 * x2 - n1 * x1) / (n2 - n1), (n2 * y2 - n1 * y1) / (n2 - n1)

    got = solve(as_role(public, "partner"))
    assert got is not None and np.hypot(got[0] - tx, got[1] - ty) < 0.01
    got = solve(as_role(public, "public"))
    assert got is None or np.hypot(got[0] - tx, got[1] - ty) > 500


def test_the_png_is_drawn_from_protected_layers_only(public, monkeypatch):
    """The server-drawn picture carries what the public map carries: hot/cold labels; the
    layers it is drawn from have protected counts and no street of a suppressed cell."""
    import geo_api.web.maps.static_png as png

    drawn = []
    real = png.render_hotspot_png
    monkeypatch.setattr(png, "render_hotspot_png",
                        lambda b, layers, *a, **k: (drawn.append(layers), real(b, layers, *a,
                                                                               **k))[1])
    url = ("/maps/hotspots.png?datetime=2020-04&group=all"
           "&crime_category=Theft+from+the+person&cold=true")
    r = as_role(public, "public")(url)
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    rows = drawn[-1].gi_rows
    assert rows
    for row in rows:
        c = row.get("count")
        assert c == "<5" or c == 0 or (isinstance(c, int) and c % 5 == 0), row
        if c == "<5":
            assert not row.get("streets")
    as_role(public, "partner")(url)
    assert any(isinstance(row.get("count"), int) and 0 < row["count"] < 5
               for row in drawn[-1].gi_rows)  # a partner's picture rests on exact counts
