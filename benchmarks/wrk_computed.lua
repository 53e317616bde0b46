-- Every request is a tile-cache miss (distinct tile or nonce): the tile is clipped and
-- serialised from the cached layer each time.
-- TILE_EXT=mvt benchmarks vector tiles instead of GeoJSON.
local ext = os.getenv("TILE_EXT") or "geojson"
local n = 0
request = function()
  n = n + 1
  local x = 32550 + (n % 24)
  local y = 21445 + (math.floor(n / 24) % 24)
  return wrk.format("GET", string.format("/tiles/lsoa/16/%d/%d.%s?n=%d", x, y, ext, n))
end
dofile(os.getenv("WRK_REPORT") or "benchmarks/wrk_report.lua")
