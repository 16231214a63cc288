"""Stage thresholds on calibrated probabilities, chosen from targets marketing understands.

Thresholds act on the stage a lead really lands in, not on the raw score alone: hand-raisers
(`forced`) are SQL whatever their probability and disqualified leads (`excluded`) are out of
the funnel whatever their probability. A precision target, a sales capacity or a recall
target is therefore met by the stage as delivered (hand-raisers use up sales capacity;
disqualified converters are conversions the funnel loses).

Every candidate threshold comes from `sklearn.metrics.confusion_matrix_at_thresholds`
(one row per distinct score); the policies pick a row of that curve. What a threshold gives
on a cohort is reported with Poisson-bootstrap intervals (`stage_effect`).

A cohort can hold snapshots of the open lead base (one row per lead and scoring moment, see
`CohortTiming`): precision is then "of the leads in the stage on a scoring day, this share
converts within the horizon", and volumes come in two units: leads in the stage on a scoring
day, and leads entering it per week (what sales absorbs; the capacity policy limits this).
A cohort of one row per lead is the special case of one moment where every lead enters.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix_at_thresholds

from features.split import cohort_weeks
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
    "entering",
    "entering_conversions",
    "entering_expected_conversions",
]
DAYS_PER_WEEK = 7.0


class InfeasibleTargetWarning(UserWarning):
    """A target no threshold reaches; the closest feasible threshold is used."""


@dataclass(frozen=True)
class CohortTiming:
    """When a cohort's rows were scored: its scoring days and each row's previous snapshot.

    `previous[i]` is the row of the same lead one snapshot earlier (-1: none, the lead was not
    in the open base or not sampled then); `counted` marks the rows whose previous moment
    belongs to the cohort, the only rows whose entering a stage can be told (the first moment's
    previous snapshot lies in an earlier cohort). `sample_rate` is the share of (lead, moment)
    pairs the table keeps: volumes are scaled back to the whole base.
    """

    moments: int
    weeks: float
    entering_weeks: float
    every_days: float | None = None
    previous: np.ndarray | None = field(default=None, repr=False)
    counted: np.ndarray | None = field(default=None, repr=False)
    sample_rate: float = 1.0

    @classmethod
    def one_row_per_lead(cls, weeks: float) -> CohortTiming:
        """A cohort of one row per lead over `weeks`: one moment, every lead enters."""
        return cls(moments=1, weeks=float(weeks), entering_weeks=float(weeks))

    @property
    def snapshots(self) -> bool:
        """True when rows are snapshots of the open base (several per lead)."""
        return self.previous is not None

    def subset(self, mask: np.ndarray) -> CohortTiming:
        """The timing of the rows in `mask` (e.g. one segment): the same scoring days, each
        row's previous snapshot renumbered (-1 when that row is not in the subset)."""
        if self.previous is None:
            return self
        mask = np.asarray(mask, dtype=bool)
        position = np.cumsum(mask) - 1  # new row number of each kept row
        previous = self.previous[mask]
        kept = previous >= 0
        kept[kept] = mask[previous[kept]]
        counted = None if self.counted is None else self.counted[mask]
        return replace(
            self,
            previous=np.where(kept, position[np.maximum(previous, 0)], -1),
            counted=counted,
        )

    def to_dict(self) -> dict[str, Any]:
        """The cohort's time units, for thresholds.json."""
        return {
            "cohort_weeks": self.weeks,
            "snapshot_every_days": self.every_days,
            "snapshot_moments": self.moments,
            "entering_weeks": self.entering_weeks,
            "sample_rate": self.sample_rate,
        }


