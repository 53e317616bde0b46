"""What the map pages show, computed from the service: hotspot layers for a filter, labels
in plain words, site layers and time-window counts. Aggregates only."""

from __future__ import annotations

import dataclasses
import datetime
from urllib.parse import urlencode

from geo_api.analysis.defaults import DEFAULT_GROUP
from geo_api.analysis.places import place_label
from geo_api.services import hotspots as hotspot_service
from geo_api.services.comparison import Centre, CentreShift, Shift
from geo_api.services.filters import filter_query
from geo_api.services.hotspots import Significance, time_profile
from geo_api.services.report import DisplacementFindings, ReportMapLayers
from geo_api.services.report_words import report_sentences
from geo_api.services.sites import sites_in
from geo_api.services.units import UnitSpec, analysis_units, streets_in_units, study_area_m
from geo_api.web.api.models import (
    AreaChange,
    AreaStat,
    DisplacementReport,
    GiCell,
    HotspotChangeCell,
    WdqResponse,
)
from geo_api.web.api.models.disclosure import spec_of
from geo_api.web.maps.hotspots import HotspotLayers

MAP_SIGNIFICANCE = Significance()  # the API defaults (permutations, seed, FDR)

TIME_WINDOWS = {"after-school": (15, 19, "after school, 15:00-19:00"),
                "evening": (19, 22, "evening, 19:00-22:00"),
                "night-time-economy": (22, 5, "night-time economy, 22:00-05:00")}


def window_count(svc, flt, start: int, end: int) -> tuple[int, int]:
    """(offences with a time in [start, end) hours, offences with a time) for ``flt``."""
    profile = time_profile(svc, flt)
    inside = (lambda h: start <= h < end) if start < end else (lambda h: h >= start or h < end)
    n_in = sum(sum(row) for h, row in enumerate(profile.hour_by_weekday.counts) if inside(h))
    return n_in, profile.meta["n_with_time"]


def query_without_hours(flt) -> str:
    """The filter's datetime and group as query parameters (for the window links; not
    escaped for HTML)."""
    parts = [("group", flt.group)] + [(k, v) for k, v in filter_query(flt) if k == "datetime"]
    return urlencode(parts)


def hotspot_layers(svc, flt, resolution: int, label: str | None = None):
    """One period's map layers (Gi* on H3, KDE cells, ward counts) for a filter; the label
    and provenance are text (the templates escape them)."""
    spec = UnitSpec(grid="h3", resolution=resolution)
    rows, meta = hotspot_service.gi(svc, flt, spec, MAP_SIGNIFICANCE)
    # hot and cold cells are named by their streets in the tooltips
    units = analysis_units(svc, spec)
    index = {c: i for i, c in enumerate(units.ids)}
    marked = [r for r in rows if r["label"].startswith(("hot", "cold")) and r["id"] in index]
    streets = streets_in_units(svc, flt, units, [index[r["id"]] for r in marked])
    named = {r["id"]: place_label(streets[index[r["id"]]]) for r in marked}
    rows = [{**r, "streets": named[r["id"]]} if r["id"] in named else r for r in rows]
    kde_url = "/hotspots/kde?" + urlencode(filter_query(flt) + [
        ("bandwidth_m", "300"), ("cell_size_m", "100"), ("kernel", "quartic"),
        ("study_area", "city"), ("f", "geojson"), ("min_share_of_max", "0.05")])
    counts, _ = svc.store.area_counts("ward", flt)
    npa_counts, _ = svc.store.area_counts("npa", flt)
    if label is None:
        label = f"{period_label(flt)}: {GROUP_WORDS.get(flt.group, flt.group)}"
        if flt.hours:
            label += f", {flt.hours[0]:02d}:00-{flt.hours[1]:02d}:00"
    provenance = (f"Gi* on H3 r{meta['resolution']}, {meta['permutations']} permutations, seed "
                  f"{meta['seed']}, {'FDR-controlled' if meta['fdr'] else 'no FDR'}; KDE "
                  f"quartic 300 m; dataset {meta['dataset_version']}")
    said = [w for w in meta["warnings"] if w.startswith("datetime:")]  # e.g. a part month
    if said:
        provenance += ". " + " ".join(said)
    return HotspotLayers(rows, kde_url, counts, npa_counts, label, provenance)


GROUP_WORDS = {"all": "all offences", DEFAULT_GROUP: "violence, robbery and weapons",
               "vrn_serious_violence": "serious violence (VRN)",
               "knife_enabled_serious_violence": "knife-enabled serious violence"}


