"""Stage thresholds on calibrated probabilities, chosen from targets marketing understands.

Thresholds act on the stage a lead really lands in, not on the raw score alone: hand-raisers
(`forced`) are SQL whatever their probability and disqualified leads (`excluded`) are out of
the funnel whatever their probability. A precision target, a sales capacity or a recall
target is therefore met by the stage as delivered (hand-raisers use up sales capacity;
disqualified converters are conversions the funnel loses).

Every candidate threshold comes from `sklearn.metrics.confusion_matrix_at_thresholds`
(one row per distinct score); the policies pick a row of that curve. What a threshold gives
on a cohort is reported with Poisson-bootstrap intervals (`stage_effect`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix_at_thresholds

from models.stages import DISQUALIFIED, IQL, MQL, SQL, STAGE_ORDER, stage_rank

logger = logging.getLogger(__name__)


class ThresholdPolicy(Protocol):
    """The policies `choose_thresholds` applies (`pipelines.config.ThresholdsParams`)."""

    sql_policy: str
    sql_precision: float
    sql_capacity_per_week: float
    deal_value: float
    contact_cost: float
    mql_policy: str
    mql_recall: float
    mql_precision_floor: float


MQL_OR_HIGHER = "MQL or higher"
ALL_LEADS = "All leads"
SQL_POLICIES = ("precision", "capacity", "expected_value")
MQL_POLICIES = ("recall", "precision_floor")
CURVE_COLUMNS = [
    "threshold",
    "volume",
    "conversions",
    "expected_conversions",
    "precision",
    "recall",
]


class InfeasibleTargetWarning(UserWarning):
    """A target no threshold reaches; the closest feasible threshold is used."""


@dataclass(frozen=True)
class ThresholdChoice:
    """One threshold and what it gives (leads at or above it) on the cohort it was chosen on."""

    threshold: float
    policy: str
    target: float
    precision: float
    recall: float
    volume: int
    feasible: bool
    message: str = ""
    expected_conversions: float = float("nan")
    volume_per_week: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _flags(values: np.ndarray | None, n: int, name: str) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=bool)
    out = np.asarray(values, dtype=bool).reshape(-1)
    if out.shape[0] != n:
        raise ValueError(f"{name} has {out.shape[0]} entries, scores have {n}")
    return out


def stage_curve(
    y: np.ndarray,
    p: np.ndarray,
    *,
    forced: np.ndarray | None = None,
    excluded: np.ndarray | None = None,
) -> pd.DataFrame:
    """Leads at or above each candidate threshold: volume, conversions, precision, recall.

    Rows run from the highest threshold down. The first row sits just above every score:
    only the forced leads (hand-raisers) are in. `expected_conversions` sums the calibrated
    probabilities (what the model expects); `conversions` counts the labels (what happened).
    Recall is over all conversions of the cohort, disqualified ones included.
    """
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    p = np.asarray(p, dtype=float).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"y has {y.shape[0]} values but p has {p.shape[0]}")
    if y.shape[0] == 0:
        raise ValueError("a threshold curve needs at least one lead")
    out_of_play = _flags(excluded, y.shape[0], "excluded")
    always_in = _flags(forced, y.shape[0], "forced") & ~out_of_play
    free = ~always_in & ~out_of_play
    base = np.array([always_in.sum(), y[always_in].sum(), p[always_in].sum()], dtype=float)
    top = float(np.nextafter(p.max(), np.inf))
    if free.any():
        _, fps, _, tps, thresholds = confusion_matrix_at_thresholds(y[free], p[free], pos_label=1)
        volume_free = (tps + fps).astype(np.int64)
        cumulative_p = np.cumsum(np.sort(p[free])[::-1])
        expected_free = cumulative_p[volume_free - 1]
    else:
        thresholds = volume_free = tps = expected_free = np.array([])
    volume = np.concatenate([[0], volume_free]) + base[0]
    conversions = np.concatenate([[0], tps]) + base[1]
    expected = np.concatenate([[0.0], expected_free]) + base[2]
    total = y.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(volume > 0, conversions / np.maximum(volume, 1), np.nan)
        recall = conversions / total if total > 0 else np.full(volume.shape, np.nan)
    return pd.DataFrame(
        {
            "threshold": np.concatenate([[top], thresholds]),
            "volume": volume.astype(np.int64),
            "conversions": conversions.astype(np.int64),
            "expected_conversions": expected,
            "precision": precision,
            "recall": recall,
        }
    )


def _pick(
    curve: pd.DataFrame,
    index: int,
    *,
    policy: str,
    target: float,
    feasible: bool,
    message: str = "",
    threshold: float | None = None,
    weeks: float = float("nan"),
) -> ThresholdChoice:
    row = curve.iloc[int(index)]
    if message:
        logger.warning(message)
    return ThresholdChoice(
        threshold=float(row["threshold"] if threshold is None else threshold),
        policy=policy,
        target=float(target),
        precision=float(row["precision"]),
        recall=float(row["recall"]),
        volume=int(row["volume"]),
        feasible=feasible,
        message=message,
        expected_conversions=float(row["expected_conversions"]),
        volume_per_week=float(row["volume"]) / weeks if weeks > 0 else float("nan"),
    )


def pick_by_precision(
    curve: pd.DataFrame, *, target: float, policy: str = "precision", weeks: float = np.nan
) -> ThresholdChoice:
    """Lowest threshold whose precision reaches `target` (most leads at that quality)."""
    precision = curve["precision"].to_numpy()
    ok = np.flatnonzero(precision >= target)
    if ok.size:
        return _pick(curve, ok[-1], policy=policy, target=target, feasible=True, weeks=weeks)
    best = int(np.nanargmax(precision)) if np.isfinite(precision).any() else 0
    message = (
        f"no threshold reaches precision {target:.0%}; the best reachable is"
        f" {precision[best]:.1%} at threshold {curve['threshold'].iloc[best]:.3f} (used instead)"
    )
    return _pick(
        curve, best, policy=policy, target=target, feasible=False, message=message, weeks=weeks
    )


def pick_by_recall(
    curve: pd.DataFrame, *, target: float, policy: str = "recall", weeks: float = np.nan
) -> ThresholdChoice:
    """Highest threshold that still captures `target` of all conversions."""
    recall = curve["recall"].to_numpy()
    ok = np.flatnonzero(recall >= target)
    if ok.size:
        return _pick(curve, ok[0], policy=policy, target=target, feasible=True, weeks=weeks)
    best = len(curve) - 1
    message = (
        f"no threshold reaches recall {target:.0%}: disqualified leads hold the other"
        f" conversions; the best reachable is {recall[best]:.1%} (every eligible lead, used)"
    )
    return _pick(
        curve, best, policy=policy, target=target, feasible=False, message=message, weeks=weeks
    )


def pick_by_volume(
    curve: pd.DataFrame,
    *,
    volume: float,
    policy: str = "capacity",
    target: float | None = None,
    weeks: float = np.nan,
) -> ThresholdChoice:
    """Lowest threshold that sends at most `volume` leads to the stage (ties stay together)."""
    target = float(volume if target is None else target)
    volumes = curve["volume"].to_numpy()
    ok = np.flatnonzero(volumes <= np.floor(volume))
    if ok.size and volumes[ok[-1]] > 0:
        return _pick(curve, ok[-1], policy=policy, target=target, feasible=True, weeks=weeks)
    if volumes[0] > 0:
        message = (
            f"a capacity of {volume:.0f} leads is below the {volumes[0]} hand-raisers, who go to"
            " sales regardless; the stage holds the hand-raisers only"
        )
    else:
        message = f"a capacity of {volume:.1f} leads is below one lead; the stage stays empty"
    return _pick(
        curve, 0, policy=policy, target=target, feasible=False, message=message, weeks=weeks
    )


def pick_by_expected_value(
    curve: pd.DataFrame, *, deal_value: float, contact_cost: float, weeks: float = np.nan
) -> ThresholdChoice:
    """Contact a lead when probability x deal value exceeds the cost of a sales contact.

    On calibrated probabilities the break-even probability cost / value is the threshold
    that maximises expected value; searching the realised profit instead would fit noise.
    """
    if deal_value <= 0 or contact_cost < 0:
        raise ValueError("expected_value needs deal_value > 0 and contact_cost >= 0")
    break_even = float(contact_cost) / float(deal_value)
    index = _index_at(curve, break_even)
    message = ""
    if index == 0:
        message = (
            f"no lead's expected value reaches the contact cost (break-even probability"
            f" {break_even:.1%}); the stage holds the hand-raisers only"
        )
    return _pick(
        curve,
        index,
        policy="expected_value",
        target=break_even,
        feasible=True,
        message=message,
        threshold=max(break_even, 0.0),
        weeks=weeks,
    )


def threshold_for_precision(
    y: np.ndarray,
    p: np.ndarray,
    *,
    target: float,
    forced: np.ndarray | None = None,
    excluded: np.ndarray | None = None,
) -> ThresholdChoice:
    """Lowest threshold whose precision reaches `target` (most leads at that quality)."""
    return pick_by_precision(stage_curve(y, p, forced=forced, excluded=excluded), target=target)


def threshold_for_recall(
    y: np.ndarray,
    p: np.ndarray,
    *,
    target: float,
    forced: np.ndarray | None = None,
    excluded: np.ndarray | None = None,
) -> ThresholdChoice:
    """Highest threshold that still captures `target` of the conversions."""
    return pick_by_recall(stage_curve(y, p, forced=forced, excluded=excluded), target=target)


def threshold_for_volume(
    y: np.ndarray,
    p: np.ndarray,
    *,
    volume: float,
    policy: str = "capacity",
    target: float | None = None,
    forced: np.ndarray | None = None,
    excluded: np.ndarray | None = None,
) -> ThresholdChoice:
    """Threshold that sends at most `volume` leads (the highest scored) to the stage."""
    curve = stage_curve(y, p, forced=forced, excluded=excluded)
    return pick_by_volume(curve, volume=volume, policy=policy, target=target)


def choose_thresholds(
    *,
    y: np.ndarray,
    p: np.ndarray,
    policy: ThresholdPolicy | Mapping[str, Any],
    weeks: float,
    forced: np.ndarray | None = None,
    excluded: np.ndarray | None = None,
) -> dict[str, ThresholdChoice]:
    """SQL and MQL thresholds for a cohort spanning `weeks`, by the policies in params.

    `forced` marks leads that are SQL whatever their score (hand-raisers when
    `hand_raiser_to_sql` is on), `excluded` the disqualified ones. MQL never ends above SQL.
    """
    if isinstance(policy, Mapping):  # a mapping of the keys, as in params.yaml
        policy = SimpleNamespace(**({"sql_policy": "precision", "mql_policy": "recall"} | policy))
    curve = stage_curve(y, p, forced=forced, excluded=excluded)
    sql_policy = policy.sql_policy
    if sql_policy == "precision":
        sql = pick_by_precision(curve, target=float(policy.sql_precision), weeks=weeks)
    elif sql_policy == "capacity":
        per_week = float(policy.sql_capacity_per_week)
        sql = pick_by_volume(curve, volume=per_week * weeks, target=per_week, weeks=weeks)
    elif sql_policy == "expected_value":
        sql = pick_by_expected_value(
            curve,
            deal_value=float(policy.deal_value),
            contact_cost=float(policy.contact_cost),
            weeks=weeks,
        )
    else:
        raise ValueError(f"unknown thresholds.sql_policy {sql_policy!r}; use one of {SQL_POLICIES}")
    mql_policy = policy.mql_policy
    if mql_policy == "recall":
        mql = pick_by_recall(curve, target=float(policy.mql_recall), weeks=weeks)
    elif mql_policy == "precision_floor":
        mql = pick_by_precision(
            curve,
            target=float(policy.mql_precision_floor),
            policy="precision_floor",
            weeks=weeks,
        )
    else:
        raise ValueError(f"unknown thresholds.mql_policy {mql_policy!r}; use one of {MQL_POLICIES}")
    if mql.threshold > sql.threshold:
        message = (
            f"MQL threshold {mql.threshold:.3f} was above SQL {sql.threshold:.3f};"
            " MQL set to the SQL threshold to keep the stage order"
        )
        index = _index_at(curve, sql.threshold)
        mql = _pick(
            curve,
            index,
            policy=mql.policy,
            target=mql.target,
            feasible=False,
            message=message,
            threshold=sql.threshold,
            weeks=weeks,
        )
    return {"mql": mql, "sql": sql}


def _index_at(curve: pd.DataFrame, threshold: float) -> int:
    """Row a threshold reproduces: the lowest candidate at or above it (0 when above all)."""
    candidates = np.flatnonzero(curve["threshold"].to_numpy() >= threshold)
    return int(candidates[-1]) if candidates.size else 0


def effect_at(curve: pd.DataFrame, threshold: float) -> pd.Series:
    """The curve row that a threshold reproduces (the lowest candidate at or above it)."""
    return curve.iloc[_index_at(curve, threshold)]


def what_if_table(curve: pd.DataFrame, *, weeks: float, max_rows: int = 200) -> pd.DataFrame:
    """Threshold -> leads per week, expected and realised conversions per week, precision, recall.

    At most `max_rows` rows, evenly spaced in volume so the curve is even where it matters.
    """
    volume = curve["volume"].to_numpy()
    targets = np.linspace(volume[0], volume[-1], max_rows)
    keep = np.unique(np.clip(np.searchsorted(volume, targets, side="left"), 0, len(curve) - 1))
    rows = curve.iloc[keep]
    return pd.DataFrame(
        {
            "threshold": rows["threshold"].to_numpy(),
            "leads_per_week": rows["volume"].to_numpy() / weeks,
            "expected_conversions_per_week": rows["expected_conversions"].to_numpy() / weeks,
            "conversions_per_week": rows["conversions"].to_numpy() / weeks,
            "precision": rows["precision"].to_numpy(),
            "recall": rows["recall"].to_numpy(),
        }
    ).reset_index(drop=True)


def capacity_table(
    curve: pd.DataFrame, *, weeks: float, leads_per_week: Sequence[float]
) -> pd.DataFrame:
    """For each weekly sales capacity: the threshold that fills it and what sales would get.

    `forced_only` marks capacities the forced leads (hand-raisers) alone fill or exceed.
    """
    volume = curve["volume"].to_numpy()
    rows = []
    for capacity in leads_per_week:
        fits = np.flatnonzero(volume <= np.floor(float(capacity) * weeks))
        index = int(fits[-1]) if fits.size else 0
        row = curve.iloc[index]
        rows.append(
            {
                "capacity_per_week": float(capacity),
                "forced_only": index == 0,
                "threshold": float(row["threshold"]),
                "leads_per_week": float(row["volume"]) / weeks,
                "expected_conversions_per_week": float(row["expected_conversions"]) / weeks,
                "conversions_per_week": float(row["conversions"]) / weeks,
                "precision": float(row["precision"]),
                "recall": float(row["recall"]),
            }
        )
    return pd.DataFrame(rows)


def stage_effect(
    y: np.ndarray,
    stages: np.ndarray,
    *,
    weeks: float,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    predictive: bool = False,
) -> pd.DataFrame:
    """Per stage: leads per week, conversion rate (precision), share of conversions (recall).

    Each comes with a Poisson-bootstrap interval: every stage x outcome count is redrawn as
    Poisson(count), which is how weekly volumes vary (the lead inflow is not fixed either).
    With `predictive` the interval is for a new cohort of the same length (the redrawn rates
    drawn once more), the range to expect next period rather than the error of this one.
    Rows: the four stages, "MQL or higher" and "All leads".
    """
    labels = np.asarray(y, dtype=np.int64).reshape(-1)
    ranks = stage_rank(stages)
    if ranks.shape != labels.shape:
        raise ValueError(f"y has {labels.shape[0]} values but stages has {ranks.shape[0]}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    k = len(STAGE_ORDER)
    counts = np.bincount(ranks * 2 + labels, minlength=2 * k).reshape(k, 2).astype(float)
    rng = np.random.default_rng(seed)
    draws = rng.poisson(np.broadcast_to(counts, (n_boot, k, 2))).astype(float)
    if predictive:
        draws = rng.poisson(draws).astype(float)
    groups = {stage: [rank] for rank, stage in enumerate(STAGE_ORDER)}
    groups[MQL_OR_HIGHER] = [STAGE_ORDER.index(MQL), STAGE_ORDER.index(SQL)]
    groups[ALL_LEADS] = list(range(k))
    tail = (1.0 - confidence) / 2.0
    total_now = counts[:, 1].sum()
    total_boot = draws[:, :, 1].sum(axis=1)
    rows = []
    for name, members in groups.items():
        leads, converted = counts[members].sum(axis=0).sum(), counts[members, 1].sum()
        boot_leads = draws[:, members].sum(axis=(1, 2))
        boot_conv = draws[:, members, 1].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            estimates = {
                "leads_per_week": (leads / weeks, boot_leads / weeks),
                "precision": (
                    converted / leads if leads else np.nan,
                    np.where(boot_leads > 0, boot_conv / boot_leads, np.nan),
                ),
                "recall": (
                    converted / total_now if total_now else np.nan,
                    np.where(total_boot > 0, boot_conv / total_boot, np.nan),
                ),
            }
        row: dict[str, Any] = {"stage": name, "leads": int(leads), "conversions": int(converted)}
        for metric, (point, boot) in estimates.items():
            finite = boot[np.isfinite(boot)]
            low, high = np.quantile(finite, [tail, 1 - tail]) if finite.size else (np.nan,) * 2
            row |= {
                metric: float(point),
                f"{metric}_low": float(low),
                f"{metric}_high": float(high),
            }
        rows.append(row)
    return pd.DataFrame(rows)


def stage_movement(rule_stage: np.ndarray, model_stage: np.ndarray) -> pd.DataFrame:
    """Leads per (points stage, model stage): rows are the points stages, columns the model's."""
    order = pd.CategoricalDtype(list(STAGE_ORDER), ordered=True)
    table = pd.crosstab(
        pd.Series(np.asarray(rule_stage, dtype=object), name="points stage").astype(order),
        pd.Series(np.asarray(model_stage, dtype=object), name="model stage").astype(order),
        dropna=False,
    )
    return table.reindex(index=list(STAGE_ORDER), columns=list(STAGE_ORDER), fill_value=0)


