"""Scores as issued, checked against what happened: pure figures for `leadscore monitor`.

A scored lead converts when an outcome falls in (start, start + horizon] and is known by the
as-of moment (start: the moment the scores describe). Rates come with a 95% Wilson interval;
while the horizon is still open, the expected final rate is the mean calibrated probability
(a label-free estimate). Sales feedback (the SAL step) is summarised per stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from models.evaluation import age_band, metrics_by_age_band, wilson_interval
from models.stages import MQL, SQL, STAGE_ORDER
from models.thresholds import MQL_OR_HIGHER

CONFIDENCE = 0.95
NO_REASON = "(no reason given)"


def converted_in_window(
    *,
    lead_id: pd.Series,
    start: pd.Series,
    horizon_days: float,
    known_until: pd.Timestamp,
    outcomes: pd.DataFrame,
) -> np.ndarray:
    """Per scored row: a conversion in (start, start + horizon] known by `known_until`.

    Conversions at or before `start` (the lead was not open then for this window) and after
    the horizon do not count; leads absent from `outcomes` did not convert.
    """
    rows = pd.DataFrame(
        {"row": np.arange(len(lead_id)), "lead_id": lead_id.to_numpy(), "start": start.to_numpy()}
    )
    joined = rows.merge(outcomes[["lead_id", "converted_at"]], on="lead_id", how="inner")
    end = joined["start"] + pd.Timedelta(days=horizon_days)
    moment = joined["converted_at"]
    hit = (moment > joined["start"]) & (moment <= end) & (moment <= known_until)
    converted = np.zeros(len(lead_id), dtype=bool)
    converted[joined.loc[hit, "row"].to_numpy()] = True
    return converted


def rate_block(converted: np.ndarray, *, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """leads, converted, rate and its Wilson interval of a group of leads."""
    n, k = int(converted.shape[0]), int(converted.sum())
    low, high = wilson_interval(k, n, confidence=confidence)
    return {
        "leads": n,
        "converted": k,
        "rate": k / n if n else None,
        "rate_low": low,
        "rate_high": high,
    }


def expected_rate(probability: np.ndarray, *, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """The final rate the calibrated probabilities expect, with a normal-approximation range.

    The number of conversions of independent leads with probabilities p is Poisson-binomial:
    mean sum(p), variance sum(p(1 - p)).
    """
    n = probability.shape[0]
    if n == 0:
        return {"rate": None, "rate_low": None, "rate_high": None, "label": "estimate"}
    mean = float(probability.mean())
    spread = float(
        norm.ppf(0.5 + confidence / 2) * np.sqrt((probability * (1 - probability)).sum())
    )
    return {
        "rate": mean,
        "rate_low": max(0.0, mean - spread / n),
        "rate_high": min(1.0, mean + spread / n),
        "label": "estimate",
    }


def verdict(block: Mapping[str, Any], *, promised: float | None, complete: bool) -> str:
    """How the realised rate compares with the promise: within, below, above, too early."""
    if promised is None or block["rate"] is None:
        return "no promise" if promised is None else "no leads"
    if not complete:
        return "too early"
    if block["rate_high"] < promised:
        return "below promise"
    if block["rate_low"] > promised:
        return "above promise"
    return "as promised"


def stage_figures(
    *,
    stage: np.ndarray,
    converted: np.ndarray,
    probability: np.ndarray,
    promised: Mapping[str, Mapping[str, float | None]],
    complete: bool,
) -> dict[str, dict[str, Any]]:
    """Per stage (and MQL or higher): realised rate, the promise, the estimate while open."""
    groups = {name: stage == name for name in STAGE_ORDER}
    groups[MQL_OR_HIGHER] = np.isin(stage, [MQL, SQL])
    out: dict[str, dict[str, Any]] = {}
    for name, rows in groups.items():
        block = rate_block(converted[rows])
        promise = promised.get(name) or {}
        block["promised"] = promise.get("precision")
        block["promised_low"] = promise.get("precision_low")
        block["promised_high"] = promise.get("precision_high")
        block["verdict"] = verdict(block, promised=block["promised"], complete=complete)
        block["mean_probability"] = float(probability[rows].mean()) if rows.any() else None
        block["estimate"] = None if complete else expected_rate(probability[rows])
        out[name] = block
    total = int(converted.sum())
    out[MQL_OR_HIGHER]["recall"] = (
        int(converted[groups[MQL_OR_HIGHER]].sum()) / total if total else None
    )
    return out


def points_figures(*, rule_stage: np.ndarray, converted: np.ndarray) -> dict[str, dict[str, Any]]:
    """What the points system would have sent on: its SQL and MQL-or-higher leads."""
    total = int(converted.sum())
    out = {}
    for name, rows in (
        (SQL, rule_stage == SQL),
        (MQL_OR_HIGHER, np.isin(rule_stage, [MQL, SQL])),
    ):
        block = rate_block(converted[rows])
        block["recall"] = int(converted[rows].sum()) / total if total else None
        out[name] = block
    return out


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    return float(roc_auc_score(y, score)) if np.unique(y).shape[0] == 2 else None


def score_quality(
    *,
    converted: np.ndarray,
    probability: np.ndarray,
    rule_score: np.ndarray,
    age_days: np.ndarray | None,
) -> dict[str, Any]:
    """ROC-AUC of model and points on the same leads; calibration (mean predicted vs
    realised) of the model, overall and by lead-age band.

    Points are not probabilities (the model keeps no points-to-probability map), so only
    their ranking is compared.
    """
    y = converted.astype(int)
    overall = {
        "leads": int(y.shape[0]),
        "model_roc_auc": _auc(y, probability) if y.shape[0] else None,
        "points_roc_auc": _auc(y, rule_score) if y.shape[0] else None,
        "mean_predicted": float(probability.mean()) if y.shape[0] else None,
        "mean_observed": float(y.mean()) if y.shape[0] else None,
    }
    if age_days is None or y.shape[0] == 0:
        return {"overall": overall, "by_age_band": None}
    model = metrics_by_age_band(y_true=y, y_prob=probability, age_days=age_days)
    points = metrics_by_age_band(y_true=y, y_prob=rule_score, age_days=age_days)
    codes = np.asarray(age_band(age_days).codes)
    converted_by_band = np.bincount(codes[codes >= 0], weights=y[codes >= 0], minlength=len(model))
    by_band = {
        band: {
            "leads": values["count"],
            "converted": int(converted_by_band[position]),
            "mean_predicted": values["mean_predicted"],
            "mean_observed": values["mean_observed"],
            "model_roc_auc": values["roc_auc"],
            "points_roc_auc": points[band]["roc_auc"],
        }
        for position, (band, values) in enumerate(model.items())
    }
    return {"overall": overall, "by_age_band": by_band}


def decision_hours(hours: pd.Series) -> dict[str, float | None]:
    """Median and 90th percentile of hand-off-to-decision times, in hours."""
    if hours.empty:
        return {"median_hours": None, "p90_hours": None}
    return {
        "median_hours": float(hours.median()),
        "p90_hours": float(hours.quantile(0.9)),
    }


def feedback_figures(
    *,
    scored: pd.DataFrame,
    feedback: pd.DataFrame,
    known_until: pd.Timestamp,
) -> dict[str, Any]:
    """Sales' verdicts per stage: share decided and accepted, time to decide, rejection
    reasons, conversion of accepted vs rejected leads.

    `scored`: lead_id, stage, start, converted. `feedback`: clean rows (lead_id, decided_at,
    accepted 0/1, reason). A decision at or before the hand-off belongs to an earlier
    hand-off, one after `known_until` was not known yet: neither counts; of the rest, a
    lead's first decision counts.
    """
    joined = scored.merge(feedback, on="lead_id", how="inner")
    in_window = (joined["decided_at"] > joined["start"]) & (joined["decided_at"] <= known_until)
    decisions = joined[in_window].sort_values("decided_at", kind="stable")
    decisions = decisions.drop_duplicates("lead_id", keep="first")
    hours = (decisions["decided_at"] - decisions["start"]).dt.total_seconds() / 3600.0
    decisions = decisions.assign(hours=hours)
    stages: dict[str, Any] = {}
    for name in STAGE_ORDER:
        handed = int((scored["stage"] == name).sum())
        rows = decisions[decisions["stage"] == name]
        accepted = rows["accepted"] == 1
        reasons = rows.loc[~accepted, "reason"].fillna(NO_REASON).replace("", NO_REASON)
        stages[name] = {
            "leads": handed,
            "decided": len(rows),
            "decided_share": len(rows) / handed if handed else None,
            "accepted": int(accepted.sum()),
            "accepted_share": float(accepted.mean()) if len(rows) else None,
            **decision_hours(rows["hours"]),
            "rejection_reasons": reasons.value_counts().sort_index().to_dict(),
            "accepted_leads": rate_block(rows.loc[accepted, "converted"].to_numpy()),
            "rejected_leads": rate_block(rows.loc[~accepted, "converted"].to_numpy()),
        }
    return {
        "decisions": len(decisions),
        "not_in_scores": int((~feedback["lead_id"].isin(scored["lead_id"])).sum()),
        "before_hand_off": int((joined["decided_at"] <= joined["start"]).sum()),
        "after_as_of": int((joined["decided_at"] > known_until).sum()),
        "stages": stages,
    }


def promised_precision(
    thresholds: Mapping[str, Any], approval: Mapping[str, Any] | None
) -> dict[str, dict[str, float | None]]:
    """The precision each stage promised on a scoring day, from the thresholds in force.

    Proposed (or approved as proposed) thresholds: the expected rows of the model's
    thresholds (a stage's own leads, with their interval; SQL and MQL or higher fall back to
    `sql.precision` and `mql.precision`). Edited approved thresholds: what the approval
    recorded for SQL and MQL or higher; the other stages promised nothing recorded.
    """
    if approval and approval.get("edited"):
        expected = approval.get("expected_on_calibration") or {}
        return {
            SQL: {"precision": (expected.get("sql") or {}).get("precision")},
            MQL_OR_HIGHER: {"precision": (expected.get("mql_or_higher") or {}).get("precision")},
        }
    keys = ("precision", "precision_low", "precision_high")
    out: dict[str, dict[str, float | None]] = {
        row["stage"]: {key: row.get(key) for key in keys}
        for row in thresholds.get("expected") or []
    }
    for stage, key in ((SQL, "sql"), (MQL_OR_HIGHER, "mql")):
        if out.get(stage, {}).get("precision") is None:
            out[stage] = {"precision": (thresholds.get(key) or {}).get("precision")}
    return out