def snapshot_timing(
    lead_id: pd.Series | np.ndarray,
    as_of: pd.Series | np.ndarray,
    *,
    every_days: float,
    sample_rate: float = 1.0,
) -> CohortTiming:
    """Timing of a snapshot cohort: moments, weeks and each row's previous snapshot.

    Weeks are moments x `every_days` / 7 (each scoring day stands for its period); entering
    is counted on the moments whose previous moment is in the cohort too.
    """
    if every_days <= 0:
        raise ValueError(f"snapshot_every_days must be positive, got {every_days}")
    if not 0.0 < sample_rate <= 1.0:
        raise ValueError(f"sample_rate must be in (0, 1], got {sample_rate}")
    rows = pd.DataFrame(
        {"lead_id": np.asarray(lead_id), "as_of": pd.to_datetime(np.asarray(as_of))}
    )
    rows["row"] = np.arange(len(rows))
    step = pd.Timedelta(days=float(every_days))
    moments = pd.Index(rows["as_of"].unique())
    # the same lead one step earlier; a merge, not a loop over leads
    earlier = rows[["lead_id", "as_of", "row"]].assign(as_of=rows["as_of"] + step)
    earlier = earlier.drop_duplicates(["lead_id", "as_of"])
    found = rows[["lead_id", "as_of"]].merge(earlier, on=["lead_id", "as_of"], how="left")
    previous = found["row"].fillna(-1).to_numpy(dtype=np.int64)
    has_earlier_moment = moments.isin(moments + step)
    if has_earlier_moment.any():
        counted = rows["as_of"].isin(moments[has_earlier_moment]).to_numpy()
        entering_moments = int(has_earlier_moment.sum())
    else:  # one moment: its leads all count as entering, as without snapshots
        counted, entering_moments = np.ones(len(rows), dtype=bool), len(moments)
    return CohortTiming(
        moments=len(moments),
        weeks=len(moments) * float(every_days) / DAYS_PER_WEEK,
        entering_weeks=entering_moments * float(every_days) / DAYS_PER_WEEK,
        every_days=float(every_days),
        previous=np.where(counted, previous, -1),
        counted=counted,
        sample_rate=float(sample_rate),
    )


def cohort_timing(
    rows: pd.DataFrame,
    *,
    snapshots: bool,
    every_days: float,
    fallback_weeks: float,
    sample_rate: float = 1.0,
) -> CohortTiming:
    """Timing of a cohort's rows (`lead_id`, `as_of`): snapshots or one row per lead."""
    if snapshots and rows["as_of"].notna().all() and len(rows):
        return snapshot_timing(
            rows["lead_id"], rows["as_of"], every_days=every_days, sample_rate=sample_rate
        )
    return CohortTiming.one_row_per_lead(cohort_weeks(rows["as_of"], fallback_weeks=fallback_weeks))


@dataclass(frozen=True)
class ThresholdChoice:
    """One threshold and what it gives (leads at or above it) on the cohort it was chosen on.

    `volume` counts rows (lead x scoring day); `volume_per_week` is the leads the stage
    receives per week (= `entering_per_week`; without snapshots, volume / weeks as before).
    """

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
    in_stage_per_scoring_day: float = float("nan")
    entering_per_week: float = float("nan")

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
    timing: CohortTiming | None = None,
) -> pd.DataFrame:
    """Leads at or above each candidate threshold: volume, conversions, precision, recall.

    Rows run from the highest threshold down. The first row sits just above every score:
    only the forced leads (hand-raisers) are in. `expected_conversions` sums the calibrated
    probabilities (what the model expects); `conversions` counts the labels (what happened).
    Recall is over all conversions of the cohort, disqualified ones included. `entering*`
    count the rows that enter the stage at that threshold (`CohortTiming`; scaled to the
    whole base): without snapshots every row enters, so they equal the row counts.
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
    curve = pd.DataFrame(
        {
            "threshold": np.concatenate([[top], thresholds]),
            "volume": volume.astype(np.int64),
            "conversions": conversions.astype(np.int64),
            "expected_conversions": expected,
            "precision": precision,
            "recall": recall,
        }
    )
    if timing is None or not timing.snapshots:
        entering = curve[["volume", "conversions", "expected_conversions"]].to_numpy(float)
    else:
        # forced rows are in whatever the threshold, disqualified rows never
        effective = np.where(always_in, np.inf, np.where(out_of_play, -np.inf, p))
        weights = np.column_stack([np.ones_like(p), y, p])
        entering = _entering_at(curve["threshold"].to_numpy(), effective, weights, timing)
    names = ["entering", "entering_conversions", "entering_expected_conversions"]
    return curve.assign(**dict(zip(names, entering.T, strict=True)))


def _weight_at_or_above(
    thresholds: np.ndarray, scores: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Column sums of `weights` over the rows scoring >= each threshold (sorted, not looped)."""
    order = np.argsort(-scores, kind="stable")
    cumulative = np.vstack([np.zeros((1, weights.shape[1])), np.cumsum(weights[order], axis=0)])
    at_or_above = len(scores) - np.searchsorted(np.sort(scores), thresholds, side="left")
    return cumulative[at_or_above]