def funnel(y: np.ndarray, stages: np.ndarray) -> pd.DataFrame:
    """Leads and conversions left at each funnel step, and what each step loses."""
    labels = np.asarray(y, dtype=np.int64).reshape(-1)
    rank = stage_rank(stages)
    steps = {
        ALL_LEADS: np.ones(rank.shape, dtype=bool),
        "In play (not disqualified)": rank >= STAGE_ORDER.index(IQL),
        "MQL or higher": rank >= STAGE_ORDER.index(MQL),
        "SQL": rank == STAGE_ORDER.index(SQL),
    }
    leads = np.array([mask.sum() for mask in steps.values()])
    conversions = np.array([labels[mask].sum() for mask in steps.values()])
    previous_leads = np.concatenate([[leads[0]], leads[:-1]])
    previous_conv = np.concatenate([[conversions[0]], conversions[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                "step": list(steps),
                "leads": leads,
                "share_of_previous": np.where(previous_leads > 0, leads / previous_leads, np.nan),
                "conversions": conversions,
                "conversion_rate": np.where(leads > 0, conversions / leads, np.nan),
                "conversions_lost": previous_conv - conversions,
            }
        )


__all__ = [
    "ALL_LEADS",
    "DISQUALIFIED",
    "IQL",
    "MQL",
    "MQL_OR_HIGHER",
    "SQL",
    "InfeasibleTargetWarning",
    "ThresholdChoice",
    "capacity_table",
    "choose_thresholds",
    "effect_at",
    "funnel",
    "pick_by_expected_value",
    "pick_by_precision",
    "pick_by_recall",
    "pick_by_volume",
    "stage_curve",
    "stage_effect",
    "stage_movement",
    "threshold_for_precision",
    "threshold_for_recall",
    "threshold_for_volume",
    "what_if_table",
]
