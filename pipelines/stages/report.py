"""`report` stage: the marketing report on the test cohort, written as HTML and logged to MLflow.

The registered model version of this pipeline run scores the test cohort exactly as the
scoring job would; the page then shows what the proposed thresholds give, with intervals,
beside the points system. The scored evidence (no lead ids) is kept so a data scientist can
reproduce every table from the MLflow run (`notebooks/01-threshold-review.ipynb`).
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Annotated, Any

import mlflow
import numpy as np
import pandas as pd
import typer
from mlflow.tracking import MlflowClient

from features.naming import describe_feature
from features.split import TEST, cohort_rows
from models.artifact import ScoringBundle
from models.attribution import contributions
from models.bundle import SEGMENT
from models.stages import (
    DISQUALIFIED,
    SQL,
    disqualified_mask,
    hand_raiser_mask,
    sql_ineligible_mask,
)
from models.thresholds import cohort_timing
from models.train import prepare_matrix
from pipelines.artifacts import (
    FEATURES_DIR,
    INTERIM_DIR,
    MODEL_DIR,
    REPORTS_DIR,
    load_training_table,
)
from pipelines.config import load_config
from pipelines.errors import EXIT_MODEL, LeadscoreError
from pipelines.io import write_json, write_table
from pipelines.report.context import build_context, with_learned_card
from pipelines.report.render import render_report
from pipelines.thresholds.approvals import load_approval
from pipelines.tracking import EXPERIMENT, MODEL_NAME, configure_tracking, run_id_of

logger = logging.getLogger(__name__)

REPORT_FILE = "report.html"
EVIDENCE_FILE = "stage_evidence.csv"  # text: provably free of e-mail addresses
STAGE_METRICS_FILE = "stage_metrics.json"
ARTIFACT_DIR = "report"
EVIDENCE_COLUMNS = [
    "as_of",
    "label",
    "probability",
    "stage",
    "rule_score",
    "rule_stage",
    "forced",
    "excluded",
    "lead_age_days",
]
AGE_COLUMN = "lead_age_days"


def load_registered_scorer(version: str) -> ScoringBundle:
    """The scorer inside a registered model version (as the scoring job loads it)."""
    try:
        model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{version}")
    except mlflow.exceptions.MlflowException as exc:
        raise LeadscoreError(
            f"cannot load {MODEL_NAME} version {version}: {exc.message}", exit_code=EXIT_MODEL
        ) from exc
    return model.unwrap_python_model().scorer


def stage_evidence(scorer: ScoringBundle, rows: pd.DataFrame) -> pd.DataFrame:
    """Per test lead (no id): as_of, label, probability, both stages, points, the overrides."""
    scored = scorer.score(rows, override={"top_reasons": 1})
    forced = np.zeros(len(rows), dtype=bool)
    if bool(scorer.stage_policy.get("hand_raiser_to_sql", True)):
        window = scorer.stage_policy.get("hand_raiser_window_days")  # None: forever (older)
        forced = hand_raiser_mask(rows, window_days=window)
    evidence = pd.DataFrame(
        {
            "as_of": rows["as_of"].to_numpy(),
            "label": rows["label"].to_numpy(dtype=np.int64),
            "probability": scored["probability"].to_numpy(dtype=float),
            "stage": scored["stage"].astype(str).to_numpy(),
            "rule_score": scored["rule_score"].to_numpy(dtype=float),
            "rule_stage": scored["rule_stage"].astype(str).to_numpy(),
            "forced": forced,
            # never in SQL by score: disqualified, or no activity recent enough to be sales-ready
            "excluded": disqualified_mask(rows, scorer.stage_policy.get("disqualify_when", {}))
            | sql_ineligible_mask(
                rows, activity_days=scorer.stage_policy.get("sql_requires_activity_days")
            ),
        }
    )
    if SEGMENT in scored:  # per-segment thresholds: each lead's segment (an attribute, no PII)
        evidence[SEGMENT] = scored[SEGMENT].to_numpy(dtype=object)
    return evidence


def with_lead_age(evidence: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """The evidence with each row's lead age at its as-of moment (NaN without timestamps)."""
    age = rows[AGE_COLUMN].to_numpy(dtype=float) if AGE_COLUMN in rows else np.nan
    return evidence.assign(**{AGE_COLUMN: age})


def top_drivers(scorer: ScoringBundle, rows: pd.DataFrame, *, top: int) -> pd.DataFrame:
    """The features that move the scores most: mean |LightGBM contribution|, in words."""
    contrib = contributions(scorer.booster, prepare_matrix(rows, scorer.spec))[:, :-1]
    weight = np.abs(contrib).mean(axis=0)
    share = weight / weight.sum() if weight.sum() > 0 else weight
    order = np.argsort(-share, kind="stable")[:top]
    return pd.DataFrame(
        {
            "feature": [scorer.spec.features[i] for i in order],
            "driver": [describe_feature(scorer.spec.features[i]) for i in order],
            "share": share[order],
        }
    )


