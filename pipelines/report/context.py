"""What the marketing report shows: every table and number, computed from the scored test cohort.

`build_context` turns the stage's inputs into a `ReportContext` (data frames and summaries);
`page_values` turns that into the plain values and rows the template lays out (numbers, strings,
lists of dicts). Nothing here reads files, draws or writes markup: the words and the markup
live in `templates/`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.split import cohort_weeks
from models.bundle import LEARNED_POINTS, SEGMENT
from models.evaluation import (
    age_band_frame,
    calibration_points,
    fraction_label,
    gains_points,
    lift_and_gains,
    metrics_by_age_band,
)
from models.rules import PointsBaseline
from models.stages import DISQUALIFIED, MQL, SQL, STAGE_ORDER
from models.thresholds import (
    MQL_OR_HIGHER,
    CohortTiming,
    capacity_table,
    funnel,
    stage_curve,
    stage_effect,
    stage_movement,
    what_if_table,
)
from pipelines.config import ReportParams
from pipelines.report.segments import OTHER_SEGMENTS, segment_values, split_segments
from pipelines.tracking import MODEL_NAME

COHORT_ORDER = {"train": 0, "calibration": 1, "test": 2}
IN_PLAY_STEP = "In play (not disqualified)"
ENOUGH_PERIOD_CONVERSIONS = 100
AGE_COLUMN = "lead_age_days"
STAGE_UNIT_KEYS = ("in_stage_per_scoring_day", "entering_per_week")
MAX_QUARANTINED_SHARE = 0.01
LEARNED_STAGE = "learned_stage"  # the learned card's stage per lead (beside `learned_points`)


@dataclass(frozen=True)
class DataCheck:
    """One line of the data-sufficiency panel; the template words it by `check`."""

    check: str  # "training_conversions", "period_conversions" or "clean_input"
    ok: bool
    count: int
    limit: float  # the minimum count, or the largest share quarantined
    period: str = ""
    total: int = 0  # rows read (clean_input)
    share: float = 0.0  # share of the rows read that were quarantined (clean_input)


@dataclass
class ReportContext:
    """Everything the page shows, already computed (plain numbers and small tables)."""

    model_name: str
    model_version: str
    model_alias: str
    generated_at: str
    period_start: str
    period_end: str
    weeks: float
    confidence: float
    thresholds: Mapping[str, Any]
    model_effect: pd.DataFrame
    points_effect: pd.DataFrame
    expected_effect: pd.DataFrame
    movement: pd.DataFrame
    what_if: pd.DataFrame
    capacity: pd.DataFrame
    points_sql: Mapping[str, float]
    calibration: pd.DataFrame
    calibration_metrics: Mapping[str, float]
    gains: pd.DataFrame
    lift: pd.DataFrame
    drivers: pd.DataFrame
    funnel_model: pd.DataFrame
    funnel_points: pd.DataFrame
    points_thresholds: Mapping[str, float]
    extract_summary: Mapping[str, Any]
    features_summary: Mapping[str, Any]
    sufficiency: list[DataCheck]
    hand_raisers_per_week: float = math.nan
    approval: Mapping[str, Any] | None = None
    scoring_moments: int = 0  # distinct as-of moments (scoring days) in the test cohort
    snapshots: bool = False  # rows are the open base at scoring days (else one row per lead)
    by_age: pd.DataFrame | None = None  # per lead-age band; None when ages are unknown
    in_stage_per_scoring_day: Mapping[str, float] | None = None  # test cohort, per stage
    scorecard: list[dict[str, Any]] | None = None  # the learned card: variable, bin, points
    learned_card: Mapping[str, Any] | None = None  # card vs model vs points (metrics.json)
    card_effect: pd.DataFrame | None = None  # the learned card's stages on the test cohort
    card_thresholds: Mapping[str, float] | None = None  # the card's MQL/SQL points
    segment_metrics: Mapping[str, Any] | None = None  # metrics.json `segments` (test cohort)
    segment_effects: Mapping[str, pd.DataFrame] | None = None  # test stage table per segment


# -- from the scored cohort to the context -------------------------------------------------


def lift_rows(
    y: np.ndarray,
    model: np.ndarray,
    points: np.ndarray,
    fractions: list[float],
    card: np.ndarray | None = None,
) -> pd.DataFrame:
    """Lift and gains in the top shares of leads, model beside points (and the learned card's
    points when given, as `card` and `card_gains`), as display text."""
    scorers = {"model": model, "points": points} | ({"card": card} if card is not None else {})
    figures = {name: lift_and_gains(y, score, fractions) for name, score in scorers.items()}
    rows = []
    for fraction in fractions:
        label = fraction_label(fraction)
        row = {"share": f"{fraction:.0%}"}
        for name, by_scorer in figures.items():
            row[name] = f"{by_scorer[f'lift_at_{label}']:.1f}x"
            row[f"{name}_gains"] = f"{by_scorer[f'gains_at_{label}']:.0%}"
        rows.append(row)
    return pd.DataFrame(rows)


def sufficiency_checks(
    *,
    features_summary: Mapping[str, Any],
    extract_summary: Mapping[str, Any],
    min_positives: int,
) -> list[DataCheck]:
    """The data-sufficiency panel: enough conversions per period, and clean input."""
    cohorts = features_summary.get("cohorts") or {}
    need = int(min_positives)
    positives = int((cohorts.get("train") or {}).get("positives", 0))
    checks = [DataCheck("training_conversions", positives >= need, positives, need)]
    for name in ("calibration", "test"):
        got = int((cohorts.get(name) or {}).get("positives", 0))
        checks.append(
            DataCheck(
                "period_conversions",
                got >= ENOUGH_PERIOD_CONVERSIONS,
                got,
                ENOUGH_PERIOD_CONVERSIONS,
                period=name,
            )
        )
    tables = [t for t in extract_summary.values() if isinstance(t, Mapping)]
    read = sum(int(t.get("read", 0)) for t in tables)
    bad = sum(int(t.get("quarantined", 0)) for t in tables)
    share = bad / read if read else 0.0
    checks.append(
        DataCheck(
            "clean_input",
            share < MAX_QUARANTINED_SHARE,
            bad,
            MAX_QUARANTINED_SHARE,
            total=read,
            share=share,
        )
    )
    return checks


def age_table(evidence: pd.DataFrame, by_age_band: Mapping[str, Any]) -> pd.DataFrame | None:
    """Per lead-age band of the test cohort: leads, share, mean predicted, observed rate, and
    the mean synthetic truth from metrics.json when the evaluate stage had one."""
    if AGE_COLUMN not in evidence.columns or evidence[AGE_COLUMN].isna().all():
        return None
    known = evidence[evidence[AGE_COLUMN].notna()]
    table = age_band_frame(
        metrics_by_age_band(
            y_true=known["label"].to_numpy(),
            y_prob=known["probability"].to_numpy(),
            age_days=known[AGE_COLUMN].to_numpy(),
        )
    )
    truth = {band: (values or {}).get("mean_true") for band, values in by_age_band.items()}
    table["mean_true"] = table["band"].map(truth).astype(float)
    return table


def stage_counts_per_moment(evidence: pd.DataFrame) -> dict[str, float]:
    """Test leads in each stage (and MQL or higher) on an average scoring day (as-of moment)."""
    moments = max(int(evidence["as_of"].nunique()), 1)
    counts = evidence["stage"].astype(str).value_counts()
    per_day = {stage: float(counts.get(stage, 0)) / moments for stage in STAGE_ORDER}
    per_day[MQL_OR_HIGHER] = per_day[MQL] + per_day[SQL]
    return per_day


def is_snapshot_population(evidence: pd.DataFrame, thresholds: Mapping[str, Any]) -> bool:
    """Whether the cohort is the open base at a few scoring days (several leads per as-of
    moment), as the thresholds say when they count snapshot moments, rather than one row per
    lead at its own moment."""
    if thresholds.get("snapshot_every_days") is not None:
        return True
    return 2 * int(evidence["as_of"].nunique()) <= len(evidence)


def _in_stage_per_scoring_day(
    effect: pd.DataFrame, evidence: pd.DataFrame, timing: CohortTiming | None
) -> dict[str, float]:
    """Test leads per stage on a scoring day: from the stage effect when it knows the cohort's
    timing (sampling scaled back), else counted per distinct as-of moment."""
    if timing is not None and "in_stage_per_scoring_day" in effect.columns:
        return effect.set_index("stage")["in_stage_per_scoring_day"].astype(float).to_dict()
    return stage_counts_per_moment(evidence)


def with_learned_card(
    evidence: pd.DataFrame, *, card: PointsBaseline | None, rows: pd.DataFrame
) -> pd.DataFrame:
    """The evidence with the learned card's points and stage per lead, computed as the
    hand-written points' are (the card is a points baseline with its own MQL/SQL points, the
    same hand-raiser and negative rules); unchanged without a card."""
    if card is None:
        return evidence
    points = card.decision_function(rows)
    stage = card.predict_stage(rows, points=points)
    return evidence.assign(**{LEARNED_POINTS: np.asarray(points), LEARNED_STAGE: stage})


def has_learned_card(evidence: pd.DataFrame) -> bool:
    """Whether the evidence holds the learned card's points and stages."""
    return LEARNED_POINTS in evidence.columns and LEARNED_STAGE in evidence.columns


