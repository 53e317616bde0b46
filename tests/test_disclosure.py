"""Disclosure control for the public role: the policy's rules by hand, and a disclosure audit
of every endpoint the public may call (JSON, GeoJSON tiles, vector tiles, map pages) with
adversarial parameters: 0 counts in 1..k-1, 0 point locations, nothing finer than the
floors, and no small number recoverable by differencing two overlapping requests."""

from __future__ import annotations

import json
import re

import mapbox_vector_tile
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo_api.errors import Forbidden
from geo_api.services.disclosure import Policy
from geo_api.web.auth import required_role

K = 5
POLICY = Policy()
Q = "datetime=2020-04/2020-06&group=violence_robbery_weapons"
P = "before=2019-12/2020-02&after=2020-04/2020-06&group=violence_robbery_weapons"
# integers that are not offence counts (parameters, ranks, numbers of units), listed here
# independently of the implementation's own list
NOT_COUNTS = {"resolution", "k_ring", "n_units", "permutations", "seed", "rank", "limit",
              "offset", "nx", "ny", "time_steps", "n_steps", "n_significant_bins",
              "n_undefined", "n_features", "new", "persistent", "gone", "z", "x", "y", "hours",
              # OGC API: feature counts of pages (areas, cells) and open area attributes
              "numberMatched", "numberReturned", "imd_decile", "imd_rank", "population_0_15",
              "geometryDimension"}


# ------------------------------------------------------------------ the rules by hand ---
def test_counts_are_suppressed_below_k_and_rounded():
    assert [POLICY.count(v) for v in (0, 1, 4, 5, 7, 8, 12, 13, 102)] == \
        [0, None, None, 5, 5, 10, 10, 15, 100]
    assert POLICY.count(None) is None and POLICY.count(float("nan")) is None


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_differences_of_published_counts_never_isolate_a_small_number(a, b):
    ca, cb = POLICY.count(a), POLICY.count(b)
    if ca is not None and cb is not None:
        assert abs(ca - cb) == 0 or abs(ca - cb) >= K


def test_secondary_suppression_and_recomputed_shares():
    rows = [{"code": "A", "count": 3, "share": 3 / 130, "rate_per_1000": 0.3,
             "population": 10_000.0, "rate_ci95_low": 0.06},
            {"code": "B", "count": 7, "share": 7 / 130, "rate_per_1000": 0.7,
             "population": 10_000.0, "rate_ci95_low": 0.28},
            {"code": "C", "count": 120, "share": 120 / 130, "rate_per_1000": 12.0,
             "population": 10_000.0, "rate_ci95_low": 9.9}]
    out = POLICY.protect({"areas": rows})["areas"]
    # A primary, B secondary (the smallest other non-zero: A = total - B - C otherwise)
    assert [r["count"] for r in out] == [None, None, 120]
    assert out[0]["rate_per_1000"] is None and out[1]["share"] is None
    assert out[2]["share"] == 1.0 and out[2]["rate_per_1000"] == 12.0
    assert all(r["rate_ci95_low"] is None for r in out)  # from exact counts: withheld
    assert out[2]["population"] == 10_000.0 and out[2]["code"] == "C"
    assert rows[0]["count"] == 3  # the input is not changed


