"""Forecast evaluation (which hot spot method predicted best) and the focus list."""

from __future__ import annotations

from pydantic import Field

from geo_api.web.api.models.meta import Meta, Strict, UnitsEcho

__all__ = ["EvaluationResponse", "FocusResponse"]


class EvaluationMeta(Meta, UnitsEcho):
    months: list[str] = Field(..., description="Loaded months used, oldest first")
    window_months: int = Field(..., description="Training window (naive, KDE, Gi*, emerging)")
    horizon_months: int = Field(..., description="Months predicted after each cut-off")
    coverage: float = Field(..., description="Share of the study area selected", examples=[0.05])
    methods: list[str]
    half_life_months: float
    bandwidth_m: float = Field(..., description="KDE bandwidth used: the one asked for, "
                               "raised to reach the neighbouring units (bandwidth_rule)")
    bandwidth_requested_m: float
    unit_spacing_m: float = Field(..., description="Median distance from a unit centre to "
                                  "the nearest other one")
    bandwidth_rule: str
    n_folds: int
    ensemble_candidates: dict[str, list[float]]
    tie_rule: str
    method_definitions: dict[str, str]


class MethodSummary(Strict):
    method: str = Field(..., examples=["long_run"])
    mean_hit_rate: float | None = Field(..., description="Share of the next period's offences "
                                                         "in the selected area")
    mean_pai: float | None = Field(..., description="Predictive Accuracy Index: hit rate / "
                                                    "area share", examples=[4.4])
    mean_pei: float | None = Field(..., description="Predictive Efficiency Index: PAI / the "
                                                    "best PAI possible for that area (1 = perfect)")
    mean_rri: float | None = Field(..., description="Recapture Rate Index (Levine 2008)")
    median_pai: float | None
    min_pai: float | None
    n_folds: int


class PairedComparison(Strict):
    method: str
    baseline: str = Field(..., examples=["naive"])
    wins: int
    losses: int
    ties: int
    mean_pai_difference: float | None
    ci95_low: float | None = Field(..., description="95% t interval; folds overlap in time")
    ci95_high: float | None


class FoldRow(Strict):
    cutoff: int = Field(..., description="Index (in meta.months) of the first test month")
    method: str
    hit_rate: float | None
    pai: float | None
    pei: float | None
    rri: float | None
    n_test: float = Field(..., description="Offences in the test period")
    n_inside: float = Field(..., description="Of which in the selected area (ties in "
                                             "proportion, so it can be fractional)")
    params: dict[str, float] | None = Field(None, description="Ensemble: the bandwidth and "
                                                              "half-life chosen for this fold")
    train_months: list[str]
    test_months: list[str]


class Curves(Strict):
    coverage: list[float]
    hit_rate: dict[str, list[float | None]] = Field(..., description="Mean hit rate over folds "
                                                                     "at each coverage, per method")


class WalkForwardPick(Strict):
    cutoff: int
    method: str = Field(..., description="The method best on the earlier cut-offs only")
    pai: float | None
    hit_rate: float | None
    naive_pai: float | None


class WalkForward(Strict):
    """How well "use the method that backtests best" predicted: at each cut-off the method
    best on the earlier cut-offs only, scored there (out of sample). The best method's own
    mean (``summary``) is in-sample: the same folds chose it."""

    n_folds: int = Field(..., description="Cut-offs with an earlier one to choose by")
    mean_pai: float | None = Field(..., examples=[4.3])
    mean_hit_rate: float | None
    naive_mean_pai: float | None = Field(..., description="Naive on the same folds")
    picks: list[WalkForwardPick]


class EvaluationResponse(Strict):
    meta: EvaluationMeta
    best_method: str = Field(..., description="Highest mean PAI (ties: the simpler method)",
                             examples=["long_run"])
    reading: str = Field(..., description="The result in words")
    summary: list[MethodSummary]
    paired_vs_naive: list[PairedComparison]
    curves: Curves
    folds: list[FoldRow]
    ensemble_next: dict[str, float] | None = Field(None, description="Ensemble parameters for "
                                                                     "the month after the data")
    walk_forward: WalkForward


class FocusMeta(Meta, UnitsEcho):
    months: list[str]
    method: str = Field(..., description="The method that backtested best on the loaded data")
    method_definition: str
    method_params: dict[str, float] | None = None
    backtest_mean_pai: float | None = Field(..., description="Walk-forward (out of sample): "
                                            "at each cut-off the method best on the earlier "
                                            "ones, scored there - the figure to expect; null "
                                            "with fewer than two folds")
    backtest_mean_hit_rate: float | None = Field(..., description="Walk-forward, as above")
    naive_mean_pai: float | None = Field(..., description="Naive on the same folds")
    walk_forward_folds: int
    in_sample_mean_pai: float | None = Field(..., description="The chosen method's mean PAI "
                                             "on all folds - IN-SAMPLE: the same folds chose "
                                             "it, so it flatters the method")
    in_sample_mean_hit_rate: float | None
    coverage: float
    window_months: int
    n_folds: int
    next_period: str = Field(..., examples=["2020-10"])
    months_last_3: list[str] = Field(..., description="[first, last] loaded month counted by "
                                     "count_last_3_months", examples=[["2020-07", "2020-09"]])
    months_last_12: list[str] = Field(..., description="[first, last] loaded month counted by "
                                      "count_last_12_months (fewer than 12 when fewer are "
                                      "loaded)", examples=[["2019-12", "2020-09"]])
    area: str | None = Field(None, description="The patch the list is for (ward:<code> or "
                             "npa:<code>); null: the whole city", examples=["npa:NC"])
    area_name: str | None = Field(None, examples=["Central (NC)"])


class Street(Strict):
    location: str = Field(..., description="A real street, or a police.uk stock label beside "
                          "its nearest street", examples=["Granby Street"])
    count: int = Field(..., description="Offences behind that name in the last 12 months")


class FocusPlace(Strict):
    rank: int
    id: str = Field(..., description="Unit id (H3 cell, fishnet cell or area code)")
    name: str = Field(..., description="Its most common places: real streets, each once; a "
                      "police.uk stock label only beside its nearest street",
                      examples=["Granby Street; Shopping area off Vaughan Way; Gallowtree Gate"])
    streets: list[Street]
    ward_code: str | None
    ward: str | None = Field(..., examples=["Castle"])
    npa_code: str | None
    npa: str | None = Field(..., examples=["Central"])
    score: float | None = Field(..., description="The method's score (its own units)")
    count_last_3_months: int | None
    count_last_12_months: int | None
    count_previous_3_months: int | None = None
    trend: str = Field(..., description="rising / falling (exact test, 5%) / no clear change, "
                                        "last 3 months vs the 3 before, against the whole area")
    trend_p_two_sided: float | None
    lon: float
    lat: float
    map_url: str | None = Field(None, description="The focus map zoomed to this place",
                                examples=["/maps/focus?n=8&zoom_to=1"])


class FocusResponse(Strict):
    meta: FocusMeta
    reading: str
    places: list[FocusPlace]