def gains_frame(y: np.ndarray, evidence: pd.DataFrame) -> pd.DataFrame:
    """Cumulative gains of the model, the points and (when scored) the learned card on the
    same leads (one tidy frame; `model` names the scorer)."""
    curves = [
        gains_points(y, evidence["probability"], model="model"),
        gains_points(y, evidence["rule_score"], model="points"),
    ]
    if has_learned_card(evidence):
        curves.append(gains_points(y, evidence[LEARNED_POINTS], model="learned_card"))
    return pd.concat(curves, ignore_index=True)


def segment_effects(
    evidence: pd.DataFrame, *, thresholds: Mapping[str, Any], effect_kwargs: Mapping[str, Any]
) -> dict[str, pd.DataFrame] | None:
    """The test period's stage table of each segment the report shows one by one, and of the
    other segments together (OTHER_SEGMENTS); None unless the thresholds are per segment and
    the evidence holds each lead's segment. Leads without a segment of their own are in none."""
    if SEGMENT not in evidence.columns or not thresholds.get("segments"):
        return None
    shown, rest = split_segments(thresholds)
    groups = {value: [value] for value in shown} | ({OTHER_SEGMENTS: rest} if rest else {})
    values = evidence[SEGMENT].astype("string")
    y, stages = evidence["label"].to_numpy(), evidence["stage"].to_numpy()
    timing = effect_kwargs.get("timing")
    effects = {}
    for name, members in groups.items():
        mask = values.isin(members).fillna(False).to_numpy(dtype=bool)
        if mask.any():
            subset = {"timing": timing.subset(mask) if timing is not None else None}
            effects[name] = stage_effect(y[mask], stages[mask], **(dict(effect_kwargs) | subset))
    return effects


