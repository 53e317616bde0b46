"""The lockdown question answered in words: each NPA's share change with its certainty, and
the WDQ reading with its caveat, built from the comparison's own answer (pure: rows and the
WDQ answer in, sentences out; no numbers the answer does not hold).

Certainty words (one rule for every role and page, ``CERTAINTY_RULE``): an area's change is
"clear" when the comparison's own verdict (``direction``: the exact test at the answer's
``alpha``, Benjamini-Hochberg across the areas when ``fdr``) says it rose or fell beyond the
city-wide change; otherwise it is "too close to call" (or "did not change" when the two
shares round to the same whole percentage). The verdict, not the 95% interval of the share
change, decides because it is what the public role is shown too (the interval is withheld
under disclosure control) and it allows for looking at several areas at once.

Disclosure: a row whose count is withheld (``before``/``after`` None or "<5") is said
as "withheld (few offences)" with no verdict; a row whose shares are withheld (None, the
public view) keeps its verdict but no percentages; a withheld WDQ is not quoted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

RISE, FALL = "rose relative to overall", "fell relative to overall"

CERTAINTY_RULE = (
    "\"Clear\" means the change is bigger than chance would explain at {level} confidence, "
    "after allowing for the change across the whole city{fdr}; \"too close to call\" means "
    "it could be chance. A share is the area's part of all the city's offences in the "
    "period.")
WDQ_MEANING = (
    "The WDQ (weighted displacement quotient) compares the areas around with a comparison "
    "area: below 0 means violence may have moved out to the areas around; above 0 means "
    "they improved too (the fall spread rather than moved).")
WDQ_CAVEAT = (
    "These figures say where things changed, not why: they cannot prove that violence "
    "moved, or what made it change. Anything that changed between the periods could be the "
    "cause - the 2020 lockdown, for example, changed everything at once (shops, schools "
    "and night life closed, people at home).")


def npa_name(code: object, name: object = None) -> str:
    """The name people see for a neighbourhood policing area (NPA): 'Central (NC)', the
    name with the code the API and the strategy use; the code alone when there is no
    name, the name alone when it is the code."""
    code_s = "" if code is None else str(code)
    name_s = "" if _missing(name) else str(name)
    if not name_s or name_s == code_s:
        return code_s
    return f"{name_s} ({code_s})" if code_s else name_s


def _missing(v: object) -> bool:
    return v is None or isinstance(v, float) and math.isnan(v)


def _withheld(count: object) -> bool:
    """A count not published: None, or the "<5" the map pages show for a suppressed one."""
    return _missing(count) or isinstance(count, str)


def _pcts(before: float, after: float) -> tuple[str, str]:
    """The two shares as percentages: whole numbers, or one decimal where whole numbers
    would make two different shares look equal."""
    a, b = f"{100 * before:.0f}%", f"{100 * after:.0f}%"
    if a == b and round(100 * before, 1) != round(100 * after, 1):
        a, b = f"{100 * before:.1f}%", f"{100 * after:.1f}%"
    return a, b


def share_sentence(row: Mapping[str, Any]) -> str:
    """One area's change in words with its certainty, e.g. "Central (NC)'s share fell from
    23% to 14% (a clear fall)." ``row``: a ``compare_areas`` row (``code``, ``name``,
    ``before``, ``after``, ``share_before``, ``share_after``, ``direction``), as published
    (None where withheld)."""
    who = npa_name(row.get("code"), row.get("name"))
    if _withheld(row.get("before")) or _withheld(row.get("after")):
        return f"{who}: withheld (few offences)."
    direction = row.get("direction")
    has_shares = not (_missing(row.get("share_before")) or _missing(row.get("share_after")))
    if has_shares:
        a, b = _pcts(float(row["share_before"]), float(row["share_after"]))
    if direction in (RISE, FALL):
        verb, noun = ("rose", "rise") if direction == RISE else ("fell", "fall")
        numbers = f" from {a} to {b}" if has_shares else ""
        return f"{who}'s share {verb}{numbers} (a clear {noun})."
    if not has_shares:
        return f"{who}'s share did not clearly change (too close to call)."
    a, b = (f"{100 * float(row[k]):.0f}%" for k in ("share_before", "share_after"))
    if a == b:
        return f"{who}'s share did not change ({a})."
    return f"{who}'s share went from {a} to {b}: too close to call."


def _ordered(rows: Sequence[Mapping[str, Any]], first: Iterable[str]) -> list:
    """The rows with the codes in ``first`` first (in that order), the others after."""
    order = {code: i for i, code in enumerate(first)}
    return sorted(rows, key=lambda r: (order.get(r.get("code"), len(order)), str(r.get("code"))))


def _names(codes: Sequence[str], by_code: Mapping[str, str]) -> str:
    """'East (NE) and West (NW)'."""
    names = [by_code.get(c, npa_name(c)) for c in codes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _wdq_number(wdq: Any) -> str:
    return "" if _missing(wdq) else f" (WDQ {wdq:+.2f})".replace("-", "−")


def wdq_sentences(wdq: Mapping[str, Any], by_code: Mapping[str, str]) -> list[str]:
    """The WDQ reading in plain words (``wdq``: a ``Displacement`` as a dict, as
    published; ``by_code``: code -> display name): the answer, a warning when the
    comparison area itself changed, what the WDQ means (``WDQ_MEANING``) and the caveat
    (``WDQ_CAVEAT``)."""
    areas = wdq["areas"]
    target, around = _names(areas["target"], by_code), _names(areas["displacement"], by_code)
    control = _names(areas["control"], by_code)
    number = _wdq_number(wdq.get("wdq"))
    fell = f"{target} fell against {control}, the comparison area"
    if len(areas["displacement"]) > 1:  # their change is measured together
        around_q, around = around, f"{around} together"
    else:
        around_q = around
    answers = {
        "target_not_measurable": (f"Did violence move from {target} to {around_q}? Cannot "
                                  f"tell: {target} did not change clearly against {control}, "
                                  "the comparison area, so there was no fall to move."),
        "target_worse": (f"Did violence move from {target} to {around_q}? No: {target} got "
                         f"worse against {control}, the comparison area, so there was no "
                         "fall to move."),
        "displacement_not_measurable": (f"Did violence move from {target} to {around_q}? No "
                                        f"sign of it: {fell}, and {around} did not change "
                                        f"clearly against it{number}."),
        "wdq_below_minus_1": (f"Did violence move from {target} to {around_q}? Possibly: "
                              f"{fell}, and {around} rose against it by more than {target} "
                              f"fell{number}."),
        "wdq_negative": (f"Did violence move from {target} to {around_q}? Possibly in part: "
                         f"{fell}, and {around} rose against it{number}: part of the fall "
                         "may have moved there."),
        "wdq_above_1": (f"Did violence move from {target} to {around_q}? No sign of it: "
                        f"{fell}, and {around} fell against it by even more{number}: the "
                        "fall spread rather than moved."),
        "wdq_positive": (f"Did violence move from {target} to {around_q}? No sign of it: "
                         f"{fell}, and {around} fell against it too{number}: the fall "
                         "spread rather than moved."),
        "otherwise": (f"Did violence move from {target} to {around_q}? No sign of it: {fell}, "
                      f"and {around} changed like it{number}."),
    }
    out = [answers.get(str(wdq.get("reading_rule")), answers["otherwise"])]
    stable = (wdq.get("tests") or {}).get("control_vs_city") or {}
    if stable.get("significant"):
        ratio = stable.get("ratio")
        how = "changed" if ratio is None or _missing(ratio) else (
            "rose" if ratio > 1 else "fell")
        out.append(f"Take this with care: {control}'s own share {how} against the whole "
                   "city, so comparisons with it partly show its own change.")
    return out + [WDQ_MEANING, WDQ_CAVEAT]


def area_sentences(rows: Sequence[Mapping[str, Any]], first: Iterable[str] = ()) -> list[str]:
    """One sentence per area (the codes in ``first`` first), and a note when the public
    view withholds the percentages. ``rows`` as published to the caller."""
    out = [share_sentence(r) for r in _ordered(rows, first)]
    if any(_missing(r.get("share_before")) and not _withheld(r.get("before")) for r in rows):
        out.append("The percentages are not shown on the public view.")
    return out


def certainty_sentence(alpha: float, fdr: bool, n_areas: int) -> str:
    """What "clear" and "too close to call" mean at ``alpha`` (``CERTAINTY_RULE``)."""
    level = f"{round(100 * (1 - alpha), 1):g}%"
    return CERTAINTY_RULE.format(
        level=level, fdr=f" and for looking at {n_areas} areas at once" if fdr else "")


def wdq_order(wdq: Mapping[str, Any] | None) -> list[str]:
    """The WDQ's target, displacement and control codes, in that order."""
    if wdq is None:
        return []
    a = wdq["areas"]
    return [*a["target"], *a["displacement"], *a["control"]]


def report_sentences(rows: Sequence[Mapping[str, Any]], wdq: Mapping[str, Any] | None,
                     alpha: float = 0.05, fdr: bool = True) -> list[str]:
    """The lockdown answer in words: one sentence per area (the WDQ's target, displacement
    and control areas first), the certainty rule, then the WDQ reading (``wdq`` None: none).
    ``rows`` and ``wdq`` as published to the caller (disclosure applied)."""
    out = area_sentences(rows, wdq_order(wdq)) + [certainty_sentence(alpha, fdr, len(rows))]
    if wdq is not None:
        out += wdq_sentences(wdq, {str(r.get("code")): npa_name(r.get("code"), r.get("name"))
                                   for r in rows})
    return out


__all__ = ["CERTAINTY_RULE", "WDQ_CAVEAT", "WDQ_MEANING", "area_sentences",
           "certainty_sentence", "npa_name", "report_sentences", "share_sentence",
           "wdq_order", "wdq_sentences"]
