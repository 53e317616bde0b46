"""Named streets from an OpenStreetMap extract (``GEO_API_OSM_FILE``), for street context on
static maps (PNG, PDF): each way with a ``highway`` tag as a line in EPSG:27700 with its
name (blank when it has none) and its class."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from geo_api.crs import lonlat_to_metric
from geo_api.errors import InvalidParameter

MAJOR = ("motorway", "trunk", "primary", "secondary", "tertiary")  # drawn wider, named first


@dataclass(frozen=True)
class Streets:
    """Street lines (EPSG:27700 metres) with names and highway classes."""

    lines_m: tuple[np.ndarray, ...]  # each (n, 2)
    names: tuple[str, ...]
    classes: tuple[str, ...]
    source: str

    def within(self, bounds_m: tuple[float, float, float, float]) -> Streets:
        """The lines with a point inside ``bounds_m`` (xmin, ymin, xmax, ymax)."""
        x0, y0, x1, y1 = bounds_m
        keep = [i for i, line in enumerate(self.lines_m)
                if np.any((line[:, 0] >= x0) & (line[:, 0] <= x1)
                          & (line[:, 1] >= y0) & (line[:, 1] <= y1))]
        return Streets(tuple(self.lines_m[i] for i in keep), tuple(self.names[i] for i in keep),
                       tuple(self.classes[i] for i in keep), self.source)


@lru_cache(maxsize=2)
def _load(path: Path, mtime_ns: int) -> Streets:
    import osmium  # noqa: PLC0415 - lazy: street context only where an OSM file is set

    lines, names, classes = [], [], []
    try:
        for way in osmium.FileProcessor(str(path)).with_locations().with_filter(
                osmium.filter.KeyFilter("highway")):
            if not isinstance(way, osmium.osm.Way):
                continue
            pts = [(n.location.lon, n.location.lat) for n in way.nodes if n.location.valid()]
            if len(pts) < 2:
                continue
            lonlat = np.asarray(pts, float)
            x, y = lonlat_to_metric(lonlat[:, 0], lonlat[:, 1])
            lines.append(np.column_stack([x, y]))
            names.append(way.tags.get("name") or "")
            classes.append(way.tags.get("highway") or "")
    except RuntimeError as exc:  # pyosmium reports unreadable files this way
        raise InvalidParameter(f"street map: cannot read {path.name}: {exc}") from None
    return Streets(tuple(lines), tuple(names), tuple(classes),
                   source=f"OpenStreetMap extract {path.name}")


def load_streets(path: Path) -> Streets:
    """The streets of the OSM file at ``path`` (cached per path and modification time)."""
    path = Path(path)
    if not path.exists():
        raise InvalidParameter(f"street map: no file {path.name}")
    return _load(path, path.stat().st_mtime_ns)
