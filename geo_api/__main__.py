"""Command line: ``geo_api {serve,load-demo,ingest,stats,plan,evaluate,briefings,keys,audit,
openapi,build-boundaries,schema}``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from geo_api.analysis.defaults import DEFAULT_SEED
from geo_api.errors import GeoApiError, IngestRejected
from geo_api.settings import PROJECT_ROOT, Settings


def _settings(args) -> Settings:
    kw: dict[str, Any] = {}  # Settings(**kw): the environment still fills the rest
    if getattr(args, "store_dir", None):
        kw["store_dir"] = Path(args.store_dir)
    if getattr(args, "osm_file", None):
        kw["osm_file"] = Path(args.osm_file)
    if getattr(args, "npa_file", None):
        kw["npa_file"] = Path(args.npa_file)
        kw["npa_code_field"] = args.npa_code_field
        kw["npa_name_field"] = args.npa_name_field
    return Settings(**kw)


def _tally(name: str, rows_read: int, r) -> str:
    """One line of an ingest report: the five counts add up to the rows read."""
    return (f"{name}: read {rows_read:,} = inserted {r.inserted:,} + updated {r.updated:,} + "
            f"unchanged {r.unchanged:,} + quarantined {r.quarantined:,} + rejected {r.rejected:,}; "
            f"outcomes changed {r.outcomes_changed:,}; "
            f"crime ID also published in another month {r.crime_id_other_month:,}")


def _print_report(r) -> None:
    for f in r.files:
        print(_tally(f.file, f.rows_read, f))
    print(_tally(f"total ({len(r.files)} file{'s' * (len(r.files) != 1)}, {r.kind})", r.n_rows, r))
    print(f"no location {r.no_location:,}, warnings {r.n_warnings:,}; "
          f"dataset version {r.dataset_version}")
    for w in r.warnings[:5]:
        print(f"  warning: {w}")
    if r.n_warnings > 5:
        print(f"  ... {r.n_warnings - 5} more warnings")


def cmd_ingest(args) -> int:
    from geo_api.services.service import Service

    svc = Service(_settings(args))
    paths = [Path(p) for p in args.files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"error: no such file(s): {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        r = svc.ingest_paths(paths, kind=args.kind, on_error=args.on_error,
                             outside_area=args.outside_area)
    except GeoApiError as e:
        _audit(svc.settings, "ingest", params={"files": [str(p) for p in paths]},
               status="rejected", error=e.user_msg[:300])
        raise
    _audit(svc.settings, "ingest", params={"files": [str(p) for p in paths], "kind": r.kind},
           status="ok", rows=r.n_rows, dataset_version=r.dataset_version)
    _print_report(r)
    return 0


def cmd_batch(args) -> int:
    """National batch on Dask: files -> GeoParquet rows and monthly counts (no store)."""
    import time

    from geo_api.data import batch

    paths = [Path(p) for p in args.files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"error: no such file(s): {', '.join(missing)}", file=sys.stderr)
        return 2
    t = time.perf_counter()
    totals = batch.run(paths, _settings(args).boundaries_dir, Path(args.out),
                       scheduler=args.scheduler, n_workers=args.workers,
                       local=args.workers == 0 and not args.scheduler)
    dt = time.perf_counter() - t
    print(f"{totals.files} files, {totals.rows_read:,} rows read, {totals.rows:,} located rows "
          f"written, {totals.quarantined:,} bad rows left out, {len(totals.rejected)} files "
          f"rejected, in {dt:.1f} s ({totals.rows_read / dt:,.0f} rows/s)")
    for r in totals.rejected[:10]:
        print(f"  rejected: {r}")
    print(f"wrote {args.out}/area_counts.parquet, h3_counts.parquet and rows/force=*/month=*/")
    return 1 if totals.rejected else 0


def cmd_load_demo(args) -> int:
    from geo_api.services.service import Service

    svc = Service(_settings(args))
    files = svc.demo_files()
    if not files:
        print(f"error: no demo files under {svc.settings.demo_dir}", file=sys.stderr)
        return 2
    r = svc.ingest_paths(files)
    _audit(svc.settings, "load-demo", params={"files": len(files)}, status="ok",
           rows=r.n_rows, dataset_version=r.dataset_version)
    _print_report(r)
    example = svc.settings.demo_dir / "indicators" / "exclusions_SYNTHETIC.csv"
    if example.exists():  # invented partner data, so the partner overlay has something
        from geo_api.services.indicators import indicator_store, save_indicator

        if "exclusions-synthetic" not in {i["name"] for i in indicator_store(svc).list()}:
            save_indicator(svc, "exclusions-synthetic", example.read_bytes(), "demo", True,
                           source_org="none: SYNTHETIC example (data/demo/indicators)",
                           licence="none (invented data)",
                           measure="school exclusions (SYNTHETIC)", synthetic=True)
            print("loaded the SYNTHETIC example indicator exclusions-synthetic")
    return 0


def cmd_indicators_load(args) -> int:
    """Load a partner indicator CSV (owned by 'cli', like an admin's upload)."""
    from pathlib import Path

    from geo_api.errors import GeoApiError
    from geo_api.services.indicators import save_indicator
    from geo_api.services.service import Service

    svc = Service(_settings(args))
    try:
        info = save_indicator(svc, args.name, Path(args.file).read_bytes(), "cli", True,
                              source_org=args.source_org, licence=args.licence,
                              measure=args.measure, period=args.period,
                              synthetic=args.synthetic, suppress_below=args.suppress_below,
                              round_to=args.round_to, unknown_postcodes=args.unknown_postcodes)
    except GeoApiError as exc:
        print(f"error: {exc.user_msg}", file=sys.stderr)
        return 2
    _audit(svc.settings, "indicators load", params={"name": args.name}, status="ok",
           rows=info.n_areas)
    print(f"loaded {args.name}: {info.n_areas} {info.layer} areas"
          + "".join(f"\n  warning: {w}" for w in info.warnings))
    return 0


def cmd_stats(args) -> int:
    from geo_api.services.filters import build_filter
    from geo_api.services.service import Service

    svc = Service(_settings(args))
    flt = build_filter(args.datetime, args.group, args.crime_category or None)
    svc.check_filter(flt)
    table, meta = svc.area_stats(args.layer, flt)
    if args.json:
        from geo_api.services.frames import records

        print(json.dumps({"meta": meta, "areas": records(table)}, indent=2))
        return 0
    print(f"layer={args.layer} datetime={args.datetime} group={args.group} "
          f"dataset={meta['dataset_version']} in-layer={meta['n_in_layer']} "
          f"no-location={meta['n_no_location']} outside-layer={meta['n_outside_layer']}")
    cols = ["rank", "code", "name", "count", "share", "share_ci95_low", "share_ci95_high",
            "population", "rate_per_1000"]
    with_pct = table[cols].copy()
    for c in ("share", "share_ci95_low", "share_ci95_high"):
        with_pct[c] = (100 * with_pct[c]).round(2)
    with_pct["rate_per_1000"] = with_pct["rate_per_1000"].round(2)
    print(with_pct.head(args.top).to_string(index=False))
    for c in meta["caveats"]:
        print(f"caveat: {c}")
    return 0


def _plan_setup(args):
    from geo_api.services.filters import build_filter
    from geo_api.services.planning import default_demand_group
    from geo_api.services.service import Service

    svc = Service(_settings(args))
    flt = build_filter(args.datetime, args.group or default_demand_group(svc))
    svc.check_filter(flt)
    return svc, flt


def cmd_plan_kits(args) -> int:
    from geo_api.services import planning

    svc, flt = _plan_setup(args)
    common = {"radius_m": args.radius_m, "distance": args.distance,
              "half_life_months": args.half_life_months, "study_area": args.study_area}
    siting = {**common, "candidates": args.candidates, "existing": args.existing}
    answer: planning.KitCoverage | planning.KitsForTarget | planning.KitsCurve | planning.NextKits
    if args.coverage:
        answer = planning.kit_coverage(svc, flt, sites=args.coverage, **common)
    elif args.target_share is not None:
        answer = planning.how_many(svc, flt, target_share=args.target_share,
                                   time_limit_s=args.time_limit_s, **siting)
    elif args.curve:
        answer = planning.p_curve(svc, flt, max_p=args.curve, time_limit_s=args.time_limit_s,
                                  method="exact" if args.exact else "bounds", **siting)
    else:
        answer = planning.next_kits(svc, flt, p=args.p, time_limit_s=args.time_limit_s,
                                    **siting)
    if args.json:
        print(json.dumps(dataclasses.asdict(answer), indent=2, default=str))
        return 0
    meta = answer.meta
    print(f"{meta['analysis']}: {meta['demand_definition']}; radius {meta.get('radius_m')} m "
          f"({meta['distance']}); dataset {meta['dataset_version']}")
    if isinstance(answer, planning.NextKits | planning.KitsForTarget):
        summary = answer.summary
        print(f"covered: existing {summary.covered_share_existing:.1%} -> "
              f"{summary.covered_share:.1%} with {summary.n_new_sites} new sites (bound "
              f"{summary.covered_share_bound:.1%}, {summary.status})")
    if isinstance(answer, planning.KitsCurve):
        for row in answer.curve:
            print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
    if isinstance(answer, planning.KitCoverage):
        totals = answer.totals
        print(f"{totals.covered_share:.1%} of offences within reach; "
              f"{totals.n_hot_cells_uncovered} of {totals.n_hot_cells} hot cells out of reach")
    for row in [] if isinstance(answer, planning.KitsCurve) else answer.sites[:50]:
        print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
    for warning in meta["warnings"]:
        print(f"warning: {warning}")
    return 0


def cmd_plan_people_zones(args) -> int:
    from geo_api.services import planning

    svc, flt = _plan_setup(args)
    weights = dict(planning.DEFAULT_WEIGHTS)
    for item in args.weight or []:
        name, _, value = item.partition("=")
        try:
            weights[name] = float(value)
        except ValueError:
            raise GeoApiError(f"--weight {item!r}: expected name=number") from None
    zones = planning.people_zones(svc, flt, layer=args.layer, weights=weights,
                                  method=args.method, trend_months=args.trend_months,
                                  n_sim=args.n_sim, seed=args.seed, top_k=args.top_k)
    if args.json:
        print(json.dumps(dataclasses.asdict(zones), indent=2, default=str))
        return 0
    import pandas as pd

    t = pd.DataFrame(zones.areas)
    t["weights_pm50"] = (t["rank_best_weights_pm50"].astype(str) + "-"
                         + t["rank_worst_weights_pm50"].astype(str))
    t["poisson_90"] = t["rank_p05_poisson"].astype(str) + "-" + t["rank_p95_poisson"].astype(str)
    cols = ["rank", "name", "score", "weights_pm50", "poisson_90", "p_top_k", "offences",
            "violence_rate", "hot_spot_share", "trend", "imd_rank", "young_people"]
    print(f"People Zone ranking ({args.layer}s, weights {weights}); dataset "
          f"{zones.meta['dataset_version']}")
    print(t[cols].head(args.top).round(3).to_string(index=False))
    for w in zones.meta["warnings"]:
        print(f"note: {w}")
    return 0


def cmd_evaluate(args) -> int:
    import dataclasses

    from tqdm import tqdm

    from geo_api.analysis.forecast import METHODS
    from geo_api.services import forecast
    from geo_api.services.units import UnitSpec

    svc, flt = _plan_setup(args)
    spec = UnitSpec(grid=args.grid, study_area=args.study_area, resolution=args.resolution,
                    fishnet_cell_size_m=args.cell_size_m)
    methods = args.methods.split(",") if args.methods else list(METHODS)
    results = {}
    for horizon in args.horizon:
        with tqdm(desc=f"backtest, {horizon}-month horizon", unit="fold") as bar:
            def progress(done, total, bar=bar):
                bar.total = total
                bar.n = done
                bar.refresh()

            results[horizon] = forecast.evaluate(
                svc, flt, spec, methods, args.window,
                horizon, args.coverage, progress=progress)
    if args.json:
        print(json.dumps({horizon: dataclasses.asdict(evaluation)
                          for horizon, evaluation in results.items()}, indent=2, default=str))
        return 0
    import pandas as pd

    for horizon, evaluation in results.items():
        table = pd.DataFrame(evaluation.summary).set_index("method")
        paired = pd.DataFrame(evaluation.paired_vs_naive).set_index("method")
        table = table.join(paired[["wins", "losses", "mean_pai_difference", "ci95_low",
                                   "ci95_high"]])
        meta = evaluation.meta
        print(f"\n{horizon}-month horizon, {meta['window_months']}-month window, "
              f"{meta['n_folds']} folds, coverage {args.coverage:.0%}, "
              f"{meta['n_units']} units; dataset {meta['dataset_version']}")
        print(table.sort_values("mean_pai", ascending=False).round(3).to_string())
        print(evaluation.reading)
    return 0


def cmd_briefings(args) -> int:
    """Render the briefing pack of every policing area and ward into ``--out``."""
    from tqdm import tqdm

    from geo_api.services.briefings import build_briefing
    from geo_api.services.patches import all_patches
    from geo_api.services.service import Service
    from geo_api.web.maps.briefing_pdf import render_briefing_pdf

    svc = Service(_settings(args))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    patches = all_patches(svc)
    for patch in tqdm(patches, desc="briefings", unit="patch"):
        b = build_briefing(svc, patch, args.month, args.kits, role="command line")
        (out / b.filename).write_bytes(render_briefing_pdf(b, svc.boundaries))
    print(f"{len(patches)} briefings written to {out} (dataset {svc.store.dataset_version()})")
    return 0


def _audit(settings: Settings, action: str, **fields) -> None:
    """An audit entry for a command-line change (who: the operating-system user)."""
    import getpass

    from geo_api.data.audit import AuditLog

    AuditLog(settings.audit_path, settings.audit_max_bytes, settings.audit_backups).write(
        {"who": f"cli:{getpass.getuser()}", "role": "admin", "action": action, **fields})


def _sources(settings: Settings) -> set[str]:
    from geo_api.data.store.duckdb_store import DuckDBStore
    from geo_api.errors import StoreEmpty

    store = DuckDBStore(settings.store_dir)
    try:
        return set(store.sources())
    except StoreEmpty:
        return set()
    finally:
        store.close()


def _upgrade_store(settings) -> None:
    """A store of an older schema is migrated before it is served (not at its next ingest)."""
    from geo_api.services.service import Service

    svc = Service(settings)
    try:
        if svc.upgrade_store():
            print("geo_api: store migrated to the current schema (H3 cells and coordinates "
                  "derived again)", flush=True)
    finally:
        svc.close()


def cmd_serve(args) -> int:
    import uvicorn

    from geo_api.data.keys import KeyStore
    from geo_api.services.access import startup
    from geo_api.web.app import create_app

    settings = _settings(args)
    _upgrade_store(settings)
    decision = startup(settings, args.host, _sources(settings), KeyStore(settings.keys_path))
    for m in decision.messages:
        print(f"geo_api: {m}", flush=True)
    if decision.admin_key:
        _audit(settings, "key create", params={"role": "admin", "by": "serve"})
    _audit(settings, "serve", params={"host": args.host, "port": args.port,
                                      "anonymous_role": decision.settings.anonymous_role})
    print(f"geo_api: open http://{args.host}:{args.port}/ (maps) or /docs (API)", flush=True)
    uvicorn.run(create_app(decision.settings), host=args.host, port=args.port,
                log_level="info", proxy_headers=args.proxy_headers,
                forwarded_allow_ips=args.forwarded_allow_ips)
    return 0


def cmd_keys(args) -> int:
    from geo_api.data.keys import KeyStore

    settings = _settings(args)
    keys = KeyStore(settings.keys_path)
    if args.keys_command == "create":
        key, rec = keys.create(args.role, args.name)
        _audit(settings, "key create", params={"key_id": rec.key_id, "role": rec.role,
                                               "name": rec.name})
        print(f"key id {rec.key_id}, role {rec.role}: {key}")
        print("(shown once; only its hash is stored)")
    elif args.keys_command == "revoke":
        rec = keys.revoke(args.key_id)
        _audit(settings, "key revoke", params={"key_id": rec.key_id})
        print(f"revoked {rec.key_id} ({rec.role}, {rec.name}) at {rec.revoked}")
    else:
        for r in keys.list():
            print(f"{r.key_id}  {r.role:<8} {'revoked ' + r.revoked if r.revoked else 'active':<34}"
                  f" created {r.created}  {r.name}")
    return 0


def _audit_line(e: dict) -> str:
    params = "&".join(f"{k}={v}" for k, v in e["params"]) if isinstance(
        e.get("params"), list) else json.dumps(e.get("params") or "")
    rows = f"  rows={e['rows']}" if e.get("rows") is not None else ""
    flag = "  POINT-LEVEL" if e.get("point_level") else ""
    return (f"{e['time']}  {e.get('who', '?'):<22} {e.get('role') or '-':<8} "
            f"{e.get('status') or '-':>4}  {e['action']} {params}{rows}{flag}")


def cmd_audit(args) -> int:
    from geo_api.data.audit import AuditLog

    settings = _settings(args)
    log = AuditLog(settings.audit_path)
    n = 0
    for e in log.read(since=args.since, who=args.who,
                      point_level=True if args.point_level else None):
        print(json.dumps(e) if args.json else _audit_line(e))
        n += 1
    if not args.json:
        print(f"({n} entries)", file=sys.stderr)
    return 0


def openapi_yaml() -> str:
    import yaml

    from geo_api.web.app import create_app

    # libyaml's dumper when PyYAML has it: the same text as the pure-Python safe_dump, 3x faster
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(create_app(Settings()).openapi(), Dumper=dumper, sort_keys=False,
                     allow_unicode=True)


def cmd_openapi(args) -> int:
    text = openapi_yaml()
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}")
    return 0


