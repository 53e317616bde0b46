"""Time profiles, top-N and concentration on hand-checkable inputs."""

import numpy as np
import pandas as pd
import pytest

from geo_api.analysis.profiles import concentration, hour_day_matrix, top_n, window_share


def test_hour_day_matrix_counts_and_shape():
    t = pd.Series(pd.to_datetime(["2020-04-20 23:10", "2020-04-20 23:50", "2020-04-26 03:00"]))
    m = hour_day_matrix(t)
    assert m.shape == (24, 7) and m.values.sum() == 3
    assert m.loc[23, "Mon"] == 2 and m.loc[3, "Sun"] == 1


def test_window_share_wraps_midnight():
    t = pd.Series(pd.to_datetime(["2020-01-01 21:59", "2020-01-01 22:00", "2020-01-02 04:59",
                                  "2020-01-02 05:00"]))
    assert window_share(t, 22, 5) == (2, 4, 0.5)
    assert window_share(t, 15, 19) == (0, 4, 0.0)


def test_top_n_ranks_ties_by_code():
    c = pd.DataFrame({"code": ["b", "a", "c", "d"], "count": [5, 5, 2, 0]})
    t = top_n(c, 3)
    assert t["code"].tolist() == ["a", "b", "c"] and t["rank"].tolist() == [1, 2, 3]
    assert t["cumulative_share"].iloc[-1] == pytest.approx(1.0)


def test_concentration_extremes_and_hand_value():
    even = concentration(np.ones(10))
    assert even["gini"] == pytest.approx(0.0, abs=1e-12)
    one = concentration(np.r_[10.0, np.zeros(9)])
    assert one["gini"] == pytest.approx(0.9)  # 1 - 1/n for one unit of ten
    assert one["share_of_offences_in_top_area"]["10%"] == pytest.approx(1.0)
    # unequal areas: the small unit is densest and comes first
    c = concentration(np.array([5.0, 5.0]), areas=np.array([1.0, 3.0]))
    assert c["share_of_offences_in_top_area"]["25%"] == pytest.approx(0.5)


def test_time_profile_and_hours_filter_on_synthetic_force_export(tmp_path, joins):
    from pathlib import Path

    from geo_api.services.filters import build_filter
    from geo_api.services.hotspots import time_profile
    from geo_api.services.service import Service
    from geo_api.settings import Settings

    svc = Service(Settings(store_dir=tmp_path / "store"))
    svc._joins = joins
    svc.ingest_paths([Path(__file__).parent / "corpus" / "force_export_valid.csv"], progress=False)
    prof = time_profile(svc, build_filter())
    counts = np.array(prof.hour_by_weekday.counts)
    assert counts.sum() == 10 and prof.meta["n_with_time"] == 10
    # 23:40, 23:30 and 03:00 are night-time economy; 16:30 and 16:45 after school
    assert prof.night_time_economy.count == 3 and prof.after_school.count == 2
    assert counts[23, 5] == 2  # 18 April 2020 was a Saturday
    evening, _ = svc.store.query_offences(build_filter(hours="22-5"), 100, 0, ("source_id",))
    assert sorted(evening["source_id"]) == ["SYN-001", "SYN-002", "SYN-008"]
    svc.close()
