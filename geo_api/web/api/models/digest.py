"""The per-patch digest: new and intensifying hot spots, month by month (GET /digest)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from geo_api.web.api.models.disclosure import COUNT, KEEP, RECORD_TEXT

__all__ = ["DigestEntry", "DigestPlace", "DigestResponse", "DigestSpot"]


class DigestSpot(BaseModel):
    id: str = Field(..., description="H3 resolution 9 cell", examples=["89195da49a3ffff"])
    change: str = Field(..., description="new: hot now, not in the three months before; "
                        "intensifying: hot in both and stronger (higher level or a clear rise "
                        "beyond the city's change)", examples=["new"])
    label: str = Field(..., examples=["hot 95%"])
    label_before: str = Field(..., examples=["not significant"])
    count: int | None = Field(..., description="Offences in the entry's months (null: "
                              "suppressed for the public role)", examples=[14])
    count_before: int | None = Field(..., description="Offences in the three months before",
                                     examples=[5])
    place: str = Field(..., description="Its most common police.uk place names ('' when "
                       "none may be shown)", examples=["Granby Street; Dunkirk Street"])
    lon: float = Field(..., description="Cell centre, EPSG:4326", examples=[-1.129])
    lat: float = Field(..., examples=[52.633])
    __disclosure__: ClassVar[dict[str, str]] = {"count": COUNT, "count_before": COUNT,
                                                "lon": KEEP, "lat": KEEP, "place": RECORD_TEXT}


class DigestPlace(BaseModel):
    rank: int = Field(..., description="Rank in the city's focus list (GET /focus)",
                      examples=[1])
    name: str = Field(..., examples=["Granby Street; Gallowtree Gate; Belvoir Street"])
    count_last_3_months: int = Field(..., examples=[66])
    count_previous_3_months: int | None = Field(..., examples=[41])
    __disclosure__: ClassVar[dict[str, str]] = {"rank": KEEP, "count_last_3_months": COUNT,
                                                "count_previous_3_months": COUNT}


class DigestEntry(BaseModel):
    month: str = Field(..., description="The entry's last month", examples=["2020-09"])
    months: list[str] = Field(..., examples=[["2020-07", "2020-08", "2020-09"]])
    months_before: list[str] = Field(..., examples=[["2020-04", "2020-05", "2020-06"]])
    dataset_version: str = Field(..., examples=["v15c016cc7f67"])
    updated: str = Field(..., description="When the dataset version was made (its latest "
                         "ingest), RFC 3339 UTC", examples=["2020-10-21T09:00:00Z"])
    title: str
    summary: str = Field(..., description="The entry in plain words")
    n_hot_now: int = Field(..., description="Hot cells in the patch, the entry's months",
                           examples=[22])
    n_hot_before: int = Field(..., description="... and in the three months before",
                              examples=[8])
    new: list[DigestSpot]
    intensifying: list[DigestSpot]
    places: list[DigestPlace] | None = Field(..., description="Focus places of the patch "
                                             "rising clearly (newest entry; null for the "
                                             "public role and older entries)")
    __disclosure__: ClassVar[dict[str, str]] = {"n_hot_now": KEEP, "n_hot_before": KEEP}


class DigestResponse(BaseModel):
    layer: str = Field(..., examples=["npa"])
    code: str = Field(..., examples=["NC"])
    name: str = Field(..., examples=["Central"])
    group: str = Field(..., examples=["violence_robbery_weapons"])
    dataset_version: str = Field(..., examples=["v15c016cc7f67"])
    atom_url: str = Field(..., description="The same digest as an Atom feed",
                          examples=["/digest/npa/NC.atom"])
    entries: list[DigestEntry] = Field(..., description="Newest first")
