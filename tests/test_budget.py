"""No single request may exhaust the machine: work is estimated before it is done and
refused with a 422 naming the limit; heavy computations share a few slots (503 beyond)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from geo_api.web.app import create_app

# the requests that grew the server past 5 GB or ran for 50 s before budgets existed
REFUSED = {
    "fishnet with a 5 km band over the force": (
        ("/hotspots/gi?grid=fishnet&fishnet_cell_size_m=250&fishnet_band_m=5000"
        "&study_area=force&permutations=0"), "GEO_API_MAX_NEIGHBOUR_PAIRS"),
    "emerging at H3 r10, k=3 over the force": (
        ("/hotspots/emerging?datetime=2019-12/2020-09&grid=h3&resolution=10&k=3"
        "&study_area=force&permutations=999"), "GEO_API_MAX_NEIGHBOUR_PAIRS"),
    "Gi* r10 k=3 force 9,999 permutations": (
        "/hotspots/gi?permutations=9999&resolution=10&k=3&study_area=force",
        "GEO_API_MAX_NEIGHBOUR_PAIRS"),
    "Gi* r10 k=1 force 9,999 permutations": (
        "/hotspots/gi?permutations=9999&resolution=10&k=1&study_area=force",
        "GEO_API_MAX_PERMUTATION_WORK"),
    "hot spot change at r10 over the force": (
        ("/compare/hotspots?before=2019-12/2020-02&after=2020-04/2020-06&resolution=10"
        "&study_area=force"), "GEO_API_MAX_PERMUTATION_WORK"),
    "KDE with a 5 km kernel on 20 m cells": (
        "/hotspots/kde?bandwidth_m=5000&cell_size_m=20", "GEO_API_MAX_KDE_WORK"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_expensive_requests_are_refused_before_the_work(client, case):
    path, limit = REFUSED[case]
    r = client.get(path)
    assert r.status_code == 422, r.text[:200]
    msg = r.json()["message"]
    assert msg.startswith("work budget:") and limit in msg and "Cheaper:" in msg


def test_months_beyond_the_loaded_data_create_no_work(client):
    r = client.get("/hotspots/emerging?datetime=1980-01/2029-12&permutations=99")
    assert r.status_code == 200
    assert r.json()["meta"]["months"] == ["2019-12"] + [f"2020-{m:02d}" for m in range(1, 10)]


def test_budgets_are_settings(demo_settings, demo_service):
    tight = demo_settings.model_copy(update={"max_permutation_work": 1e5})
    with TestClient(create_app(tight)) as c:
        r = c.get("/hotspots/gi?permutations=999")
        assert r.status_code == 422 and "GEO_API_MAX_PERMUTATION_WORK" in r.json()["message"]
        assert c.get("/hotspots/gi?permutations=9").status_code == 200


def test_a_backtest_too_large_is_refused_before_its_units_are_built(demo_settings,
                                                                    demo_service, monkeypatch):
    from geo_api.services import forecast

    built = []
    real = forecast.units_for
    monkeypatch.setattr(forecast, "units_for", lambda *a: built.append(a) or real(*a))
    tight = demo_settings.model_copy(update={"max_backtest_scores": 1e5})
    with TestClient(create_app(tight)) as c:
        r = c.get("/evaluate/hotspots?study_area=force&resolution=9")
        assert r.status_code == 422, r.text[:200]
        msg = r.json()["message"]
        assert "GEO_API_MAX_BACKTEST_SCORES" in msg and "study_area=city" in msg
        assert built == []  # refused from the estimate
        # the cheaper request it names is answered (city, without the ensemble's grid)
        cheaper = c.get("/evaluate/hotspots?study_area=city&methods=naive&methods=kde")
        assert cheaper.status_code == 200, cheaper.text[:200]


def test_heavy_requests_beyond_the_slots_get_503_with_retry_after(demo_settings,
                                                                   demo_service):
    import time

    one = demo_settings.model_copy(update={"max_heavy_requests": 1, "heavy_wait_s": 0.3})
    with TestClient(create_app(one)) as c:
        assert c.get("/hotspots/gi?permutations=99").status_code == 200
        slots = c.app.state.heavy_slots
        assert slots.acquire(blocking=False)  # a long analysis holds the only slot
        try:
            t0 = time.perf_counter()
            r = c.get("/hotspots/gi?permutations=98")  # not cached: needs a slot
            assert time.perf_counter() - t0 >= 0.3  # it waited for a slot first
            assert r.status_code == 503 and r.headers["retry-after"] == "5"
            assert r.json()["code"] == "busy"
            page = c.get("/maps/hotspots")
            assert page.status_code == 503 and "text/html" in page.headers["content-type"]
            assert c.get("/").status_code == 200  # the landing page never waits
            assert c.get("/health").status_code == 200
        finally:
            slots.release()
        assert c.get("/hotspots/gi?permutations=99").status_code == 200


def test_a_request_waits_for_a_slot_and_the_queue_is_bounded(demo_settings, demo_service):
    """A burst is served in turn (a request waits for a slot that frees within
    GEO_API_HEAVY_WAIT_S); beyond GEO_API_MAX_HEAVY_WAITING waiting requests, 503 at once."""
    import threading
    import time

    one = demo_settings.model_copy(update={"max_heavy_requests": 1, "heavy_wait_s": 10,
                                           "max_heavy_waiting": 1})
    with TestClient(create_app(one)) as c:
        slots, queue = c.app.state.heavy_slots, c.app.state.heavy_queue
        assert slots.acquire(blocking=False)
        threading.Timer(0.5, slots.release).start()  # the running analysis ends in 0.5 s
        t0 = time.perf_counter()
        assert c.get("/hotspots/gi?permutations=99").status_code == 200  # waited, then ran
        assert 0.5 <= time.perf_counter() - t0 < 10
        assert slots.acquire(blocking=False) and queue.acquire(blocking=False)  # one waits
        try:
            t0 = time.perf_counter()
            r = c.get("/hotspots/gi?permutations=98")  # another selection: not cached
            assert r.status_code == 503 and time.perf_counter() - t0 < 2  # no second waiter
        finally:
            queue.release()
            slots.release()
