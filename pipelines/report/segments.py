"""Per-segment thresholds in the report: the largest segments one by one, the rest grouped.

`segment_values` turns thresholds.json's `segments` (chosen on the calibration cohort, each
with its expected stage table and what-if grid) and metrics.json's `segments` (the test
cohort, when evaluate wrote them) into plain rows for `templates/segments.html.j2`; None when
the thresholds are not segmented, so the page is then exactly as without this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from models.stages import STAGE_ORDER
from models.thresholds import ALL_LEADS, MQL_OR_HIGHER

MAX_SEGMENTS_SHOWN = 6  # the largest segments (calibration rows) get their own tables
MAX_FALLBACKS_NAMED = 20  # the callout names this many fallback segments, then counts the rest
OTHER_SEGMENTS = "other segments"
STAGE_ROWS = [*reversed(STAGE_ORDER), MQL_OR_HIGHER]
# what-if rows: the proposed SQL threshold and the ones giving these multiples of its volume
WHAT_IF_FACTORS = (0.5, 0.75, 1.5, 2.0, 3.0)
ADDITIVE_STAGE_KEYS = (
    "leads",
    "conversions",
    "leads_per_week",
    "entering_per_week",
    "in_stage_per_scoring_day",
)


def _number(value: Any) -> float:
    """A finite float, or NaN (the template shows a dash)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _choice(entry: Mapping[str, Any] | None) -> dict[str, Any]:
    """One stage's threshold, the policy that chose it, its target and whether it was met."""
    entry = entry or {}
    return {
        "threshold": _number(entry.get("threshold")),
        "policy": str(entry.get("policy", "")),
        "target": _number(entry.get("target")),
        "feasible": bool(entry.get("feasible", True)),
        "message": str(entry.get("message") or ""),
        "precision": _number(entry.get("precision")),  # promised on the calibration cohort
    }


