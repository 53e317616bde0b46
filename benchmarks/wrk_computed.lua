-- Every request is a tile-cache miss: a distinct lsoa z17 tile of a 300 x 300 sweep around
-- Leicester (no query string: an unknown parameter would be 422), each wrk thread taking
-- every other one, so the tile is clipped and serialised from the cached layer each time.
-- TILE_EXT=mvt benchmarks vector tiles instead of GeoJSON.
local ext = os.getenv("TILE_EXT") or "geojson"
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local n = 0
request = function()
  n = n + 1
  local k = 2 * n + (id or 0)
  local x = 64973 + (k % 300)
  local y = 42728 + (math.floor(k / 300) % 300)
  return wrk.format("GET", string.format("/tiles/lsoa/17/%d/%d.%s", x, y, ext), headers)
end
dofile(os.getenv("WRK_REPORT") or "benchmarks/wrk_report.lua")
