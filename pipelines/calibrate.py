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

from features.split import CALIBRATION
from models.calibration import Calibrator, fit_calibrator
from models.thresholds import choose_thresholds
from models.train import ModelSpec, predict_raw, prepare_matrix
from pipelines.config import load_params, section
from pipelines.io import write_json
from pipelines.tracking import configure_tracking, run_id_of
from pipelines.train import FEATURES_DIR, MODEL_DIR, cohort_rows, load_training_table

logger = logging.getLogger(__name__)


def load_booster(model_dir: Path) -> tuple[lgb.Booster, ModelSpec]:
    """The trained booster and its feature spec."""
    booster = lgb.Booster(model_file=str(model_dir / "booster.txt"))
    spec = ModelSpec.from_dict(json.loads((model_dir / "model_spec.json").read_text()))
    return booster, spec


def cohort_weeks(as_of: pd.Series, *, fallback_weeks: float) -> float:
    """How many weeks of leads a cohort holds (its as-of span), for weekly volumes."""
    if as_of.isna().all() or len(as_of) < 2:
        return fallback_weeks
    span = (as_of.max() - as_of.min()) / pd.Timedelta(weeks=1)
    return max(float(span), 1.0)


def calibrate_and_choose(
    *,
    table: pd.DataFrame,
    booster: lgb.Booster,
    spec: ModelSpec,
    calibration_params: dict[str, Any],
    threshold_params: dict[str, Any],
) -> tuple[Calibrator, dict[str, Any], dict[str, Any]]:
    """(calibrator, calibration info, thresholds with what they give on the cohort)."""
    rows = cohort_rows(table, CALIBRATION)
    X = prepare_matrix(rows, spec)
    calibrator, info = fit_calibrator(
        booster=booster,
        X=X,
        y=rows["label"],
        method=str(calibration_params.get("method", "auto")),
        min_rows_isotonic=int(calibration_params.get("min_rows_isotonic", 1000)),
        min_positives_isotonic=int(calibration_params.get("min_positives_isotonic", 50)),
    )
    probability = calibrator.transform(predict_raw(booster, X))
    weeks = cohort_weeks(
        rows["as_of"], fallback_weeks=float(threshold_params.get("cohort_weeks", 13))
    )
    choices = choose_thresholds(
        y=rows["label"].to_numpy(), p=probability, policy=threshold_params, weeks=weeks
    )
    thresholds = {name: choice.to_dict() for name, choice in choices.items()}
    for choice in thresholds.values():
        choice["volume_per_week"] = choice["volume"] / weeks
    thresholds["cohort_weeks"] = weeks
    thresholds["hand_raiser_to_sql"] = bool(threshold_params.get("hand_raiser_to_sql", True))
    info["calibration_rows"] = len(rows)
    info["calibration_positives"] = int(rows["label"].sum())
    return calibrator, info, thresholds


def main(
    params: Annotated[Path, typer.Option(help="Path to params.yaml.")] = Path("params.yaml"),
    features_dir: Annotated[Path, typer.Option(help="Feature table directory.")] = FEATURES_DIR,
    model_dir: Annotated[Path, typer.Option(help="Model directory.")] = MODEL_DIR,
) -> None:
    """Calibrate probabilities and propose MQL/SQL thresholds on the calibration cohort."""
    all_params = load_params(params)
    table, _ = load_training_table(features_dir)
    booster, spec = load_booster(model_dir)
    calibrator, info, thresholds = calibrate_and_choose(
        table=table,
        booster=booster,
        spec=spec,
        calibration_params=section(all_params, "calibration"),
        threshold_params=section(all_params, "thresholds"),
    )
    write_json(calibrator.to_dict(), model_dir / "calibrator.json")
    write_json(info, model_dir / "calibration_info.json")
    write_json(thresholds, model_dir / "thresholds.json")
    configure_tracking()
    with mlflow.start_run(run_id=run_id_of()):
        mlflow.log_params(
            {f"calibration.{k}": v for k, v in section(all_params, "calibration").items()}
        )
        mlflow.log_metrics(
            {
                "calibration_brier": float(np.min(list(info["brier_by_method"].values()))),
                "calibration_brier_raw": info["brier_raw"],
                "proposed_mql_threshold": thresholds["mql"]["threshold"],
                "proposed_sql_threshold": thresholds["sql"]["threshold"],
            }
        )
        mlflow.set_tag("calibration_method", info["method"])
    logger.info(
        "calibrate: %s on %d leads; proposed MQL >= %.3f, SQL >= %.3f",
        info["method"],
        info["calibration_rows"],
        thresholds["mql"]["threshold"],
        thresholds["sql"]["threshold"],
    )
