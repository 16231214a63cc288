"""Metrics and curve data shared by the model and the points baseline (one implementation).

Ranking metrics (AUC, lift, gains, precision at volume) take any score where higher means
more likely to convert (probabilities or points); calibration metrics (log loss, Brier, ECE)
need probabilities. Curve helpers return tidy frames with a `model` column so one DVC plot
file can hold the model ("model") and the baseline ("points") side by side.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from models.stages import MQL, SQL

logger = logging.getLogger(__name__)

MODEL_LABEL = "model"
POINTS_LABEL = "points"
DEFAULT_LIFT_FRACTIONS: tuple[float, ...] = (0.05, 0.10, 0.20)
MAX_CURVE_POINTS = 200


def _vector(values: object, name: str) -> np.ndarray:
    """A 1-D float array without NaN (metrics are undefined on missing values)."""
    out = np.asarray(values, dtype=float).reshape(-1)
    if np.isnan(out).any():
        raise ValueError(f"{name} contains missing values")
    return out


def _pair(y_true: object, score: object, score_name: str) -> tuple[np.ndarray, np.ndarray]:
    y = _vector(y_true, "y_true")
    s = _vector(score, score_name)
    if y.shape != s.shape:
        raise ValueError(f"y_true has {y.shape[0]} values but {score_name} has {s.shape[0]}")
    if y.shape[0] == 0:
        raise ValueError("metrics need at least one lead")
    return y, s


def _binary_labels(y: np.ndarray) -> np.ndarray:
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must hold 0/1 labels")
    return y.astype(np.int64)


def _ranking(score: np.ndarray) -> np.ndarray:
    """Indices from highest to lowest score; ties keep input order (stable, deterministic)."""
    return np.argsort(-score, kind="stable")


def _top_count(fraction: float, n: int) -> int:
    """Leads in the top `fraction` of n (at least one; rounding noise ignored)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fractions must be in (0, 1], got {fraction}")
    return max(1, int(np.ceil(round(fraction * n, 9))))


def fraction_label(fraction: float) -> str:
    """Metric-name suffix for a fraction: 0.05 -> '5', 0.1 -> '10', 0.025 -> '2_5'."""
    return f"{fraction * 100:g}".replace(".", "_")


def expected_calibration_error(
    y_true: Sequence[float] | np.ndarray,
    y_prob: Sequence[float] | np.ndarray,
    *,
    n_bins: int = 10,
    strategy: Literal["quantile", "uniform"] = "quantile",
) -> float:
    """Binned ECE: sum over bins of bin share * |mean(y) - mean(p)|.

    `y_true` may be 0/1 outcomes or true probabilities in [0, 1] (e.g. the synthetic truth);
    against true probabilities a perfectly calibrated model scores 0, against outcomes it
    scores a small positive value from sampling noise. Quantile bins hold equal numbers of
    leads (ties can merge bins); uniform bins split [0, 1] into equal widths.
    """
    y, p = _pair(y_true, y_prob, "y_prob")
    if ((y < 0) | (y > 1)).any() or ((p < 0) | (p > 1)).any():
        raise ValueError("y_true and y_prob must lie in [0, 1]")
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    if strategy == "quantile":
        edges = np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1))
    elif strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        raise ValueError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}")
    bins = np.searchsorted(np.unique(edges[1:-1]), p, side="right")
    size = bins.max() + 1
    gap = np.bincount(bins, weights=y, minlength=size) - np.bincount(
        bins, weights=p, minlength=size
    )
    # share * |mean(y) - mean(p)| = |sum(y) - sum(p)| / n per bin
    return float(np.abs(gap).sum() / p.shape[0])


# Lead-age bands of the open base on a scoring day: [lower, upper) days since creation.
AGE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("0-14", 0.0, 14.0),
    ("14-30", 14.0, 30.0),
    ("30-60", 30.0, 60.0),
    ("60-120", 60.0, 120.0),
    ("120-240", 120.0, 240.0),
    ("240+", 240.0, np.inf),
)


def ece_vs_truth(
    p_true: Sequence[float] | np.ndarray,
    y_prob: Sequence[float] | np.ndarray,
    *,
    n_bins: int = 10,
) -> float:
    """ECE against true probabilities: sum over predicted-probability bins of share * |gap|.

    Bins are quantiles of the prediction; the gap is mean predicted - mean true in the bin.
    (sklearn's `calibration_curve` needs 0/1 outcomes, so it cannot bin true probabilities.)
    """
    return expected_calibration_error(p_true, y_prob, n_bins=n_bins, strategy="quantile")