def card_point_thresholds(scorecard: Mapping[str, Any] | None) -> dict[str, float] | None:
    """The learned card's MQL/SQL points (scorecard.json), or None without them."""
    chosen = (scorecard or {}).get("thresholds") or {}
    if "mql_points" not in chosen or "sql_points" not in chosen:
        return None
    return {"mql_points": float(chosen["mql_points"]), "sql_points": float(chosen["sql_points"])}


def scorer_comparison(
    y: np.ndarray,
    evidence: pd.DataFrame,
    *,
    effect_kwargs: Mapping[str, Any],
    fractions: list[float],
) -> dict[str, Any]:
    """The context's model-vs-points (and learned card) fields: stage effects, movement,
    gains, lift and funnels on the same test leads."""
    model_effect = stage_effect(y, evidence["stage"].to_numpy(), **effect_kwargs)
    points_effect = stage_effect(y, evidence["rule_stage"].to_numpy(), **effect_kwargs)
    card = has_learned_card(evidence)
    points_sql = points_effect.set_index("stage").loc[SQL]
    return {
        "model_effect": model_effect,
        "points_effect": points_effect,
        "card_effect": stage_effect(y, evidence[LEARNED_STAGE].to_numpy(), **effect_kwargs)
        if card
        else None,
        "movement": stage_movement(evidence["rule_stage"].to_numpy(), evidence["stage"].to_numpy()),
        "points_sql": {
            "leads_per_week": float(points_sql["leads_per_week"]),
            "precision": float(points_sql["precision"]),
        },
        "gains": gains_frame(y, evidence),
        "lift": lift_rows(
            y,
            evidence["probability"].to_numpy(),
            evidence["rule_score"].to_numpy(),
            fractions,
            card=evidence[LEARNED_POINTS].to_numpy(dtype=float) if card else None,
        ),
        "funnel_model": funnel(y, evidence["stage"].to_numpy()),
        "funnel_points": funnel(y, evidence["rule_stage"].to_numpy()),
    }


