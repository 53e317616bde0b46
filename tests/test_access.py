"""Who may see and change what: API keys, OIDC bearer tokens (signed here with a locally
generated key served from a local JWKS - nothing online), the role every endpoint declares
(role matrix: every endpoint x role, 0 unauthorised 2xx), site-set ownership, the run
command's start-up rules, the audit log and the request-time cap."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from geo_api.data.audit import AuditLog
from geo_api.data.keys import KeyStore
from geo_api.errors import InvalidParameter
from geo_api.services.access import RANK, role_from_claims, startup
from geo_api.settings import Settings
from geo_api.web.app import create_app
from geo_api.web.auth import required_role

ROLES = ("public", "partner", "analyst", "admin")
Q = "datetime=2020-04/2020-06&group=violence_robbery_weapons"
P = "before=2019-12/2020-02&after=2020-04/2020-06&group=violence_robbery_weapons"
SITES = b"name,kind,easting,northing\nClock Tower,bleed kit,458800,304580\n"
IND = b"sector,count\nLE1 1,12\nLE2 0,3\n"  # SYNTHETIC
IND_META = "source_org=test&licence=none&measure=things+(SYNTHETIC)&synthetic=true"
# one request per operation (cheap parameters); the test fails when an endpoint is missing
REQUESTS = {
    "health": ("GET", "/health"), "landingPage": ("GET", "/"), "glossaryPage": ("GET", "/glossary"),
    "listGroups": ("GET", "/groups"), "listLayers": ("GET", "/layers"),
    "getLayer": ("GET", "/layers/npa"),
    "getOffences": ("GET", "/offences?datetime=2020-04&limit=2"),
    "getAreaStats": ("GET", f"/stats/areas?layer=ward&{Q}"),
    "getKde": ("GET", f"/hotspots/kde?{Q}&bandwidth_m=300&cell_size_m=200"),
    "getGiStar": ("GET", f"/hotspots/gi?{Q}&permutations=99"),
    "getTimeProfile": ("GET", f"/profiles/time?{Q}"),
    "getTopAreas": ("GET", f"/stats/top?grid=ward&limit=5&{Q}"),
    "getConcentration": ("GET", f"/stats/concentration?{Q}"),
    "compareAreas": ("GET", f"/compare/areas?{P}"), "compareWdq": ("GET", f"/compare/wdq?{P}"),
    "compareHotspots": ("GET", f"/compare/hotspots?{P}&permutations=99"),
    "compareKde": ("GET", f"/compare/kde?{P}"), "compareCentre": ("GET", f"/compare/centre?{P}"),
    "displacementReport": ("GET", f"/compare/report?{P}&permutations=99"),
    "emergingHotspots": ("GET", ("/hotspots/emerging?datetime=2019-12/2020-03&group="
                                 "violence_robbery_weapons&grid=ward&permutations=99")),
    "displacementMap": ("GET", f"/compare/report/map?{P}&permutations=99"),
    "hotspotMap": ("GET", f"/maps/hotspots?{Q}"),
    "hotspotMapPng": ("GET", f"/maps/hotspots.png?{Q}"),
    "sideBySideMap": ("GET", f"/maps/compare?{P}"),
    "timeWindowMap": ("GET", "/maps/time-window"),
    "getTile": ("GET", f"/tiles/gi/13/4070/2682.geojson?{Q}"),
    "getVectorTile": ("GET", f"/tiles/ward/12/2035/1341.mvt?{Q}"),
    "uploadSiteSet": ("POST", "/sites/matrix-{role}"),
    "listSiteSets": ("GET", "/sites"), "getSiteSet": ("GET", "/sites/matrix-admin"),
    "deleteSiteSet": ("DELETE", "/sites/matrix-{role}"),
    "getKitCoverage": ("GET", f"/plan/kits/coverage?{Q}&sites=matrix-admin&permutations=99"),
    "getKitCoverageCurve": ("GET", f"/plan/kits/coverage-curve?{Q}&sites=matrix-admin"),
    "getNextKits": ("GET", f"/plan/kits/next?{Q}&p=2"),
    "getKitsForTarget": ("GET", f"/plan/kits/how-many?{Q}&target_share=0.02"),
    "getKitsCurve": ("GET", f"/plan/kits/p-curve?{Q}&max_p=2"),
    "getPeopleZones": ("GET", f"/plan/people-zones?{Q}&n_sim=20&permutations=99"),
    "planningMap": ("GET", f"/maps/planning?{Q}&p=2&permutations=99"),
    "evaluateHotspots": ("GET", "/evaluate/hotspots?methods=kde&horizon=1"),
    "focusList": ("GET", "/focus?n=3"),
    "getBriefing": ("GET", "/briefings/ward/E05010468"),
    "getDigest": ("GET", "/digest/npa/NC"),
    "getDigestFeed": ("GET", "/digest/npa/NC.atom"),
    "focusMap": ("GET", "/maps/focus?n=3"),
    "uploadIndicator": ("POST", "/indicators/matrix-{role}?" + IND_META),
    "listIndicators": ("GET", "/indicators"),
    "deleteIndicator": ("DELETE", "/indicators/matrix-{role}"),
    "indicatorOverlay": ("GET", f"/indicators/matrix-admin/overlay?{Q}"),
    "partnerMap": ("GET", f"/maps/partners?indicator=matrix-admin&{Q}"),
    "schoolsNearViolence": ("GET", f"/partners/schools?{Q}&radius_m=200"),
    "getConformance": ("GET", "/conformance"), "getCollections": ("GET", "/collections"),
    "describeCollection": ("GET", "/collections/ward"),
    "getFeatures": ("GET", f"/collections/stats-ward/items?{Q}&limit=2"),
    "getFeature": ("GET", "/collections/npa/items/NC"),
    "describeOffenceCollection": ("GET", "/collections/offences"),
    "getOffenceFeatures": ("GET", "/collections/offences/items?datetime=2020-04&limit=2"),
    "getOffenceFeature": ("GET", "/collections/offences/items/no-such-key"),
    "getTileMatrixSets": ("GET", "/tileMatrixSets"),
    "getTileMatrixSet": ("GET", "/tileMatrixSets/WebMercatorQuad"),
    "getCollectionTilesets": ("GET", "/collections/ward/tiles"),
    "getCollectionTileset": ("GET", "/collections/ward/tiles/WebMercatorQuad"),
    "getTileJson": ("GET", f"/collections/hotspots-gi/tiles/WebMercatorQuad/tilejson?{Q}"),
    "getCollectionTile": ("GET", "/collections/ward/tiles/WebMercatorQuad/12/1341/2035"),
}


@pytest.fixture(scope="module")
def auth_app(demo_service, demo_settings, tmp_path_factory):
    """The demo store behind an app with anonymous access off, and one key per role."""
    tmp = tmp_path_factory.mktemp("auth")
    settings = Settings(store_dir=demo_settings.store_dir, keys_file=tmp / "keys.json",
                        audit_dir=tmp / "audit", anonymous_role="none")
    store = KeyStore(settings.keys_path)
    keys = {role: store.create(role, f"test {role}")[0] for role in ROLES}
    with TestClient(create_app(settings)) as client:
        yield client, keys, settings


def call(client, method, url, key=None, body=None):
    headers = {"X-API-Key": key} if key else {}
    body = body if body is not None else IND if url.startswith("/indicators/") else SITES
    if method == "POST":
        headers["content-type"] = "text/csv"
        return client.post(url, content=body, headers=headers)
    return client.request(method, url, headers=headers)


# ---------------------------------------------------------------- keys ------------------
def test_keys_are_stored_hashed_and_checked_in_constant_time(tmp_path):
    store = KeyStore(tmp_path / "auth" / "keys.json")
    key, rec = store.create("analyst", "Jo Analyst")
    text = store.path.read_text()
    assert key not in text and key.split("_", 2)[2] not in text
    assert rec.sha256 in text and oct(store.path.stat().st_mode)[-3:] == "600"
    assert store.verify(key).key_id == rec.key_id
    assert store.verify(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert store.verify(f"gk_{rec.key_id}_guess") is None and store.verify("nonsense") is None
    store.revoke(rec.key_id)
    assert store.verify(key) is None and store.list()[0].revoked is not None
    with pytest.raises(InvalidParameter):
        store.create("superuser", "x")


def test_wrong_or_revoked_key_is_401_never_anonymous(demo_service, demo_settings, tmp_path):
    settings = Settings(store_dir=demo_settings.store_dir, keys_file=tmp_path / "k.json",
                        audit_dir=tmp_path / "a", anonymous_role="analyst")
    store = KeyStore(settings.keys_path)
    key, rec = store.create("public", "p")
    with TestClient(create_app(settings)) as c:
        assert c.get("/offences?limit=1").status_code == 200  # anonymous analyst
        r = c.get("/offences?limit=1", headers={"X-API-Key": "gk_00000000_wrong"})
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert c.get("/offences?limit=1", headers={"X-API-Key": key}).status_code == 403
        assert c.get("/offences?limit=1",
                     headers={"Authorization": f"Bearer {key}"}).status_code == 403
        store.revoke(rec.key_id)
        assert c.get("/health", headers={"X-API-Key": key}).status_code == 401
        assert c.get("/health", headers={"Authorization": "Basic abc"}).status_code == 401


def test_keys_cli_create_list_revoke(tmp_path, capsys):
    from geo_api.__main__ import main

    store_dir = str(tmp_path / "store")
    assert main(["keys", "--store-dir", store_dir, "create", "--role", "partner",
                 "--name", "VRN partner"]) == 0
    out = capsys.readouterr().out
    key = out.split(": ", 1)[1].split()[0]
    key_id = out.split()[2].rstrip(",")
    assert key.startswith(f"gk_{key_id}_")
    assert main(["keys", "--store-dir", store_dir, "list"]) == 0
    listed = capsys.readouterr().out
    assert key_id in listed and "partner" in listed and key not in listed
    assert main(["keys", "--store-dir", store_dir, "revoke", key_id]) == 0
    assert KeyStore(tmp_path / "auth" / "keys.json").verify(key) is None
    actions = [e["action"] for e in AuditLog(tmp_path / "audit").read()]
    assert actions == ["key create", "key revoke"]


# ---------------------------------------------------------------- OIDC ------------------
class JWKS:
    """A local identity provider's JWKS endpoint (http on 127.0.0.1)."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": "test-1", "use": "sig",
                                     "alg": "RS256"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks.json"

    def token(self, key=None, **claims):
        base = {"iss": "https://idp.test", "aud": "geo_api", "sub": "jo@force.test",
                "exp": int(time.time()) + 300, "roles": ["geo_api.analyst"]}
        return jwt.encode({**base, **claims}, key or self.key, algorithm="RS256",
                          headers={"kid": "test-1"})


