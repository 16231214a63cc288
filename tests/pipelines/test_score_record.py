"""Every scoring run recorded in MLflow, and `--require-approved`, on a real model and store."""

from __future__ import annotations

import functools
import json
import logging
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.scoring.local import run_score
from pipelines.scoring.record import SCORING_EXPERIMENT, record_scoring_run
from pipelines.scoring.settings import LoadedModel, ScoreSettings
from pipelines.thresholds.approvals import APPROVAL_TAG, HISTORY_TAG, record_approval
from pipelines.tracking import MODEL_NAME

AS_OF = "2025-12-31T00:00:00Z"


def score(project: Path, output: Path, *args: str) -> tuple[int, str]:
    """`leadscore score` on the project's clean tables; (exit code, stderr)."""
    interim = project / "data/interim"
    result = CliRunner().invoke(
        app,
        [
            "score", "--params", str(project / "params.yaml"), "--as-of", AS_OF,
            "--leads", str(interim / "leads.parquet"),
            "--activities", str(interim / "activities.parquet"),
            "--outcomes", str(interim / "outcomes.parquet"),
            "--output", str(output), *args,
        ],
    )  # fmt: skip
    return result.exit_code, result.stderr


def recorded_runs(output: Path) -> list:
    """The runs of the `scoring` experiment that wrote `output` (by its file name)."""
    client = MlflowClient()
    experiment = client.get_experiment_by_name(SCORING_EXPERIMENT)
    if experiment is None:
        return []
    return client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.output = '{output.name}'"
    )


def test_a_scoring_run_is_recorded_with_the_summary(project: Path, tmp_path: Path):
    output = tmp_path / "recorded.parquet"
    code, err = score(project, output)
    assert code == 0, err
    summary = json.loads((tmp_path / "recorded.summary.json").read_text())
    [run] = recorded_runs(output)
    assert run.info.status == "FINISHED"
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert params["model_version"] == tags["model_version"] == summary["model"]["version"]
    assert params["model_uri"] == f"models:/{MODEL_NAME}@champion"
    assert params["as_of"] == summary["as_of"]
    assert params["thresholds_status"] == "proposed" and "approved_by" not in params
    assert float(params["sql_threshold"]) == summary["thresholds"]["sql"]
    for stage, count in summary["stages"].items():
        assert metrics[f"stage.{stage}"] == count
    assert metrics["rows_scored"] == summary["counts"]["scored"] == len(pd.read_parquet(output))
    assert metrics["rows_quarantined"] == sum(summary["counts"]["quarantined"].values())
    assert metrics["drift_psi_max"] == pytest.approx(max(summary["drift"]["psi"].values()))
    artifacts = [a.path for a in MlflowClient().list_artifacts(run.info.run_id)]
    assert artifacts == ["recorded.summary.json"]  # the scores only with --log-scores


def test_log_scores_attaches_the_scores_and_no_record_records_nothing(
    project: Path, tmp_path: Path
):
    logged = tmp_path / "logged.csv"
    assert score(project, logged, "--log-scores")[0] == 0
    [run] = recorded_runs(logged)
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id)}
    assert artifacts == {"logged.csv", "logged.summary.json"}

    unrecorded = tmp_path / "unrecorded.parquet"
    code, err = score(project, unrecorded, "--no-record")
    assert code == 0, err
    assert unrecorded.exists() and recorded_runs(unrecorded) == []


def test_a_store_that_cannot_record_warns_once_and_the_scores_stand(
    champion: LoadedModel, project: Path, tmp_path: Path, monkeypatch, caplog
):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker / 'mlflow.db'}")
    output = tmp_path / "scores.parquet"
    with caplog.at_level(logging.WARNING, logger="pipelines.scoring.record"):
        summary = run_score(
            leads=project / "data/interim/leads.parquet",
            activities=None,
            outcomes=None,
            output=output,
            as_of=pd.Timestamp(AS_OF),
            model=champion,
            settings=ScoreSettings(max_bad_row_share=1.0),
            source={"renames": {}, "timed": True},
            record=functools.partial(record_scoring_run, log_scores=False),
        )
    assert summary["status"] == "ok" and output.exists()
    warnings = [r.getMessage() for r in caplog.records if r.name == "pipelines.scoring.record"]
    assert len(warnings) == 1 and len(warnings[0].splitlines()) == 1
    assert warnings[0].startswith("scoring run not recorded in MLflow")


def test_require_approved_stops_before_the_inputs_until_the_thresholds_are_approved(
    champion: LoadedModel, project: Path, tmp_path: Path
):
    output = tmp_path / "production.parquet"
    code, err = score(project, output, "--require-approved")
    assert code == 4
    assert err.startswith("leadscore: error: the thresholds of model") and "not approved" in err
    assert len(err.strip().splitlines()) == 1
    assert not output.exists() and not (tmp_path / "production.summary.json").exists()
    assert recorded_runs(output) == []
    # checked before any input is read: a missing leads file is not even looked at
    missing = CliRunner().invoke(
        app,
        ["score", "--params", str(project / "params.yaml"), "--require-approved",
         "--leads", str(tmp_path / "nope.csv"), "--output", str(output)],
    )  # fmt: skip
    assert missing.exit_code == 4

    client = MlflowClient()
    mql, sql = champion.scorer.thresholds()
    record_approval(
        client=client,
        model_name=MODEL_NAME,
        version=champion.version,
        mql_threshold=mql,
        sql_threshold=sql,
        approved_by="Marketing Lead",
        directory=tmp_path / "approvals",
    )
    try:
        code, err = score(project, output, "--require-approved")
        assert code == 0, err
        assert set(pd.read_parquet(output)["thresholds_status"]) == {"approved"}
        [run] = recorded_runs(output)
        assert run.data.params["thresholds_status"] == "approved"
        assert run.data.params["approved_by"] == "Marketing Lead"
        assert run.data.params["approved_at"]
    finally:
        for tag in (APPROVAL_TAG, HISTORY_TAG):
            client.delete_model_version_tag(MODEL_NAME, champion.version, tag)


def test_the_console_command_ends_its_recorded_run_before_its_prompt_exit(
    project: Path, tmp_path: Path
):
    # `leadscore score` leaves with os._exit (no interpreter teardown, no atexit): the run it
    # records must be ended by then, not left RUNNING
    interim = project / "data/interim"
    output = tmp_path / "console.parquet"
    leadscore = Path(sys.executable).parent / "leadscore"
    args = [str(leadscore), "score", "--params", str(project / "params.yaml"), "--as-of", AS_OF]
    args += ["--leads", str(interim / "leads.parquet"), "--output", str(output)]
    done = subprocess.run(args, capture_output=True, text=True, cwd=project, check=False)
    assert done.returncode == 0, done.stderr
    [run] = recorded_runs(output)
    assert run.info.status == "FINISHED" and run.info.end_time is not None
