#!/usr/bin/env bash
# Bounded loopback load test of cached tiles and boundary layers with wrk (Debian package):
# 10 s per run, 127.0.0.1 only. Server: uvicorn, WORKERS workers (default 2), demo data
# loaded, everything on as deployed - access control (an analyst's API key, or anonymous
# callers as the public role), the audit log (an entry per request) and the public role's
# disclosure control. Prints req/s and latency per endpoint and role, gzip sizes, and whether
# the goal of issue 29 (>= 2,000 req/s with p95 <= 20 ms for cached tiles and layers) is met.
# COMPUTED=1 also measures tiles computed on every request (a tile-cache miss each time).
set -euo pipefail
cd "$(dirname "$0")/.."
. "${VENV:-.venv}/bin/activate"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
PORT="${PORT:-8799}"; WORKERS="${WORKERS:-2}"; CONN="${CONN:-16}"; DUR="${DUR:-10s}"
GOAL_RPS=2000; GOAL_P95_MS=20
TMP="$(mktemp -d)"; export GEO_API_STORE_DIR="$TMP/store"  # keys and audit log: $TMP too
export GEO_API_WARM_UP=false  # the one-off warm-up of the map pages after start: not serving
geo_api load-demo >/dev/null 2>&1
KEY="$(geo_api keys create --role analyst --name bench | head -1 | awk '{print $NF}')"
uvicorn --factory geo_api.web.app:create_app --host 127.0.0.1 --port "$PORT" --workers "$WORKERS" \
  --log-level warning --no-access-log & PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
BASE="http://127.0.0.1:$PORT"
CACHED=("cached MVT tile (ward z13)|/tiles/ward/13/4070/2682.mvt"
        "cached GeoJSON tile (ward z13)|/tiles/ward/13/4070/2682.geojson"
        "boundary layer /layers/ward|/layers/ward")
for _ in $(seq 1 20); do  # each worker builds and caches them, for both roles
  for c in "${CACHED[@]}"; do
    curl -sf "$BASE${c#*|}" >/dev/null; curl -sf -H "X-API-Key: $KEY" "$BASE${c#*|}" >/dev/null
  done
done
echo "server: uvicorn $WORKERS workers; wrk -t2 -c$CONN -d$DUR on 127.0.0.1 (client and server share the machine's $(nproc) cores); access control, audit log and disclosure on"
met=0; total=0
for c in "${CACHED[@]}"; do
  for role in analyst public; do
    k=""; [ "$role" = analyst ] && k="$KEY"
    line="$(BENCH_KEY="$k" wrk -t2 -c"$CONN" -d"$DUR" -s benchmarks/wrk_report.lua "$BASE${c#*|}" | tail -1)"
    rps="$(sed -n 's/.*req\/s=\([0-9]*\).*/\1/p' <<<"$line")"
    p95="$(sed -n 's/.*p95=\([0-9.]*\)ms.*/\1/p' <<<"$line")"
    ok="$(awk -v r="$rps" -v p="$p95" -v R="$GOAL_RPS" -v P="$GOAL_P95_MS" 'BEGIN{print (r>=R && p<=P) ? "met" : "unmet"}')"
    total=$((total + 1)); [ "$ok" = met ] && met=$((met + 1))
    printf '%-32s %-8s %s goal %s\n' "${c%|*}" "$role" "$line" "$ok"
  done
done
echo "goal: >= $GOAL_RPS req/s with p95 <= $GOAL_P95_MS ms for cached tiles and layers: met in $met of $total runs"
echo -n "boundary layer /layers/ward      analyst  with Accept-Encoding: gzip: "
BENCH_KEY="$KEY" BENCH_ENCODING=gzip wrk -t2 -c"$CONN" -d"$DUR" -s benchmarks/wrk_report.lua "$BASE/layers/ward" | tail -1
for c in "${CACHED[@]}"; do
  for role in analyst public; do
    k=(); [ "$role" = analyst ] && k=(-H "X-API-Key: $KEY")
    plain="$(curl -sf "${k[@]}" "$BASE${c#*|}" | wc -c)"
    zipped="$(curl -sf "${k[@]}" -H 'Accept-Encoding: gzip' "$BASE${c#*|}" | wc -c)"
    enc="$(curl -sf -o /dev/null -D - "${k[@]}" -H 'Accept-Encoding: gzip' "$BASE${c#*|}" \
           | tr -d '\r' | sed -n 's/^content-encoding: //Ip')"
    printf '%-32s %-8s %7d bytes, with Accept-Encoding: gzip %7d bytes (%s)\n' "${c%|*}" "$role" \
      "$plain" "$zipped" "${enc:-not compressed}"
  done
done
for page in "/offences?limit=10000" "/offences?limit=10000&f=csv"; do  # one page, computed each time
  read -r plain tp < <(curl -sf -o /dev/null -w '%{size_download} %{time_total}\n' -H "X-API-Key: $KEY" "$BASE$page")
  read -r zipped tz < <(curl -sf -o /dev/null -w '%{size_download} %{time_total}\n' -H "X-API-Key: $KEY" \
                         -H 'Accept-Encoding: gzip' "$BASE$page")
  printf '%-32s %-8s %7d bytes in %.2f s, with Accept-Encoding: gzip %7d bytes in %.2f s (loopback)\n' \
    "$page" analyst "$plain" "$tp" "$zipped" "$tz"
done
if [ "${COMPUTED:-0}" = 1 ]; then
  echo -n "computed GeoJSON tile (lsoa z17, cache miss each time), analyst: "
  BENCH_KEY="$KEY" wrk -t2 -c"$CONN" -d"$DUR" -s benchmarks/wrk_computed.lua "$BASE" | tail -1
  echo -n "computed MVT tile     (lsoa z17, cache miss each time), analyst: "
  BENCH_KEY="$KEY" TILE_EXT=mvt wrk -t2 -c"$CONN" -d"$DUR" -s benchmarks/wrk_computed.lua "$BASE" | tail -1
fi