@pytest.fixture(scope="module")
def idp():
    server = JWKS()
    yield server
    server.server.shutdown()


def test_oidc_bearer_tokens(demo_service, demo_settings, tmp_path, idp):
    settings = Settings(store_dir=demo_settings.store_dir, keys_file=tmp_path / "k.json",
                        audit_dir=tmp_path / "a", anonymous_role="none",
                        oidc_issuer="https://idp.test", oidc_audience="geo_api",
                        oidc_jwks_url=idp.url, oidc_role_prefix="geo_api.")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def get(token):
        return c.get("/offences?limit=1", headers={"Authorization": f"Bearer {token}"})

    with TestClient(create_app(settings)) as c:
        assert get(idp.token()).status_code == 200
        assert get(idp.token(roles=["geo_api.partner"])).status_code == 403
        assert get(idp.token(roles=[])).status_code == 403  # no role named: public
        for bad in (idp.token(aud="other"), idp.token(iss="https://evil.test"),
                    idp.token(exp=int(time.time()) - 10), idp.token(key=other),
                    jwt.encode({"sub": "x", "iss": "https://idp.test", "aud": "geo_api",
                                "exp": int(time.time()) + 60, "roles": ["geo_api.admin"]},
                               key="", algorithm="none"),
                    jwt.encode({"sub": "x", "iss": "https://idp.test", "aud": "geo_api",
                                "exp": int(time.time()) + 60, "roles": ["geo_api.admin"]},
                               key="a-shared-secret-guessed-by-nobody", algorithm="HS256",
                               headers={"kid": "test-1"}),  # algorithm confusion
                    "not.a.token"):
            assert get(bad).status_code == 401
        assert c.get("/offences?limit=1").status_code == 401  # no credentials
        entries = list(AuditLog(settings.audit_path).read(who="oidc:jo@force.test"))
        assert entries and entries[0]["role"] == "analyst"


