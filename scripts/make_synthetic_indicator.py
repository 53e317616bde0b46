"""Write the SYNTHETIC example partner indicator shipped for the maps and tests
(run: python scripts/make_synthetic_indicator.py). NOT REAL DATA: school exclusions by postcode
sector are invented - Poisson counts with a mean of 0.8 per 1,000 Census 2011 residents of
the sector times a random log-normal factor (sigma 0.6, seed 2020). Real partner data is
never committed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo_api.settings import PROJECT_ROOT


def main() -> None:
    import geopandas as gpd

    s = gpd.read_file(PROJECT_ROOT / "boundaries" / "layers" / "sector.geojson")
    s = s[s["population"].fillna(0) > 0].sort_values("code")
    rng = np.random.default_rng(2020)
    mean = 0.8 * s["population"].to_numpy() / 1000 * rng.lognormal(0, 0.6, len(s))
    out = pd.DataFrame({"sector": s["code"].to_numpy(), "count": rng.poisson(mean),
                        "denominator": s["population"].astype(int).to_numpy(),
                        "period": "2019/20"})
    path = PROJECT_ROOT / "data" / "demo" / "indicators" / "exclusions_SYNTHETIC.csv"
    out.to_csv(path, index=False)
    print(f"wrote {path} ({len(out)} sectors, {out['count'].sum()} SYNTHETIC exclusions)")


if __name__ == "__main__":
    main()
