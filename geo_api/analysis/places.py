"""Naming places as people know them, from police.uk location texts.

police.uk gives each offence the name of the anonymised map point it is moved to: "On or
near Granby Street", a stock label with no street ("On or near Shopping Area"), or an
empty street ("On or near "). A place (an H3 cell, a map point, an area) is named by its
most common real streets, each once, without the "On or near" prefix; a stock label is kept
only beside a street - the nearest real street to its map point - as "Shopping area off
Vaughan Way"; blanks are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

PREFIX = "on or near"
# police.uk's labels for map points at a kind of place rather than on a street
STOCK_LABELS = frozenset(s.lower() for s in (
    "Supermarket", "Petrol Station", "Parking Area", "Sports/Recreation Area",
    "Shopping Area", "Park/Open Space", "Nightclub", "Police Station",
    "Further/Higher Educational Building", "Pedestrian Subway",
    "Conference/Exhibition Centre", "Hospital", "Theatre/Concert Hall", "Bus/Coach Station",
    "Prison", "Motorway Service Area", "Airport/Airfield", "Hotel/Motel", "Theme/Adventure Park",
    "Cinema", "Place Of Worship", "Train Station", "Shopping Centre", "Sports Ground"))
NO_PLACE = frozenset({"", "no location"})


def clean(text) -> tuple[str, str | None]:
    """(kind, name) of one location text: ("street", "Granby Street"), ("stock",
    "Shopping area") or ("none", None) for a blank or "No Location"."""
    if not isinstance(text, str):
        return "none", None
    t = " ".join(text.split())
    if t.lower().startswith(PREFIX):
        t = t[len(PREFIX):].strip()
    if t.lower() in NO_PLACE:
        return "none", None
    if t.lower() in STOCK_LABELS:
        return "stock", t[0].upper() + t[1:].lower()
    return "street", t


def name_places(unit: np.ndarray, text: Iterable, x_m: np.ndarray, y_m: np.ndarray,
                wanted: Iterable[int], n: int = 3) -> dict[int, list[tuple[str, int]]]:
    """Names of the places ``wanted`` (unit indexes) with the offences behind each name.

    Parameters
    ----------
    unit : the unit of each offence row (-1: none); rows outside the wanted units still
        lend their streets to a stock label nearby
    text : police.uk location texts of the rows
    x_m, y_m : the rows' map points (EPSG:27700 metres)
    wanted : the units to name
    n : most names per unit

    Returns
    -------
    dict unit -> [(name, offences), ...], most offences first, at most ``n``; a unit whose
    rows have no place name gets [].
    """
    kinds, names = zip(*(clean(t) for t in text)) if len(unit) else ((), ())
    df = pd.DataFrame({"unit": np.asarray(unit), "kind": kinds, "name": names,
                       "x": np.asarray(x_m, float), "y": np.asarray(y_m, float)})
    streets = df[df["kind"] == "street"]
    tree = cKDTree(streets[["x", "y"]].to_numpy()) if len(streets) else None
    out: dict[int, list[tuple[str, int]]] = {}
    wanted = list(wanted)
    mine = df[df["unit"].isin(wanted) & (df["kind"] != "none")]
    for u, rows in mine.groupby("unit"):
        tally: dict[str, int] = {}
        for name, k in rows[rows["kind"] == "street"]["name"].value_counts().items():
            tally[name] = int(k)
        stock = rows[rows["kind"] == "stock"]
        if tree is not None and len(stock):  # a stock label only beside a street
            points = stock.groupby(["name", "x", "y"], sort=False).size()
            _, k = tree.query(np.array([(x, y) for _, x, y in points.index]))
            for (label, _, _), near, count in zip(points.index, np.atleast_1d(k), points):
                name = f"{label} off {streets['name'].iloc[int(near)]}"
                tally[name] = tally.get(name, 0) + int(count)
        ranked = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
        out[int(u)] = ranked[:n]
    return {u: out.get(u, []) for u in wanted}


def place_label(names: Iterable[str]) -> str:
    """A place's names as one line ("Granby Street; Shopping area off Vaughan Way")."""
    return "; ".join(names)
