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
