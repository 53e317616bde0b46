"""Regenerate geo_api/web/api/examples.json from the shipped demo data (run by hand, then
`geo_api openapi`). Examples are real responses, shortened: lists cut to a few items and
polygon geometries replaced by their bounding box."""

from __future__ import annotations

import json
import sys
import tempfile

from fastapi.testclient import TestClient

from geo_api.data.keys import KeyStore
from geo_api.settings import PROJECT_ROOT, Settings
from geo_api.web.api.examples import EXAMPLES_FILE
from geo_api.web.app import create_app

Q = "datetime=2020-04/2020-06&group=violence_robbery_weapons"
P = "before=2019-12/2020-02&after=2020-04/2020-06&group=violence_robbery_weapons"
# Two illustrative points in Leicester city centre (coordinates only, not real kit sites).
SITES_CSV = b"name,kind,easting,northing\nClock Tower,bleed kit,458800,304580\n" \
            b"Haymarket bus station,bleed kit,458944,304725\n"
REQUESTS = {
    "health": "/health",
    "listGroups": "/groups",
    "listLayers": "/layers",
    "getLayer": "/layers/npa",
    "getOffences": "/offences?datetime=2020-04&bbox=-1.14,52.63,-1.12,52.64&limit=2",
    "getAreaStats": f"/stats/areas?layer=ward&{Q}",
    "getKde": f"/hotspots/kde?{Q}&bandwidth_m=300&cell_size_m=100",
    "getGiStar": f"/hotspots/gi?{Q}&only_significant=true",
    "getTimeProfile": f"/profiles/time?{Q}",
    "getTopAreas": f"/stats/top?grid=ward&limit=5&{Q}",
    "getConcentration": f"/stats/concentration?{Q}",
    "compareAreas": f"/compare/areas?{P}",
    "compareWdq": f"/compare/wdq?{P}",
    "compareHotspots": f"/compare/hotspots?{P}",
    "compareKde": f"/compare/kde?{P}",
    "compareCentre": f"/compare/centre?{P}",
    "displacementReport": f"/compare/report?{P}",
    "emergingHotspots": "/hotspots/emerging?datetime=2019-12/2020-09"
                        "&group=violence_robbery_weapons&grid=ward",
    "getTile": f"/tiles/gi/13/4070/2682.geojson?{Q}",
    "listSiteSets": "/sites",
    "getSiteSet": "/sites/example-kits",
    "getKitCoverage": f"/plan/kits/coverage?{Q}&sites=example-kits&permutations=999",
    "getKitCoverageCurve": f"/plan/kits/coverage-curve?{Q}&sites=schools&radii_m=100"
                           "&radii_m=200&radii_m=400",
    "getNextKits": f"/plan/kits/next?{Q}&p=3&existing=example-kits",
    "getKitsForTarget": f"/plan/kits/how-many?{Q}&target_share=0.05",
    "getKitsCurve": f"/plan/kits/p-curve?{Q}&max_p=3",
    "getPeopleZones": f"/plan/people-zones?{Q}&n_sim=100&permutations=999",
    "evaluateHotspots": "/evaluate/hotspots?group=violence_robbery_weapons&methods=long_run"
                        "&methods=gi",
    "focusList": "/focus?group=violence_robbery_weapons&n=3",
    "listIndicators": "/indicators",
    "schoolsNearViolence": f"/partners/schools?{Q}",
    "indicatorOverlay": "/indicators/example-exclusions/overlay?datetime=2019-12/2020-09"
                        "&group=violence_robbery_weapons",
    "landingPage": "/?f=json",
    "getConformance": "/conformance",
    "getCollections": "/collections",
    "describeCollection": "/collections/stats-ward",
    "describeOffenceCollection": "/collections/offences",
    "getFeatures": f"/collections/stats-ward/items?{Q}&limit=2",
    "getFeature": f"/collections/hotspots-gi/items/8919434c843ffff?{Q}",
    "getOffenceFeatures": "/collections/offences/items?datetime=2020-04"
                          "&bbox=-1.14,52.63,-1.12,52.64&limit=2",
    "getTileMatrixSets": "/tileMatrixSets",
    "getTileMatrixSet": "/tileMatrixSets/WebMercatorQuad",
    "getCollectionTilesets": "/collections/ward/tiles",
    "getCollectionTileset": "/collections/ward/tiles/WebMercatorQuad",
    "getTileJson": f"/collections/hotspots-gi/tiles/WebMercatorQuad/tilejson?{Q}",
    "getDigest": "/digest/npa/NC",
}
IND_URL = ("/indicators/example-exclusions?source_org=none+(SYNTHETIC+example)&licence=none"
           "&measure=school+exclusions+(SYNTHETIC)&synthetic=true&period=2019/20")


def shorten(o, depth=0):
    if isinstance(o, dict):
        if o.get("type") in ("Polygon", "MultiPolygon") and "coordinates" in o:
            import shapely
            from shapely.geometry import shape

            w, s, e, n = shape(o).bounds
            return json.loads(shapely.to_geojson(shapely.box(w, s, e, n).normalize()))
        return {k: shorten(v, depth + 1) for k, v in o.items()}
    if isinstance(o, list):
        keep = 3 if all(isinstance(v, (int, float)) for v in o) and len(o) > 24 else 2
        return [shorten(v, depth + 1) for v in o[:keep]] if len(o) > keep else [shorten(v) for v in o]
    return o


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        # examples show the full answers (an analyst's); public ones are under disclosure control
        # (no warm-up competing with the examples, no time cap on a loaded machine)
        settings = Settings(store_dir=f"{tmp}/store", anonymous_role="analyst",
                            keys_file=f"{tmp}/keys.json", audit_dir=f"{tmp}/audit",
                            warm_up=False, request_timeout_s=600)
        from geo_api.services.service import Service

        svc = Service(settings)
        svc.ingest_paths(svc.demo_files())
        svc.close()
        out = {}
        # uploads need a key (anonymous callers may not own site sets or indicators)
        key = KeyStore(settings.keys_path).create("analyst", "examples")[0]
        with TestClient(create_app(settings), headers={"X-API-Key": key}) as client:
            up = client.post("/sites/example-kits", content=SITES_CSV,
                             headers={"content-type": "text/csv"})
            out["uploadSiteSet"] = {"request": "/sites/example-kits", "method": "POST",
                                    "body": SITES_CSV.decode(), "example": up.json()}
            ind = (PROJECT_ROOT / "data" / "demo" / "indicators" /
                   "exclusions_SYNTHETIC.csv").read_bytes()
            up = client.post(IND_URL, content=ind, headers={"content-type": "text/csv"})
            out["uploadIndicator"] = {"request": IND_URL, "method": "POST",
                                      "body": ind.decode(), "example": shorten(up.json())}
            first = client.get(REQUESTS["getOffenceFeatures"]).json()["features"][0]["id"]
            REQUESTS["getOffenceFeature"] = f"/collections/offences/items/{first}"
            for op, url in REQUESTS.items():
                r = client.get(url)
                if r.status_code != 200:
                    print(f"{op}: {url} -> {r.status_code} {r.text[:200]}", file=sys.stderr)
                    return 1
                out[op] = {"request": url, "example": shorten(r.json())}
    EXAMPLES_FILE.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {EXAMPLES_FILE} ({len(out)} operations)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