def test_what_cannot_be_recomputed_is_withheld():
    # a top-n list: shares of the whole cannot be recomputed from its rows
    top = POLICY.protect({"top": [{"code": "a", "count": 40, "share": 0.4},
                                  {"code": "b", "count": 22, "share": 0.22}]})["top"]
    assert [r["count"] for r in top] == [40, 20] and [r["share"] for r in top] == [None, None]
    # lists of decimals (Lorenz curve, KDE grids) and shares of exact counts
    conc = POLICY.protect({"gini": 0.61, "lorenz": {"cum_offence_share": [0, 0.2, 0.8, 1.0]},
                           "share_of_offences_in_top_area": {"5%": 0.31},
                           "grid": {"values": [[0.0, 10.6], [3.2, 0.0]]},
                           "radii_m": [100.0, 200.0]})
    assert conc["gini"] is None and conc["lorenz"]["cum_offence_share"] == [None] * 4
    assert conc["share_of_offences_in_top_area"] == {"5%": None}
    assert conc["grid"]["values"] == [[None, None], [None, None]]
    assert conc["radii_m"] == [100.0, 200.0]
    # KDE cells: densities withheld, share of the peak banded
    cell = POLICY.protect({"density_per_km2": 10.61, "share_of_max": 0.0262})
    assert cell == {"density_per_km2": None, "share_of_max": 0.0}
    # a centre shift would give back a withheld centre
    centre = POLICY.protect({"before": {"n": 10, "mean_x_m": 1.0}, "after": {
        "n": 3, "mean_x_m": 2.0}, "shift": {"dx_m": 1.0, "distance_m": 1.0}})
    assert centre["after"]["mean_x_m"] is None and centre["shift"] == {
        "dx_m": None, "distance_m": None}
    # differences keep their sign; small ones either side of 0 are suppressed
    assert [POLICY.count(v) for v in (-3, -7, -13, 3)] == [None, -5, -15, None]


def test_nested_counts_numpy_values_and_frames():
    obj = {"meta": {"n_matched": np.int64(3), "n_units": 21, "permutations": 999},
           "hour_by_weekday": {"counts": [[0, 1, 6], [9, 2, 30]]},
           "rows": [{"id": "x", "label": "hot 99%", "count": 8, "gi_z": 3.2}]}
    out = POLICY.protect(obj)
    assert out["meta"] == {"n_matched": None, "n_units": 21, "permutations": 999}
    assert out["hour_by_weekday"]["counts"] == [[0, None, 5], [10, None, 30]]
    assert out["rows"][0] == {"id": "x", "label": "hot 99%", "count": 10, "gi_z": None}
    df = pd.DataFrame({"code": ["a", "b", "c", "d"], "count": [2, 0, 14, 9]})
    # a primary (2) and, as the only one, a secondary: the smallest other non-zero (9)
    assert POLICY.protect_frame(df)["count"].tolist() == [None, 0, 15, None]


def test_declared_fields_decide_over_key_names():
    """A model's declarations are what the policy follows: a declared count is protected
    and drives secondary suppression whatever its key is called; a declared parameter stays
    beside a suppressed count (the rule for undeclared decimals withholds them)."""
    spec = {"fields": {"rows": {"items": {"fields": {
        "n": {"kind": "count"}, "radius_m": {"kind": "keep"}, "z": {"kind": "withhold"},
        "n_units": {"kind": "keep"}}}}}}
    rows = [{"code": c, "n": n, "radius_m": 200.0, "z": 1.5, "n_units": u}
            for c, n, u in (("A", 3, 2), ("B", 7, 3), ("C", 40, 9))]
    out = POLICY.protect({"rows": rows}, spec=spec)["rows"]
    assert [r["n"] for r in out] == [None, None, 40]  # "n" is not a count by name
    assert [r["radius_m"] for r in out] == [200.0] * 3  # kept beside suppressed counts
    assert [r["z"] for r in out] == [None] * 3
    assert [r["n_units"] for r in out] == [2, 3, 9]  # declared kept: not a secondary
    # the same rows with nothing declared: key-name rules (n counted, radius withheld)
    bare = POLICY.protect({"rows": rows})["rows"]
    assert bare[0]["radius_m"] is None and bare[2]["radius_m"] is None


