"""File schemas: police.uk street-level CSV and the force export CSV.

The force export is the richer file a force's records system can provide. Its columns are
documented in README.md ("Force export schema") and exported as JSON Schema by
``geo_api schema`` (``ForceExportRow.model_json_schema()``).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

POLICE_UK_COLUMNS = (
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
)

POLICE_UK_CATEGORIES = frozenset({
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs",
    "Other crime", "Other theft", "Possession of weapons", "Public order", "Robbery",
    "Shoplifting", "Theft from the person", "Vehicle crime", "Violence and sexual offences",
})

FORCE_REQUIRED = ("offence_id", "offence_datetime", "ho_code", "ho_description")
FORCE_COORD_PAIRS = (("easting", "northing"), ("longitude", "latitude"))
FORCE_OPTIONAL = (
    "knife_sharp_instrument", "alcohol", "domestic", "victim_age", "suspect_age",
    "public_place", "location_type", "crime_category",
)
FORCE_COLUMNS = FORCE_REQUIRED + tuple(c for p in FORCE_COORD_PAIRS for c in p) + FORCE_OPTIONAL


class ForceExportRow(BaseModel):
    """One row of a force export CSV (UTF-8, comma-separated, header row required).

    Either ``easting``/``northing`` (EPSG:27700, metres) or ``longitude``/``latitude``
    (EPSG:4326, degrees) must be present as columns; blank in both means "no location".
    Flags accept Y/N, yes/no, true/false, 1/0 or blank (unknown).
    """

    offence_id: str = Field(..., description="Unique crime reference", examples=["LP/20/012345"])
    offence_datetime: datetime = Field(
        ..., description="Date and time committed, ISO 8601 (YYYY-MM-DD HH:MM[:SS])",
        examples=["2020-04-18 23:40"])
    ho_code: str = Field(..., description="Home Office counting-rule class, e.g. 8N, 5D, 34B",
                         examples=["34B"])
    ho_description: str = Field(..., description="Home Office offence description",
                                examples=["Robbery of personal property"])
    easting: float | None = Field(None, description="BNG easting, metres (EPSG:27700)")
    northing: float | None = Field(None, description="BNG northing, metres (EPSG:27700)")
    longitude: float | None = Field(None, description="WGS84 longitude, degrees")
    latitude: float | None = Field(None, description="WGS84 latitude, degrees")
    knife_sharp_instrument: bool | None = Field(
        None, description="Knife or sharp instrument used or threatened (HO flag)")
    alcohol: bool | None = Field(None, description="Alcohol-related flag")
    domestic: bool | None = Field(None, description="Domestic abuse flag")
    victim_age: int | None = Field(None, ge=0, le=120, description="Victim age, years")
    suspect_age: int | None = Field(None, ge=0, le=120, description="Suspect age, years")
    public_place: bool | None = Field(None, description="Offence in a public place")
    location_type: str | None = Field(None, description="Free-text location type, e.g. 'street'")
    crime_category: str | None = Field(
        None, description="police.uk category; derived from ho_code when blank")
