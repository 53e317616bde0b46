"""Shared fixtures. Index building (~10 s) happens once per session (per xdist worker); the
demo load happens once per test run: the first worker to need it builds the store, and
every worker opens its own copy of it (tests write site sets and indicators into it)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

# Tests call the API anonymously as an analyst (the run command's loopback default);
# tests/test_access.py covers every role, keys, tokens and anonymous public / none.
os.environ.setdefault("GEO_API_ANONYMOUS_ROLE", "analyst")
# ... who may upload and delete site sets as the run command's single loopback user does
# (tests/test_access.py checks that anonymous writes are refused without it)
os.environ.setdefault("GEO_API_ANONYMOUS_WRITES", "true")
# no background warm-up in the servers tests start (it would compete with the tests for the
# two cores); tests/test_warm_up.py turns it on
os.environ.setdefault("GEO_API_WARM_UP", "false")
# the request time cap (10 s by default) is tested by tests that set their own; elsewhere a
# machine loaded by the parallel test run must not turn a slow answer into a 504
os.environ.setdefault("GEO_API_REQUEST_TIMEOUT_S", "120")

# esda compiles its numba kernels on first use in every process (~25 s for the local Moran
# kernels behind the partner-data overlay) and, unlike geo_api's own kernels, does not ask
# numba to keep them, so every xdist worker and every run compiled them again: here numba
# keeps them (its own cache, checked against the source files) under .pytest_cache/.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parent.parent /
                                             ".pytest_cache" / "numba"))

import pytest

from geo_api.data.boundaries import load_boundaries
from geo_api.settings import PROJECT_ROOT, Settings

DEMO_DIR = PROJECT_ROOT / "data" / "demo"


@pytest.fixture(scope="session", autouse=True)
def _esda_kernels_cached():
    """Turn on numba's on-disk cache for esda's kernels (before their first compilation)."""
    from geo_api.services.kernels import keep_esda_kernels

    keep_esda_kernels()


@pytest.fixture(scope="session")
def boundaries():
    return load_boundaries(PROJECT_ROOT / "boundaries")


@pytest.fixture(scope="session")
def joins(boundaries):
    from geo_api.data.ingest.pipeline import build_join_indexes

    return build_join_indexes(boundaries)


@pytest.fixture
def store(tmp_path):
    from geo_api.data.store.duckdb_store import DuckDBStore

    s = DuckDBStore(tmp_path / "store")
    yield s
    s.close()


# pytest-xdist (scripts/test.sh runs with -n and --dist loadgroup): tests that use these
# fixtures run on one worker, one after another. Chromium, WebDriver and the servers they
# load pages from: one browser at a time, so a loaded machine slows them less; the module
# fixtures: built once, not on every worker (PostGIS cluster, batch cluster, derived
# postcode sectors, esda's numba compilation, a back-test, the XSS payload store).
ONE_WORKER = {"server": "chromium", "timed_server": "chromium", "browser": "chromium",
              "chromium_session": "chromium", "xss_server": "chromium", "backend": "postgis",
              "pg_server": "postgis",
              "on_cluster": "batch-cluster", "derived_sectors": "derived-sectors",
              "esda_reference": "esda-reference", "evaluation": "forecast-evaluation"}


# Headless Chromium through WebDriver: Debian's chromium and chromium-driver (Selenium is told
# where they are, so nothing is downloaded). One browser for the test run, shared by every
# browser test (tests/test_browser.py, test_xss.py, test_browser_driven.py, test_indicators.py):
# a browser started for every page read (twice for a page's DOM and its screenshot) cost
# more than most pages take to load.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run",
                  # names resolved by the system's resolver, as a fresh Chromium does: a
                  # long-running one switches to its own DNS client, which here waits ~5 s on
                  # every base map tile host it cannot resolve (offline) before failing it,
                  # and a map's load event waits for its tiles
                  "--disable-features=AsyncDns")
# How long one page load, script or DevTools command may take: a page alone takes seconds
# (/docs ~10-25 s), a machine loaded by other work can stretch that several times; a hung
# browser still fails (WebDriver's own timeouts, and Selenium's wait for chromedriver).
CHROMIUM_TIMEOUT_S = 600
# The window of the tests that drive pages (tests/test_browser_driven.py)
DRIVEN_WINDOW = (1400, 900)


def start_chromium(javascript: bool = True):
    """A new headless Chromium under chromedriver; ``javascript=False``: a profile with
    JavaScript switched off (a browser preference, so a browser of its own)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    assert CHROMIUM, "Debian chromium is required (scripts/test.sh installs it)"
    driver = shutil.which("chromedriver")
    assert driver, "Debian chromium-driver is required (scripts/test.sh installs it)"
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch a driver
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, "--window-size={},{}".format(*DRIVEN_WINDOW)):
        opts.add_argument(flag)
    if not javascript:
        opts.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    d = webdriver.Chrome(service=DriverService(driver), options=opts)
    # Selenium gives up on chromedriver after 120 s by default: wait as long as the browser may
    d.command_executor.client_config.timeout = CHROMIUM_TIMEOUT_S + 60
    d.set_page_load_timeout(CHROMIUM_TIMEOUT_S)
    d.set_script_timeout(CHROMIUM_TIMEOUT_S)
    return d


