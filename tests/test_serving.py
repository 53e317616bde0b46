"""Serving speed without losing behaviour (issue 29): the audit log written by a thread in
batches (nothing lost on a clean shutdown), gzip for JSON/GeoJSON/CSV (the same bytes once
decompressed, never for vector tiles, ETag/304 intact), the parsed key file kept only while
the file is unchanged (a revoked or changed key is refused at once), cached tiles and layers
answered without routing exactly as the route answers them, and the security headers on
every response."""

from __future__ import annotations

import gzip
import json
import threading

import pytest
from fastapi.testclient import TestClient

from geo_api.data import audit as audit_mod
from geo_api.data.audit import AuditLog
from geo_api.data.keys import KeyStore
from geo_api.settings import Settings
from geo_api.web.app import create_app

TILE = "/tiles/ward/13/4070/2682"
SECURITY = ("x-content-type-options", "referrer-policy")


def settings_for(demo_settings, tmp_path, **kw) -> Settings:
    return Settings(store_dir=demo_settings.store_dir, keys_file=tmp_path / "keys.json",
                    audit_dir=tmp_path / "audit", **kw)


@pytest.fixture(scope="module")
def served(demo_service, demo_settings, tmp_path_factory):
    """(client with anonymous callers public, an analyst's key, settings)."""
    tmp = tmp_path_factory.mktemp("serving")
    s = settings_for(demo_settings, tmp, anonymous_role="public")
    key = KeyStore(s.keys_path).create("analyst", "serving")[0]
    with TestClient(create_app(s)) as c:
        yield c, key, s


def raw(client, url, headers):
    """(response, body as sent - not decoded)."""
    with client.stream("GET", url, headers=headers) as r:
        return r, b"".join(r.iter_raw())


def without_date(headers) -> dict:
    return {k: v for k, v in headers.items() if k != "date"}