def test_roles_claim_path_and_prefix():
    s = Settings(oidc_roles_claim="realm_access.roles", oidc_role_prefix="ga-")
    assert role_from_claims({"realm_access": {"roles": ["ga-partner", "ga-admin", "x"]}},
                            s) == "admin"
    assert role_from_claims({"realm_access": {"roles": ["admin"]}}, s) == "public"
    assert role_from_claims({}, s) == "public"


# ---------------------------------------------------------------- role matrix -----------
def test_every_route_declares_exactly_one_role(auth_app):
    client, _, _ = auth_app
    routes = client.app.state.api_routes
    undeclared = [r.path for r in routes if required_role(r) is None]
    assert not undeclared
    assert {r.operation_id for r in routes} == set(REQUESTS)  # the matrix covers them all


def test_role_matrix_no_unauthorised_2xx(auth_app):
    """Every endpoint x (anonymous + four roles): below the declared role 401/403; at the
    declared role (the least allowed) not refused for access."""
    client, keys, _ = auth_app
    # a set owned by admin for the GET/plan requests
    assert call(client, "POST", "/sites/matrix-admin", keys["admin"]).status_code == 201
    assert call(client, "POST", f"/indicators/matrix-admin?{IND_META}",
                keys["admin"]).status_code == 201
    role_of = {r.operation_id: required_role(r) for r in client.app.state.api_routes}
    problems = []
    for op, (method, url) in REQUESTS.items():
        need = role_of[op]
        for who in (None, *ROLES):
            allowed = need == "anyone" or (who is not None and RANK[who] >= RANK[need])
            if allowed and who is not None and RANK[who] > max(RANK[need], 0):
                continue  # higher roles pass the same check; the least one is called
            target = url.format(role=who or "anon")
            if op == "deleteSiteSet" and allowed:
                call(client, "POST", target, keys[who])
            if op == "deleteIndicator" and allowed:
                call(client, "POST", f"{target}?{IND_META}", keys[who])
            r = call(client, method, target, keys.get(who))
            if not allowed and r.status_code not in (401, 403):
                problems.append(f"{op} as {who}: {r.status_code} (needs {need})")
            if allowed and r.status_code in (401, 403):
                problems.append(f"{op} as {who}: refused {r.status_code} ({r.text[:120]})")
            if allowed and who is not None and r.status_code >= 500:
                problems.append(f"{op} as {who}: {r.status_code}")
    assert not problems, problems


