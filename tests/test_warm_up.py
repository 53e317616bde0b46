"""The background warm-up (issue 29): after start and after each new dataset version, the
landing page's maps are computed once so their first request is answered from memory."""

from __future__ import annotations

import asyncio
import time

from fastapi.testclient import TestClient

from geo_api.data.audit import AuditLog
from geo_api.settings import Settings
from geo_api.web import warm_up
from geo_api.web.app import create_app


def test_the_landing_maps_are_ready_before_anyone_asks(demo_service, demo_settings, tmp_path):
    settings = Settings(store_dir=demo_settings.store_dir, audit_dir=tmp_path / "a",
                        keys_file=tmp_path / "k.json", warm_up=True)
    with TestClient(create_app(settings)) as c:
        links = warm_up.landing_map_links(c.app.state.service)
        assert any(u.startswith("/maps/hotspots") for u in links)
        assert any(u.startswith("/maps/planning") for u in links)
        limit = time.monotonic() + 600  # a loaded machine: compiling esda's kernels is slow

        def warmed():
            return {e["action"].split(" ", 1)[1] for e in AuditLog(settings.audit_path).read()
                    if e.get("client") == "warm-up"}

        while time.monotonic() < limit and not {u.split("?")[0] for u in links} <= warmed():
            time.sleep(0.5)
        assert {u.split("?")[0] for u in links} <= warmed()
        briefings = warm_up.briefing_links(c.app.state.service)
        assert briefings == ["/digest/npa/NC", "/briefings/npa/NC"]
        while time.monotonic() < limit and not set(briefings) <= warmed():
            time.sleep(0.5)
        assert set(briefings) <= warmed()  # a team's first briefing reuses what it built
        # the first caller of the same role (the anonymous one) is answered from memory
        for url in links:
            if url.startswith(("/maps/time-window", "/maps/partners")):
                continue  # (not cached: no timed offences here / a partner indicator)
            r = c.get(url)
            assert r.status_code == 200 and r.headers.get("x-page-cache") == "hit", url


class _FakeStore:
    def __init__(self):
        self.version = None

    def dataset_version(self):
        return self.version


def test_a_new_dataset_version_is_warmed_again_and_failures_do_not_stop_it(monkeypatch):
    monkeypatch.setattr(warm_up, "warm_esda_kernels", lambda: None)
    store = _FakeStore()
    asked: list[tuple[str, str]] = []

    class App:  # an ASGI app that records what it is asked
        class state:
            class service:
                pass

        async def __call__(self, scope, receive, send):
            asked.append((store.version, scope["path"]))
            if scope["path"] == "/boom":
                raise RuntimeError("a failing page")
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    App.state.service.store = store

    async def scenario():
        task = asyncio.create_task(warm_up.warm_up_forever(
            App(), lambda svc: ["/maps/a?x=1", "/boom", "/maps/b"], check_s=0.01))
        await asyncio.sleep(0.05)  # nothing loaded: nothing asked
        assert asked == []
        store.version = "v1"
        await asyncio.sleep(0.1)
        store.version = "v2"  # an ingest
        await asyncio.sleep(0.1)
        task.cancel()

    asyncio.run(scenario())
    # each version's pages asked once, the failing page not stopping the others
    assert asked == [("v1", "/maps/a"), ("v1", "/boom"), ("v1", "/maps/b"),
                     ("v2", "/maps/a"), ("v2", "/boom"), ("v2", "/maps/b")]
