"""`train` stage: LightGBM on the train cohort, early stopping on its newest slice, MLflow run."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import mlflow
import pandas as pd
import typer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from features.build import FeatureConfig
from features.split import TRAIN
from models.train import (
    NotEnoughDataError,
    check_enough_data,
    early_stopping_split,
    fit_booster,
    make_spec,
    monotone_constraints,
    predict_raw,
    prepare_matrix,
)
from pipelines.config import load_params, section
from pipelines.errors import DataQualityError
from pipelines.io import write_json
from pipelines.tracking import (
    data_fingerprint,
    file_hash,
    git_commit,
    log_section_params,
    start_run,
)

logger = logging.getLogger(__name__)

FEATURES_DIR = Path("data/features")
MODEL_DIR = Path("data/model")
LOGGED_SECTIONS = ["source", "label", "features", "split", "train"]


def load_training_table(features_dir: Path) -> tuple[pd.DataFrame, FeatureConfig]:
    """The feature table and the configuration that built it."""
    table = pd.read_parquet(features_dir / "features.parquet")
    config = FeatureConfig.from_dict(json.loads((features_dir / "feature_config.json").read_text()))
    return table, config


def cohort_rows(table: pd.DataFrame, cohort: str) -> pd.DataFrame:
    """Rows of one cohort, oldest first so 'newest slice' means something.

    Ties (and exports without timestamps) keep the table's order, which is the export's
    row order: for a time-ordered single table that order is time.
    """
    rows = table[table["cohort"] == cohort]
    return rows.sort_values("as_of", kind="stable").reset_index(drop=True)


def train_model(
    *, table: pd.DataFrame, config: FeatureConfig, train_params: dict[str, Any]
) -> tuple[Any, Any, dict[str, float]]:
    """(booster, spec, metrics) from the train cohort; raises NotEnoughDataError."""
    rows = cohort_rows(table, TRAIN)
    check_enough_data(
        rows["label"],
        min_positives=int(train_params.get("min_positives", 40)),
        min_negatives=int(train_params.get("min_negatives", 40)),
    )
    spec = make_spec(
        rows, features=config.feature_columns(), categorical=config.categorical_columns()
    )
    X = prepare_matrix(rows, spec)
    fit_rows, stop_rows = early_stopping_split(
        rows["label"],
        fraction=float(train_params.get("early_stopping_fraction", 0.15)),
        slice_by=str(train_params.get("early_stopping_slice", "newest")),
        seed=int(train_params["lightgbm"].get("seed", 0)),
    )
    constraints = monotone_constraints(
        spec.features,
        increasing=train_params.get("monotone_increasing") or [],
        decreasing=train_params.get("monotone_decreasing") or [],
    )
    booster = fit_booster(
        X=X,
        y=rows["label"],
        params=train_params["lightgbm"],
        constraints=constraints,
        fit_rows=fit_rows,
        stop_rows=stop_rows,
        early_stopping_rounds=int(train_params.get("early_stopping_rounds", 50)),
        num_boost_round=int(train_params.get("num_boost_round", 2000)),
    )
    stop = stop_rows
    metrics = {
        "train_rows": float(len(rows)),
        "train_positives": float(rows["label"].sum()),
        "best_iteration": float(booster.best_iteration),
        "early_stopping_roc_auc": float(
            roc_auc_score(rows["label"].iloc[stop], predict_raw(booster, X.iloc[stop]))
        ),
    }
    return booster, spec, metrics


def cross_validated_roc_auc(
    *,
    table: pd.DataFrame,
    config: FeatureConfig,
    train_params: dict[str, Any],
    folds: int = 5,
    seed: int = 0,
) -> list[float]:
    """ROC-AUC of `train_model` per fold of a stratified k-fold over every row of `table`.

    For exports without timestamps, where one random test cohort is a noisy estimate; the
    cohort column is ignored (each fold's training rows play the train cohort).
    """
    scores = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_rows, held_rows in splitter.split(table, table["label"]):
        fold = table.iloc[fit_rows].assign(cohort=TRAIN)
        booster, spec, _ = train_model(table=fold, config=config, train_params=train_params)
        held = table.iloc[held_rows]
        probability = predict_raw(booster, prepare_matrix(held, spec))
        scores.append(float(roc_auc_score(held["label"], probability)))
    return scores


def main(
    params: Annotated[Path, typer.Option(help="Path to params.yaml.")] = Path("params.yaml"),
    features_dir: Annotated[Path, typer.Option(help="Feature table directory.")] = FEATURES_DIR,
    model_dir: Annotated[Path, typer.Option(help="Where the booster goes.")] = MODEL_DIR,
) -> None:
    """Train the conversion model on the train cohort and open its MLflow run."""
    all_params = load_params(params)
    table, config = load_training_table(features_dir)
    try:
        booster, spec, metrics = train_model(
            table=table, config=config, train_params=section(all_params, "train")
        )
    except NotEnoughDataError as exc:
        raise DataQualityError(str(exc)) from exc
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_dir / "booster.txt"))
    write_json(spec.to_dict(), model_dir / "model_spec.json")
    write_json(metrics, model_dir / "train_metrics.json")
    tags = {
        "git_commit": git_commit(),
        "dvc_lock_sha256": file_hash(Path("dvc.lock")),
        "data_fingerprint": data_fingerprint(table[["lead_id", "label", "cohort"]]),
    }
    run_id = start_run(run_name="train", tags=tags)
    with mlflow.start_run(run_id=run_id):
        log_section_params(all_params, LOGGED_SECTIONS)
        mlflow.log_metrics(metrics)
    logger.info(
        "train: %d rows, best iteration %d, early-stopping ROC-AUC %.3f (MLflow run %s)",
        int(metrics["train_rows"]),
        int(metrics["best_iteration"]),
        metrics["early_stopping_roc_auc"],
        run_id,
    )
