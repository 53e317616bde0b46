"""HTTP API: endpoints, OGC paging, filters and 4xx errors (never 500)."""

import json
import re

import pytest
import yaml

from geo_api.__main__ import openapi_yaml
from geo_api.settings import PROJECT_ROOT


def test_health_reports_loaded_data(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["n_offences"] > 80_000
    assert body["first_month"] == "2019-12" and body["last_month"] == "2020-09"
    assert body["data_loaded"] and len(body["months_loaded"]) == 10
    # independently: rows whose Crime ID is also published in another month's file
    import pandas as pd
    from conftest import demo_csvs

    ids = pd.concat([pd.read_csv(f, usecols=["Crime ID", "Month"]) for f in demo_csvs()])
    ids = ids.dropna(subset=["Crime ID"]).drop_duplicates()
    months = ids.groupby("Crime ID")["Month"].transform("nunique")
    assert body["n_crime_id_other_month"] == int((months > 1).sum())


def test_layers_list_and_geojson(client):
    layers = {layer["name"]: layer for layer in client.get("/layers").json()["layers"]}
    assert layers["npa"]["approximate"] is True and layers["ward"]["n_features"] == 21
    fc = client.get("/layers/ward").json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 21
    lon, lat = fc["features"][0]["geometry"]["coordinates"][0][0][:2]
    assert -1.3 < lon < -1.0 and 52.5 < lat < 52.8  # lon/lat order
    assert client.get("/layers/nope").status_code == 404


def test_boundary_layers_are_sent_with_an_etag_and_revalidated(client, demo_service):
    """A boundary layer never changes between boundaries versions: the same bytes every
    time, an ETag, and 304 (no body) when the client already has them."""
    from geo_api.crs import to_io

    first = client.get("/layers/npa")
    tag = first.headers["etag"]
    assert first.headers["content-type"].startswith("application/geo+json")
    assert first.json() == json.loads(json.dumps(
        to_io(demo_service.boundaries.get("npa").gdf).to_geo_dict(drop_id=True)))
    again = client.get("/layers/npa")
    assert again.content == first.content and again.headers["etag"] == tag
    cached = client.get("/layers/npa", headers={"If-None-Match": tag})
    assert cached.status_code == 304 and cached.content == b""
    assert client.get("/layers/ward", headers={"If-None-Match": tag}).status_code == 200


def test_offences_paging_bbox_and_csv(client):
    q = {"datetime": "2020-04/2020-06", "group": "violence_robbery_weapons", "limit": 50}
    a = client.get("/offences", params=q).json()
    b = client.get("/offences", params={**q, "offset": 50}).json()
    assert a["numberReturned"] == 50 and a["numberMatched"] == b["numberMatched"] > 1000
    assert not {f["id"] for f in a["features"]} & {f["id"] for f in b["features"]}
    assert all(f["properties"]["month"] in ("2020-04", "2020-05", "2020-06") for f in a["features"])
    box = "-1.14,52.63,-1.12,52.64"
    c = client.get("/offences", params={**q, "bbox": box, "limit": 1000}).json()
    assert 0 < c["numberMatched"] < a["numberMatched"]
    for f in c["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert -1.14 <= lon <= -1.12 and 52.63 <= lat <= 52.64
    csv = client.get("/offences", params={**q, "f": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.content.decode("utf-8-sig").splitlines()[0].startswith("offence_key,")
    assert int(csv.headers["x-number-matched"]) == a["numberMatched"]


def test_area_stats_endpoint_shares_sum_to_one(client):
    body = client.get("/stats/areas", params={"layer": "npa", "datetime": "2019-12/2020-02",
                                              "group": "violence_robbery_weapons"}).json()
    shares = [a["share"] for a in body["areas"]]
    assert sum(shares) == pytest.approx(1.0)
    assert body["meta"]["layer_approximate"] is True
    assert body["meta"]["dataset_version"] and body["meta"]["caveats"]
    assert {a["code"] for a in body["areas"]} == {"NC", "NE", "NW", "NS"}


@pytest.mark.parametrize("params, needle", [
    ({"datetime": "2020-13"}, "datetime"),
    ({"datetime": "2020-06/2020-04"}, "before its start"),
    ({"bbox": "1,2,3"}, "bbox"),
    ({"bbox": "a,b,c,d"}, "bbox"),
    ({"group": "nonsense"}, "group"),
    ({"limit": 0}, "limit"),
    ({"hours": "25-3"}, "hours"),
])
def test_bad_parameters_are_422_naming_the_field(client, params, needle):
    r = client.get("/offences", params=params)
    assert r.status_code == 422
    assert needle in r.json()["message"]


def test_openapi_yaml_is_generated_and_current():
    committed = (PROJECT_ROOT / "openapi.yaml").read_text()
    assert committed == openapi_yaml(), "openapi.yaml is stale: run `geo_api openapi`"
    # the same document as yaml.safe_load, read by libyaml's parser (~4x faster) if built
    doc = yaml.load(committed, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op.get("operationId") and any(c.startswith("2") for c in op["responses"]), path


def test_time_window_map_without_timed_data_explains_itself(client):
    r = client.get("/maps/hotspots", params={"hours": "15-19", "group": "vrn_serious_violence"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "police.uk records have no knife flag" in r.text and "force export" in r.text


def test_sites_layer_reads_shipped_schools(demo_service):
    from geo_api.services.sites import sites_in
    from geo_api.services.units import study_area_m

    s = sites_in(demo_service.settings.sites_file, study_area_m(demo_service, "city"))
    assert 50 < len(s) < 400 and s["lat"].between(52.5, 52.8).all()


def test_hotspot_map_hover_counts_equal_the_area_statistics(client):
    """The counts shown on hover (wards and NPAs) are those of /stats/areas for the filter."""
    import json as _json

    q = {"datetime": "2020-04/2020-06", "group": "violence_robbery_weapons"}
    page = client.get("/maps/hotspots", params=q).text
    shown = {}
    for blob in re.findall(r"geo_json_\w+_add\((\{.*?\})\);", page, re.DOTALL):
        for f in _json.loads(blob)["features"]:
            if "count" in f["properties"] and "code" in f["properties"]:
                shown[f["properties"]["code"]] = f["properties"]["count"]
    for layer in ("ward", "npa"):
        for a in client.get("/stats/areas", params={**q, "layer": layer}).json()["areas"]:
            assert shown[a["code"]] == a["count"], (layer, a["code"])
    assert {"NC", "NE", "NW", "NS"} <= set(shown)
