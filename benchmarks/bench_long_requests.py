"""Long requests on a 36-month store: answered within the time cap or refused at once, and the
landing page's maps ready after start (run: python benchmarks/bench_long_requests.py).

The store: the 10 shipped police.uk months (real) plus 26 later months made by RE-DATING
copies of them (SYNTHETIC: 2020-10 .. 2022-11, Crime IDs prefixed "syn"), about 298,000
rows - the size of the store issue 29 was measured on. The server is `geo_api serve` in a
child process with its defaults (time cap 10 s, background warm-up on).

Printed, in one run:
1. the time from start until the warm-up has built every landing-page map;
2. the first request of each landing-page link after that, as the anonymous caller
   (loopback: analyst) and as a partner key (a role the warm-up did not build pages for);
3. the requests of issue 29's table, first request each (status, seconds, answer size).
Goal (issue 29): every request answers within 10 s or is refused within 1 s (422); every
landing link's first request after start within 3 s; people zones and the partner map
within 2 s with defaults.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _timing import free_port

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "demo" / "police_uk"
G = "group=violence_robbery_weapons"
ISSUE_TABLE = [  # (role, path) as issue 29 measured them
    ("partner", "/plan/kits/how-many?study_area=force&radius_m=1000&target_share=1"),
    ("partner", ("/plan/kits/how-many?study_area=force&radius_m=1000&target_share=1"
                 "&time_limit_s=60")),
    ("partner", f"/evaluate/hotspots?{G}&study_area=force"),
    ("partner", f"/evaluate/hotspots?{G}&study_area=force&resolution=10"),
    ("partner", f"/evaluate/hotspots?{G}&study_area=force&grid=lsoa"),
    ("partner", "/plan/kits/p-curve?max_p=20&method=exact"),
    ("partner", "/plan/people-zones"),
    ("partner", "/plan/people-zones?layer=lsoa&n_sim=2000&method=rank_exp&trend_months=12"),
]


def later_months(n: int = 26) -> list[str]:
    return [f"{y}-{m:02d}" for y in range(2020, 2024) for m in range(1, 13)
            if f"{y}-{m:02d}" > "2020-09"][:n]


def write_redated_months(out: Path) -> list[Path]:
    """SYNTHETIC later months: the shipped months in turn, re-dated (see the docstring)."""
    sources = sorted(DEMO.glob("*.csv"))
    files = []
    for i, month in enumerate(later_months()):
        path = out / f"{month}-leicestershire-street-SYNTHETIC.csv"
        with sources[i % len(sources)].open(newline="") as f, path.open("w", newline="") as g:
            rows, writer = csv.reader(f), csv.writer(g)
            head = next(rows)
            writer.writerow(head)
            m_col, id_col = head.index("Month"), head.index("Crime ID")
            for row in rows:
                row[m_col] = month
                if row[id_col]:
                    row[id_col] = f"syn{month}{row[id_col][9:]}"
                writer.writerow(row)
        files.append(path)
    return files


def geo_api(*args: str, env: dict) -> str:
    return subprocess.run([sys.executable, "-m", "geo_api", *args], env=env, check=True,
                          capture_output=True, text=True).stdout


def timed_get(client: httpx.Client, path: str, key: str | None) -> tuple[int, float, int]:
    t0 = time.perf_counter()
    r = client.get(path, headers={"X-API-Key": key} if key else {})
    return r.status_code, time.perf_counter() - t0, len(r.content)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", type=Path, help="keep the store here (re-used if present)")
    ap.add_argument("--no-warm-up", action="store_true",
                    help="do not wait for the warm-up (code from before it existed: run with "
                         "PYTHONPATH=<a checkout of that code>)")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_long_"))
    env = {**os.environ, "GEO_API_STORE_DIR": str(work / "store"),
           "GEO_API_AUDIT_DIR": str(work / "audit"), "GEO_API_KEYS_FILE": str(work / "k.json")}
    for name in ("GEO_API_REQUEST_TIMEOUT_S", "GEO_API_WARM_UP"):
        env.pop(name, None)  # the defaults are what is measured
    if not (work / "store" / "CURRENT").exists():
        (work / "csv").mkdir(parents=True, exist_ok=True)
        geo_api("load-demo", env=env)
        geo_api("ingest", *map(str, write_redated_months(work / "csv")), env=env)
    partner = geo_api("keys", "create", "--role", "partner", "--name", "bench",
                      env=env).split(": ", 1)[1].split()[0]
    port = free_port()
    t_start, started_at = time.perf_counter(), datetime.datetime.now(datetime.UTC)
    server = subprocess.Popen([sys.executable, "-m", "geo_api", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=120) as c:
            while True:
                try:
                    health = c.get("/health").json()
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            links = list(dict.fromkeys(
                a.split('"')[0].replace("&amp;", "&") for a in
                c.get("/").text.split('href="')[1:] if a.startswith(("/maps/", "/compare/"))))
            warmed = (float("nan") if args.no_warm_up else
                      _wait_for_warm_up(work / "audit" / "audit.jsonl", links, t_start,
                                        started_at))
            print(f"store: {health['n_offences']:,} offences, {health['first_month']} to "
                  f"{health['last_month']} (26 months SYNTHETIC, re-dated copies)")
            print(f"warm-up: every landing map built {warmed:.1f} s after the server process "
                  "started\n")
            print("| request | role | status | seconds | bytes |\n|---|---|---|---|---|")
            for role, key in (("anonymous (analyst)", None), ("partner", partner)):
                for path in links:
                    status, secs, size = timed_get(c, path, key)
                    print(f"| landing: `{path}` | {role} | {status} | {secs:.2f} | {size:,} |")
            for role, path in ISSUE_TABLE:
                status, secs, size = timed_get(c, path, partner)
                print(f"| `{path}` | {role} | {status} | {secs:.2f} | {size:,} |")
        print("\ngoal: <= 10 s or a 422 within 1 s; landing links <= 3 s; people zones and "
              "the partner map <= 2 s with defaults")
    finally:
        server.terminate()
        server.wait()


def _wait_for_warm_up(audit: Path, links: list[str], t0: float,
                      started_at: datetime.datetime, limit_s: float = 600) -> float:
    """Seconds from ``t0`` until the audit log shows a warm-up request of every link path
    made by this server (entries from ``started_at`` on)."""
    paths = {u.split("?")[0] for u in links}
    while time.perf_counter() - t0 < limit_s:
        done = set()
        if audit.exists():
            for line in audit.read_text().splitlines():
                entry = json.loads(line)
                if (entry.get("client") == "warm-up"
                        and datetime.datetime.fromisoformat(entry["time"]) >= started_at):
                    done.add(entry["action"].split(" ", 1)[1])
        if paths <= done:
            return time.perf_counter() - t0
        time.sleep(0.5)
    return float("nan")


if __name__ == "__main__":
    main()
