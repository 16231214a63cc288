"""`train` stage: LightGBM on the train cohort, early stopping on its newest snapshots; MLflow."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import mlflow
import typer

from features.split import holds_snapshots
from models.train import NotEnoughDataError, train_model
from pipelines.artifacts import FEATURES_DIR, MODEL_DIR, load_training_table
from pipelines.config import load_config, load_params
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

LOGGED_SECTIONS = ["source", "label", "features", "split", "train"]


def main(
    params: Annotated[Path, typer.Option(help="Path to params.yaml.")] = Path("params.yaml"),
    features_dir: Annotated[Path, typer.Option(help="Feature table directory.")] = FEATURES_DIR,
    model_dir: Annotated[Path, typer.Option(help="Where the booster goes.")] = MODEL_DIR,
) -> None:
    """Train the conversion model on the train cohort and open its MLflow run."""
    table, config = load_training_table(features_dir)
    settings = load_config(params)
    # Snapshots hold a lead at several moments with overlapping label windows: a gap of one
    # horizon keeps the early-stopping slice from rewarding leads learnt by heart.
    try:
        booster, spec, metrics = train_model(
            table=table,
            config=config,
            options=settings.train,
            purge_days=settings.label.horizon_days if holds_snapshots(table) else None,
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
        "data_fingerprint": data_fingerprint(table[["lead_id", "as_of", "label", "cohort"]]),
    }
    run_id = start_run(run_name="train", tags=tags)
    with mlflow.start_run(run_id=run_id):
        log_section_params(load_params(params), LOGGED_SECTIONS)  # as written
        mlflow.log_metrics(metrics)
    logger.info(
        "train: %d rows, best iteration %d, early-stopping ROC-AUC %.3f (MLflow run %s)",
        int(metrics["train_rows"]),
        int(metrics["best_iteration"]),
        metrics["early_stopping_roc_auc"],
        run_id,
    )
