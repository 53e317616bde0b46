"""Walking network from an OpenStreetMap extract (``.osm.pbf`` or ``.osm`` XML) via pyosmium.

Only what a pedestrian may use: ways with a ``highway`` tag, excluding motorways and their
slip roads, ways tagged ``foot=no``, ``access=no|private`` (unless ``foot`` allows it) and
areas under construction. Node positions are projected to EPSG:27700; an edge's length is
the straight distance between consecutive way nodes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from geo_api.analysis.network import WalkingNetwork
from geo_api.crs import lonlat_to_metric
from geo_api.errors import InvalidParameter

NOT_WALKABLE = {"motorway", "motorway_link", "construction", "proposed", "raceway",
                "bus_guideway", "busway", "abandoned", "platform"}
FOOT_YES = {"yes", "designated", "permissive", "destination"}


def walkable(tags) -> bool:
    hw = tags.get("highway")
    if hw is None or hw in NOT_WALKABLE:
        return False
    foot = tags.get("foot")
    if foot == "no":
        return False
    return not (tags.get("access") in ("no", "private") and foot not in FOOT_YES)


@lru_cache(maxsize=2)
def load_walking_network(path: Path, mtime_ns: int = 0) -> WalkingNetwork:
    """The walking network in an OSM file (cached per path and modification time)."""
    import osmium  # noqa: PLC0415 - lazy: walking networks only

    path = Path(path)
    if not path.exists():
        raise InvalidParameter(f"walking network: no file {path.name}")
    ids: dict[int, int] = {}
    lon: list[float] = []
    lat: list[float] = []
    u: list[int] = []
    v: list[int] = []
    try:
        for way in osmium.FileProcessor(str(path)).with_locations().with_filter(
                osmium.filter.KeyFilter("highway")):
            if not isinstance(way, osmium.osm.Way) or not walkable(way.tags):
                continue
            prev = None
            for n in way.nodes:
                if not n.location.valid():
                    prev = None
                    continue
                i = ids.get(n.ref)
                if i is None:
                    i = ids[n.ref] = len(lon)
                    lon.append(n.location.lon)
                    lat.append(n.location.lat)
                if prev is not None and prev != i:
                    u.append(prev)
                    v.append(i)
                prev = i
    except RuntimeError as exc:  # pyosmium reports unreadable files this way
        raise InvalidParameter(f"walking network: cannot read {path.name}: {exc}") from None
    if not u:
        raise InvalidParameter(f"walking network: {path.name} has no walkable ways "
                               "(highway=* without motorways, foot=no or private access)")
    x, y = lonlat_to_metric(np.asarray(lon), np.asarray(lat))
    u_a, v_a = np.asarray(u, dtype=np.int64), np.asarray(v, dtype=np.int64)
    length = np.hypot(x[u_a] - x[v_a], y[u_a] - y[v_a])
    return WalkingNetwork(x_m=x, y_m=y, u=u_a, v=v_a, length_m=length,
                          source=f"OpenStreetMap extract {path.name}")


def walking_network(path: Path) -> WalkingNetwork:
    path = Path(path)
    mtime = path.stat().st_mtime_ns if path.exists() else 0
    return load_walking_network(path, mtime)
