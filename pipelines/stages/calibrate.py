"""`calibrate` stage: calibration and proposed stage thresholds on the calibration cohort."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import typer

from features.split import CALIBRATION, cohort_rows
from features.vocabulary import slug
from models.calibration import Calibrator, fit_calibrator
from models.stages import (
    assign_stages,
    disqualified_mask,
    hand_raiser_mask,
    sql_ineligible_mask,
)
from models.thresholds import (
    CohortTiming,
    choices_at,
    choose_thresholds,
    cohort_timing,
    stage_curve,
    stage_effect,
    what_if_table,
)
from models.train import ModelSpec, predict_raw, prepare_matrix
from pipelines.artifacts import FEATURES_DIR, MODEL_DIR, load_booster, load_training_table
from pipelines.config import CalibrationParams, ThresholdsParams, load_config, load_params
from pipelines.errors import InputError
from pipelines.io import write_json
from pipelines.tracking import configure_tracking, run_id_of

logger = logging.getLogger(__name__)


SUMMARY_FILE = "features_summary.json"


def stage_overrides(
    rows: pd.DataFrame,
    *,
    hand_raiser_to_sql: bool,
    disqualify_when: dict[str, float],
    hand_raiser_window_days: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(forced into SQL, disqualified) per row, exactly as scoring applies them."""
    forced = np.zeros(len(rows), dtype=bool)
    if hand_raiser_to_sql:
        forced = hand_raiser_mask(rows, window_days=hand_raiser_window_days)
    return forced, disqualified_mask(rows, disqualify_when)


def table_snapshots(features_dir: Path) -> dict[str, Any]:
    """How the feature table was drawn: `snapshot_every_days` (None: one row per lead) and
    `sample_rate` (the share of (lead, moment) pairs kept), from the features summary."""
    path = features_dir / SUMMARY_FILE
    summary = json.loads(path.read_text()) if path.is_file() else {}
    snapshots = summary.get("snapshots") or {}  # absent: a one-row-per-lead table
    return {
        "snapshot_every_days": snapshots.get("every_days"),
        "sample_rate": float(summary.get("sampling_rate") or 1.0),
    }