def _stage_rows(expected: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A segment's expected stage table (calibration cohort) in the page's stage order."""
    by_stage = {str(row.get("stage")): dict(row) for row in expected}
    return [{"stage": stage, **by_stage[stage]} for stage in STAGE_ROWS if stage in by_stage]


def _summed_stage_rows(groups: Sequence[Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Stage tables of several segments added up (counts and volumes; rates recomputed; no
    intervals, which do not add)."""
    frames = [pd.DataFrame(list(rows)) for rows in groups if rows]
    if not frames:
        return []
    stacked = pd.concat(frames, ignore_index=True)
    keys = [k for k in ADDITIVE_STAGE_KEYS if k in stacked.columns]
    summed = stacked.groupby("stage")[keys].sum(min_count=1)
    if "conversions" in summed and "leads" in summed:
        summed["precision"] = summed["conversions"] / summed["leads"].where(summed["leads"] > 0)
        if ALL_LEADS in summed.index:
            total = summed.loc[ALL_LEADS, "conversions"]
            summed["recall"] = summed["conversions"] / total if total > 0 else math.nan
    rows = summed.reset_index().to_dict(orient="records")
    return _stage_rows(rows)


def _what_if_rows(
    what_if: Sequence[Mapping[str, Any]], *, sql_threshold: float
) -> list[dict[str, Any]]:
    """A few rows of a segment's what-if grid: the proposed SQL threshold (marked) and the
    thresholds that would send about half, three quarters, 1.5, 2 or 3 times its volume."""
    if not what_if:
        return []
    frame = pd.DataFrame(list(what_if))
    proposed = int((frame["threshold"] - sql_threshold).abs().idxmin())
    volume = float(frame.loc[proposed, "leads_per_week"])
    picked = {proposed}
    for factor in WHAT_IF_FACTORS:
        picked.add(int((frame["leads_per_week"] - factor * volume).abs().idxmin()))
    rows = frame.loc[sorted(picked)].assign(proposed=lambda f: f.index == proposed)
    rows = rows.drop_duplicates(subset=["leads_per_week"]).sort_values("leads_per_week")
    return rows.to_dict(orient="records")


def _test_figures(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A segment's test-cohort figures (metrics.json), or None when evaluate has none."""
    if not values:
        return None
    sql, mql = values.get("sql") or {}, values.get("mql") or {}
    return {
        "rows": _number(values.get("test_rows")),
        "positives": _number(values.get("test_positives")),
        "sql_leads": _number(sql.get("in_stage")),
        "sql_precision": _number(sql.get("precision")),
        "sql_precision_low": _number(sql.get("precision_low")),
        "sql_precision_high": _number(sql.get("precision_high")),
        "mql_recall": _number(mql.get("recall")),
        "mql_precision": _number(mql.get("precision")),
        "mean_predicted": _number(values.get("mean_predicted")),  # absent before: NaN
    }


def _summed_test(figures: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Test-cohort figures of several segments together (rates weighted; no intervals)."""
    if not figures:
        return None
    frame = pd.DataFrame(list(figures)).fillna(0.0)
    sql_leads, positives = frame["sql_leads"].sum(), frame["positives"].sum()
    mql_leads = (frame["positives"] * frame["mql_recall"] / frame["mql_precision"]).where(
        frame["mql_precision"] > 0, 0.0
    )
    return {
        "rows": frame["rows"].sum(),
        "positives": positives,
        "sql_leads": sql_leads,
        "sql_precision": (frame["sql_leads"] * frame["sql_precision"]).sum() / sql_leads
        if sql_leads
        else math.nan,
        "sql_precision_low": math.nan,
        "sql_precision_high": math.nan,
        "mql_recall": (frame["positives"] * frame["mql_recall"]).sum() / positives
        if positives
        else math.nan,
        "mql_precision": (frame["positives"] * frame["mql_recall"]).sum() / mql_leads.sum()
        if mql_leads.sum()
        else math.nan,
        "mean_predicted": (frame["rows"] * frame["mean_predicted"]).sum() / frame["rows"].sum()
        if frame["rows"].sum()
        else math.nan,
    }


def _approved(approval: Mapping[str, Any] | None, value: str) -> dict[str, Any] | None:
    """Who approved this segment's thresholds and when, or None (still proposed)."""
    record = ((approval or {}).get("segments") or {}).get(value)
    if not record:
        return None
    return {
        "by": str(record.get("approved_by", "")),
        "at": str(record.get("approved_at", "")),
        "mql_threshold": _number(record.get("mql_threshold")),
        "sql_threshold": _number(record.get("sql_threshold")),
    }


def split_segments(
    thresholds: Mapping[str, Any], *, shown: int = MAX_SEGMENTS_SHOWN
) -> tuple[list[str], list[str]]:
    """(the `shown` largest segment values by calibration rows, the rest), largest first; ties
    keep the calibrate stage's order."""
    entries = thresholds.get("segments") or {}
    ordered = sorted(entries, key=lambda value: -int(entries[value].get("rows") or 0))
    return [str(v) for v in ordered[:shown]], [str(v) for v in ordered[shown:]]


def _segment(
    value: str,
    entry: Mapping[str, Any],
    *,
    test: Mapping[str, Any] | None,
    approval: Mapping[str, Any] | None,
    test_stages: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One segment's rows: size, thresholds with targets, fallback, stage table (calibration,
    and the test period's by stage when given), what-if."""
    sql = _choice(entry.get("sql"))
    return {
        "value": value,
        "rows": int(entry.get("rows") or 0),
        "positives": int(entry.get("positives") or 0),
        "fallback": bool(entry.get("fallback")),
        "reason": str(entry.get("reason") or ""),
        "overrides": dict(entry.get("overrides") or {}),
        "mql": _choice(entry.get("mql")),
        "sql": sql,
        "expected": list(entry.get("expected") or []),  # every row, "All leads" included
        "stages": _stage_rows(entry.get("expected") or []),
        "what_if": _what_if_rows(entry.get("what_if") or [], sql_threshold=sql["threshold"]),
        "test": _test_figures(test),
        "test_stages": dict(test_stages) if test_stages else None,
        "approved": _approved(approval, value),
    }


def _other_segments(segments: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The smaller segments as one group: sizes and stage tables added up, threshold ranges,
    how many fell back or miss their SQL target."""
    if not segments:
        return None
    tests = [s["test"] for s in segments if s["test"] is not None]

    def spread(stage: str) -> dict[str, float]:
        values = [s[stage]["threshold"] for s in segments if math.isfinite(s[stage]["threshold"])]
        return {"low": min(values, default=math.nan), "high": max(values, default=math.nan)}

    return {
        "count": len(segments),
        "names": [s["value"] for s in segments],
        "rows": sum(s["rows"] for s in segments),
        "positives": sum(s["positives"] for s in segments),
        "fallbacks": sum(s["fallback"] for s in segments),
        "infeasible": sum(not s["sql"]["feasible"] for s in segments),
        "mql": spread("mql"),
        "sql": spread("sql"),
        "stages": _summed_stage_rows([s["expected"] for s in segments]),
        "test": _summed_test(tests) if len(tests) == len(segments) else None,
    }


def segment_values(
    thresholds: Mapping[str, Any],
    *,
    metrics_segments: Mapping[str, Any] | None,
    approval: Mapping[str, Any] | None,
    test_stages: Mapping[str, Mapping[str, Any]] | None = None,
    shown: int = MAX_SEGMENTS_SHOWN,
) -> dict[str, Any] | None:
    """The segment section's values, largest segments (calibration rows) first; the segments
    beyond `shown` grouped as "other segments". None when the thresholds have no segments.

    `test_stages`: the test period's stage table per shown value and for OTHER_SEGMENTS (all
    their leads together), {stage: row}, when the evidence has each lead's segment.
    """
    entries = thresholds.get("segments") or {}
    if not entries:
        return None
    tests, by_stage = (metrics_segments or {}).get("values") or {}, test_stages or {}
    first, rest = split_segments(thresholds, shown=shown)
    segments = [
        _segment(
            value,
            entries[value],
            test=tests.get(value),
            approval=approval,
            test_stages=by_stage.get(value),
        )
        for value in [*first, *rest]
    ]
    fallbacks = [{"value": s["value"], "reason": s["reason"]} for s in segments if s["fallback"]]
    other = _other_segments(segments[shown:])
    if other is not None:
        other["test_stages"] = by_stage.get(OTHER_SEGMENTS)
    return {
        "column": str(thresholds.get("segment_column") or "segment"),
        "shown": segments[:shown],
        "other": other,
        "other_label": OTHER_SEGMENTS,
        "count": len(segments),
        "fallbacks": fallbacks[:MAX_FALLBACKS_NAMED],
        "fallbacks_unnamed": max(len(fallbacks) - MAX_FALLBACKS_NAMED, 0),
        "has_test": any(s["test"] is not None for s in segments),
        "has_approval": any(s["approved"] is not None for s in segments),
    }