def test_public_schemas_are_nullable_where_the_policy_may_null(client):
    """The OpenAPI document tells a public caller which numbers may be null: every number
    of a schema a public operation answers with, but those its model declares kept or
    ranked - read from the declarations, so a new field cannot be described wrongly."""
    import typing

    from pydantic import BaseModel

    from geo_api.web.api.models.disclosure import KEEP, RANK, declared

    models: dict[str, type[BaseModel]] = {}

    def walk(ann):
        if isinstance(ann, type) and issubclass(ann, BaseModel) and \
                models.setdefault(ann.__name__, ann) is ann:
            for f in ann.model_fields.values():
                walk(f.annotation)
        for a in typing.get_args(ann):
            walk(a)

    for r in client.app.state.api_routes:
        walk(getattr(r, "response_model", None))
    schema = client.app.openapi()
    comps = schema["components"]["schemas"]
    checked = {"kept": 0, "nullable": 0}
    for op in (o for ops in schema["paths"].values() for o in ops.values()):
        if op.get("x-required-role") != "public":
            continue
        refs, todo = set(), [json.dumps(op["responses"])]
        while todo:  # the schemas the answers refer to, and those they refer to
            found = set(re.findall(r"#/components/schemas/(\w+)", todo.pop())) - refs
            refs |= found
            todo += [json.dumps(comps[n]) for n in found]
        for ref in refs & set(models):  # (error bodies have no numbers)
            model = models[ref]
            own = model.model_json_schema()["properties"]
            kinds = {(f.alias or n): declared(model).get(n) for n, f in model.model_fields.items()}
            for key, prop in comps[ref].get("properties", {}).items():
                types = {p.get("type") for p in prop.get("anyOf", [prop])}
                if not types & {"integer", "number"}:
                    continue
                if kinds.get(key) in (KEEP, RANK):  # as the model says
                    checked["kept"] += 1
                    own_types = {p.get("type") for p in own[key].get("anyOf", [own[key]])}
                    assert types == own_types, (ref, key)
                else:
                    checked["nullable"] += 1
                    assert "null" in types, (ref, key)
    assert checked["kept"] > 3 and checked["nullable"] > 10, checked


@pytest.mark.parametrize("params", [
    {"grid": "location"}, {"grid": "oa"}, {"layer": "oa"}, {"grid": "h3", "resolution": "10"},
    {"resolution": "10"}, {"grid": "fishnet", "fishnet_cell_size_m": "100"},
    {"bandwidth_m": "9"}, {"cell_size_m": "12"}, {"bbox": "-1.14,52.63,-1.139,52.631"}])
def test_requests_finer_than_the_floors_are_refused(params):
    with pytest.raises(Forbidden, match="disclosure control"):
        POLICY.check_request(params)


def test_requests_at_the_floors_pass():
    for params in ({"grid": "h3", "resolution": "9"}, {"layer": "lsoa"},
                   {"grid": "fishnet", "fishnet_cell_size_m": "250"},
                   {"bandwidth_m": "300", "cell_size_m": "100"},
                   {"bbox": "-1.16,52.62,-1.11,52.65"}):
        POLICY.check_request(params)


# ------------------------------------------------------------------ the audit -----------
def small_counts(obj, key=None) -> list:
    """(key, value) of every integer in 1..K-1 that is not a known non-count."""
    found = []
    if isinstance(obj, dict):
        if obj.get("type") == "Point":
            found.append(("Point", obj.get("coordinates")))
        for k, v in obj.items():
            found += small_counts(v, k)
    elif isinstance(obj, list):
        for v in obj:
            found += small_counts(v, key)
    elif isinstance(obj, int) and not isinstance(obj, bool) and 0 < obj < K \
            and key not in NOT_COUNTS and "%" not in str(key):
        found.append((key, obj))
    return found


PUBLIC_JSON = [
    f"/stats/areas?layer=lsoa&{Q}", f"/stats/areas?layer=sector&{Q}",
    "/stats/areas?layer=ward&datetime=2020-04&group=all&crime_category=Possession+of+weapons",
    f"/hotspots/gi?{Q}&permutations=99", f"/hotspots/gi?{Q}&permutations=99&grid=lsoa",
    f"/hotspots/gi?{Q}&permutations=99&grid=fishnet&fishnet_cell_size_m=250",
    f"/hotspots/kde?{Q}&bandwidth_m=300&cell_size_m=100&f=geojson",
    f"/profiles/time?{Q}", f"/stats/top?grid=h3&limit=50&{Q}",
    "/stats/top?grid=lsoa&limit=500&datetime=2020-04&crime_category=Possession+of+weapons",
    f"/stats/concentration?{Q}", f"/compare/areas?{P}&grid=lsoa", f"/compare/wdq?{P}",
    f"/compare/hotspots?{P}&permutations=99", f"/compare/kde?{P}",
    ("/compare/centre?before=2020-04&after=2020-05&group=all&crime_category=Possession+of+"
     "weapons&bbox=-1.16,52.62,-1.11,52.65"),
    f"/compare/report?{P}&permutations=99",
    ("/hotspots/emerging?datetime=2019-12/2020-05&group=violence_robbery_weapons&grid=lsoa"
     "&permutations=99"),
    f"/tiles/gi/13/4070/2682.geojson?{Q}", f"/tiles/lsoa/13/4070/2682.geojson?{Q}",
    "/groups", "/layers", "/layers/ward", "/health",
    "/collections", "/collections/stats-lsoa", "/collections/lsoa/items?limit=50",
    f"/collections/stats-lsoa/items?{Q}&limit=1000", f"/collections/stats-ward/items?{Q}",
    f"/collections/stats-ward/items/E05010458?{Q}",
    f"/collections/hotspots-gi/items?{Q}&limit=10000",
    f"/collections/hotspots-kde/items?{Q}&limit=200",
    "/collections/ward/tiles", "/collections/ward/tiles/WebMercatorQuad",
    f"/collections/hotspots-gi/tiles/WebMercatorQuad/tilejson?{Q}",
    "/digest/npa/NC",
]


