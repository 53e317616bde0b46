"""Columns a store derives from a row's coordinates, computed again for rows stored by an
earlier schema (the migration to schema 3; both stores use it).

Schema 2 stored an offence's H3 cell at resolutions 7-9 as the parent of its resolution-10
cell, which is not always the cell that contains the point (an H3 parent does not cover all
of its children), the metric coordinates of a row without a location as infinity, and area
codes of layers that did not nest in the district (a few offences with a Leicester ward in
Blaby). Schema 3 stores ``h3.latlng_to_cell`` of the point at every resolution, NULL metric
coordinates where there is no location, and - when the store is given the ingest's join
(``Join``) - area codes joined again by its rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from geo_api.analysis.join import h3_cells
from geo_api.data.store.base import H3_RESOLUTIONS, Join

H3_COLUMNS = tuple(f"h3_r{r}" for r in H3_RESOLUTIONS)


def _floats(col) -> np.ndarray:
    """A nullable float column as numpy with NaN for NULL."""
    if isinstance(col, pa.ChunkedArray | pa.Array):
        return col.to_numpy(zero_copy_only=False).astype(float)
    return pd.to_numeric(col, errors="coerce").to_numpy(float)


def derived_columns(lon, lat, x_m, y_m, join: Join | None = None) -> dict[str, np.ndarray]:
    """The H3 cells (uint64, 0 without a location) containing each point, its metric
    coordinates with NaN where they are not finite and, with ``join``, its area codes
    (object arrays, None outside a layer)."""
    lon, lat, x, y = (_floats(c) for c in (lon, lat, x_m, y_m))
    located = np.isfinite(x) & np.isfinite(y)
    x, y = np.where(located, x, np.nan), np.where(located, y, np.nan)
    out = {"x_m": x, "y_m": y}
    if join is None:
        cells = h3_cells(lon, lat, H3_RESOLUTIONS)
        return {**out, **{f"h3_r{r}": cells[r] for r in H3_RESOLUTIONS}}
    joined = join(x, y, lon, lat)
    for name in joined.columns:
        col = joined[name]
        out[name] = (col.to_numpy(np.uint64) if name in H3_COLUMNS else
                     col.astype(object).where(col.notna(), None).to_numpy())
    return out


def rederive_arrow(table: pa.Table, join: Join | None = None) -> pa.Table:
    """``table`` (stored offence rows) with its derived columns computed again, each in
    its place and of its type (NULL metric coordinates without a location)."""
    cols = derived_columns(table["lon"], table["lat"], table["x_m"], table["y_m"], join)
    for name, values in cols.items():
        i = table.schema.get_field_index(name)
        field = table.schema.field(i)
        typ = pa.string() if pa.types.is_dictionary(field.type) else field.type
        arr = pa.array(values, type=typ, from_pandas=True)  # NaN -> NULL
        table = table.set_column(i, pa.field(name, typ), arr)
    return table


def rederive_frame(frame: pd.DataFrame, join: Join | None = None) -> pd.DataFrame:
    """``frame`` (stored offence rows) with its derived columns computed again."""
    out = frame.copy()
    for name, values in derived_columns(frame["lon"], frame["lat"], frame["x_m"],
                                        frame["y_m"], join).items():
        out[name] = values
    return out