def _entering_at(
    thresholds: np.ndarray, effective: np.ndarray, weights: np.ndarray, timing: CohortTiming
) -> np.ndarray:
    """(leads, conversions, expected conversions) entering the stage at each threshold.

    A row enters when its lead was not in the stage at its previous snapshot:
    entering(th) = #(s >= th) - #(s >= th and s_previous >= th), over the counted rows; the
    pairs are scaled by 1 / sample_rate more than the rows (both ends must be sampled).
    """
    counted = np.asarray(timing.counted, dtype=bool)
    previous = np.asarray(timing.previous, dtype=np.int64)
    in_now = _weight_at_or_above(thresholds, effective[counted], weights[counted])
    paired = previous >= 0
    still_in = np.minimum(effective[paired], effective[previous[paired]])
    in_both = _weight_at_or_above(thresholds, still_in, weights[paired])
    rate = timing.sample_rate
    # unbiased, but a sampled small group can give a negative estimate: no fewer than none
    return np.maximum((in_now - in_both / rate) / rate, 0.0)


def _timing_of(weeks: float, timing: CohortTiming | None) -> CohortTiming:
    """The cohort's timing; a bare number of weeks is a cohort of one row per lead."""
    return CohortTiming.one_row_per_lead(weeks) if timing is None else timing


def _per(value: float, units: float) -> float:
    return float(value) / units if units > 0 else float("nan")


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
    timing: CohortTiming | None = None,
) -> ThresholdChoice:
    row = curve.iloc[int(index)]
    timing = _timing_of(weeks, timing)
    if message:
        logger.warning(message)
    entering = float(row["entering"]) if "entering" in row else float(row["volume"])
    entering_per_week = _per(entering, timing.entering_weeks)
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
        volume_per_week=entering_per_week,
        in_stage_per_scoring_day=_per(row["volume"] / timing.sample_rate, timing.moments),
        entering_per_week=entering_per_week,
    )


def pick_by_precision(
    curve: pd.DataFrame,
    *,
    target: float,
    policy: str = "precision",
    weeks: float = np.nan,
    timing: CohortTiming | None = None,
) -> ThresholdChoice:
    """Lowest threshold whose precision reaches `target` (most leads at that quality)."""
    precision = curve["precision"].to_numpy()
    ok = np.flatnonzero(precision >= target)
    when = {"policy": policy, "target": target, "weeks": weeks, "timing": timing}
    if ok.size:
        return _pick(curve, ok[-1], feasible=True, **when)
    best = int(np.nanargmax(precision)) if np.isfinite(precision).any() else 0
    message = (
        f"no threshold reaches precision {target:.0%}; the best reachable is"
        f" {precision[best]:.1%} at threshold {curve['threshold'].iloc[best]:.3f} (used instead)"
    )
    return _pick(curve, best, feasible=False, message=message, **when)


