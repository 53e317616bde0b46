#!/usr/bin/env bash
# Bounded loopback load test of the tile endpoint with wrk (Debian package): 10 s per run,
# 127.0.0.1 only. Server: uvicorn, WORKERS workers (default 2), demo data loaded.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
PORT="${PORT:-8799}"; WORKERS="${WORKERS:-2}"; CONN="${CONN:-16}"; DUR="${DUR:-10s}"
TMP="$(mktemp -d)"; export GEO_API_STORE_DIR="$TMP/store"
geo_api load-demo >/dev/null 2>&1
uvicorn --factory geo_api.web.app:create_app --host 127.0.0.1 --port "$PORT" --workers "$WORKERS" \
  --log-level warning --no-access-log & PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
BASE="http://127.0.0.1:$PORT"
TILE="$BASE/tiles/ward/13/4070/2682.geojson"
MVT="$BASE/tiles/ward/13/4070/2682.mvt"
for _ in $(seq 1 50); do curl -sf "$TILE" >/dev/null; curl -sf "$MVT" >/dev/null
  curl -sf "$BASE/tiles/lsoa/16/32556/21453.geojson" >/dev/null; curl -sf "$BASE/tiles/lsoa/16/32556/21453.mvt" >/dev/null; done
echo "server: uvicorn $WORKERS workers; wrk -t2 -c$CONN -d$DUR on 127.0.0.1 (2-core machine, client and server share it)"
echo -n "cached tile   (ward z13, in-process cache hit): "; wrk -t2 -c"$CONN" -d"$DUR" -s benchmarks/wrk_report.lua "$TILE" | tail -1
echo -n "computed tile (lsoa z16, cache miss each time): "; wrk -t2 -c"$CONN" -d"$DUR" -s benchmarks/wrk_computed.lua "$BASE" | tail -1
echo -n "cached MVT    (ward z13, in-process cache hit): "; wrk -t2 -c"$CONN" -d"$DUR" -s benchmarks/wrk_report.lua "$MVT" | tail -1
echo -n "computed MVT  (lsoa z16, cache miss each time): "; TILE_EXT=mvt wrk -t2 -c"$CONN" -d"$DUR" -s benchmarks/wrk_computed.lua "$BASE" | tail -1
echo -n "common approach: whole ward layer GeoJSON per request: "; wrk -t2 -c"$CONN" -d"$DUR" -s benchmarks/wrk_report.lua "$BASE/layers/ward" | tail -1
echo "targets: cached p95 <= 20 ms at >= 1,000 req/s; computed p95 <= 100 ms"