def test_openapi_declares_roles_and_security(auth_app):
    client, _, _ = auth_app
    doc = client.get("/openapi.json").json()
    assert set(doc["components"]["securitySchemes"]) == {"apiKey", "oidc"}
    off = doc["paths"]["/offences"]["get"]
    assert off["x-required-role"] == "analyst" and {"401", "403"} <= set(off["responses"])
    assert doc["paths"]["/health"]["get"]["security"] == []


# ---------------------------------------------------------------- ownership -------------
def test_site_sets_belong_to_their_creator(auth_app, demo_settings):
    client, keys, settings = auth_app
    store = KeyStore(settings.keys_path)
    other_partner = store.create("partner", "another partner")[0]
    assert call(client, "POST", "/sites/owned", keys["partner"]).status_code == 201
    listed = {s["name"]: s for s in call(client, "GET", "/sites", keys["partner"]).json()[
        "site_sets"]}
    assert listed["owned"]["owner"].startswith("key:")
    assert call(client, "POST", "/sites/owned", other_partner).status_code == 403
    assert call(client, "DELETE", "/sites/owned", other_partner).status_code == 403
    assert call(client, "DELETE", "/sites/owned", keys["analyst"]).status_code == 403
    assert call(client, "POST", "/sites/owned", keys["partner"]).status_code == 201  # owner
    assert call(client, "DELETE", "/sites/owned", keys["admin"]).status_code == 204
    assert call(client, "GET", "/sites/owned", keys["partner"]).status_code == 404