def pick_by_recall(
    curve: pd.DataFrame,
    *,
    target: float,
    policy: str = "recall",
    weeks: float = np.nan,
    timing: CohortTiming | None = None,
) -> ThresholdChoice:
    """Highest threshold that still captures `target` of all conversions."""
    recall = curve["recall"].to_numpy()
    ok = np.flatnonzero(recall >= target)
    when = {"policy": policy, "target": target, "weeks": weeks, "timing": timing}
    if ok.size:
        return _pick(curve, ok[0], feasible=True, **when)
    best = len(curve) - 1
    message = (
        f"no threshold reaches recall {target:.0%}: disqualified leads hold the other"
        f" conversions; the best reachable is {recall[best]:.1%} (every eligible lead, used)"
    )
    return _pick(curve, best, feasible=False, message=message, **when)


def _within(curve: pd.DataFrame, limit: float) -> np.ndarray:
    """Rows (from the top) up to which the leads entering the stage stay within `limit`.

    Entering is not monotone in the threshold on snapshots (a lower threshold keeps leads in
    the stage rather than letting them re-enter), so a row fits only if every higher one does.
    """
    entering = curve["entering" if "entering" in curve else "volume"].to_numpy(dtype=float)
    # a hair of tolerance: entering is a difference of sums of floats
    return np.flatnonzero(np.maximum.accumulate(entering) <= np.floor(limit) + 1e-9)


def pick_by_volume(
    curve: pd.DataFrame,
    *,
    volume: float,
    policy: str = "capacity",
    target: float | None = None,
    weeks: float = np.nan,
    timing: CohortTiming | None = None,
) -> ThresholdChoice:
    """Lowest threshold whose stage at most `volume` leads enter (ties stay together).

    Without snapshots that is at most `volume` leads in the stage, as it always was.
    """
    target = float(volume if target is None else target)
    when = {"policy": policy, "target": target, "weeks": weeks, "timing": timing}
    entering = curve["entering" if "entering" in curve else "volume"].to_numpy(dtype=float)
    ok = _within(curve, volume)
    if ok.size and entering[ok[-1]] > 0:
        return _pick(curve, ok[-1], feasible=True, **when)
    if entering[0] > 0:
        message = (
            f"a capacity of {volume:.0f} leads is below the {entering[0]:.0f} hand-raisers, who"
            " go to sales regardless; the stage holds the hand-raisers only"
        )
    else:
        message = f"a capacity of {volume:.1f} leads is below one lead; the stage stays empty"
    return _pick(curve, 0, feasible=False, message=message, **when)


def pick_by_expected_value(
    curve: pd.DataFrame,
    *,
    deal_value: float,
    contact_cost: float,
    weeks: float = np.nan,
    timing: CohortTiming | None = None,
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
        timing=timing,
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
    weeks: float = np.nan,
    forced: np.ndarray | None = None,
    excluded: np.ndarray | None = None,
    timing: CohortTiming | None = None,
    sql_ineligible: np.ndarray | None = None,
) -> dict[str, ThresholdChoice]:
    """SQL and MQL thresholds for a cohort (`timing`, or one row per lead over `weeks`).

    `forced` marks leads that are SQL whatever their score (hand-raisers within their window
    when `hand_raiser_to_sql` is on), `excluded` the disqualified ones. Precision and recall
    are over the cohort's rows (on snapshots: the leads in the stage on a scoring day); the
    capacity policy limits the leads entering SQL per week. MQL never ends above SQL.
    `sql_ineligible` marks leads that may not reach SQL by their score (they stay MQL at most):
    the SQL threshold is chosen on the curve without them, the MQL one on the whole cohort.
    """
    if isinstance(policy, Mapping):  # a mapping of the keys, as in params.yaml
        policy = SimpleNamespace(**({"sql_policy": "precision", "mql_policy": "recall"} | policy))
    timing = _timing_of(weeks, timing)
    curve, sql_curve = _stage_curves(y, p, forced, excluded, sql_ineligible, timing)
    sql_policy = policy.sql_policy
    if sql_policy == "precision":
        sql = pick_by_precision(sql_curve, target=float(policy.sql_precision), timing=timing)
    elif sql_policy == "capacity":
        per_week = float(policy.sql_capacity_per_week)
        limit = per_week * timing.entering_weeks
        sql = pick_by_volume(sql_curve, volume=limit, target=per_week, timing=timing)
    elif sql_policy == "expected_value":
        sql = pick_by_expected_value(
            sql_curve,
            deal_value=float(policy.deal_value),
            contact_cost=float(policy.contact_cost),
            timing=timing,
        )
    else:
        raise ValueError(f"unknown thresholds.sql_policy {sql_policy!r}; use one of {SQL_POLICIES}")
    mql_policy = policy.mql_policy
    if mql_policy == "recall":
        mql = pick_by_recall(curve, target=float(policy.mql_recall), timing=timing)
    elif mql_policy == "precision_floor":
        mql = pick_by_precision(
            curve,
            target=float(policy.mql_precision_floor),
            policy="precision_floor",
            timing=timing,
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
            timing=timing,
        )
    return {"mql": mql, "sql": sql}


