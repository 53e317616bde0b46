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
    codes, texts = pd.factorize(pd.Series(list(text), dtype=object), use_na_sentinel=False)
    kinds, names = (np.array(v, dtype=object) for v in zip(*map(clean, texts))) \
        if len(texts) else (np.array([], dtype=object),) * 2
    df = pd.DataFrame({"unit": np.asarray(unit, dtype=np.int64), "kind": kinds[codes],
                       "name": names[codes], "x": np.asarray(x_m, float),
                       "y": np.asarray(y_m, float)})
    wanted = list(wanted)
    streets = df[df["kind"] == "street"]
    mine = df[df["unit"].isin(wanted)]
    parts = [mine[mine["kind"] == "street"].groupby(["unit", "name"]).size()]
    stock = mine[mine["kind"] == "stock"]
    if len(streets) and len(stock):  # a stock label only beside a street: its nearest
        points = stock.groupby(["unit", "name", "x", "y"]).size().reset_index(name="n")
        _, near = cKDTree(streets[["x", "y"]].to_numpy()).query(points[["x", "y"]].to_numpy())
        points["name"] = (points["name"] + " off "
                          + streets["name"].to_numpy()[np.atleast_1d(near)])
        parts.append(points.groupby(["unit", "name"])["n"].sum())
    tally = pd.concat(parts).groupby(level=[0, 1]).sum().reset_index(name="n")
    tally = tally.sort_values(["unit", "n", "name"], ascending=[True, False, True])
    top = tally.groupby("unit").head(n)
    out = {int(u): list(zip(g["name"], g["n"].astype(int).tolist()))
           for u, g in top.groupby("unit")}
    return {u: out.get(u, []) for u in wanted}


def place_label(names: Iterable[str]) -> str:
    """A place's names as one line ("Granby Street; Shopping area off Vaughan Way")."""
    return "; ".join(names)
