"""Time-of-day hot spots for youth-work teams, on a SYNTHETIC timed force export."""

from __future__ import annotations

import h3
import pandas as pd
import pytest

from geo_api.crs import metric_to_lonlat
from tests.conftest import AFTER_SCHOOL_CENTRE_M, LATE_NIGHT_CENTRE_M


def _cell(xy_m) -> str:
    lon, lat = metric_to_lonlat([xy_m[0]], [xy_m[1]])
    return h3.latlng_to_cell(float(lat[0]), float(lon[0]), 9)


def _labels(client, hours):
    r = client.get("/hotspots/gi", params={"hours": hours})
    assert r.status_code == 200, r.text
    return {c["id"]: c["label"] for c in r.json()["cells"]}


def test_hours_filter_finds_the_after_school_and_late_night_clusters(timed_client):
    school, night = _cell(AFTER_SCHOOL_CENTRE_M), _cell(LATE_NIGHT_CENTRE_M)
    after_school = _labels(timed_client, "15-19")
    late = _labels(timed_client, "22-2")
    strong = ("hot 99%", "hot 95%")
    assert after_school[school] in strong and after_school[night] not in strong
    assert late[night] in strong and late[school] not in strong


def test_time_window_map_shows_window_and_other_hours(timed_client, timed_settings):
    r = timed_client.get("/maps/time-window", params={"window": "after-school"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "In the window: after school, 15:00-19:00" in page and "All other hours" in page
    # the count sentence is right: rows with an hour in 15..18 out of all timed rows
    t = pd.read_csv(timed_settings.store_dir.parent / "synthetic_timed_export.csv",
                    usecols=["offence_datetime"])["offence_datetime"]
    hours = pd.to_datetime(t).dt.hour
    n_in = int(((hours >= 15) & (hours < 19)).sum())
    assert f"{n_in:,} of {len(hours):,} offences with a time" in page
    assert "L.Map.Sync.js" in page and ".sync(" in page  # two synchronised maps
    assert len(page) < 5_000_000


@pytest.mark.parametrize("window", ["after-school", "evening", "night-time-economy"])
def test_time_window_presets(timed_client, window):
    assert timed_client.get("/maps/time-window", params={"window": window}).status_code == 200


def test_time_window_on_police_uk_data_explains_missing_times(client):
    r = client.get("/maps/time-window", params={"window": "after-school",
                                               "datetime": "2020-04/2020-06"})
    assert r.status_code == 422 and "police.uk data has no times of day" in r.text
    assert client.get("/maps/time-window", params={"window": "lunch"}).status_code == 422


def test_landing_page_says_whether_time_windows_are_available(client, timed_client):
    assert "Not available for the data loaded now" in client.get("/").text
    page = timed_client.get("/").text
    assert "1,400 loaded offences have a time of day." in page
    assert "Not available" not in page