@pytest.mark.parametrize("url", PUBLIC_JSON)
def test_public_json_has_no_small_counts_and_no_points(public, url):
    client, partner = public
    r = client.get(url)
    assert r.status_code == 200, r.text[:300]
    assert small_counts(r.json()) == []
    if ("/stats/areas?layer=lsoa" in url or "/stats/top?grid=lsoa" in url
            or "/collections/stats-lsoa/items" in url):
        # the same request as a partner does show small counts: the audit can fail
        assert small_counts(client.get(url, headers={"X-API-Key": partner}).json())


def test_every_public_endpoint_is_in_the_audit(public):
    """A new public endpoint must be added to this audit."""
    client, _ = public
    audited = {u.split("?")[0] for u in PUBLIC_JSON} | {
        "/maps/hotspots", "/maps/compare", "/maps/time-window", "/compare/report/map",
        "/maps/hotspots.png",  # hot/cold classes, names and lines only: no numbers drawn
        # counts rounded, partner-only sections left out (tests/test_briefings.py)
        "/briefings/{layer}/{code}", "/digest/{layer}/{code}.atom", "/digest/{layer}/{code}",
        "/tiles/{layer}/{z}/{x}/{y}.mvt", "/tiles/{layer}/{z}/{x}/{y}.geojson",
        "/layers/{layer}",
        "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
        "/collections/{collectionId}/items/{featureId}", "/collections/{collectionId}/items",
        "/collections/{collectionId}", "/collections/{collectionId}/tiles",
        "/collections/{collectionId}/tiles/{tileMatrixSetId}",
        "/collections/{collectionId}/tiles/{tileMatrixSetId}/tilejson"}
    public_paths = {r.path for r in client.app.state.api_routes
                    if required_role(r) == "public"}
    assert public_paths - audited == set()


@pytest.mark.parametrize("url", [
    f"/stats/top?grid=location&{Q}", f"/stats/areas?layer=oa&{Q}",
    f"/hotspots/gi?{Q}&resolution=10", f"/hotspots/gi?{Q}&grid=oa",
    f"/hotspots/gi?{Q}&grid=fishnet&fishnet_cell_size_m=50",
    f"/hotspots/kde?{Q}&bandwidth_m=9&cell_size_m=12", f"/hotspots/kde?{Q}&cell_size_m=20",
    f"/stats/areas?{Q}&bbox=-1.14,52.63,-1.139,52.631", f"/compare/areas?{P}&layer=oa",
    f"/compare/kde?{P}&bandwidth_m=50", f"/maps/hotspots?{Q}&resolution=10",
    f"/maps/hotspots.png?{Q}&resolution=10",
    f"/maps/hotspots.png?{Q}&bbox=-1.14,52.63,-1.139,52.631",
    f"/tiles/gi/13/4070/2682.geojson?{Q}&bbox=-1.14,52.63,-1.139,52.631",
    "/offences?limit=5", f"/hotspots/emerging?{Q}&grid=h3&resolution=10",
    "/collections/offences/items?limit=5", "/collections/offences",
    "/collections/stats-ward/items?datetime=2020-04-03&group=violence_robbery_weapons",
    f"/collections/hotspots-gi/items?{Q}&bbox=-1.14,52.63,-1.139,52.631"])
