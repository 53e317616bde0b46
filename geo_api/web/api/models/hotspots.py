"""Kernel density, Gi*, time profile, top-N, concentration and emerging hot spot responses."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from geo_api.web.api.models.disclosure import (
    BANDED,
    COUNT,
    KEEP,
    RANK,
    RECORD_TEXT,
    SHARE,
    WITHHOLD,
)
from geo_api.web.api.models.meta import GiParams, Meta, UnitsEcho


class KDEGridBody(BaseModel):
    crs: str = Field("EPSG:27700")
    x0_m: float = Field(..., description="West edge, metres")
    y0_m: float = Field(..., description="South edge, metres")
    cell_size_m: float = Field(..., examples=[50])
    nx: int
    ny: int
    row_order: str = Field("south to north")
    units: str = Field("offences per km^2")
    max: float
    values: list[list[float]] = Field(..., description="Density at cell centres, rows south to north")
    __disclosure__: ClassVar[dict[str, str]] = {"x0_m": KEEP, "y0_m": KEEP, "cell_size_m": KEEP,
        "nx": KEEP, "ny": KEEP, "max": WITHHOLD, "values": WITHHOLD}


class KdeCellProperties(BaseModel):
    """A KDE cell's properties in GeoJSON answers, tiles and maps (the cell is its square)."""

    density_per_km2: float = Field(..., description="Offences per km² at the cell centre")
    share_of_max: float = Field(..., description="The density as a share of the peak cell's")
    __disclosure__: ClassVar[dict[str, str]] = {"density_per_km2": WITHHOLD,
        "share_of_max": BANDED}


class KDEMeta(Meta):
    kernel: str = Field(..., examples=["quartic"])
    bandwidth_m: float = Field(..., examples=[300])
    bandwidth_rule: str = Field(..., examples=["explicit"])
    cell_size_m: float = Field(..., examples=[100])
    study_area: str
    study_area_definition: str
    n_points: int
    method: str
    units: str = Field("offences per km^2")
    __disclosure__: ClassVar[dict[str, str]] = {"bandwidth_m": KEEP, "cell_size_m": KEEP,
        "n_points": COUNT}


class KDEResponse(BaseModel):
    meta: KDEMeta
    grid: KDEGridBody


class KDECells(BaseModel):
    """KDE cells at or above a share of the maximum, as lon/lat polygons (f=geojson)."""

    type: str = "FeatureCollection"
    features: list[dict]
    meta: KDEMeta


class GiCell(BaseModel):
    id: str = Field(..., description="H3 cell (hex), fishnet centre 'easting_northing' or area code",
                    examples=["89195da49afffff"])
    count: int
    gi_z: float | None = Field(..., description="Gi* z; null when undefined (undefined_reason)")
    p_two_sided: float | None = Field(..., description="Two-sided p-value used for the label")
    p_norm_two_sided: float | None
    label: str = Field(..., description="hot/cold 99/95/90%, not significant, or undefined",
                       examples=["hot 99%"])
    undefined_reason: str | None = Field(None, description="Why z is undefined for this unit")
    __disclosure__: ClassVar[dict[str, str]] = {"count": COUNT, "gi_z": WITHHOLD,
        "p_two_sided": WITHHOLD, "p_norm_two_sided": WITHHOLD}


class GiMeta(Meta, UnitsEcho, GiParams):
    n_offences_in_units: int
    n_significant: dict[str, int] = Field(..., description="Units labelled at each confidence "
                                                            "level or stronger",
                                          examples=[{"90%": 80, "95%": 60, "99%": 30}])
    __disclosure__: ClassVar[dict[str, str]] = {"n_offences_in_units": COUNT,
        "n_significant": KEEP}


class GiResponse(BaseModel):
    meta: GiMeta
    cells: list[GiCell]


class TimeWindow(BaseModel):
    window: str = Field(..., examples=["22:00-05:00"])
    count: int
    share: float | None = Field(None, description="Share of matching offences with a time")
    __disclosure__: ClassVar[dict[str, str]] = {"count": COUNT, "share": SHARE}


