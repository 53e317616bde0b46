"""Downloads that open right: every file the API sends has a name that says what it is,
for which period and offence group (``Content-Disposition``), and every CSV starts with a
UTF-8 byte order mark unless the caller asks for none (``bom=false``).

File names are built here only, from parsed parameters (never from raw request text), of
the characters ``A-Z a-z 0-9 . _ -`` and at most ``MAX_STEM`` characters before the
extension: ``<subject>_<period>_<group>_<dataset version>.<ext>``, e.g.
``hotspots_gi_h3-r9_2020-04-to-2020-06_violence_robbery_weapons_3f2a9c.geojson``. A name
is plain ASCII, so no ``filename*=`` form is needed, and it cannot carry a quote, a
semicolon or a line break into the header.

Why a BOM by default (docs/api/downloads.md): Excel, opening a CSV by double-click, reads
a file without a BOM in the computer's legacy code page, so "Café" shows as "CafÃ©"; with
the BOM it reads UTF-8. Python (``encoding="utf-8-sig"``), pandas, R and LibreOffice read
the BOM as an encoding mark, not as part of the first column's name; scripts that read
plain ``utf-8`` can ask for ``bom=false``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Annotated

import pandas as pd
from fastapi import Depends, Query, Request
from fastapi.responses import Response

from geo_api.errors import InvalidParameter

BOM = "\ufeff"
MAX_STEM = 150  # characters of a file name before its extension
MAX_PART = 48  # characters of one part of it
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
PARQUET = "application/vnd.apache.parquet"
EXTENSIONS = {"text/csv": "csv", "application/geo+json": "geojson", PARQUET: "parquet",
              "image/png": "png"}


# ------------------------------------------------------------------------ names --------
def name_part(value: object) -> str:
    """One part of a file name: runs of other characters become '-', at most ``MAX_PART``
    characters, no leading or trailing separator."""
    return UNSAFE.sub("-", str(value)).strip("-._")[:MAX_PART].strip("-._")


def file_stem(*parts: object) -> str:
    """The parts (None and empty ones left out) joined by '_', at most ``MAX_STEM``
    characters; 'download' when nothing is left."""
    kept = [p for p in (name_part(x) for x in parts if x is not None) if p]
    return "_".join(kept)[:MAX_STEM].strip("-._") or "download"


def period_words(meta: dict | None) -> str:
    """'2020-04-to-2020-06' from a meta's filter(s); both periods for comparisons
    ('2019-12-to-2020-02_vs_2020-04-to-2020-06'); 'all-months' for no period."""
    def one(f):
        if not f or not f.get("start"):
            return "all-months"
        start = f["start"][:7]
        end = (pd.Timestamp(f["end_exclusive"]) - pd.Timedelta(days=1)).strftime("%Y-%m") \
            if f.get("end_exclusive") else "latest"
        return start if start == end else f"{start}-to-{end}"

    meta = meta or {}
    if "filters_before" in meta:
        return f"{one(meta['filters_before'])}_vs_{one(meta['filters_after'])}"
    return one(meta.get("filters"))


def selection_parts(meta: dict | None) -> list[str]:
    """[period, offence group, dataset version] of an answer's meta (those it has)."""
    meta = meta or {}
    flt = meta.get("filters") or meta.get("filters_after") or {}
    return [p for p in (period_words(meta) if meta else "", flt.get("group"),
                        meta.get("dataset_version")) if p]


def unit_words(units) -> str:
    """'h3-r9', 'fishnet-250m' or the boundary layer's name ('ward') of a ``UnitSpec``."""
    if units.grid == "h3":
        return f"h3-r{units.resolution}"
    if units.grid == "fishnet":
        return f"fishnet-{units.fishnet_cell_size_m:g}m"
    return units.grid


def disposition(stem: str, ext: str, inline: bool = False) -> str:
    """``attachment; filename="<stem>.<ext>"`` (``inline``: shown by a browser, still named
    for ``curl -OJ`` and "Save as"). The stem is made safe again here."""
    safe = UNSAFE.sub("-", stem)[:MAX_STEM].strip("-._") or "download"
    return f'{"inline" if inline else "attachment"}; filename="{safe}.{name_part(ext)}"'


def named(response: Response, subject: str, meta: dict | None = None, *extra: object,
          ext: str | None = None, inline: bool = False) -> Response:
    """``response`` with its file name: ``<subject>_<extra...>_<period>_<group>_<dataset
    version>.<ext>``, the extension from its media type unless ``ext`` is given."""
    media = (response.media_type or "").split(";")[0]
    ext = ext or EXTENSIONS[media]
    response.headers["Content-Disposition"] = disposition(
        file_stem(subject, *extra, *selection_parts(meta)), ext, inline)
    return response


# -------------------------------------------------------------------------- BOM --------
def _csv_bom(request: Request, bom: Annotated[bool, Query(description=(
        "f=csv: start the file with a UTF-8 byte order mark, so Excel shows accented "
        "letters right when the file is double-clicked (default); false for scripts that "
        "read plain UTF-8"))] = True) -> None:
    if "bom" in request.query_params and request.query_params.get("f") != "csv":
        raise InvalidParameter("bom: applies to CSV downloads only; add f=csv or leave bom "
                               "out")
    request.state.csv_bom = bom


# on every route that can answer CSV: dependencies=[<role>, CsvBom]
CsvBom = Depends(_csv_bom)


def wants_bom(request: Request) -> bool:
    """Whether this request's CSV starts with a BOM (``CsvBom``; yes unless bom=false)."""
    return getattr(request.state, "csv_bom", True)


def with_bom(request: Request, chunks: Iterable[str]) -> Iterator[str]:
    """A streamed CSV's chunks, the BOM once before the first (``wants_bom``)."""
    if wants_bom(request):
        yield BOM
    yield from chunks