def test_public_may_not_put_site_sets_on_maps(auth_app):
    client, keys, _ = auth_app
    r = call(client, "GET", f"/maps/hotspots?{Q}&sites=matrix-admin", keys["public"])
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]


# ---------------------------------------------------------------- start-up --------------
def test_serve_startup_rules(tmp_path, monkeypatch):
    monkeypatch.delenv("GEO_API_ANONYMOUS_ROLE")  # the run command's default, not the tests'
    keys = KeyStore(tmp_path / "keys.json")
    base = Settings(store_dir=tmp_path / "store")
    d = startup(base, "127.0.0.1", {"police_uk"}, keys)
    assert d.settings.anonymous_role == "analyst" and d.admin_key.startswith("gk_")
    assert d.settings.anonymous_role_auto
    assert keys.verify(d.admin_key).role == "admin"
    assert startup(base, "127.0.0.1", {"police_uk"}, keys).admin_key is None  # once only
    assert startup(base, "::1", {"police_uk", "force_export"},
                   keys).settings.anonymous_role == "public"
    explicit = Settings(store_dir=tmp_path / "store", anonymous_role="none")
    assert startup(explicit, "127.0.0.1", {"police_uk"}, keys).settings.anonymous_role == "none"
    nokeys = KeyStore(tmp_path / "none.json")
    with pytest.raises(InvalidParameter, match="no authentication"):
        startup(base, "0.0.0.0", {"police_uk"}, nokeys)
    assert startup(base, "0.0.0.0", {"police_uk"}, keys).settings.anonymous_role == "public"
    loud = Settings(store_dir=tmp_path / "store", anonymous_role="analyst")
    with pytest.raises(InvalidParameter, match="public' at most"):
        startup(loud, "0.0.0.0", {"police_uk"}, keys)
    oidc = Settings(store_dir=tmp_path / "store", oidc_issuer="https://idp",
                    oidc_jwks_url="https://idp/jwks")
    assert startup(oidc, "10.0.0.5", set(), nokeys).settings.anonymous_role == "public"


def test_auto_anonymous_analyst_drops_to_public_once_force_data_is_loaded(timed_settings,
                                                                         tmp_path):
    """The run command's loopback analyst is for public police.uk data only: with a force
    export in the store (loaded after start-up, say) anonymous callers are public."""
    settings = timed_settings.model_copy(update={
        "anonymous_role": "analyst", "anonymous_role_auto": True,
        "keys_file": tmp_path / "k.json", "audit_dir": tmp_path / "a"})
    with TestClient(create_app(settings)) as c:
        assert c.get("/offences?limit=1").status_code == 401
        assert c.get("/stats/areas?layer=ward").headers["x-disclosure-control"]
    explicit = settings.model_copy(update={"anonymous_role_auto": False})
    with TestClient(create_app(explicit)) as c:
        assert c.get("/offences?limit=1").status_code == 200


def test_landing_page_says_who_you_are(auth_app):
    client, keys, _ = auth_app
    assert "not signed in" in client.get("/").text
    assert "<b>partner</b>" in call(client, "GET", "/", keys["partner"]).text


# ---------------------------------------------------------------- audit -----------------
def test_every_point_level_response_is_audited(auth_app):
    client, keys, settings = auth_app
    log = AuditLog(settings.audit_path)
    before = sum(1 for _ in log.read())
    r1 = call(client, "GET", "/offences?datetime=2020-04&limit=7", keys["analyst"])
    r2 = call(client, "GET", "/offences?datetime=2020-04&limit=3&f=csv", keys["admin"])
    r3 = call(client, "GET", f"/stats/top?grid=location&limit=4&{Q}", keys["analyst"])
    r4 = call(client, "GET", f"/stats/areas?layer=ward&{Q}", keys["partner"])
    assert [r.status_code for r in (r1, r2, r3, r4)] == [200] * 4
    new = list(log.read())[before:]
    assert [e["point_level"] for e in new] == [True, True, True, False]
    assert [e["rows"] for e in new[:3]] == [7, 3, 4]
    analyst_id = KeyStore(settings.keys_path).verify(keys["analyst"]).key_id
    assert new[0]["who"] == f"key:{analyst_id}" and new[0]["role"] == "analyst"
    assert new[0]["action"] == "GET /offences" and ["limit", "7"] in new[0]["params"]
    assert all(e["status"] == 200 and e["time"] for e in new)
    # a cached answer is audited like the first: same rows, still point level
    again = call(client, "GET", f"/stats/top?grid=location&limit=4&{Q}", keys["analyst"])
    assert again.headers.get("x-page-cache") == "hit" and again.content == r3.content
    last = list(log.read())[-1]
    assert last["point_level"] is True and last["rows"] == 4 and last["who"] == new[2]["who"]
    mine = list(log.read(who=analyst_id, point_level=True))
    assert len(mine) >= 2 and all(e["key_id"] == analyst_id for e in mine)