def test_adversarial_requests_are_refused(public, url):
    client, _ = public
    assert client.get(url).status_code in (401, 403)


def test_differencing_two_overlapping_requests_reveals_no_small_number(public):
    client, _ = public

    def by_code(url):
        return {a["code"]: a["count"] for a in client.get(url).json()["areas"]}

    pairs = [  # (bigger, smaller) selections: their difference is a selection of its own
        (f"/stats/areas?layer=lsoa&{Q}",
         "/stats/areas?layer=lsoa&datetime=2020-04/2020-05&group=violence_robbery_weapons"),
        (f"/stats/areas?layer=ward&{Q}&bbox=-1.20,52.60,-1.08,52.68",
         f"/stats/areas?layer=ward&{Q}&bbox=-1.20,52.60,-1.0805,52.68"),
        ("/stats/areas?layer=ward&datetime=2020-04&group=all",
         "/stats/areas?layer=ward&datetime=2020-04&group=violence_robbery_weapons")]
    n_compared = 0
    for big, small in pairs:
        a, b = by_code(big), by_code(small)
        for code in a.keys() & b.keys():
            if a[code] is not None and b[code] is not None:
                n_compared += 1
                assert not 0 < a[code] - b[code] < K, (big, small, code)
    assert n_compared > 100


def test_public_vector_tiles_and_maps(public):
    client, partner = public
    r = client.get(f"/tiles/gi/13/4070/2682.mvt?{Q}")
    assert r.status_code == 200
    layers = mapbox_vector_tile.decode(r.content)
    props = [f["properties"] for lyr in layers.values() for f in lyr["features"]]
    assert props and not [p for p in props if isinstance(p.get("count"), int)
                          and 0 < p["count"] < K]
    assert all("gi_z" not in p or p["gi_z"] in (None, "") for p in props)
    pages = [f"/maps/hotspots?{Q}", f"/maps/compare?{P}", f"/compare/report/map?{P}",
             "/maps/time-window"]
    pattern = re.compile(r'"(count|count_before|count_after|before|after)":\s*(\d+)[,}]')
    for url in pages:
        page = client.get(url)
        assert page.status_code in (200, 422), url
        small = [m for m in pattern.findall(page.text) if 0 < int(m[1]) < K]
        assert not small, (url, small[:5])
    few = "/maps/hotspots?datetime=2020-04&group=all&crime_category=Possession+of+weapons"
    page = client.get(few)
    # suppressed counts are shown as "<5" (HTML-escaped, then JSON-escaped in the page)
    assert '"count": "\\u0026lt;5"' in page.text
    assert not [m for m in pattern.findall(page.text) if 0 < int(m[1]) < K]
    full = client.get(few, headers={"X-API-Key": partner}).text
    assert [m for m in pattern.findall(full) if 0 < int(m[1]) < K]  # the check can fail


def test_kde_defaults_are_raised_to_the_floors_for_the_public(public):
    client, partner = public
    body = client.get(f"/hotspots/kde?{Q}").json()  # defaults: 50 m cells, ArcGIS bandwidth
    assert body["meta"]["cell_size_m"] >= POLICY.min_kde_cell_m
    assert body["meta"]["bandwidth_m"] >= POLICY.min_bandwidth_m
    full = client.get(f"/hotspots/kde?{Q}", headers={"X-API-Key": partner}).json()
    assert full["meta"]["cell_size_m"] == 50  # other roles keep the defaults


def test_public_answers_say_they_are_protected(public):
    client, _ = public
    r = client.get(f"/stats/areas?layer=ward&{Q}")
    assert r.headers["x-disclosure-control"].startswith("public: counts 1-4 suppressed")
    body = json.loads(r.content)
    assert all(a["count"] is None or a["count"] % 5 == 0 for a in body["areas"])


THEFT = "datetime=2020-04&group=all&crime_category=Theft%20from%20the%20person"