def clear_site_data(d) -> None:
    """Forget what the page's site stored in the browser (cookies, local and session
    storage, IndexedDB, caches, service workers)."""
    origin = d.execute_script("return location.origin")
    if origin.startswith("http"):
        d.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"})
    d.execute_cdp_cmd("Network.clearBrowserCookies", {})


def browser_failures() -> tuple[type[BaseException], ...]:
    """What a crashed, hung or vanished browser raises: WebDriver's errors, Selenium giving
    up on chromedriver (urllib3), a lost connection."""
    import urllib3
    from selenium.common.exceptions import WebDriverException

    return WebDriverException, urllib3.exceptions.HTTPError, OSError


class SharedChromium:
    """The run's browser, started when first needed and started again if it broke."""

    def __init__(self):
        self.driver = None

    def fresh(self):
        """The browser as a new one would be: one blank tab in the driven tests' window, no
        cookies or site storage from an earlier test."""
        if self.driver is not None:
            try:
                self._reset(self.driver)
                return self.driver
            except browser_failures():  # crashed or hung in an earlier test: a new browser
                self.quit()
        self.driver = start_chromium()
        self._reset(self.driver)
        return self.driver

    @staticmethod
    def _reset(d) -> None:
        tabs = d.window_handles
        for tab in tabs[1:]:  # tabs a failed test left open
            d.switch_to.window(tab)
            d.close()
        d.switch_to.window(tabs[0])
        clear_site_data(d)
        d.get("about:blank")
        d.set_window_size(*DRIVEN_WINDOW)

    def quit(self) -> None:
        if self.driver is not None:
            with contextlib.suppress(*browser_failures()):
                self.driver.quit()
            self.driver = None


@pytest.fixture(scope="session")
def chromium_session():
    shared = SharedChromium()
    yield shared
    shared.quit()


@pytest.fixture
def browser(chromium_session):
    """The run's headless Chromium (WebDriver), reset for this test."""
    return chromium_session.fresh()


def _set_nodeid(item, nodeid: str) -> None:
    """Rename a test: pytest 9 keeps the id as ``item._id`` (older pytest: ``_nodeid``, which
    is also what xdist 3.8 sets for its groups, to no effect on pytest 9)."""
    if hasattr(item, "_id"):
        from _pytest.nodeid import coerce_node_id

        item._id = coerce_node_id(nodeid)
    else:
        item._nodeid = nodeid


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # Schemathesis gives every operation's test the same node id (test_schema_fuzz); xdist's
    # grouping schedulers key work by node id and would run one of them, so each is named
    # by its item name ("test_schema_fuzz[GET /health]") as pytest's parametrize would
    seen: dict[str, int] = {}
    for item in items:
        seen[item.nodeid] = seen.get(item.nodeid, 0) + 1
    for item in items:
        if seen[item.nodeid] > 1 and item.name != item.nodeid.rsplit("::", 1)[-1]:
            _set_nodeid(item, f"{item.nodeid.rsplit('::', 1)[0]}::{item.name}")
    assert len({item.nodeid for item in items}) == len(items), "duplicate test ids"
    # --dist loadgroup (xdist workers see it as option.loadgroup)
    if not (getattr(config.option, "loadgroup", False)
            or getattr(config.option, "dist", "no") == "loadgroup"):
        return
    for item in items:  # "<id>@<group>": the test's work unit (xdist's loadgroup rule)
        groups = {ONE_WORKER[f] for f in getattr(item, "fixturenames", ()) if f in ONE_WORKER}
        if item.nodeid.startswith("tests/test_store_contract.py::"):
            groups.add("postgis")  # one throwaway cluster per module
        if groups:
            _set_nodeid(item, f"{item.nodeid}@{min(groups)}")


