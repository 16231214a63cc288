"""The monitor's figures: past scores joined with the conversions and decisions known since."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from models.monitoring import (
    converted_in_window,
    feedback_figures,
    points_figures,
    promised_precision,
    score_quality,
    stage_figures,
)
from pipelines.errors import InputError
from pipelines.monitor.inputs import SEGMENT
from pipelines.monitor.model_info import ScoringModel

logger = logging.getLogger(__name__)

APPROVED = "approved"  # (pipelines.thresholds.approvals.APPROVED, without importing MLflow)
NO_SEGMENT = "(missing)"  # leads without a segment value, named as the scoring summary does


def model_version_of(scores: pd.DataFrame) -> str:
    """The one model version that scored the file."""
    versions = scores["model_version"].dropna().unique()
    if len(versions) != 1:
        raise InputError(
            f"the scores come from {len(versions)} model versions"
            f" ({', '.join(map(str, versions))}); monitor one scoring run at a time"
        )
    return str(versions[0])


def thresholds_status(scores: pd.DataFrame) -> str | None:
    """'approved' or 'proposed': what the scoring run used (None for older outputs)."""
    if "thresholds_status" not in scores:
        return None
    statuses = scores["thresholds_status"].dropna().astype("str").unique()
    return str(statuses[0]) if len(statuses) == 1 else None


def segment_promise(model: ScoringModel, value: str, *, status: str | None) -> dict[str, Any]:
    """What a segment's thresholds promised: its entry of the model's thresholds, with the
    segment's own approval when its leads were scored with approved thresholds. Nothing for a
    segment the calibration cohort did not hold, nor for a fallback segment scored with
    edited global thresholds (its figures are those of the proposed global thresholds)."""
    entry = (model.thresholds.get("segments") or {}).get(value) if model.found else None
    if not entry or not (entry.get("rows") or entry.get("expected")):
        return {}
    approval = model.approval or {}
    own = (approval.get("segments") or {}).get(value)
    if status != APPROVED:
        return promised_precision(entry, None)
    if own is None and entry.get("fallback") and approval.get("edited"):
        return {}
    return promised_precision(entry, own)


def segment_figures(
    *,
    scores: pd.DataFrame,
    converted: np.ndarray,
    model: ScoringModel,
    complete: bool,
) -> dict[str, dict[str, Any]]:
    """Per segment value (largest first, leads without one last): the stage figures of its
    leads against what its thresholds promised."""
    values = scores[SEGMENT].astype("string").fillna(NO_SEGMENT)
    counts = values.value_counts(sort=True)
    order = sorted(counts.index, key=lambda v: (v == NO_SEGMENT, -counts[v], v))
    segments = model.thresholds.get("segments") or {}
    out: dict[str, dict[str, Any]] = {}
    for value in order:
        rows = (values == value).to_numpy(dtype=bool)
        status = thresholds_status(scores[rows])
        entry = segments.get(value) or {}
        out[str(value)] = {
            "leads": int(rows.sum()),
            "converted": int(converted[rows].sum()),
            "thresholds_status": status,
            "fallback": entry.get("fallback"),
            "stages": stage_figures(
                stage=scores["stage"].to_numpy()[rows],
                converted=converted[rows],
                probability=scores["probability"].to_numpy(dtype=float)[rows],
                promised=segment_promise(model, str(value), status=status),
                complete=complete,
            ),
        }
    return out


def window_of(scores: pd.DataFrame, *, horizon_days: float, as_of: pd.Timestamp) -> dict[str, Any]:
    """The conversion window (start, end) and how much of it the as-of moment has seen."""
    start, end = scores["start"].min(), scores["start"].max() + pd.Timedelta(days=horizon_days)
    seen = (min(as_of, end) - start) / pd.Timedelta(days=1)
    return {
        "scored_at": scores["scored_at"].max().isoformat(),
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "as_of": as_of.isoformat(),
        "horizon_days": horizon_days,
        "days_observed": max(0.0, float(seen)),
        "horizon_complete": bool(as_of >= end),
    }


def build_monitor(
    *,
    scores: pd.DataFrame,
    start_from: str,
    outcomes: pd.DataFrame,
    feedback: pd.DataFrame | None,
    model: ScoringModel,
    as_of: pd.Timestamp,
) -> dict[str, Any]:
    """monitor.json: per-stage realised rates vs promises, model vs points, sales feedback."""
    window = window_of(scores, horizon_days=model.horizon_days, as_of=as_of)
    complete = window["horizon_complete"]
    converted = converted_in_window(
        lead_id=scores["lead_id"],
        start=scores["start"],
        horizon_days=model.horizon_days,
        known_until=as_of,
        outcomes=outcomes,
    )
    status = thresholds_status(scores)
    promised = (
        promised_precision(model.thresholds, model.approval if status == APPROVED else None)
        if model.found
        else {}
    )
    probability = scores["probability"].to_numpy(dtype=float)
    age = scores["lead_age_days"].to_numpy(dtype=float) if "lead_age_days" in scores else None
    if age is not None and np.isnan(age).any():
        age = None  # an incomplete age column would drop leads from the bands silently
    result: dict[str, Any] = {
        **window,
        "window_start_from": start_from,
        "model": {
            "name": model.name,
            "version": model.version,
            "horizon_from": model.horizon_from,
            "in_store": model.found,
        },
        "thresholds_status": status,
        "leads": len(scores),
        "converted": int(converted.sum()),
        "stages": stage_figures(
            stage=scores["stage"].to_numpy(),
            converted=converted,
            probability=probability,
            promised=promised,
            complete=complete,
        ),
        "points": points_figures(rule_stage=scores["rule_stage"].to_numpy(), converted=converted),
        "quality": score_quality(
            converted=converted,
            probability=probability,
            rule_score=scores["rule_score"].to_numpy(dtype=float),
            age_days=age,
        ),
        "estimate_note": None
        if complete
        else "horizon not complete: converted so far; 'estimate' is the mean calibrated"
        " probability of the stage's leads (label-free)",
        "feedback": None,
        "outcomes_until": None if outcomes.empty else outcomes["converted_at"].max().isoformat(),
    }
    if SEGMENT in scores:
        result["segment_column"] = model.thresholds.get("segment_column")
        result["segments"] = segment_figures(
            scores=scores, converted=converted, model=model, complete=complete
        )
    if complete and (outcomes.empty or outcomes["converted_at"].max() < scores["start"].max()):
        logger.warning(
            "the outcomes hold no conversion after the scores' moment: is the export current?"
        )
    if feedback is not None:
        scored = scores[["lead_id", "stage", "start"]].assign(converted=converted)
        result["feedback"] = feedback_figures(scored=scored, feedback=feedback, known_until=as_of)
    return result