def age_band(age_days: Sequence[float] | np.ndarray | pd.Series) -> pd.Categorical:
    """The age band of each age in days (categories in `AGE_BANDS` order; NaN stays NaN)."""
    edges = [lower for _, lower, _ in AGE_BANDS] + [np.inf]
    names = [name for name, _, _ in AGE_BANDS]
    ages = np.asarray(age_days, dtype=float).reshape(-1)
    # negative ages (clock skew) count as the youngest band rather than vanishing
    return pd.cut(np.clip(ages, 0.0, None), bins=edges, right=False, labels=names)


def metrics_by_age_band(
    *,
    y_true: Sequence[float] | np.ndarray,
    y_prob: Sequence[float] | np.ndarray,
    age_days: Sequence[float] | np.ndarray | pd.Series,
    p_true: Sequence[float] | np.ndarray | None = None,
    ece_bins: int = 10,
) -> dict[str, dict[str, float | int | None]]:
    """Per age band (every band of `AGE_BANDS`, empty ones with count 0): count,
    mean_predicted, mean_observed, roc_auc (None with one class); with `p_true` (NaN where
    unknown) also truth_count, mean_true and ece_vs_truth over the rows whose truth is known.
    """
    y_float, p = _pair(y_true, y_prob, "y_prob")
    y = _binary_labels(y_float)
    bands = np.asarray(age_band(age_days).codes)
    if bands.shape != y.shape:
        raise ValueError(f"y_true has {y.shape[0]} values but age_days has {bands.shape[0]}")
    truth = None if p_true is None else np.asarray(p_true, dtype=float).reshape(-1)
    out: dict[str, dict[str, float | int | None]] = {}
    for code, (name, _, _) in enumerate(AGE_BANDS):
        rows = bands == code
        n = int(rows.sum())
        both = n > 0 and np.unique(y[rows]).shape[0] == 2
        band: dict[str, float | int | None] = {
            "count": n,
            "mean_predicted": float(p[rows].mean()) if n else None,
            "mean_observed": float(y[rows].mean()) if n else None,
            "roc_auc": float(roc_auc_score(y[rows], p[rows])) if both else None,
        }
        if truth is not None:
            known = rows & ~np.isnan(truth)
            band["truth_count"] = int(known.sum())
            band["mean_true"] = float(truth[known].mean()) if known.any() else None
            band["ece_vs_truth"] = (
                ece_vs_truth(truth[known], p[known], n_bins=ece_bins) if known.any() else None
            )
        out[name] = band
    return out


def age_band_frame(by_band: dict[str, dict[str, float | int | None]]) -> pd.DataFrame:
    """`metrics_by_age_band` as a table: band, age_from_days, count, share of rows, mean
    predicted, observed and true (NaN where unknown), bands in age order."""
    lower = {name: low for name, low, _ in AGE_BANDS}
    frame = pd.DataFrame(
        [
            {
                "band": name,
                "age_from_days": lower[name],
                "count": values["count"],
                "mean_predicted": values["mean_predicted"],
                "mean_observed": values["mean_observed"],
                "mean_true": values.get("mean_true"),
            }
            for name, values in by_band.items()
        ]
    ).astype({"mean_predicted": float, "mean_observed": float, "mean_true": float})
    total = frame["count"].sum()
    frame.insert(3, "share", frame["count"] / total if total else np.nan)
    return frame


def lift_and_gains(
    y_true: Sequence[float] | np.ndarray,
    score: Sequence[float] | np.ndarray,
    fractions: Sequence[float] = DEFAULT_LIFT_FRACTIONS,
) -> dict[str, float]:
    """Lift and gains in the top k% by score: `lift_at_{k}` and `gains_at_{k}` per fraction.

    lift = conversion rate among the top k% / overall rate; gains = share of all conversions
    they capture. Top k% is ceil(k * n) leads (at least one); ties keep input order.
    """
    y, s = _pair(y_true, score, "score")
    n = y.shape[0]
    captured = np.cumsum(y[_ranking(s)])
    total = captured[-1]
    if total <= 0:
        logger.warning("no conversions: lift and gains are undefined (NaN)")
    out: dict[str, float] = {}
    for fraction in fractions:
        k = _top_count(float(fraction), n)
        label = fraction_label(float(fraction))
        share = captured[k - 1] / total if total > 0 else np.nan
        out[f"lift_at_{label}"] = float(share * n / k)
        out[f"gains_at_{label}"] = float(share)
    return out


def precision_at_volume(
    y_true: Sequence[float] | np.ndarray, score: Sequence[float] | np.ndarray, volume: int
) -> float:
    """Conversion rate among the `volume` highest-scored leads (all leads if fewer)."""
    y, s = _pair(y_true, score, "score")
    if volume < 1:
        raise ValueError(f"volume must be >= 1, got {volume}")
    top = min(int(volume), y.shape[0])
    if top < volume:
        logger.debug("volume %d exceeds the %d leads scored; using all", volume, top)
    return float(y[_ranking(s)[:top]].mean())


