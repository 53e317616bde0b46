"""Columns a store derives from a row's coordinates, computed again for rows stored by an
earlier schema (the migration to schema 3; both stores use it).

Schema 2 stored an offence's H3 cell at resolutions 7-9 as the parent of its resolution-10
cell, which is not always the cell that contains the point (an H3 parent does not cover all
of its children), and the metric coordinates of a row without a location as infinity.
Schema 3 stores ``h3.latlng_to_cell`` of the point at every resolution and NULL metric
coordinates where there is no location.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from geo_api.analysis.join import h3_cells
from geo_api.data.store.base import H3_RESOLUTIONS

H3_COLUMNS = tuple(f"h3_r{r}" for r in H3_RESOLUTIONS)


def _floats(col) -> np.ndarray:
    """A nullable float column as numpy with NaN for NULL."""
    if isinstance(col, pa.ChunkedArray | pa.Array):
        return col.to_numpy(zero_copy_only=False).astype(float)
    return pd.to_numeric(col, errors="coerce").to_numpy(float)


def derived_columns(lon, lat, x_m, y_m) -> dict[str, np.ndarray]:
    """The H3 cells (uint64, 0 without a location) containing each point, and its metric
    coordinates with NaN where they are not finite."""
    lon, lat, x, y = (_floats(c) for c in (lon, lat, x_m, y_m))
    cells = h3_cells(lon, lat, H3_RESOLUTIONS)
    located = np.isfinite(x) & np.isfinite(y)
    x, y = np.where(located, x, np.nan), np.where(located, y, np.nan)
    return {**{f"h3_r{r}": cells[r] for r in H3_RESOLUTIONS}, "x_m": x, "y_m": y}


def rederive_arrow(table: pa.Table) -> pa.Table:
    """``table`` (stored offence rows) with its derived columns computed again, each in
    its place and of its type (NULL metric coordinates without a location)."""
    cols = derived_columns(table["lon"], table["lat"], table["x_m"], table["y_m"])
    for name, values in cols.items():
        i = table.schema.get_field_index(name)
        typ = table.schema.field(i).type
        arr = pa.array(values, type=typ, from_pandas=True)  # NaN -> NULL
        table = table.set_column(i, table.schema.field(i), arr)
    return table


def rederive_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (stored offence rows) with its derived columns computed again."""
    out = frame.copy()
    for name, values in derived_columns(frame["lon"], frame["lat"], frame["x_m"],
                                        frame["y_m"]).items():
        out[name] = values
    return out