def run_dir(tmp_path_factory) -> Path:
    """A directory every process of this test run sees: the run's base temp dir (under
    pytest-xdist the workers' base temp dirs are inside it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """``build(dir)`` run once per test run, by the first process to ask (the others wait
    for it under a file lock); the directory it filled, to be copied, not changed."""
    out = run_dir(tmp_path_factory) / name
    with open(out.with_name(f"{name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / ".built").exists():
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            build(out)
            (out / ".built").touch()
    return out


def demo_store_copy(tmp_path_factory, joins, store_dir: Path) -> Path:
    """``store_dir``: a copy of a store holding every shipped demo month (one load per run)."""
    def build(out: Path) -> None:
        from geo_api.services.service import Service

        svc = Service(Settings(store_dir=out / "store"))
        svc._joins = joins  # reuse the session's indexes (same boundaries)
        svc.ingest_paths(svc.demo_files(), progress=False)
        svc.close()

    master = built_once(tmp_path_factory, "demo-master", build) / "store"
    shutil.copytree(master, store_dir, dirs_exist_ok=True)
    return store_dir


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory) -> Settings:
    """Settings whose store holds all shipped demo months (loaded by ``demo_service``)."""
    store_dir = tmp_path_factory.mktemp("demo") / "store"
    return Settings(store_dir=store_dir)


@pytest.fixture(scope="session")
def demo_service(demo_settings, joins, tmp_path_factory):
    from geo_api.services.service import Service

    demo_store_copy(tmp_path_factory, joins, demo_settings.store_dir)
    svc = Service(demo_settings)
    svc._joins = joins  # reuse the session's indexes (same boundaries)
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def client(demo_service, demo_settings):
    from fastapi.testclient import TestClient

    from geo_api.web.app import create_app

    with TestClient(create_app(demo_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def public(demo_service, demo_settings, tmp_path_factory):
    """(a client whose anonymous callers are ``public``, a partner's API key) on the demo
    store: disclosure control as the public meets it, and the same app without it."""
    from fastapi.testclient import TestClient

    from geo_api.data.keys import KeyStore
    from geo_api.web.app import create_app

    tmp = tmp_path_factory.mktemp("public")
    settings = Settings(store_dir=demo_settings.store_dir, keys_file=tmp / "keys.json",
                        audit_dir=tmp / "audit", anonymous_role="public")
    partner = KeyStore(settings.keys_path).create("partner", "partner")[0]
    with TestClient(create_app(settings)) as c:
        yield c, partner


def demo_csvs() -> list[Path]:
    return sorted((DEMO_DIR / "police_uk").glob("*.csv"))


# SYNTHETIC timed offences (force-export format) for time-window tests: invented points and
# times, not real offences. An after-school cluster in the east, a late-night cluster in the
# centre, and a background spread over the city at all hours.
AFTER_SCHOOL_CENTRE_M = (461000.0, 305500.0)
LATE_NIGHT_CENTRE_M = (458900.0, 304500.0)


def write_synthetic_timed_export(path: Path, seed: int = 7) -> Path:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    parts = []
    for centre, n, hours in ((AFTER_SCHOOL_CENTRE_M, 250, np.arange(15, 19)),
                             (LATE_NIGHT_CENTRE_M, 250, np.array([22, 23, 0, 1])),
                             (None, 900, np.arange(24))):
        if centre is None:
            x, y = rng.uniform(455500, 462500, n), rng.uniform(300500, 308000, n)
        else:
            x, y = centre[0] + rng.normal(0, 120, n), centre[1] + rng.normal(0, 120, n)
        day = pd.Timestamp("2020-04-01") + pd.to_timedelta(rng.integers(0, 91, n), unit="D")
        t = day + pd.to_timedelta(rng.choice(hours, n), unit="h") + pd.to_timedelta(
            rng.integers(0, 60, n), unit="min")
        parts.append(pd.DataFrame({"easting": x.round(), "northing": y.round(), "t": t}))
    df = pd.concat(parts, ignore_index=True)
    out = pd.DataFrame({
        "offence_id": [f"SYN-T{i:05d}" for i in range(len(df))],
        "offence_datetime": df["t"].dt.strftime("%Y-%m-%d %H:%M"),
        "ho_code": "8N", "ho_description": "Assault with injury",
        "easting": df["easting"].astype(int), "northing": df["northing"].astype(int),
        "public_place": "Y", "domestic": "N"})
    out.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def timed_settings(tmp_path_factory, joins) -> Settings:
    """A store holding only the SYNTHETIC timed force export above."""
    from geo_api.services.service import Service

    root = tmp_path_factory.mktemp("timed")
    settings = Settings(store_dir=root / "store")
    svc = Service(settings)
    svc._joins = joins
    svc.ingest_paths([write_synthetic_timed_export(root / "synthetic_timed_export.csv")],
                     progress=False)
    svc.close()
    return settings


@pytest.fixture(scope="session")
def timed_client(timed_settings):
    from fastapi.testclient import TestClient

    from geo_api.web.app import create_app

    with TestClient(create_app(timed_settings)) as c:
        yield c