def effect_metrics(effect: pd.DataFrame, *, prefix: str) -> dict[str, float]:
    """Flat metrics (for dvc metrics diff and MLflow) from a stage-effect table."""
    out: dict[str, float] = {}
    for stage, key in ((SQL, "sql"), ("MQL or higher", "mql_or_higher")):
        row = effect.set_index("stage").loc[stage]
        for metric in ("leads_per_week", "precision", "recall"):
            for suffix in ("", "_low", "_high"):
                out[f"{prefix}{key}_{metric}{suffix}"] = float(row[f"{metric}{suffix}"])
    return out


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON file, or {} (with a warning) when a summary is missing."""
    if not path.exists():
        logger.warning("%s not found; its panel stays empty", path)
        return {}
    return json.loads(path.read_text())


def latest_run_id(experiment: str = EXPERIMENT) -> str:
    """The newest run of the experiment that holds a report."""
    runs = mlflow.search_runs(
        experiment_names=[experiment], order_by=["attributes.start_time DESC"], output_format="list"
    )
    for run in runs:
        if "report_sql_precision" in run.data.metrics:
            return run.info.run_id
    raise LeadscoreError(f"no run with a report in experiment {experiment!r}", exit_code=EXIT_MODEL)


def read_evidence(path: Path) -> pd.DataFrame:
    """The scored evidence file written by `main`, with its types restored."""
    evidence = pd.read_csv(path)
    evidence["as_of"] = pd.to_datetime(evidence["as_of"], utc=True, format="ISO8601")
    for column in ("forced", "excluded"):
        evidence[column] = evidence[column].astype(bool)
    return evidence


def load_run_evidence(run_id: str | None = None) -> tuple[pd.DataFrame, dict[str, Any], str]:
    """(scored test evidence, proposed thresholds, run id) from an MLflow run (latest default)."""
    run_id = run_id or latest_run_id()
    with tempfile.TemporaryDirectory() as tmp:
        evidence_path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=f"{ARTIFACT_DIR}/{EVIDENCE_FILE}", dst_path=tmp
        )
        evidence = read_evidence(Path(evidence_path))
    thresholds = mlflow.artifacts.load_dict(f"runs:/{run_id}/thresholds/proposed.json")
    return evidence, thresholds, run_id


def main(
    params: Annotated[Path, typer.Option(help="Path to params.yaml.")] = Path("params.yaml"),
    features_dir: Annotated[Path, typer.Option(help="Feature table directory.")] = FEATURES_DIR,
    model_dir: Annotated[Path, typer.Option(help="Model directory.")] = MODEL_DIR,
    reports_dir: Annotated[Path, typer.Option(help="The report goes here.")] = REPORTS_DIR,
    interim_dir: Annotated[Path, typer.Option(help="Extract summary directory.")] = INTERIM_DIR,
) -> None:
    """Write the marketing report (HTML) for the model version this pipeline registered."""
    config = load_config(params)
    registered = json.loads((model_dir / "registered.json").read_text())
    version = str(registered["version"])
    configure_tracking()
    scorer = load_registered_scorer(version)
    table, _ = load_training_table(features_dir)
    test_rows = cohort_rows(table, TEST)
    evidence = with_lead_age(stage_evidence(scorer, test_rows), test_rows)
    evidence = with_learned_card(evidence, card=scorer.learned, rows=test_rows)
    thresholds = scorer.bundle["thresholds"]
    every_days = thresholds.get("snapshot_every_days")
    timing = cohort_timing(
        test_rows,
        snapshots=every_days is not None,
        every_days=float(every_days or 1.0),
        fallback_weeks=13.0,
        sample_rate=float(thresholds.get("sample_rate") or 1.0),
    )
    client = MlflowClient()
    context = build_context(
        evidence=evidence,
        thresholds=thresholds,
        drivers=top_drivers(scorer, test_rows, top=config.report.top_drivers),
        points_thresholds={
            "mql_points": float(scorer.rules.mql_points),
            "sql_points": float(scorer.rules.sql_points),
        },
        version=version,
        alias=str(registered.get("alias", "")),
        metrics=_read_json(reports_dir / "metrics.json"),
        extract_summary=_read_json(interim_dir / "extract_summary.json"),
        features_summary=_read_json(features_dir / "features_summary.json"),
        report=config.report,
        lift_fractions=config.evaluate.lift_fractions,
        min_positives=config.train.min_positives,
        approval=load_approval(client=client, model_name=MODEL_NAME, version=version),
        timing=timing,
        scorecard=_read_json(model_dir / "scorecard.json"),
    )
    html = render_report(context)
    report_path = reports_dir / REPORT_FILE
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(html, encoding="utf-8")
    write_table(evidence, reports_dir / EVIDENCE_FILE)
    stage_metrics = {
        "test_weeks": context.weeks,
        **effect_metrics(context.model_effect, prefix="report_"),
        **effect_metrics(context.points_effect, prefix="report_points_"),
    }
    write_json(stage_metrics, reports_dir / STAGE_METRICS_FILE)
    with mlflow.start_run(run_id=run_id_of(model_dir / "run.json")):
        mlflow.log_metrics({k: v for k, v in stage_metrics.items() if isinstance(v, float)})
        for name in (REPORT_FILE, EVIDENCE_FILE, STAGE_METRICS_FILE):
            mlflow.log_artifact(str(reports_dir / name), artifact_path=ARTIFACT_DIR)
    sql = context.model_effect.set_index("stage").loc[SQL]
    logger.info(
        "report: %s; SQL %.0f leads/week (%.0f-%.0f), precision %.1f%% (%.1f-%.1f%%);"
        " %d disqualified",
        report_path,
        sql["leads_per_week"],
        sql["leads_per_week_low"],
        sql["leads_per_week_high"],
        100 * sql["precision"],
        100 * sql["precision_low"],
        100 * sql["precision_high"],
        int((evidence["stage"] == DISQUALIFIED).sum()),
    )
