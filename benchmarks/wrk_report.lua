-- Prints p50/p95/p99 latency and req/s in one line. BENCH_KEY: sent as X-API-Key;
-- BENCH_ENCODING: sent as Accept-Encoding.
local key, enc = os.getenv("BENCH_KEY"), os.getenv("BENCH_ENCODING")
headers = {}
if key and key ~= "" then wrk.headers["X-API-Key"] = key; headers["X-API-Key"] = key end
if enc and enc ~= "" then
  wrk.headers["Accept-Encoding"] = enc; headers["Accept-Encoding"] = enc
end
done = function(summary, latency, requests)
  io.write(string.format("p50=%.2fms p95=%.2fms p99=%.2fms req/s=%.0f errors=%d\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.requests / (summary.duration / 1e6),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