def classification_metrics(
    y_true: Sequence[float] | np.ndarray,
    y_prob: Sequence[float] | np.ndarray,
    *,
    ece_bins: int = 10,
    lift_fractions: Sequence[float] = DEFAULT_LIFT_FRACTIONS,
) -> dict[str, float]:
    """roc_auc, pr_auc, log_loss, brier, ece, base_rate, n, lift_at_*, gains_at_* for 0/1 labels.

    With a single class in `y_true` the AUCs (and lift/gains when nothing converted) are NaN.
    """
    y_float, p = _pair(y_true, y_prob, "y_prob")
    y = _binary_labels(y_float)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("y_prob must lie in [0, 1]")
    both_classes = np.unique(y).shape[0] == 2
    if not both_classes:
        logger.warning("only one class in y_true (n=%d): ROC AUC and PR AUC are NaN", y.shape[0])
    metrics: dict[str, float] = {
        "roc_auc": float(roc_auc_score(y, p)) if both_classes else np.nan,
        "pr_auc": float(average_precision_score(y, p)) if both_classes else np.nan,
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p, pos_label=1)),
        "ece": expected_calibration_error(y, p, n_bins=ece_bins),
        "base_rate": float(y.mean()),
        "n": float(y.shape[0]),
    }
    metrics.update(lift_and_gains(y, p, lift_fractions))
    return metrics