# ---------------------------------------------------------------- audit -----------------
def test_a_burst_of_requests_is_all_in_the_audit_log_after_shutdown(demo_service,
                                                                     demo_settings, tmp_path):
    s = settings_for(demo_settings, tmp_path, anonymous_role="public")
    n_threads, each = 8, 40
    with TestClient(create_app(s)) as c:
        def burst(i):
            for j in range(each):
                assert c.get(f"/health?t={i}-{j}").status_code in (200, 422)
                assert c.get(f"{TILE}.mvt").status_code == 200

        threads = [threading.Thread(target=burst, args=(i,)) for i in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    entries = list(AuditLog(s.audit_path).read())
    assert len(entries) == 2 * n_threads * each
    tags = {p[1] for e in entries for p in e["params"]}
    assert tags == {f"{i}-{j}" for i in range(n_threads) for j in range(each)}
    tile = [e for e in entries if e["action"] == f"GET {TILE}.mvt"]
    assert len(tile) == n_threads * each and all(
        e["status"] == 200 and e["role"] == "public" and e["who"] == "anonymous"
        and e["rows"] is None and e["point_level"] is False and e["time"] for e in tile)


def test_reading_the_log_in_the_writing_process_sees_every_entry(served):
    client, key, s = served
    log = AuditLog(s.audit_path)
    before = sum(1 for _ in log.read())
    for _ in range(25):
        client.get(f"{TILE}.geojson", headers={"X-API-Key": key})
    new = list(log.read())[before:]  # the app's writer thread is still running
    assert len(new) == 25 and {e["role"] for e in new} == {"analyst"}


def test_the_writer_thread_loses_nothing_and_still_rotates(tmp_path, monkeypatch):
    monkeypatch.setattr(audit_mod, "QUEUE_MAX", 50)  # callers write their own past 50
    log = AuditLog(tmp_path / "audit", max_bytes=20_000, backups=100)
    log.start()

    def hand_over(i):
        for j in range(500):
            log.write_soon({"who": f"t{i}", "action": "GET /x", "params": [["j", str(j)]],
                            "status": 200})

    threads = [threading.Thread(target=hand_over, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    entries = list(log.read())
    assert len(entries) == 3000
    assert {(e["who"], e["params"][0][1]) for e in entries} == {
        (f"t{i}", str(j)) for i in range(6) for j in range(500)}
    assert len(log.files()) > 2 and all(p.stat().st_size <= 20_000 for p in log.files())
    log.write_soon({"who": "after", "status": 200})  # closed: written at once
    assert list(log.read())[-1]["who"] == "after"


# ---------------------------------------------------------------- gzip ------------------
@pytest.mark.parametrize("url, key", [("/layers/ward", False), ("/layers/ward", True),
                                      (f"{TILE}.geojson", True), (f"{TILE}.geojson", False),
                                      ("/offences?datetime=2020-04&limit=500", True),
                                      ("/offences?datetime=2020-04&limit=900&f=csv", True)])
def test_gzip_decompresses_to_the_same_body(served, url, key):
    client, analyst, _ = served
    auth = {"X-API-Key": analyst} if key else {}
    plain, body = raw(client, url, {**auth, "Accept-Encoding": "identity"})
    zipped, packed = raw(client, url, {**auth, "Accept-Encoding": "br, gzip;q=0.8"})
    assert plain.status_code == zipped.status_code == 200
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed) == body and len(packed) < len(body)
    for r in (plain, zipped):
        assert "Accept-Encoding" in r.headers["vary"]
        assert all(h in r.headers for h in SECURITY)
    if "content-length" in zipped.headers:
        assert int(zipped.headers["content-length"]) == len(packed)


def test_vector_tiles_and_refused_gzip_are_not_compressed(served):
    client, _, _ = served
    _, body = raw(client, f"{TILE}.mvt", {})
    r, sent = raw(client, f"{TILE}.mvt", {"Accept-Encoding": "gzip"})
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert "content-encoding" not in r.headers and sent == body
    r, sent = raw(client, "/layers/ward", {"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in r.headers and json.loads(sent)["features"]


def test_etag_and_304_work_with_gzip(served):
    client, key, _ = served
    auth = {"X-API-Key": key}
    for url in ("/layers/ward", f"{TILE}.geojson"):
        plain = client.get(url, headers={**auth, "Accept-Encoding": "identity"})
        zipped = client.get(url, headers={**auth, "Accept-Encoding": "gzip"})
        tag = plain.headers["etag"]
        assert zipped.headers["etag"] == "W/" + tag  # another encoding of the same content
        for sent in (tag, zipped.headers["etag"], f'"other", {zipped.headers["etag"]}'):
            for enc in ("gzip", "identity"):
                again = client.get(url, headers={**auth, "Accept-Encoding": enc,
                                                 "If-None-Match": sent})
                assert again.status_code == 304 and again.content == b""
                assert all(h in again.headers for h in SECURITY)
        stale = client.get(url, headers={**auth, "If-None-Match": '"other"'})
        assert stale.status_code == 200


def test_head_has_the_get_headers_with_gzip(served):
    client, _, _ = served
    g = client.get("/layers/ward", headers={"Accept-Encoding": "gzip"})
    h = client.head("/layers/ward", headers={"Accept-Encoding": "gzip"})
    assert h.status_code == 200 and h.content == b""
    assert without_date(h.headers) == without_date(g.headers)


# ---------------------------------------------------------------- keys ------------------
def test_a_revoked_or_changed_key_is_refused_from_the_next_request(demo_service,
                                                                   demo_settings, tmp_path):
    s = settings_for(demo_settings, tmp_path, anonymous_role="none")
    key, rec = KeyStore(s.keys_path).create("analyst", "to revoke")
    other, _ = KeyStore(s.keys_path).create("partner", "to change")
    with TestClient(create_app(s)) as c:
        for _ in range(3):  # verified, then served from the parsed file
            assert c.get(f"{TILE}.mvt", headers={"X-API-Key": key}).status_code == 200
        KeyStore(s.keys_path).revoke(rec.key_id)  # as the command line does (another object)
        assert c.get(f"{TILE}.mvt", headers={"X-API-Key": key}).status_code == 401
        assert c.get("/layers/ward", headers={"X-API-Key": key}).status_code == 401
        # a presented key with a known id and another secret
        forged = other[:-4] + ("AAAA" if not other.endswith("AAAA") else "BBBB")
        assert c.get(f"{TILE}.mvt", headers={"X-API-Key": forged}).status_code == 401
        assert c.get(f"{TILE}.mvt", headers={"X-API-Key": other}).status_code == 200
        # the record changed in the file (its role): the next request sees the new role
        data = json.loads(s.keys_path.read_text())
        for r in data["keys"]:
            r["role"] = "public" if r["name"] == "to change" else r["role"]
        s.keys_path.write_text(json.dumps(data))
        r = c.get("/", headers={"X-API-Key": other})
        assert "<b>public</b>" in r.text


def test_key_store_sees_changes_made_by_another_process(tmp_path):
    path = tmp_path / "keys.json"
    mine, theirs = KeyStore(path), KeyStore(path)
    key, rec = theirs.create("analyst", "a")
    assert mine.verify(key) == rec
    assert mine.verify(key) == rec  # the parsed file is kept
    theirs.revoke(rec.key_id)
    assert mine.verify(key) is None
    key2, rec2 = theirs.create("partner", "b")
    assert mine.verify(key2) == rec2 and len(mine.list()) == 2


# ------------------------------------------------------- answers without routing --------
@pytest.mark.parametrize("url", ["/layers/ward", "/layers/npa", f"{TILE}.geojson",
                                 f"{TILE}.mvt", "/tiles/gi/12/2035/1341.geojson"])
@pytest.mark.parametrize("role", ["public", "analyst"])
def test_cached_answers_are_the_routes_answers(served, url, role):
    """The first request builds through the route; later ones are answered from the cache
    without routing: the same status, body and headers, audited the same way."""
    client, key, s = served
    auth = {"X-API-Key": key} if role == "analyst" else {}
    first = client.get(url, headers=auth)
    second = client.get(url, headers=auth)
    assert first.status_code == second.status_code
    assert second.content == first.content
    assert without_date(second.headers) == without_date(first.headers)
    if first.status_code != 200:
        return
    assert all(h in second.headers for h in SECURITY)
    assert ("x-disclosure-control" in second.headers) == (role == "public")
    entries = [e for e in AuditLog(s.audit_path).read() if e["action"] == f"GET {url}"]
    assert entries[-1]["role"] == role and entries[-1]["status"] == 200
    assert {k: v for k, v in entries[-1].items() if k not in ("time", "ms")} == {
        k: v for k, v in entries[-2].items() if k not in ("time", "ms")}


def test_a_kept_protected_answer_is_the_protection_made_afresh(served):
    from geo_api.services.lru import LRU
    from geo_api.web import auth

    client, _, _ = served
    for url in ("/layers/ward", "/stats/areas?layer=ward&datetime=2020-04"):
        kept = client.get(url)
        assert client.get(url).content == kept.content
        saved, auth.PROTECTED = auth.PROTECTED, LRU(4)
        try:
            fresh = client.get(url)
        finally:
            auth.PROTECTED = saved
        assert fresh.content == kept.content and "x-disclosure-control" in fresh.headers


def test_no_caller_is_still_refused_for_cached_answers(demo_service, demo_settings, tmp_path):
    s = settings_for(demo_settings, tmp_path, anonymous_role="none")
    key = KeyStore(s.keys_path).create("public", "p")[0]
    with TestClient(create_app(s)) as c:
        assert c.get(f"{TILE}.mvt", headers={"X-API-Key": key}).status_code == 200
        assert c.get("/layers/ward", headers={"X-API-Key": key}).status_code == 200
        for url in (f"{TILE}.mvt", "/layers/ward"):  # cached now; no credentials
            r = c.get(url)
            assert r.status_code == 401 and all(h in r.headers for h in SECURITY)
            assert c.get(url, headers={"X-API-Key": "gk_nope_nope"}).status_code == 401


def test_security_headers_on_every_kind_of_response(served):
    client, _, _ = served
    cases = [("/layers/ward", {}), (f"{TILE}.mvt", {}), (f"{TILE}.geojson",
             {"Accept-Encoding": "gzip"}), ("/layers/nope", {}), ("/", {}),
             ("/health", {"X-API-Key": "gk_wrong_wrong"}), ("/static/vendor/leaflet/images/marker-icon.png", {}),
             ("/offences?limit=1", {})]
    for url, headers in cases:
        r = client.get(url, headers=headers)
        assert all(h in r.headers for h in SECURITY), (url, r.status_code)


def test_the_store_pointer_is_read_again_when_an_ingest_replaces_it(tmp_path):
    import os

    from geo_api.data.store.duckdb_store import DuckDBStore

    store = DuckDBStore(tmp_path / "store")
    assert store._current_name() is None
    for name in ("snap-a", "snap-b", "snap-c"):  # as an ingest swaps it (os.replace)
        tmp = store.dir / "CURRENT.tmp"
        tmp.write_text(name + "\n")
        os.replace(tmp, store.dir / "CURRENT")
        assert store._current_name() == name
        assert store._current_name() == name  # kept
    store.close()
