"""What every result says about how it was made: filter, versions, data coverage, units and significance settings."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from geo_api.analysis.defaults import DEFAULT_GROUP, DEFAULT_SEED
from geo_api.web.api.models.disclosure import KEEP


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FilterEcho(Strict):
    """The offence filter applied, echoed (times naive Europe/London)."""

    start: str | None = Field(None, examples=["2020-04-01T00:00:00"])
    end_exclusive: str | None = Field(None, examples=["2020-07-01T00:00:00"])
    month_dated: str | None = Field(
        None, description="The months whose month-dated (police.uk) records are counted, "
        "'first/last' ('..' open; 'none'); a month counts when the interval covers at least "
        "half of it (UK time), and a month covered only in part is named in warnings",
        examples=["2020-04/2020-06"])
    group: str = Field(..., examples=[DEFAULT_GROUP])
    crime_categories: list[str] = Field(default_factory=list)
    flags: dict[str, bool] = Field(default_factory=dict)
    source: str | None = None
    bbox_lonlat: list[float] | None = None
    hours: list[int] | None = None
    study_area: str | None = Field(
        None, description="city or force: only offences whose district, joined at ingest, is "
        "Leicester's (E06000016) or any of the force's nine; null: wherever they are",
        examples=["city"])
    __disclosure__: ClassVar[dict[str, str]] = {"bbox_lonlat": KEEP, "hours": KEEP}


class Coverage(Strict):
    dataset_version: str | None = Field(..., examples=["v-9b1c2d3e4f50"])
    boundaries_version: str = Field(..., examples=["18149f3c4cc8"])
    api_version: str = Field(..., examples=["0.1.0"])
    caveats: list[str] = Field(default_factory=list, description="Data caveats for this result")
    warnings: list[str] = Field(default_factory=list, description="Things to know about this "
                                "result, e.g. requested months without data")
    months_loaded: list[str] = Field(..., description="Months with data in the store",
                                     examples=[["2019-12", "2020-01"]])
    months_requested_missing: list[str] = Field(
        ..., description="Requested months without loaded data (the result leaves them out)")


class Meta(Coverage):
    analysis: str = Field(..., examples=["gi_star"])
    filters: FilterEcho


class CompareMeta(Coverage):
    """Parameters of a two-period analysis: both filters, grid/test settings, versions."""

    analysis: str = Field(..., examples=["compare_areas"])
    filters_before: FilterEcho
    filters_after: FilterEcho


class UnitsEcho(Strict):
    """The analysis units (None where a field does not apply to the grid)."""

    grid: str = Field(..., examples=["h3"])
    study_area: str | None = Field(None, examples=["city"])
    study_area_definition: str | None = None
    resolution: int | None = Field(None, description="H3 resolution (grid=h3)")
    k_ring: int | None = Field(None, description="H3 k-ring neighbours (grid=h3)")
    fishnet_cell_size_m: float | None = Field(None, description="Fishnet cell size (grid=fishnet)")
    fishnet_band_m: float | None = Field(None, description="Fishnet distance band (grid=fishnet)")
    contiguity: str | None = Field(None, description="Polygon layers: queen")
    n_units: int | None = Field(None, description="Units in the study area")
    __disclosure__: ClassVar[dict[str, str]] = {"resolution": KEEP, "k_ring": KEEP,
        "fishnet_cell_size_m": KEEP, "fishnet_band_m": KEEP, "n_units": KEEP}


class GiParams(Strict):
    statistic: str = Field(..., examples=["Gi* (star=True, binary weights)"])
    permutations: int = Field(..., examples=[999])
    seed: int = Field(..., examples=[DEFAULT_SEED])
    fdr: bool = Field(..., description="Benjamini-Hochberg at each confidence level")
    inference: str = Field(..., examples=["permutation"])
    p_value: str
    min_attainable_p: float | None = Field(
        ..., description="Smallest two-sided permutation p-value possible: 2/(permutations+1). "
                         "BH at level a over n units keeps nothing unless at least "
                         "n*min_attainable_p/a units reach it", examples=[0.002])
    n_undefined: int = Field(0, description="Units whose z is undefined (see undefined_reason)")
    __disclosure__: ClassVar[dict[str, str]] = {"permutations": KEEP, "seed": KEEP,
        "min_attainable_p": KEEP, "n_undefined": KEEP}


class OffencesMeta(Meta):
    limit: int
    offset: int