def bootstrap_rate_by_group(
    y_true: Sequence[float] | np.ndarray,
    groups: Sequence[object] | np.ndarray | pd.Series,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Conversion rate per group with a percentile-bootstrap interval: n, conversions, rate, CI.

    Resampling a group's n 0/1 labels with replacement gives Binomial(n, rate) conversions,
    so each replicate is drawn that way for all groups at once (exact, no loop over rows).
    Groups are resampled separately (their sizes are fixed). A group with rate 0 or 1 gets a
    zero-width interval, a known limit of the percentile bootstrap on small groups.
    Groups come out sorted (categorical groups in category order, e.g. by stage).
    """
    y = _binary_labels(_vector(y_true, "y_true"))
    group_values = groups if isinstance(groups, pd.Series) else pd.Series(groups)
    if group_values.shape[0] != y.shape[0]:
        raise ValueError(f"y_true has {y.shape[0]} values but groups has {group_values.shape[0]}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    labels = pd.Series(y, index=group_values.index, name="converted")
    summary = labels.groupby(group_values, observed=True, sort=True).agg(["size", "sum"])
    summary = summary.rename(columns={"size": "n", "sum": "conversions"})
    summary.index.name = group_values.name or "group"
    n = summary["n"].to_numpy(dtype=np.int64)
    conversions = summary["conversions"].to_numpy(dtype=np.int64)
    rate = conversions / n
    rng = np.random.default_rng(seed)
    replicates = rng.binomial(n[:, None], rate[:, None], size=(n.shape[0], n_boot)) / n[:, None]
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(replicates, [tail, 1.0 - tail], axis=1)
    return pd.DataFrame(
        {
            "n": n,
            "conversions": conversions,
            "rate": rate,
            "ci_low": low,
            "ci_high": high,
        },
        index=summary.index,
    )


def _downsample(frame: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """At most `max_points` rows, evenly spaced, always keeping the first and last."""
    if len(frame) <= max_points:
        return frame.reset_index(drop=True)
    keep = np.unique(np.linspace(0, len(frame) - 1, max_points).round().astype(np.int64))
    return frame.iloc[keep].reset_index(drop=True)


def _curve_frame(model: str, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    frame.insert(0, "model", model)
    return frame


def _has_both_classes(y: np.ndarray, curve: str) -> bool:
    if np.unique(y).shape[0] == 2:
        return True
    logger.warning("only one class in y_true: no %s curve", curve)
    return False


def roc_points(
    y_true: Sequence[float] | np.ndarray,
    score: Sequence[float] | np.ndarray,
    *,
    model: str = MODEL_LABEL,
    max_points: int = MAX_CURVE_POINTS,
) -> pd.DataFrame:
    """ROC curve as columns model, fpr, tpr (at most `max_points` rows)."""
    y_float, s = _pair(y_true, score, "score")
    y = _binary_labels(y_float)
    if not _has_both_classes(y, "ROC"):
        return _curve_frame(model, {"fpr": np.array([]), "tpr": np.array([])})
    fpr, tpr, _ = roc_curve(y, s)
    return _downsample(_curve_frame(model, {"fpr": fpr, "tpr": tpr}), max_points)


def pr_points(
    y_true: Sequence[float] | np.ndarray,
    score: Sequence[float] | np.ndarray,
    *,
    model: str = MODEL_LABEL,
    max_points: int = MAX_CURVE_POINTS,
) -> pd.DataFrame:
    """Precision-recall curve as columns model, recall, precision (recall ascending)."""
    y_float, s = _pair(y_true, score, "score")
    y = _binary_labels(y_float)
    if not _has_both_classes(y, "precision-recall"):
        return _curve_frame(model, {"recall": np.array([]), "precision": np.array([])})
    precision, recall, _ = precision_recall_curve(y, s)
    frame = _curve_frame(model, {"recall": recall[::-1], "precision": precision[::-1]})
    return _downsample(frame, max_points)


def calibration_points(
    y_true: Sequence[float] | np.ndarray,
    y_prob: Sequence[float] | np.ndarray,
    *,
    n_bins: int = 10,
    strategy: Literal["quantile", "uniform"] = "quantile",
    model: str = MODEL_LABEL,
) -> pd.DataFrame:
    """Reliability diagram: columns model, mean_predicted, fraction_converted (no empty bins)."""
    y_float, p = _pair(y_true, y_prob, "y_prob")
    y = _binary_labels(y_float)
    if not _has_both_classes(y, "calibration"):
        return _curve_frame(
            model, {"mean_predicted": np.array([]), "fraction_converted": np.array([])}
        )
    fraction, mean_predicted = calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    return _curve_frame(model, {"mean_predicted": mean_predicted, "fraction_converted": fraction})


def gains_points(
    y_true: Sequence[float] | np.ndarray,
    score: Sequence[float] | np.ndarray,
    *,
    model: str = MODEL_LABEL,
    n_points: int = 100,
) -> pd.DataFrame:
    """Cumulative gains: columns model, share_contacted, share_converted (n_points + 1 rows)."""
    y, s = _pair(y_true, score, "score")
    captured = np.concatenate([[0.0], np.cumsum(y[_ranking(s)])])
    total = captured[-1]
    share_contacted = np.linspace(0.0, 1.0, n_points + 1)
    contacted = np.ceil(np.round(share_contacted * y.shape[0], 9)).astype(np.int64)
    share_converted = captured[contacted] / total if total > 0 else np.full(n_points + 1, np.nan)
    if total <= 0:
        logger.warning("no conversions: the gains curve is undefined (NaN)")
    return _curve_frame(
        model, {"share_contacted": share_contacted, "share_converted": share_converted}
    )


def metrics_by_segment(
    *,
    y: np.ndarray,
    stages: np.ndarray,
    segments: pd.Series,
    thresholds: Mapping[str, Any],
    confidence: float = 0.95,
    probability: np.ndarray | None = None,
) -> dict[str, Any]:
    """Per segment of `thresholds["segments"]` (the calibrate stage's proposal): what its
    thresholds give on these rows (SQL precision with a Wilson interval, MQL-or-higher recall)
    beside its target, and (with `probability`) the mean predicted probability beside the
    observed rate: a segment the model over- or under-rates shows there. Rows of several
    snapshots of one lead count as separate rows, so the interval is somewhat narrower than
    one over leads."""
    y = np.asarray(y, dtype=int)
    stages = np.asarray(stages).astype(str)
    values = segments.to_numpy(dtype=object, na_value=None)
    result = {}
    for value, entry in (thresholds.get("segments") or {}).items():
        mask = values == value
        in_sql = mask & (stages == SQL)
        reached = mask & np.isin(stages, [MQL, SQL])
        converted = int(y[in_sql].sum())
        low, high = wilson_interval(converted, int(in_sql.sum()), confidence=confidence)
        positives = int(y[mask].sum())
        result[str(value)] = {
            "fallback": bool(entry.get("fallback")),
            "reason": str(entry.get("reason") or ""),
            "test_rows": int(mask.sum()),
            "test_positives": positives,
            "observed_rate": positives / int(mask.sum()) if mask.any() else None,
            "mean_predicted": float(np.mean(probability[mask]))
            if probability is not None and mask.any()
            else None,
            "sql": {
                "threshold": entry["sql"]["threshold"],
                "policy": entry["sql"].get("policy"),
                "target": entry["sql"].get("target"),
                "feasible": entry["sql"].get("feasible"),
                "in_stage": int(in_sql.sum()),
                "precision": converted / int(in_sql.sum()) if in_sql.any() else None,
                "precision_low": low,
                "precision_high": high,
                "promised_precision": entry["sql"].get("precision"),
            },
            "mql": {
                "threshold": entry["mql"]["threshold"],
                "recall": float(y[reached].sum() / positives) if positives else None,
                "precision": float(y[reached].mean()) if reached.any() else None,
            },
        }
    return {"column": thresholds.get("segment_column"), "values": result}


def wilson_interval(
    successes: int, trials: int, *, confidence: float = 0.95
) -> tuple[float | None, float | None]:
    """Wilson score interval of a binomial rate; (None, None) without trials."""
    if trials == 0:
        return None, None
    ci = binomtest(int(successes), int(trials)).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return float(ci.low), float(ci.high)