def population_fields(
    evidence: pd.DataFrame,
    *,
    thresholds: Mapping[str, Any],
    metrics: Mapping[str, Any],
    effect: pd.DataFrame,
    timing: CohortTiming | None,
) -> dict[str, Any]:
    """Who the test cohort is: scoring days, snapshots or not, age mix, stages per day."""
    snapshots = bool(timing and timing.snapshots) or is_snapshot_population(evidence, thresholds)
    return {
        "scoring_moments": int(evidence["as_of"].nunique()),
        "snapshots": snapshots,
        "by_age": age_table(evidence, metrics.get("by_age_band") or {}),
        # a count per scoring day means something only when the rows are scoring days
        "in_stage_per_scoring_day": _in_stage_per_scoring_day(effect, evidence, timing)
        if snapshots
        else None,
    }


def learned_card_figures(
    metrics: Mapping[str, Any], scorecard: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """Model, learned card and hand-written points on the test cohort (metrics.json), and how
    much of the model the card keeps; None without a card or its figures."""
    learned, fidelity = metrics.get("learned_points"), metrics.get("fidelity")
    if not scorecard or not learned or not fidelity:
        return None
    return {
        "target": scorecard.get("target"),
        "model_roc_auc": (metrics.get("model") or {}).get("roc_auc", math.nan),
        "card_roc_auc": fidelity.get("card_points_roc_auc", learned.get("roc_auc", math.nan)),
        "points_roc_auc": (metrics.get("points") or {}).get("roc_auc", math.nan),
        "spearman": fidelity.get("spearman_with_model", math.nan),
        "sql_share": fidelity.get("share_of_model_sql_in_card_sql", math.nan),
        "model_sql_precision": fidelity.get("model_sql_precision", math.nan),
        "card_sql_precision": fidelity.get("card_sql_precision", math.nan),
        "variables": len({row["variable"] for row in scorecard.get("table") or []}),
    }


def build_context(
    *,
    evidence: pd.DataFrame,
    thresholds: dict[str, Any],
    drivers: pd.DataFrame,
    points_thresholds: dict[str, float],
    version: str,
    alias: str,
    metrics: dict[str, Any],
    extract_summary: dict[str, Any],
    features_summary: dict[str, Any],
    report: ReportParams,
    lift_fractions: Sequence[float],
    min_positives: int,
    approval: dict[str, Any] | None,
    timing: CohortTiming | None = None,
    scorecard: dict[str, Any] | None = None,
) -> ReportContext:
    """Every table and number of the page, from the scored test cohort.

    `timing`: the test cohort's scoring days and each row's previous snapshot (built from
    the lead ids, which the evidence never holds); without it, one row per lead.
    `scorecard`: the scorecard stage's scorecard.json (the learned card), when there is one.
    The learned card joins the stage table and the gains when the evidence holds its points
    and stages (`with_learned_card`).
    """
    confidence = float(report.confidence)
    y = evidence["label"].to_numpy()
    weeks = timing.weeks if timing else cohort_weeks(evidence["as_of"], fallback_weeks=13.0)
    effect_kwargs = {
        "weeks": weeks,
        "timing": timing,
        "n_boot": report.bootstrap_samples,
        "seed": report.seed,
        "confidence": confidence,
    }
    compared = scorer_comparison(
        y, evidence, effect_kwargs=effect_kwargs, fractions=[float(f) for f in lift_fractions]
    )
    expected = pd.DataFrame(thresholds.get("expected") or [])
    if expected.empty:  # bundles from before intervals were stored: show the test figures
        expected = compared["model_effect"]
    curve = stage_curve(
        y,
        evidence["probability"].to_numpy(),
        forced=evidence["forced"].to_numpy(),
        excluded=evidence["excluded"].to_numpy(),
        timing=timing,
    )
    return ReportContext(
        model_name=MODEL_NAME,
        model_version=str(version),
        model_alias=alias,
        generated_at=pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC"),
        period_start=str(pd.Timestamp(evidence["as_of"].min()).date()),
        period_end=str(pd.Timestamp(evidence["as_of"].max()).date()),
        weeks=weeks,
        confidence=confidence,
        thresholds=thresholds,
        expected_effect=expected,
        what_if=what_if_table(curve, weeks=weeks, timing=timing),
        capacity=capacity_table(
            curve,
            weeks=weeks,
            timing=timing,
            leads_per_week=list(report.capacities_per_week),
        ),
        calibration=calibration_points(y, evidence["probability"]),
        calibration_metrics=metrics.get("model") or {},
        drivers=drivers,
        points_thresholds=points_thresholds,
        extract_summary=extract_summary,
        features_summary=features_summary,
        sufficiency=sufficiency_checks(
            features_summary=features_summary,
            extract_summary=extract_summary,
            min_positives=min_positives,
        ),
        approval=approval,
        hand_raisers_per_week=float((evidence["forced"] & ~evidence["excluded"]).sum() / weeks),
        scorecard=list((scorecard or {}).get("table") or []) or None,
        learned_card=learned_card_figures(metrics, scorecard),
        card_thresholds=card_point_thresholds(scorecard) if has_learned_card(evidence) else None,
        segment_metrics=metrics.get("segments"),
        segment_effects=segment_effects(
            evidence, thresholds=thresholds, effect_kwargs=effect_kwargs
        ),
        **compared,
        **population_fields(
            evidence,
            thresholds=thresholds,
            metrics=metrics,
            effect=compared["model_effect"],
            timing=timing,
        ),
    )


# -- from the context to the template's values ---------------------------------------------


def _rows_by_stage(effect: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """A stage-effect table as {stage: {column: value}}."""
    return effect.set_index("stage").to_dict(orient="index")


def base_rate_drift(cohorts: Mapping[str, Any], *, ratio: float = 1.5) -> dict[str, float] | None:
    """The train and test conversion rates when they differ by `ratio` or more, else None."""
    train = (cohorts.get("train") or {}).get("conversion_rate")
    test = (cohorts.get("test") or {}).get("conversion_rate")
    if not train or not test or max(train, test) / min(train, test) < ratio:
        return None
    return {"train": float(train), "test": float(test)}


def _threshold_rows(context: ReportContext) -> list[dict[str, Any]]:
    """The proposed SQL and MQL thresholds: the policy, what it should give, what it gave."""
    expected = _rows_by_stage(context.expected_effect)
    test = _rows_by_stage(context.model_effect)
    rows = []
    for name, effect_stage in (("SQL", SQL), ("MQL", MQL_OR_HIGHER)):
        choice = context.thresholds[name.lower()]
        rows.append(
            {
                "stage": name,
                "threshold": choice["threshold"],
                "policy": str(choice.get("policy")),
                "target": float(choice.get("target", math.nan)),
                "feasible": bool(choice.get("feasible", True)),
                "expected": expected[effect_stage],
                "test": test[effect_stage],
            }
        )
    return rows


def _movement(movement: pd.DataFrame) -> dict[str, Any]:
    """Points stage against model stage: counts per cell, and how many leads change stage."""
    same = int(sum(movement.loc[s, s] for s in movement.index if s in movement.columns))
    total = int(movement.to_numpy().sum())
    rows = [
        {
            "stage": str(rule),
            "cells": [
                {"leads": movement.loc[rule, model], "same": rule == model}
                for model in movement.columns
            ],
            "total": movement.loc[rule].sum(),
        }
        for rule in movement.index
    ]
    return {
        "columns": [str(c) for c in movement.columns],
        "rows": rows,
        "moved": total - same,
        "total": total,
        "moved_share": (total - same) / total if total else math.nan,
    }


def _extract_rows(extract_summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows read, kept and quarantined per raw table."""
    return [
        {
            "table": name,
            "read": info.get("read", 0),
            "kept": info.get("kept", 0),
            "quarantined": info.get("quarantined", 0),
            "reasons": dict(info.get("quarantined_by_reason") or {}),
        }
        for name, info in extract_summary.items()
        if isinstance(info, Mapping)
    ]


def _cohort_rows(cohorts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Train, calibration and test cohorts in time order, with their periods."""
    ordered = sorted(cohorts.items(), key=lambda item: COHORT_ORDER.get(item[0], len(COHORT_ORDER)))
    return [
        {
            "cohort": name,
            "start": str(info.get("as_of_min", ""))[:10],
            "end": str(info.get("as_of_max", ""))[:10],
            "rows": info.get("rows", math.nan),
            "positives": info.get("positives", math.nan),
            "conversion_rate": info.get("conversion_rate", math.nan),
        }
        for name, info in ordered
    ]


def _approval(approval: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Who approved which global thresholds when, or None (also when only segments were
    approved: the global thresholds are then still proposed)."""
    if not approval:
        return None
    if approval.get("segments") and all(
        approval.get(key) is None for key in ("mql_threshold", "sql_threshold")
    ):
        return None
    return {
        "by": str(approval.get("approved_by")),
        "at": str(approval.get("approved_at")),
        "mql_threshold": approval.get("mql_threshold"),
        "sql_threshold": approval.get("sql_threshold"),
    }


def _optional_number(value: Any) -> float | None:
    """A finite number, or None (the template shows a dash)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _stage_units(context: ReportContext) -> list[dict[str, Any]]:
    """SQL and MQL in both units: in the stage on a scoring day and entering per week, as
    the thresholds promise them (calibration cohort), beside the test cohort's daily count."""
    test = context.in_stage_per_scoring_day or {}
    rows = []
    for name, stage in (("SQL", SQL), ("MQL", MQL_OR_HIGHER)):
        promised = context.thresholds.get(name.lower()) or {}
        row = {key: _optional_number(promised.get(key)) for key in STAGE_UNIT_KEYS}
        row |= {
            "stage": name,
            "test_in_stage_per_scoring_day": _optional_number(test.get(stage)),
        }
        rows.append(row)
    return rows


def _age_rows(context: ReportContext) -> list[dict[str, Any]]:
    """The lead-age bands of the test cohort as rows (empty bands left out)."""
    if context.by_age is None:
        return []
    rows = context.by_age[context.by_age["count"] > 0]
    return [
        {
            "band": row["band"],
            "leads": int(row["count"]),
            "share": float(row["share"]),
            "mean_predicted": _optional_number(row["mean_predicted"]),
            "mean_observed": _optional_number(row["mean_observed"]),
            "mean_true": _optional_number(row["mean_true"]),
        }
        for row in rows.to_dict(orient="records")
    ]


def _segments(context: ReportContext) -> dict[str, Any] | None:
    """The per-segment section's values (None without per-segment thresholds)."""
    effects = context.segment_effects or {}
    return segment_values(
        context.thresholds,
        metrics_segments=context.segment_metrics,
        approval=context.approval,
        test_stages={name: _rows_by_stage(effect) for name, effect in effects.items()},
    )


def page_values(context: ReportContext) -> dict[str, Any]:
    """The template's variables: plain numbers, strings and rows (no markup, no plots)."""
    features_summary = context.features_summary or {}
    cohorts = features_summary.get("cohorts") or {}
    funnel_lost = context.funnel_model.set_index("step")["conversions_lost"]
    return {
        "model_name": context.model_name,
        "model_version": context.model_version,
        "model_alias": context.model_alias,
        "generated_at": context.generated_at,
        "period_start": context.period_start,
        "period_end": context.period_end,
        "weeks": context.weeks,
        "confidence": context.confidence,
        "model": _rows_by_stage(context.model_effect),
        "points": _rows_by_stage(context.points_effect),
        "card": _rows_by_stage(context.card_effect) if context.card_effect is not None else None,
        "card_thresholds": {
            "mql": (context.card_thresholds or {}).get("mql_points", math.nan),
            "sql": (context.card_thresholds or {}).get("sql_points", math.nan),
        },
        "stage_table": [*reversed(STAGE_ORDER), MQL_OR_HIGHER],
        "disqualified": DISQUALIFIED,
        "mql_threshold": context.thresholds["mql"]["threshold"],
        "sql_threshold": context.thresholds["sql"]["threshold"],
        "hand_raisers_per_week": context.hand_raisers_per_week,
        "disqualified_converted": int(funnel_lost.loc[IN_PLAY_STEP]),
        "approval": _approval(context.approval),
        "threshold_rows": _threshold_rows(context),
        "threshold_messages": [
            m
            for m in (
                context.thresholds["mql"].get("message"),
                context.thresholds["sql"].get("message"),
            )
            if m
        ],
        "capacity": context.capacity.to_dict(orient="records"),
        "points_thresholds": {
            "mql": context.points_thresholds.get("mql_points", math.nan),
            "sql": context.points_thresholds.get("sql_points", math.nan),
        },
        "movement": _movement(context.movement),
        "calibration": {
            "ece": context.calibration_metrics.get("ece", math.nan),
            "brier": context.calibration_metrics.get("brier", math.nan),
        },
        "lift": context.lift.to_dict(orient="records"),
        "funnel": [
            {"model": model, "points": points}
            for model, points in zip(
                context.funnel_model.to_dict(orient="records"),
                context.funnel_points.to_dict(orient="records"),
                strict=True,
            )
        ],
        "scoring_moments": context.scoring_moments,
        "snapshots": context.snapshots,
        "by_age": _age_rows(context),
        "age_has_truth": any(row["mean_true"] is not None for row in _age_rows(context)),
        "stage_units": _stage_units(context),
        "checks": context.sufficiency,
        "extract": _extract_rows(context.extract_summary),
        "cohorts": _cohort_rows(cohorts),
        "drift": base_rate_drift(cohorts),
        "by_status": [
            {"leads": leads, "status": status.replace("_", " ")}
            for status, leads in (features_summary.get("by_status") or {}).items()
        ],
        "scorecard": context.scorecard or [],
        "learned_card": context.learned_card,
        "segments": _segments(context),
        "unknown_activity_names": [
            {"key": key, "names": ", ".join(names)}
            for key, names in (features_summary.get("unknown_activity_names") or {}).items()
        ],
    }