@pytest.mark.parametrize("url", [f"/stats/top?grid=h3&resolution=8&limit=40&{THEFT}",
                                 f"/stats/top?grid=ward&limit=21&{THEFT}",
                                 f"/stats/areas?layer=ward&{THEFT}"])
def test_public_csv_tables_are_protected_as_their_json(public, url):
    """A CSV download is the JSON answer's table under the same declarations: the same
    suppressed and rounded counts, and for ranked tables the same ranks and order (so the
    order of suppressed rows tells nothing either)."""
    import csv
    import io

    client, _ = public
    body = client.get(url).json()
    table = "top" if "top" in body else "areas"
    rows = list(csv.DictReader(io.StringIO(client.get(url + "&f=csv").content.decode(
        "utf-8-sig"))))
    want = body[table]
    assert len(rows) == len(want) > 3
    assert any(r["count"] is None for r in want), "the fixture has suppressed counts"
    for got, row in zip(rows, want):
        assert got["code"] == str(row["code"]) or got.get("id") == str(row.get("id"))
        assert got["count"] == ("" if row["count"] is None else str(row["count"]))
        if "rank" in row:
            assert got["rank"] == str(row["rank"])


def test_every_number_of_a_public_tile_is_declared(demo_service):
    """Tiles are protected by the models of the same values in JSON answers: every numeric
    property of each tile layer has a declared kind (a renamed or new column fails here)."""
    from geo_api.services.filters import build_filter
    from geo_api.web.api.shared import layer_frame, tile_properties

    flt = build_filter("2020-04/2020-06", "violence_robbery_weapons")
    for layer in ("gi", "kde", "ward", "npa", "lsoa"):
        frame = layer_frame(demo_service, layer, flt)
        fields = tile_properties(layer)["fields"]
        numeric = [c for c in frame.columns if c != frame.geometry.name
                   and pd.api.types.is_numeric_dtype(frame[c])]
        assert numeric, layer
        assert all(fields.get(c, {}).get("kind") for c in numeric), (layer, numeric)


def test_every_number_of_a_public_feature_collection_is_declared(demo_service):
    """OGC API features are protected by the models of the same values: every numeric
    property of each public collection has a declared kind (a new column fails here)."""
    from geo_api.services import feature_collections as fcs
    from geo_api.services.filters import build_filter
    from geo_api.web.api.shared import FEATURE_PROPERTIES

    flt = build_filter("2020-04/2020-06", "violence_robbery_weapons")
    checked = 0
    for c in fcs.catalog(demo_service).values():
        if c.role != "public":
            continue
        frame, _ = fcs.frame(demo_service, c, fcs.selection(demo_service, c, flt))
        fields = FEATURE_PROPERTIES[c.kind]["fields"]
        numeric = [k for k in frame.columns if k not in ("id", frame.geometry.name)
                   and pd.api.types.is_numeric_dtype(frame[k])]
        assert all(fields.get(k, {}).get("kind") for k in numeric), (c.id, numeric)
        checked += len(numeric)
    assert checked > 40


def test_feature_properties_are_protected_as_their_collection_declares(public, monkeypatch):
    """The properties of OGC features follow their collection's declaration (not key
    names): declaring the population withheld withholds it in the public answer."""
    from geo_api.web.api import shared
    from geo_api.web.api.models.disclosure import WITHHOLD

    client, _ = public
    url = f"/collections/stats-ward/items?{THEFT}&limit=30"
    before = [f["properties"] for f in client.get(url).json()["features"]]
    assert all(p["population"] for p in before)  # kept: open data
    assert any(p["count"] is None for p in before)  # suppressed small counts
    stats = shared.FEATURE_PROPERTIES["stats"]
    changed = {**stats, "fields": {**stats["fields"], "population": {"kind": WITHHOLD}}}
    monkeypatch.setitem(shared.FEATURE_PROPERTIES, "stats", changed)
    after = [f["properties"] for f in client.get(url).json()["features"]]
    assert all(p["population"] is None for p in after)
    assert [p["count"] for p in after] == [p["count"] for p in before]
    one = client.get(f"/collections/stats-ward/items/{after[0]['code']}?{THEFT}").json()
    assert one["properties"]["population"] is None