def test_audit_cli_and_rotation(tmp_path, capsys):
    from geo_api.__main__ import main

    log = AuditLog(tmp_path / "audit", max_bytes=10_000, backups=3)
    for i in range(200):
        log.write({"who": f"key:{i % 3}", "role": "analyst", "action": "GET /offences",
                   "params": [["i", str(i)]], "status": 200, "rows": i, "point_level": True})
    assert len(log.files()) == 4  # three rotated + the current one (oldest dropped)
    entries = list(log.read())
    assert [e["rows"] for e in entries] == list(range(200 - len(entries), 200))
    assert main(["audit", "--store-dir", str(tmp_path / "store"), "--who", "key:1",
                 "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines and all(e["who"] == "key:1" for e in lines)


# ---------------------------------------------------------------- time cap --------------
def test_requests_past_the_time_cap_get_504(demo_service, demo_settings, tmp_path):
    settings = Settings(store_dir=demo_settings.store_dir, audit_dir=tmp_path / "a",
                        keys_file=tmp_path / "k.json", request_timeout_s=0.3)
    with TestClient(create_app(settings)) as c:
        t0 = time.perf_counter()
        r = c.get(f"/hotspots/gi?{Q}&permutations=9999&resolution=10&seed=7")
        elapsed = time.perf_counter() - t0
        assert r.status_code == 504, r.text
        assert "ran out" in r.json()["message"] or "longer than 0.3 s" in r.json()["message"]
        assert elapsed < 3  # answered at the cap, not when the work ends
        # the work itself stops at its next step (not minutes later, at its budgets)
        assert _wait_for_abandoned_work(limit_s=30), "the timed-out work is still running"
    assert any(e["status"] == 504 for e in AuditLog(settings.audit_path).read())


def test_the_deadline_stops_gi_permutations_between_slices(demo_service):
    from geo_api import deadline
    from geo_api.errors import Timeout
    from geo_api.services import hotspots
    from geo_api.services.filters import OffenceFilter
    from geo_api.services.units import UnitSpec

    with deadline.until(0.0), pytest.raises(Timeout, match="Gi\\* permutations"):
        hotspots.gi(demo_service, OffenceFilter(), UnitSpec(grid="h3", resolution=9),
                    hotspots.Significance(permutations=999))
    rows, _ = hotspots.gi(demo_service, OffenceFilter(), UnitSpec(grid="h3", resolution=9),
                          hotspots.Significance(permutations=99))  # no deadline: answers
    assert len(rows)


def _wait_for_abandoned_work(limit_s: float = 120) -> bool:
    """Until no other thread runs geo_api code: the timed-out request's work goes on in its
    worker thread, and the app's shutdown at the end of the block would close the store
    under a query still running there (on a loaded machine the query is still running)."""
    import sys
    import traceback
    from pathlib import Path

    import geo_api

    root = str(Path(geo_api.__file__).parent)
    me, deadline = threading.get_ident(), time.monotonic() + limit_s

    def busy() -> bool:
        idle = {t.ident for t in threading.enumerate() if t.name == "geo_api-audit"}
        return any(any(f.filename.startswith(root) for f in traceback.extract_stack(frame))
                   for tid, frame in sys._current_frames().items()
                   if tid != me and tid not in idle)  # (the audit log's writer waits)

    while time.monotonic() < deadline and busy():
        time.sleep(0.1)
    return not busy()
