"""Every scoring run recorded in MLflow: a run in the `scoring` experiment, so a later monitor
or audit finds which model version and thresholds scored which file, with what counts and drift.

Params: the model (URI, version), the as-of moment, the thresholds in force and their approval.
Metrics: rows scored, leads per stage, quarantined rows, the largest drift PSI. Tags: the model
version and the output's file name. Artifact: the run summary (no lead in it); the scores only
on request (`--log-scores`: they list every lead). Recording comes after the output is in place
and never fails the job: the scores are what matters, so a failure is one warning line.
The run is ended (FINISHED or FAILED) before this returns: the console entry exits with
`os._exit` after `score`, and no MLflow run is left active to be ended at interpreter exit.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from pipelines.tracking import configure_tracking

logger = logging.getLogger(__name__)

SCORING_EXPERIMENT = "scoring"


def record_scoring_run(
    summary: dict[str, Any], *, summary_path: Path, output: Path, log_scores: bool = False
) -> str | None:
    """Log one scoring run to the `scoring` experiment; its run id, or None when it failed."""
    try:
        return log_scoring_run(
            summary, summary_path=summary_path, output=output, log_scores=log_scores
        )
    except Exception as exc:  # any store failure: the scores are written, recording is extra
        reason = (str(getattr(exc, "message", exc)).strip().splitlines() or [""])[0]
        logger.warning(
            "scoring run not recorded in MLflow (%s: %s); the scores are written",
            type(exc).__name__,
            reason[:300],
        )
        return None


def log_scoring_run(
    summary: dict[str, Any], *, summary_path: Path, output: Path, log_scores: bool
) -> str:
    """Create the run, log it in one batch and its artifacts, end it; its run id."""
    from mlflow.entities import Metric, Param, RunStatus
    from mlflow.tracking import MlflowClient

    started = time.perf_counter()
    configure_tracking()
    client = MlflowClient()
    experiment = client.get_experiment_by_name(SCORING_EXPERIMENT)
    experiment_id = (
        client.create_experiment(SCORING_EXPERIMENT)
        if experiment is None
        else experiment.experiment_id
    )
    run = client.create_run(
        experiment_id, run_name=f"score {output.name}", tags=run_tags(summary, output=output)
    )
    run_id = run.info.run_id
    status = RunStatus.FAILED
    try:
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in run_metrics(summary).items()],
            params=[Param(k, str(v)) for k, v in run_params(summary).items()],
        )
        client.log_artifact(run_id, str(summary_path))
        if log_scores:
            client.log_artifact(run_id, str(output))
        status = RunStatus.FINISHED
    finally:
        client.set_terminated(run_id, RunStatus.to_string(status))
    logger.info(
        "run %s recorded in MLflow experiment %r in %.2f s",
        run_id,
        SCORING_EXPERIMENT,
        time.perf_counter() - started,
    )
    return run_id


def run_params(summary: dict[str, Any]) -> dict[str, Any]:
    """The model, the as-of moment, the thresholds in force and who approved them when."""
    model, thresholds = summary["model"], summary["thresholds"]
    approval = summary.get("approval") or {}
    params = {
        "model_uri": model["uri"],
        "model_name": model.get("registered_name"),
        "model_version": model["version"],
        "model_run_id": model.get("run_id"),
        "as_of": summary["as_of"],
        "scored_at": summary["scored_at"],
        "thresholds_status": thresholds["status"],
        "mql_threshold": thresholds["mql"],
        "sql_threshold": thresholds["sql"],
        "approved_by": approval.get("approved_by"),
        "approved_at": approval.get("approved_at"),
        "reasons_method": summary.get("reasons_method"),
    }
    return {key: value for key, value in params.items() if value is not None}


def run_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """Rows read, scored, skipped and quarantined; leads per stage; the largest drift PSI."""
    counts = summary["counts"]
    psi = summary["drift"]["psi"]
    metrics: dict[str, float] = {
        "leads_read": counts["leads_read"],
        "rows_scored": counts["scored"],
        "rows_skipped": sum(counts["skipped"].values()),
        "rows_quarantined": sum(counts["quarantined"].values()),
        "drift_psi_max": max(psi.values(), default=0.0),
        "drifted_features": len(summary["drift"]["drifted"]),
        "seconds_total": summary["timings_s"].get("total", 0.0),
    }
    metrics.update({f"quarantined.{t}": n for t, n in counts["quarantined"].items()})
    metrics.update({f"stage.{stage}": n for stage, n in summary["stages"].items()})
    return metrics


def run_tags(summary: dict[str, Any], *, output: Path) -> dict[str, str]:
    """What a search of the runs filters on: the model version, the output file, the status."""
    return {
        "model_version": str(summary["model"]["version"]),
        "output": output.name,
        "thresholds_status": str(summary["thresholds"]["status"]),
        "status": str(summary["status"]),
    }