def cmd_build_boundaries(args) -> int:
    from geo_api.data.boundaries import LAYER_META
    from geo_api.data.boundaries_build import build_layers, write_layers

    root = Path(args.boundaries_dir)
    layers = build_layers(root / "sources")
    write_layers(layers, root / "layers", LAYER_META)
    for name, g in layers.items():
        print(f"{name}: {len(g)} features")
    return 0


def cmd_schema(args) -> int:
    from geo_api.data.ingest.schema import ForceExportRow

    print(json.dumps(ForceExportRow.model_json_schema(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="geo_api", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def store_opts(sp):
        sp.add_argument("--store-dir", help="store directory (default var/store or GEO_API_STORE_DIR)")
        sp.add_argument("--npa-file", help="your own NPA polygons (GeoJSON/GeoPackage/shapefile)")
        sp.add_argument("--npa-code-field", default="code")
        sp.add_argument("--npa-name-field", default="name")

    sp = sub.add_parser("serve", help="serve the API")
    store_opts(sp)
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8000)
    sp.add_argument("--proxy-headers", action="store_true",
                    help="behind a reverse proxy: trust its X-Forwarded-For/-Proto")
    sp.add_argument("--forwarded-allow-ips", default="127.0.0.1",
                    help="addresses of the proxy whose forwarded headers are trusted")
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("keys", help="API keys: create, list, revoke")
    store_opts(sp)
    ks = sp.add_subparsers(dest="keys_command", required=True)
    kc = ks.add_parser("create", help="create a key (printed once)")
    kc.add_argument("--role", required=True, choices=["public", "partner", "analyst", "admin"])
    kc.add_argument("--name", required=True, help="whose key (a person or a system)")
    ks.add_parser("list", help="list keys (ids, roles, names; never the keys)")
    kr = ks.add_parser("revoke", help="revoke a key by id")
    kr.add_argument("key_id")
    sp.set_defaults(func=cmd_keys)

    sp = sub.add_parser("audit", help="read the audit log")
    store_opts(sp)
    sp.add_argument("--since", help="UTC date or time, e.g. 2026-12-01 or 2026-12-01T09:00")
    sp.add_argument("--who", help="key id, key:<id>, oidc:<subject>, anonymous or a role")
    sp.add_argument("--point-level", action="store_true", help="only point-level responses")
    sp.add_argument("--json", action="store_true", help="JSON lines")
    sp.set_defaults(func=cmd_audit)

    sp = sub.add_parser("load-demo", help="load the shipped police.uk demo data (idempotent)")
    store_opts(sp)
    sp.set_defaults(func=cmd_load_demo)

    sp = sub.add_parser("ingest", help="ingest police.uk or force-export CSV files (one snapshot)")
    store_opts(sp)
    sp.add_argument("files", nargs="+")
    sp.add_argument("--kind", default="auto", choices=["auto", "police_uk", "force_export"])
    sp.add_argument("--on-error", default="reject", choices=["reject", "quarantine"])
    sp.add_argument("--outside-area", default=None, choices=["keep", "reject"])
    sp.set_defaults(func=cmd_ingest)

    sp = sub.add_parser("batch", help="national batch on Dask: police.uk CSVs -> GeoParquet rows "
                                      "by force/month and monthly counts per area and H3 cell")
    store_opts(sp)
    sp.add_argument("files", nargs="+")
    sp.add_argument("--out", required=True, help="output directory")
    sp.add_argument("--scheduler", default=None, help="address of a running Dask scheduler "
                    "(tcp://host:8786); default: a local cluster")
    sp.add_argument("--workers", type=int, default=2, help="local cluster worker processes "
                    "(0: in this process, without Dask)")
    sp.set_defaults(func=cmd_batch)

    ind = sub.add_parser("indicators", help="partner indicators (counts by area)")
    ind_sub = ind.add_subparsers(dest="indicators_cmd", required=True)
    sp = ind_sub.add_parser("load", help="load (or replace) an indicator CSV")
    store_opts(sp)
    sp.add_argument("name")
    sp.add_argument("file")
    sp.add_argument("--source-org", required=True)
    sp.add_argument("--licence", required=True, help="licence or data-sharing agreement ref")
    sp.add_argument("--measure", required=True, help="what the count is, in words")
    sp.add_argument("--period", default=None)
    sp.add_argument("--synthetic", action="store_true")
    sp.add_argument("--suppress-below", type=int, default=8)
    sp.add_argument("--round-to", type=int, default=5)
    sp.add_argument("--unknown-postcodes", default="reject", choices=["reject", "by_sector"])
    sp.set_defaults(func=cmd_indicators_load)

    sp = sub.add_parser("stats", help="area statistics for a layer and filter")
    store_opts(sp)
    sp.add_argument("--layer", default="ward")
    sp.add_argument("--datetime", default=None, help="e.g. 2020-04/2020-06")
    sp.add_argument("--group", default="all")
    sp.add_argument("--crime-category", action="append")
    sp.add_argument("--top", type=int, default=25)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_stats)

    plan = sub.add_parser("plan", help="planning: kit coverage and siting, People Zones")
    plan_sub = plan.add_subparsers(dest="plan_command", required=True)

    def plan_opts(sp):
        store_opts(sp)
        sp.add_argument("--datetime", default=None, help="e.g. 2020-04/2020-09")
        sp.add_argument("--group", default=None, help="default: knife_enabled_serious_violence "
                        "with a force export loaded, else violence_robbery_weapons")
        sp.add_argument("--json", action="store_true")

    sp = plan_sub.add_parser("kits", help="where the next kits go (default), how many for a "
                                          "target (--target-share), the p-curve (--curve), "
                                          "or the coverage of a site set (--coverage SET)")
    plan_opts(sp)
    sp.add_argument("--p", type=int, default=5, help="new kits to place")
    sp.add_argument("--candidates", default="police_points",
                    help="police_points, postcodes, schools or an uploaded set")
    sp.add_argument("--existing", default=None, help="site set of existing kits (kept)")
    sp.add_argument("--radius-m", type=float, default=200.0)
    sp.add_argument("--distance", default="straight", choices=["straight", "walking"])
    sp.add_argument("--osm-file", help="OpenStreetMap extract for --distance walking")
    sp.add_argument("--half-life-months", type=float, default=None)
    sp.add_argument("--study-area", default="city", choices=["city", "force"])
    sp.add_argument("--time-limit-s", type=float, default=60.0)
    sp.add_argument("--target-share", type=float, default=None)
    sp.add_argument("--curve", type=int, default=None, metavar="MAX_P")
    sp.add_argument("--exact", action="store_true", help="--curve: solve each p exactly")
    sp.add_argument("--coverage", default=None, metavar="SET")
    sp.set_defaults(func=cmd_plan_kits)

    sp = plan_sub.add_parser("people-zones", help="rank areas for People Zone conversations")
    plan_opts(sp)
    sp.add_argument("--layer", default="ward", choices=["ward", "lsoa", "npa"])
    sp.add_argument("--weight", action="append", metavar="NAME=VALUE",
                    help="override a weight (violence_rate, hot_spot_share, trend, "
                         "deprivation, young_people); repeatable")
    sp.add_argument("--method", default="z", choices=["z", "rank_exp"])
    sp.add_argument("--trend-months", type=int, default=3)
    sp.add_argument("--n-sim", type=int, default=500)
    sp.add_argument("--seed", type=int, default=DEFAULT_SEED)
    sp.add_argument("--top-k", type=int, default=5)
    sp.add_argument("--top", type=int, default=21, help="rows to print")
    sp.set_defaults(func=cmd_plan_people_zones)

    sp = sub.add_parser("evaluate", help="backtest hot spot methods: which predicts next "
                                         "month best (PAI, PEI, RRI, hit rate)")
    plan_opts(sp)
    sp.add_argument("--grid", default="h3", choices=["h3", "fishnet", "npa", "ward", "sector",
                                                     "lsoa"])
    sp.add_argument("--study-area", default="city", choices=["city", "force"])
    sp.add_argument("--resolution", type=int, default=9)
    sp.add_argument("--cell-size-m", type=float, default=250)
    sp.add_argument("--methods", help="comma-separated; default all")
    sp.add_argument("--window", type=int, default=3, help="training window, months")
    sp.add_argument("--horizon", type=int, nargs="+", default=[1, 3], help="months ahead")
    sp.add_argument("--coverage", type=float, default=0.05, help="share of the area")
    sp.set_defaults(func=cmd_evaluate)

    sp = sub.add_parser("briefings", help="render the briefing pack (A4 PDF) of every "
                                          "policing area and ward")
    store_opts(sp)
    sp.add_argument("--month", default="latest", help="the briefings' last month: YYYY-MM "
                    "or latest")
    sp.add_argument("--out", required=True, help="directory for the PDFs")
    sp.add_argument("--kits", default=None, help="site set of the teams' kits (optional)")
    sp.add_argument("--osm-file", help="OpenStreetMap extract for street context")
    sp.set_defaults(func=cmd_briefings)

    sp = sub.add_parser("openapi", help="write the OpenAPI document as YAML")
    sp.add_argument("--output", default=str(PROJECT_ROOT / "openapi.yaml"))
    sp.set_defaults(func=cmd_openapi)

    sp = sub.add_parser("build-boundaries", help="re-derive boundaries/layers from boundaries/sources")
    sp.add_argument("--boundaries-dir", default=str(PROJECT_ROOT / "boundaries"))
    sp.set_defaults(func=cmd_build_boundaries)

    sp = sub.add_parser("schema", help="print the force-export JSON Schema")
    sp.set_defaults(func=cmd_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except IngestRejected as exc:
        report = getattr(exc, "report", None)  # the file's tally, when its rows were read
        if report is not None:
            print(_tally(report.file, report.rows_read, report), flush=True)
        print(f"error: {exc.source}: rejected, store unchanged. {len(exc.errors)} problem(s):",
              file=sys.stderr)
        for e in exc.errors[:50]:
            print(f"  {e}", file=sys.stderr)
        if len(exc.errors) > 50:
            print(f"  ... {len(exc.errors) - 50} more", file=sys.stderr)
        return 2
    except GeoApiError as exc:
        print(f"error: {exc.user_msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
