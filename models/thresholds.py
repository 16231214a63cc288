"""Stage thresholds on calibrated probabilities, chosen from targets marketing understands."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve

logger = logging.getLogger(__name__)


class InfeasibleTargetWarning(UserWarning):
    """A target no threshold reaches; the closest feasible threshold is used."""


@dataclass(frozen=True)
class ThresholdChoice:
    """One threshold and what it gives on the cohort it was chosen on."""

    threshold: float
    policy: str
    target: float
    precision: float
    recall: float
    volume: int
    feasible: bool
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _curve(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, threshold and volume (leads at or above) per candidate threshold."""
    precision, recall, thresholds = precision_recall_curve(y, p)
    precision, recall = precision[:-1], recall[:-1]
    sorted_p = np.sort(p)
    volume = len(p) - np.searchsorted(sorted_p, thresholds, side="left")
    return precision, recall, thresholds, volume


def _choice(
    y: np.ndarray,
    p: np.ndarray,
    threshold: float,
    policy: str,
    target: float,
    feasible: bool,
    message: str,
) -> ThresholdChoice:
    chosen = p >= threshold
    positives = max(int(y.sum()), 1)
    return ThresholdChoice(
        threshold=float(threshold),
        policy=policy,
        target=float(target),
        precision=float(y[chosen].mean()) if chosen.any() else float("nan"),
        recall=float(y[chosen].sum() / positives),
        volume=int(chosen.sum()),
        feasible=feasible,
        message=message,
    )


def threshold_for_precision(y: np.ndarray, p: np.ndarray, *, target: float) -> ThresholdChoice:
    """Lowest threshold whose precision reaches `target` (most leads at that quality)."""
    precision, _, thresholds, _ = _curve(y, p)
    ok = np.flatnonzero(precision >= target)
    if ok.size:
        return _choice(y, p, thresholds[ok[0]], "precision", target, True, "")
    best = int(np.argmax(precision))
    message = (
        f"no threshold reaches precision {target:.0%}; the best reachable is"
        f" {precision[best]:.1%} at threshold {thresholds[best]:.3f}"
    )
    logger.warning(message)
    return _choice(y, p, thresholds[best], "precision", target, False, message)


def threshold_for_recall(y: np.ndarray, p: np.ndarray, *, target: float) -> ThresholdChoice:
    """Highest threshold that still captures `target` of the conversions."""
    _, recall, thresholds, _ = _curve(y, p)
    ok = np.flatnonzero(recall >= target)
    # recall falls as the threshold rises; ok is never empty (the lowest threshold has recall 1)
    return _choice(y, p, thresholds[ok[-1]], "recall", target, True, "")


def threshold_for_volume(
    y: np.ndarray,
    p: np.ndarray,
    *,
    volume: float,
    policy: str = "capacity",
    target: float | None = None,
) -> ThresholdChoice:
    """Threshold that sends at most `volume` leads (the highest scored) to the stage."""
    k = int(np.floor(volume))
    if k <= 0:
        return _choice(y, p, np.inf, policy, target or volume, False, "capacity below one lead")
    if k >= len(p):
        return _choice(y, p, float(p.min()), policy, target or volume, True, "")
    ranked = np.sort(p)[::-1]
    # leads tied at the cut would overshoot capacity, so the cut moves just above the tie
    threshold = ranked[k - 1]
    if ranked[k] == threshold:
        above = ranked[ranked > threshold]
        threshold = above.min() if above.size else np.nextafter(threshold, np.inf)
    return _choice(y, p, threshold, policy, target or volume, True, "")


def choose_thresholds(
    *,
    y: np.ndarray,
    p: np.ndarray,
    policy: Mapping[str, Any],
    weeks: float,
) -> dict[str, ThresholdChoice]:
    """SQL and MQL thresholds for a cohort spanning `weeks`, by the policies in params."""
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    sql_policy = policy.get("sql_policy", "precision")
    if sql_policy == "precision":
        sql = threshold_for_precision(y, p, target=float(policy["sql_precision"]))
    elif sql_policy == "capacity":
        per_week = float(policy["sql_capacity_per_week"])
        sql = threshold_for_volume(y, p, volume=per_week * weeks, target=per_week)
    elif sql_policy == "expected_value":
        # contact when p * deal value > cost of a sales contact
        threshold = float(policy["contact_cost"]) / float(policy["deal_value"])
        sql = _choice(y, p, threshold, "expected_value", threshold, True, "")
    else:
        raise ValueError(f"unknown thresholds.sql_policy {sql_policy!r}")
    mql_policy = policy.get("mql_policy", "recall")
    if mql_policy == "recall":
        mql = threshold_for_recall(y, p, target=float(policy["mql_recall"]))
    elif mql_policy == "precision_floor":
        mql = threshold_for_precision(y, p, target=float(policy["mql_precision_floor"]))
    else:
        raise ValueError(f"unknown thresholds.mql_policy {mql_policy!r}")
    if mql.threshold > sql.threshold:
        message = (
            f"MQL threshold {mql.threshold:.3f} was above SQL {sql.threshold:.3f};"
            " MQL set to the SQL threshold to keep the stage order"
        )
        logger.warning(message)
        mql = _choice(y, p, sql.threshold, mql.policy, mql.target, False, message)
    return {"mql": mql, "sql": sql}