class HourByWeekday(BaseModel):
    hours: list[int]
    days: list[str] = Field(..., examples=[["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]])
    counts: list[list[int]] = Field(..., description="24 rows (hours) x 7 columns (days)")
    __disclosure__: ClassVar[dict[str, str]] = {"hours": KEEP, "counts": COUNT}


class TimeProfileMeta(Meta):
    n_matched: int = Field(..., description="Offences matching the filter")
    n_with_time: int = Field(..., description="Of which with a time of day")
    __disclosure__: ClassVar[dict[str, str]] = {"n_matched": COUNT, "n_with_time": COUNT}


class TimeProfileResponse(BaseModel):
    meta: TimeProfileMeta
    hour_by_weekday: HourByWeekday
    night_time_economy: TimeWindow
    after_school: TimeWindow


class TopItem(BaseModel):
    rank: int
    code: str
    name: str
    count: int
    share: float | None = Field(..., description="Share of offences in all units of the "
                                                 "grid/layer")
    cumulative_share: float | None
    streets: list[str] | None = Field(
        None, description="Its most common places (cells and areas): real streets, each once; "
        "a police.uk stock label only beside its nearest street",
        examples=[["Granby Street", "Shopping area off Vaughan Way"]])
    lon: float | None = Field(None, description="Centre (a map point's own position)")
    lat: float | None = None
    __disclosure__: ClassVar[dict[str, str]] = {"rank": RANK, "count": COUNT, "share": SHARE,
        "cumulative_share": SHARE, "lon": KEEP, "lat": KEEP, "streets": RECORD_TEXT}


class TopMeta(Meta, UnitsEcho):
    limit: int
    definition: str
    __disclosure__: ClassVar[dict[str, str]] = {"limit": KEEP}


class TopResponse(BaseModel):
    meta: TopMeta
    top: list[TopItem]


class ConcentrationMeta(Meta, UnitsEcho):
    pass


class ConcentrationResponse(BaseModel):
    meta: ConcentrationMeta
    gini: float = Field(..., description="Gini of the area-offence Lorenz curve (0 = even)")
    share_of_offences_in_top_area: dict[str, float] = Field(
        ..., examples=[{"1%": 0.12, "5%": 0.35, "10%": 0.5, "25%": 0.75}])
    lorenz: dict
    ranking: str
    __disclosure__: ClassVar[dict[str, str]] = {"gini": WITHHOLD,
        "share_of_offences_in_top_area": WITHHOLD}


class EmergingUnit(BaseModel):
    id: str = Field(..., examples=["89195da49afffff"])
    category: str = Field(..., examples=["intensifying hot spot"])
    trend_z: float = Field(..., description="Mann-Kendall z of the unit's Gi* z over time")
    trend_p: float
    counts: list[int] = Field(..., description="Offences per month (meta.months)")
    __disclosure__: ClassVar[dict[str, str]] = {"trend_z": WITHHOLD, "trend_p": WITHHOLD,
        "counts": COUNT}


class EmergingMeta(Meta, UnitsEcho):
    months: list[str] = Field(..., description="Months analysed (loaded months of the window)",
                              examples=[["2019-12", "2020-01", "2020-02"]])
    time_steps: int
    alpha: float
    fdr: bool
    permutations: int
    seed: int
    p_value: str
    min_attainable_p: float | None
    n_significant_bins: int = Field(..., description="(unit, month) bins significant at alpha")
    n_steps: int
    trend: str
    __disclosure__: ClassVar[dict[str, str]] = {"time_steps": KEEP, "alpha": KEEP,
        "permutations": KEEP, "seed": KEEP, "min_attainable_p": KEEP, "n_significant_bins": KEEP,
        "n_steps": KEEP}


class EmergingResponse(BaseModel):
    meta: EmergingMeta
    category_counts: dict[str, int] = Field(..., examples=[{"no pattern detected": 700,
                                                            "new hot spot": 3}])
    units: list[EmergingUnit]
    __disclosure__: ClassVar[dict[str, str]] = {"category_counts": KEEP}