def period_label(flt) -> str:
    """'Dec 2019–Feb 2020', 'Apr–Jun 2020' or 'Sep 2020' for whole months, else inclusive
    dates (or times) with the months whose police.uk records are counted (``MONTH_RULE``);
    'all months' if open."""
    if flt.start is None or flt.end is None:
        return "all months"
    last = flt.end - datetime.timedelta(days=1)
    if flt.start.day == 1 and flt.end.day == 1 and flt.end.time() == datetime.time(0):
        return months_words(flt.start, last)
    if flt.start.time() == flt.end.time() == datetime.time(0):
        a, b = f"{flt.start:%d %b %Y}", f"{last:%d %b %Y}"
    else:
        stop = flt.end - datetime.timedelta(microseconds=1)
        a, b = f"{flt.start:%d %b %Y %H:%M}", f"{stop:%d %b %Y %H:%M}"
    first, stop = flt.month_span()
    months = (months_words(first, stop - datetime.timedelta(days=1)) if first < stop
              else "no month")
    return f"{a if a == b else f'{a}–{b}'} (police.uk months counted: {months})"


def months_words(a, b) -> str:
    """The months from ``a`` to ``b`` (dates) in words: 'Jul–Sep 2020', 'Dec 2019–Feb 2020',
    'Sep 2020'."""
    if (a.year, a.month) == (b.year, b.month):
        return f"{a:%b %Y}"
    return f"{a:%b}–{b:%b %Y}" if a.year == b.year else f"{a:%b %Y}–{b:%b %Y}"


def site_layers(svc, names: list[str] | None) -> list[tuple[str, object, bool]]:
    """(layer name, sites, shown) for the schools (or configured sites file) and each named
    uploaded candidate-site set (shown by default, since the user asked for it). Layer
    names are text."""
    out = [("Schools" if svc.settings.sites_file.name.startswith("gias") else "Sites",
            sites_in(svc.settings.sites_file, study_area_m(svc, "city")), False)]
    return out + [(f"Candidate sites: {n}", svc.site_sets.load(n), True)
                  for n in dict.fromkeys(names or [])]


# the maps' tables are the API's: protected by the same models' declarations
GI_ROWS = {"items": spec_of(GiCell)}
AREA_ROW = spec_of(AreaStat)
AREA_CHANGE_ROW = spec_of(AreaChange)
HOT_CHANGE_ROWS = {"items": spec_of(HotspotChangeCell)}
WDQ = spec_of(WdqResponse)
REPORT = spec_of(DisplacementReport)


def protected_layers(layers: HotspotLayers, policy) -> HotspotLayers:
    """The layers as the public role may see them (``policy``: the disclosure policy, or
    None for other roles); suppressed counts are shown as "<k"."""
    if policy is None:
        return layers
    return dataclasses.replace(
        layers, gi_rows=shown(policy, policy.protect(layers.gi_rows, spec=GI_ROWS),
                              ("count",)),
        ward_counts=shown_frame(policy, layers.ward_counts, ("count",), AREA_ROW),
        npa_counts=shown_frame(policy, layers.npa_counts, ("count",), AREA_ROW),
        provenance=layers.provenance + f"; {policy.label}")


def shown(policy, rows: list[dict], cols) -> list[dict]:
    return [{**r, **{c: f"<{policy.k}" for c in cols if c in r and r[c] is None}}
            for r in rows]


def shown_frame(policy, df, cols, item: dict | None = None):
    out = policy.protect_frame(df, item)
    for c in cols:
        if c in out:
            out[c] = [f"<{policy.k}" if v is None else v for v in out[c]]
    return out


def protected_report(layers: ReportMapLayers, policy) -> ReportMapLayers:
    """The report map's tables as the public role may see them."""
    if policy is None:
        return layers
    hot = layers.hotspots
    return dataclasses.replace(
        layers, npa_table=shown_frame(policy, layers.npa_table, ("before", "after"),
                                      AREA_CHANGE_ROW),
        ward_table=shown_frame(policy, layers.ward_table, ("before", "after"), AREA_CHANGE_ROW),
        hotspots=dataclasses.replace(hot, cells=shown(
            policy, policy.protect(list(hot.cells), spec=HOT_CHANGE_ROWS),
            ("count_before", "count_after"))),
        centres=protected_centres(layers.centres, policy),
        wdq=policy.protect(layers.wdq, spec=WDQ))


def protected_words(findings: DisplacementFindings, policy) -> DisplacementFindings:
    """The report with its words said from the numbers the caller is shown (``policy``:
    the disclosure policy, or None): the JSON answer's numbers are protected on their way
    out, its sentences are text the policy cannot see into, so they are made again here
    from the protected answer."""
    if policy is None:
        return findings
    seen = policy.protect(dataclasses.asdict(findings), spec=REPORT)
    return dataclasses.replace(findings, summary_words=report_sentences(
        seen["npa_change"], seen["wdq_centre_to_east_west"], findings.meta["alpha"],
        findings.meta["fdr"]))


def protected_centres(centres: CentreShift, policy) -> CentreShift:
    """Both centres and the shift as the public role may see them (``Policy.protect`` of
    the answer as JSON: centres on a coarse grid, the shift computed from them)."""
    seen = policy.protect(dataclasses.asdict(centres))
    return CentreShift(meta=seen["meta"], before=Centre(**seen["before"]),
                       after=Centre(**seen["after"]), shift=Shift(**seen["shift"]))
