"""The smaller holes of issue 27, each tried as an outsider would: credentials in the query
reach no log; anonymous callers cannot own or delete each other's site sets unless the
deployment says so; browser preflights answered only for configured origins, 405 with a
complete Allow; uploads a browser says another site sent are refused; a client that goes
away mid-upload is a disconnect, not a 500."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from fastapi.testclient import TestClient

from geo_api.settings import Settings
from geo_api.web.app import create_app

CSV = b"name,easting,northing\nClock Tower,458800,304580\n"
CSV_HEADERS = {"content-type": "text/csv"}


def settings_for(demo_settings, tmp_path, **kw) -> Settings:
    return Settings(store_dir=demo_settings.store_dir, keys_file=tmp_path / "keys.json",
                    audit_dir=tmp_path / "audit", **kw)


def test_credentials_in_the_query_are_not_written_to_the_audit_log(demo_service,
                                                                   demo_settings, tmp_path):
    from geo_api.data.keys import KeyStore

    s = settings_for(demo_settings, tmp_path, anonymous_role="public")
    key = KeyStore(s.keys_path).create("analyst", "careless")[0]
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    with TestClient(create_app(s)) as c:
        for q in (f"api_key={key}", f"X-API-Key={key}", f"token={jwt}",
                  f"datetime={key}", f"bbox=Bearer%20{key}"):
            r = c.get(f"/stats/areas?layer=ward&{q}")
            assert r.status_code in (400, 401, 403, 422)
    log = "".join(p.read_text() for p in (tmp_path / "audit").glob("*"))
    assert log.count("[redacted]") >= 5
    assert key not in log and key[:12] not in log and jwt not in log
    entries = [json.loads(line) for line in log.splitlines()]
    assert any(["api_key", "[redacted]"] in e["params"] for e in entries)


def test_anonymous_callers_may_not_own_or_delete_sets_unless_the_deployment_says_so(
        demo_service, demo_settings, tmp_path):
    from geo_api.data.keys import KeyStore

    s = settings_for(demo_settings, tmp_path, anonymous_role="analyst", anonymous_writes=False)
    key = KeyStore(s.keys_path).create("partner", "planner")[0]
    with TestClient(create_app(s)) as c:
        r = c.post("/sites/anon-kits", content=CSV, headers=CSV_HEADERS)
        assert r.status_code == 401 and "anonymous callers may not" in r.json()["message"]
        assert c.post("/sites/kits-k", content=CSV,
                      headers={**CSV_HEADERS, "X-API-Key": key}).status_code == 201
        assert c.delete("/sites/kits-k").status_code == 401  # anonymous: not someone's set
        assert c.get("/sites/kits-k").status_code == 200  # reading is still allowed
        assert c.delete("/sites/kits-k", headers={"X-API-Key": key}).status_code == 204
    s2 = settings_for(demo_settings, tmp_path, anonymous_role="analyst", anonymous_writes=True)
    with TestClient(create_app(s2)) as c:
        assert c.post("/sites/anon-kits", content=CSV, headers=CSV_HEADERS).status_code == 201
        assert c.delete("/sites/anon-kits").status_code == 204


def test_the_run_command_allows_anonymous_writes_only_for_its_own_loopback_default(
        tmp_path, monkeypatch):
    from geo_api.data.keys import KeyStore

    monkeypatch.delenv("GEO_API_ANONYMOUS_WRITES", raising=False)
    monkeypatch.delenv("GEO_API_ANONYMOUS_ROLE", raising=False)
    from geo_api.services.access import startup

    keys = KeyStore(tmp_path / "k.json")
    auto = startup(Settings(store_dir=tmp_path / "s"), "127.0.0.1", {"police_uk"}, keys)
    assert auto.settings.anonymous_writes is True
    told = startup(Settings(store_dir=tmp_path / "s", anonymous_role="public"), "127.0.0.1",
                   {"police_uk"}, keys)
    assert told.settings.anonymous_writes is False


def test_preflights_are_answered_for_configured_origins_only(demo_service, demo_settings,
                                                             tmp_path):
    pre = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type"}
    with TestClient(create_app(settings_for(demo_settings, tmp_path))) as c:
        r = c.options("/sites/x", headers=pre)
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
        r = c.options("/sites/x")  # not a preflight: 405 naming every method the path takes
        assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET, HEAD, POST"
        r = c.put("/stats/areas")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
    ok = settings_for(demo_settings, tmp_path, cors_origins=["https://maps.example"])
    with TestClient(create_app(ok)) as c:
        r = c.options("/sites/x", headers={**pre, "Origin": "https://maps.example"})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://maps.example"
        assert c.options("/sites/x", headers=pre).status_code == 400


@pytest.mark.parametrize("headers, status", [
    ({}, 201),  # a script or curl: no browser headers
    ({"Origin": "http://testserver"}, 201), ({"Sec-Fetch-Site": "same-origin"}, 201),
    ({"Origin": "https://evil.example"}, 403),
    ({"Sec-Fetch-Site": "cross-site"}, 403), ({"Sec-Fetch-Site": "same-site"}, 403),
    ({"Referer": "https://evil.example/page.html"}, 403),
    ({"Referer": "http://testserver/maps/planning"}, 201),
])
def test_uploads_a_browser_says_another_site_sent_are_refused(client, headers, status):
    files = {"file": ("kits.csv", CSV, "text/csv")}
    r = client.post("/sites/xsite-kits", files=files, headers=headers)
    assert r.status_code == status, r.text[:200]
    r = client.post("/sites/xsite-kits", content=CSV, headers={**CSV_HEADERS, **headers})
    assert r.status_code == status, r.text[:200]
    client.delete("/sites/xsite-kits")


def test_a_client_leaving_mid_upload_is_a_disconnect_not_a_500(demo_service, demo_settings,
                                                               tmp_path, caplog):
    app = create_app(settings_for(demo_settings, tmp_path, anonymous_role="analyst",
                                  anonymous_writes=True))
    sent = []

    async def run():
        messages = [{"type": "http.request", "body": CSV[:20], "more_body": True},
                    {"type": "http.disconnect"}]

        async def receive():
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/sites/gone-kits",
                 "raw_path": b"/sites/gone-kits", "query_string": b"", "root_path": "",
                 "scheme": "http", "server": ("testserver", 80), "client": ("127.0.0.1", 1),
                 "http_version": "1.1", "headers": [(b"content-type", b"text/csv"),
                                                    (b"content-length", b"500")],
                 "state": {}}
        async with app.router.lifespan_context(app):
            await app(scope, receive, send)

    with caplog.at_level(logging.INFO, logger="geo_api"):
        asyncio.run(run())
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    assert status == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("client disconnected" in r.getMessage() for r in caplog.records)