def propose_thresholds(
    *,
    y: np.ndarray,
    probability: np.ndarray,
    forced: np.ndarray,
    excluded: np.ndarray,
    timing: CohortTiming,
    policy: ThresholdsParams,
    sql_ineligible: np.ndarray | None = None,
    fixed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Proposed MQL/SQL thresholds, their expected effect (with intervals) and a what-if grid.

    Volumes come in both units (`models.thresholds`): in the stage on a scoring day and
    entering per week. `fixed` (e.g. the global `mql`/`sql` entries, for a segment that keeps
    them): those thresholds with what they give on these rows, instead of choosing.
    """
    if fixed is None:
        choices = choose_thresholds(
            y=y,
            p=probability,
            policy=policy,
            timing=timing,
            forced=forced,
            excluded=excluded,
            sql_ineligible=sql_ineligible,
        )
    else:
        choices = choices_at(
            y=y,
            p=probability,
            thresholds=fixed,
            timing=timing,
            forced=forced,
            excluded=excluded,
            sql_ineligible=sql_ineligible,
            message="the global thresholds (fallback)",
        )
    stages = assign_stages(
        scores=probability,
        mql_threshold=choices["mql"].threshold,
        sql_threshold=choices["sql"].threshold,
        hand_raiser=forced,
        disqualified=excluded,
        hand_raiser_to_sql=True,  # `forced` is already empty when the override is off
        sql_ineligible=sql_ineligible,
    )
    expected = stage_effect(
        y,
        stages,
        timing=timing,
        n_boot=policy.bootstrap_samples,
        seed=policy.seed,
        confidence=policy.confidence,
        predictive=True,
    )
    # the what-if is about SQL: leads that may not reach SQL by their score stay out of it
    never_sql = excluded if sql_ineligible is None else excluded | sql_ineligible
    curve = stage_curve(y, probability, forced=forced, excluded=never_sql, timing=timing)
    what_if = what_if_table(curve, timing=timing, max_rows=policy.what_if_rows)
    thresholds: dict[str, Any] = {name: choice.to_dict() for name, choice in choices.items()}
    thresholds |= timing.to_dict()
    thresholds |= {
        "chosen_on": "calibration",
        "confidence": policy.confidence,
        "expected": expected.to_dict(orient="records"),
        "what_if": what_if.to_dict(orient="records"),
    }
    return thresholds


def segment_values(rows: pd.DataFrame, column: str) -> pd.Series:
    """Each row's segment: the feature table's value of `column` as text (NA when missing)."""
    name = slug(column)
    if name not in rows:
        raise InputError(
            f"thresholds.segment_column {column!r} is not a categorical feature of the table:"
            " add it to features.categorical"
        )
    return rows[name].astype("string")


def propose_segments(
    *,
    segments: pd.Series,
    y: np.ndarray,
    probability: np.ndarray,
    forced: np.ndarray,
    excluded: np.ndarray,
    sql_ineligible: np.ndarray | None,
    timing: CohortTiming,
    policy: ThresholdsParams,
    overall: dict[str, Any],
    min_positives: int,
    min_negatives: int,
) -> dict[str, dict[str, Any]]:
    """Thresholds per segment value, largest segment first (see `propose_thresholds`).

    A value with fewer than `min_positives` conversions or `min_negatives` non-conversions on
    the calibration rows keeps the global thresholds (`overall`), flagged `fallback` with
    the reason; so does a value named in `thresholds.segments` that the cohort lacks.
    """
    found = segments.value_counts(sort=True, dropna=True)
    result: dict[str, dict[str, Any]] = {}
    for value in found.index:
        mask = (segments == value).fillna(False).to_numpy(dtype=bool)
        positives, negatives = int(y[mask].sum()), int((1 - y[mask]).sum())
        short = [
            f"{count} {what} in the calibration cohort, below the minimum of {minimum}"
            for count, what, minimum in (
                (positives, "conversions", min_positives),
                (negatives, "non-conversions", min_negatives),
            )
            if count < minimum
        ]
        reason = "; ".join(short)
        entry = propose_thresholds(
            y=y[mask],
            probability=probability[mask],
            forced=forced[mask],
            excluded=excluded[mask],
            timing=timing.subset(mask),
            policy=policy.for_segment(str(value)),
            sql_ineligible=None if sql_ineligible is None else sql_ineligible[mask],
            fixed={"mql": overall["mql"], "sql": overall["sql"]} if reason else None,
        )
        result[str(value)] = {
            "rows": int(mask.sum()),
            "positives": positives,
            "fallback": bool(reason),
            "reason": reason,
            "overrides": policy.overrides_of(str(value)),
            **entry,
        }
    seen = {value.casefold() for value in result}
    for value in map(str, policy.segments):
        if value.casefold() not in seen:
            result[value] = {
                "rows": 0,
                "positives": 0,
                "fallback": True,
                "reason": "no lead of this segment in the calibration cohort",
                "overrides": policy.overrides_of(value),
                "mql": overall["mql"],
                "sql": overall["sql"],
                "expected": [],
                "what_if": [],
            }
    return result


def calibrate_and_choose(
    *,
    table: pd.DataFrame,
    booster: lgb.Booster,
    spec: ModelSpec,
    calibration: CalibrationParams,
    policy: ThresholdsParams,
    disqualify_when: dict[str, float] | None = None,
    snapshot_every_days: float | None = None,
    sample_rate: float = 1.0,
    min_segment_positives: int = 40,
    min_segment_negatives: int = 40,
) -> tuple[Calibrator, dict[str, Any], dict[str, Any]]:
    """(calibrator, calibration info, thresholds with what they give on the cohort).

    `snapshot_every_days`: the table holds snapshots of the open lead base taken this often
    (None: one row per lead); `sample_rate`: the share of (lead, moment) pairs it keeps.
    """
    rows = cohort_rows(table, CALIBRATION)
    X = prepare_matrix(rows, spec)
    calibrator, info = fit_calibrator(
        booster=booster,
        X=X,
        y=rows["label"],
        method=calibration.method,
        min_rows_isotonic=calibration.min_rows_isotonic,
        min_positives_isotonic=calibration.min_positives_isotonic,
    )
    probability = calibrator.transform(predict_raw(booster, X))
    timing = cohort_timing(
        rows,
        snapshots=snapshot_every_days is not None,
        every_days=float(snapshot_every_days or 1.0),
        fallback_weeks=policy.cohort_weeks,
        sample_rate=sample_rate,
    )
    forced, excluded = stage_overrides(
        rows,
        hand_raiser_to_sql=policy.hand_raiser_to_sql,
        hand_raiser_window_days=policy.hand_raiser_window_days,
        disqualify_when=dict(disqualify_when or {}),
    )
    sql_ineligible = sql_ineligible_mask(rows, activity_days=policy.sql_requires_activity_days)
    thresholds = propose_thresholds(
        y=rows["label"].to_numpy(),
        probability=probability,
        forced=forced,
        excluded=excluded,
        timing=timing,
        policy=policy,
        sql_ineligible=sql_ineligible,
    )
    if policy.segment_column:
        thresholds["segment_column"] = policy.segment_column
        thresholds["segments"] = propose_segments(
            segments=segment_values(rows, policy.segment_column),
            y=rows["label"].to_numpy(),
            probability=probability,
            forced=forced,
            excluded=excluded,
            sql_ineligible=sql_ineligible,
            timing=timing,
            policy=policy,
            overall=thresholds,
            min_positives=min_segment_positives,
            min_negatives=min_segment_negatives,
        )
    thresholds["hand_raiser_to_sql"] = policy.hand_raiser_to_sql
    thresholds["sql_requires_activity_days"] = policy.sql_requires_activity_days
    thresholds["hand_raiser_window_days"] = policy.hand_raiser_window_days
    info["calibration_rows"] = len(rows)
    info["calibration_positives"] = int(rows["label"].sum())
    return calibrator, info, thresholds


def _or(value: int | None, default: int) -> int:
    return default if value is None else int(value)


def main(
    params: Annotated[Path, typer.Option(help="Path to params.yaml.")] = Path("params.yaml"),
    features_dir: Annotated[Path, typer.Option(help="Feature table directory.")] = FEATURES_DIR,
    model_dir: Annotated[Path, typer.Option(help="Model directory.")] = MODEL_DIR,
) -> None:
    """Calibrate probabilities and propose MQL/SQL thresholds on the calibration cohort."""
    config = load_config(params)
    table, _ = load_training_table(features_dir)
    booster, spec = load_booster(model_dir)
    calibrator, info, thresholds = calibrate_and_choose(
        table=table,
        booster=booster,
        spec=spec,
        calibration=config.calibration,
        policy=config.thresholds,
        disqualify_when=config.rules.disqualify,
        min_segment_positives=_or(
            config.thresholds.min_segment_positives, config.train.min_positives
        ),
        min_segment_negatives=_or(
            config.thresholds.min_segment_negatives, config.train.min_negatives
        ),
        **table_snapshots(features_dir),
    )
    write_json(calibrator.to_dict(), model_dir / "calibrator.json")
    write_json(info, model_dir / "calibration_info.json")
    write_json(thresholds, model_dir / "thresholds.json")
    configure_tracking()
    with mlflow.start_run(run_id=run_id_of()):
        written = load_params(params).get("calibration") or {}  # the section as written
        mlflow.log_params({f"calibration.{k}": v for k, v in written.items()})
        mlflow.log_metrics(
            {
                "calibration_brier": float(np.min(list(info["brier_by_method"].values()))),
                "calibration_brier_raw": info["brier_raw"],
                "proposed_mql_threshold": thresholds["mql"]["threshold"],
                "proposed_sql_threshold": thresholds["sql"]["threshold"],
                "proposed_sql_leads_per_week": thresholds["sql"]["volume_per_week"],
                "proposed_sql_entering_per_week": thresholds["sql"]["entering_per_week"],
                "proposed_sql_in_stage_per_scoring_day": thresholds["sql"][
                    "in_stage_per_scoring_day"
                ],
                "proposed_sql_precision": thresholds["sql"]["precision"],
                "proposed_mql_recall": thresholds["mql"]["recall"],
            }
        )
        mlflow.log_dict(thresholds, "thresholds/proposed.json")
        mlflow.set_tag("calibration_method", info["method"])
    logger.info(
        "calibrate: %s on %d rows (%d scoring days); proposed MQL >= %.3f, SQL >= %.3f:"
        " %.0f SQLs on a scoring day, %.1f new SQLs a week, %.1f%% convert",
        info["method"],
        info["calibration_rows"],
        thresholds["snapshot_moments"],
        thresholds["mql"]["threshold"],
        thresholds["sql"]["threshold"],
        thresholds["sql"]["in_stage_per_scoring_day"],
        thresholds["sql"]["entering_per_week"],
        100 * thresholds["sql"]["precision"],
    )