def _stage_curves(
    y: np.ndarray,
    p: np.ndarray,
    forced: np.ndarray | None,
    excluded: np.ndarray | None,
    sql_ineligible: np.ndarray | None,
    timing: CohortTiming,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(MQL curve over the whole cohort, SQL curve without the leads that may not reach SQL
    by their score: the same curve when there are none)."""
    curve = stage_curve(y, p, forced=forced, excluded=excluded, timing=timing)
    if sql_ineligible is None or not np.any(sql_ineligible):
        return curve, curve
    never_sql = np.asarray(sql_ineligible, dtype=bool)
    if excluded is not None:
        never_sql = never_sql | np.asarray(excluded, dtype=bool)
    return curve, stage_curve(y, p, forced=forced, excluded=never_sql, timing=timing)


def choices_at(
    *,
    y: np.ndarray,
    p: np.ndarray,
    thresholds: Mapping[str, ThresholdChoice | Mapping[str, Any]],
    timing: CohortTiming,
    forced: np.ndarray | None = None,
    excluded: np.ndarray | None = None,
    sql_ineligible: np.ndarray | None = None,
    message: str = "",
) -> dict[str, ThresholdChoice]:
    """What given MQL/SQL thresholds (chosen elsewhere, e.g. on the whole cohort) give on this
    cohort, with their policy and target kept; `feasible` says whether the target holds here."""
    curve, sql_curve = _stage_curves(y, p, forced, excluded, sql_ineligible, timing)
    choices = {}
    for name, stage_curve_ in (("mql", curve), ("sql", sql_curve)):
        given = thresholds[name]
        given = given.to_dict() if isinstance(given, ThresholdChoice) else dict(given)
        row = effect_at(stage_curve_, float(given["threshold"]))
        policy, target = str(given["policy"]), float(given["target"])
        reached = row["recall"] if policy == "recall" else row["precision"]
        holds = policy not in ("recall", "precision", "precision_floor") or reached >= target
        choices[name] = replace(
            _pick(
                stage_curve_,
                _index_at(stage_curve_, float(given["threshold"])),
                policy=policy,
                target=target,
                feasible=bool(holds),
                threshold=float(given["threshold"]),
                timing=timing,
            ),
            message=message,
        )
    return choices


def _index_at(curve: pd.DataFrame, threshold: float) -> int:
    """Row a threshold reproduces: the lowest candidate at or above it (0 when above all)."""
    candidates = np.flatnonzero(curve["threshold"].to_numpy() >= threshold)
    return int(candidates[-1]) if candidates.size else 0


def effect_at(curve: pd.DataFrame, threshold: float) -> pd.Series:
    """The curve row that a threshold reproduces (the lowest candidate at or above it)."""
    return curve.iloc[_index_at(curve, threshold)]


def _weekly(rows: pd.DataFrame, timing: CohortTiming) -> dict[str, np.ndarray]:
    """Curve rows in both units: in the stage on a scoring day, and entering per week.

    `leads_per_week` is the leads sales receives per week (= entering per week); the weekly
    conversions are those of the entering leads (within the horizon).
    """
    if "entering" not in rows:  # a curve built before entering was counted
        rows = rows.assign(
            entering=rows["volume"],
            entering_conversions=rows["conversions"],
            entering_expected_conversions=rows["expected_conversions"],
        )
    weeks = timing.entering_weeks
    entering = rows["entering"].to_numpy(dtype=float) / weeks
    return {
        "threshold": rows["threshold"].to_numpy(),
        "leads_per_week": entering,
        "in_stage_per_scoring_day": rows["volume"].to_numpy() / timing.sample_rate / timing.moments,
        "entering_per_week": entering,
        "expected_conversions_per_week": rows["entering_expected_conversions"].to_numpy() / weeks,
        "conversions_per_week": rows["entering_conversions"].to_numpy() / weeks,
        "precision": rows["precision"].to_numpy(),
        "recall": rows["recall"].to_numpy(),
    }


def what_if_table(
    curve: pd.DataFrame,
    *,
    weeks: float = np.nan,
    max_rows: int = 200,
    timing: CohortTiming | None = None,
) -> pd.DataFrame:
    """Threshold -> leads per week (entering; in the stage on a scoring day), conversions per
    week (expected and realised), precision, recall.

    At most `max_rows` rows, evenly spaced in volume so the curve is even where it matters.
    """
    volume = curve["volume"].to_numpy()
    targets = np.linspace(volume[0], volume[-1], max_rows)
    keep = np.unique(np.clip(np.searchsorted(volume, targets, side="left"), 0, len(curve) - 1))
    rows = curve.iloc[keep]
    return pd.DataFrame(_weekly(rows, _timing_of(weeks, timing))).reset_index(drop=True)


def capacity_table(
    curve: pd.DataFrame,
    *,
    weeks: float = np.nan,
    leads_per_week: Sequence[float],
    timing: CohortTiming | None = None,
) -> pd.DataFrame:
    """For each weekly sales capacity (leads entering SQL): the threshold that fills it and
    what sales would get.

    `forced_only` marks capacities the forced leads (hand-raisers) alone fill or exceed.
    """
    timing = _timing_of(weeks, timing)
    capacities = [float(capacity) for capacity in leads_per_week]
    index = []
    for capacity in capacities:
        fits = _within(curve, capacity * timing.entering_weeks)
        index.append(int(fits[-1]) if fits.size else 0)
    table = pd.DataFrame(_weekly(curve.iloc[index], timing))
    table.insert(0, "forced_only", np.asarray(index) == 0)
    table.insert(0, "capacity_per_week", capacities)
    return table


def _previous_state(ranks: np.ndarray, timing: CohortTiming) -> np.ndarray:
    """Per row: the stage rank at the lead's previous snapshot, ABSENT, or NOT_COUNTED."""
    k = len(STAGE_ORDER)
    if not timing.snapshots:
        return np.full(ranks.shape, k)  # every row enters (one row per lead)
    previous = np.asarray(timing.previous, dtype=np.int64)
    state = np.where(previous >= 0, ranks[np.maximum(previous, 0)], k)
    return np.where(np.asarray(timing.counted, dtype=bool), state, k + 1)


def _group_volumes(
    cells: np.ndarray, members: list[int], timing: CohortTiming
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, converted rows, leads entering) of a group of stages, from cell counts.

    `cells[..., stage, previous state, label]`; entering = counted rows in the group minus
    those whose previous snapshot was in the group too (scaled for the sampled pairs).
    """
    k = len(STAGE_ORDER)
    group = cells[..., members, :, :]
    rows = group.sum(axis=(-3, -2, -1))
    converted = group[..., 1].sum(axis=(-2, -1))
    counted = group[..., : k + 1, :].sum(axis=(-3, -2, -1))
    stayed = group[..., members, :].sum(axis=(-3, -2, -1))
    entering = (counted - stayed / timing.sample_rate) / timing.sample_rate
    return rows, converted, np.maximum(entering, 0.0)  # see `_entering_at`


def stage_effect(
    y: np.ndarray,
    stages: np.ndarray,
    *,
    weeks: float = np.nan,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    predictive: bool = False,
    timing: CohortTiming | None = None,
) -> pd.DataFrame:
    """Per stage: leads per week, in the stage on a scoring day, conversion rate (precision),
    share of conversions (recall).

    `leads_per_week` = `entering_per_week`: the leads entering the stage per week (without
    snapshots: the stage's leads / weeks). Each figure comes with a Poisson-bootstrap interval:
    every stage x previous stage x outcome count is redrawn as Poisson(count), which is how
    weekly volumes vary (the lead inflow is not fixed either). With `predictive` the interval
    is for a new cohort of the same length (the redrawn rates drawn once more), the range to
    expect next period rather than the error of this one.
    Rows: the four stages, "MQL or higher" and "All leads".
    """
    timing = _timing_of(weeks, timing)
    labels = np.asarray(y, dtype=np.int64).reshape(-1)
    ranks = stage_rank(stages)
    if ranks.shape != labels.shape:
        raise ValueError(f"y has {labels.shape[0]} values but stages has {ranks.shape[0]}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    k = len(STAGE_ORDER)
    shape = (k, k + 2, 2)  # stage, previous state (stages, absent, not counted), label
    cell = np.ravel_multi_index((ranks, _previous_state(ranks, timing), labels), shape)
    cells = np.bincount(cell, minlength=int(np.prod(shape))).reshape(shape).astype(float)
    rng = np.random.default_rng(seed)
    draws = rng.poisson(np.broadcast_to(cells, (n_boot, *shape))).astype(float)
    if predictive:
        draws = rng.poisson(draws).astype(float)
    groups = {stage: [rank] for rank, stage in enumerate(STAGE_ORDER)}
    groups[MQL_OR_HIGHER] = [STAGE_ORDER.index(MQL), STAGE_ORDER.index(SQL)]
    groups[ALL_LEADS] = list(range(k))
    tail = (1.0 - confidence) / 2.0
    total_now = cells[..., 1].sum()
    total_boot = draws[..., 1].sum(axis=(1, 2))
    per_day = timing.sample_rate * timing.moments
    rows = []
    for name, members in groups.items():
        leads, converted, entering = _group_volumes(cells, members, timing)
        boot_leads, boot_conv, boot_entering = _group_volumes(draws, members, timing)
        with np.errstate(invalid="ignore", divide="ignore"):
            estimates = {
                "leads_per_week": (entering, boot_entering),
                "in_stage_per_scoring_day": (leads / per_day, boot_leads / per_day),
                "entering_per_week": (entering, boot_entering),
                "precision": (
                    converted / leads if leads else np.nan,
                    np.where(boot_leads > 0, boot_conv / boot_leads, np.nan),
                ),
                "recall": (
                    converted / total_now if total_now else np.nan,
                    np.where(total_boot > 0, boot_conv / total_boot, np.nan),
                ),
            }
        for metric in ("leads_per_week", "entering_per_week"):
            point, boot = estimates[metric]
            estimates[metric] = (point / timing.entering_weeks, boot / timing.entering_weeks)
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
    "CohortTiming",
    "InfeasibleTargetWarning",
    "ThresholdChoice",
    "capacity_table",
    "choose_thresholds",
    "cohort_timing",
    "effect_at",
    "funnel",
    "pick_by_expected_value",
    "pick_by_precision",
    "pick_by_recall",
    "pick_by_volume",
    "snapshot_timing",
    "stage_curve",
    "stage_effect",
    "stage_movement",
    "threshold_for_precision",
    "threshold_for_recall",
    "threshold_for_volume",
    "what_if_table",
]
