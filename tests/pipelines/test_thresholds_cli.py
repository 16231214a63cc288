"""`leadscore thresholds show|approve` against a real MLflow sqlite store in tmp."""

from __future__ import annotations

import json
import math
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from rich.console import Console
from typer.testing import CliRunner

from models.artifact import LeadScoringModel
from models.train import ModelSpec
from pipelines.cli import app
from pipelines.config import CalibrationParams, ThresholdsParams
from pipelines.stages.calibrate import calibrate_and_choose
from pipelines.thresholds.approvals import (
    APPROVAL_TAG,
    HISTORY_TAG,
    approval_file,
    history_file,
    load_approval,
    load_approval_history,
)
from pipelines.thresholds.commands import effect_of, expected_rows, render_table
from pipelines.tracking import MODEL_NAME

PROPOSED = {
    "mql": {"threshold": 0.08, "policy": "recall", "target": 0.8, "message": ""},
    "sql": {"threshold": 0.4, "policy": "precision", "target": 0.5, "message": ""},
    "expected": [
        {
            "stage": "SQL",
            "leads_per_week": 80.0,
            "leads_per_week_low": 70.0,
            "leads_per_week_high": 90.0,
            "entering_per_week": 80.0,
            "entering_per_week_low": 70.0,
            "entering_per_week_high": 90.0,
            "in_stage_per_scoring_day": 314.0,
            "in_stage_per_scoring_day_low": 290.0,
            "in_stage_per_scoring_day_high": 338.0,
            "precision": 0.5,
            "precision_low": 0.45,
            "precision_high": 0.55,
            "recall": 0.45,
            "recall_low": 0.4,
            "recall_high": 0.5,
        }
    ],
    "what_if": [
        {
            "threshold": t,
            "leads_per_week": lpw,
            "entering_per_week": lpw,
            "in_stage_per_scoring_day": day,
            "precision": prec,
            "recall": rec,
        }
        for t, lpw, day, prec, rec in [
            (0.9, 20.0, 60.0, 0.7, 0.1),
            (0.4, 80.0, 314.0, 0.5, 0.45),
            (0.3, 120.0, 457.0, 0.4, 0.55),
            (0.08, 300.0, 1234.0, 0.24, 0.8),
            (0.01, 700.0, 2900.0, 0.1, 0.95),
        ]
    ],
}


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A tmp sqlite store with one registered version whose bundle holds `PROPOSED`."""
    root = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(experiment_name="leadscore")
        bundle = root / "bundle"
        bundle.mkdir()
        (bundle / "bundle.json").write_text(json.dumps({"thresholds": PROPOSED}))
        with mlflow.start_run():
            mlflow.pyfunc.log_model(
                name="model",
                python_model=LeadScoringModel(),
                artifacts={"bundle_dir": str(bundle)},
                registered_model_name=MODEL_NAME,
                pip_requirements=["mlflow"],
            )
    return root, uri


@pytest.fixture()
def store(tracking: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared store with no approval recorded yet; returns a fresh directory."""
    _, uri = tracking
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    for tag in client.get_model_version(MODEL_NAME, "1").tags:
        if tag in (APPROVAL_TAG, HISTORY_TAG) or tag.startswith("approval."):
            client.delete_model_version_tag(MODEL_NAME, "1", tag)
    return tmp_path


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), catch_exceptions=False, env=env)


def test_show_before_approval_says_proposed(store: Path):
    result = invoke("thresholds", "show", "--version", "1")
    assert result.exit_code == 0, result.output
    assert "proposed" in result.output and "Not approved" in result.output
    assert "40.0%" in result.output  # the proposed SQL threshold
    # both units: leads in SQL on a scoring day and new SQLs a week (MQL from the what-if grid)
    assert "314" in result.output and "(70–90)" in result.output and "1,234" in result.output


def test_thresholds_of_older_models_show_their_weekly_leads():
    """Bundles calibrated before volumes had two units still show leads per week."""
    older = {
        "mql": {"threshold": 0.08},
        "sql": {"threshold": 0.4},
        "what_if": [{"threshold": 0.4, "leads_per_week": 80.0, "precision": 0.5, "recall": 0.4}],
    }
    rows = expected_rows(older, None)
    assert rows[0]["leads_per_week"] == 80.0 and math.isnan(rows[0]["entering_per_week"])
    console = Console(width=160, record=True)
    console.print(render_table(MODEL_NAME, "1", rows))
    sql_line = next(line for line in console.export_text().splitlines() if "SQL" in line)
    assert "80" in sql_line and "50.0%" in sql_line


def test_approve_round_trips_through_mlflow_and_json(store: Path):
    approvals = store / "approvals"
    result = invoke(
        "thresholds", "approve", "--by", "Dana Marketing", "--note", "Q3 plan",
        "--version", "1", "--approvals-dir", str(approvals),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    client = MlflowClient()
    record = load_approval(client=client, model_name=MODEL_NAME, version="1")
    assert record["mql_threshold"] == 0.08 and record["sql_threshold"] == 0.4
    assert record["approved_by"] == "Dana Marketing" and record["approved_at"]
    assert record["model_version"] == "1" and record["edited"] is False
    on_disk = json.loads(
        approval_file(model_name=MODEL_NAME, version="1", directory=approvals).read_text()
    )
    assert on_disk == json.loads(client.get_model_version(MODEL_NAME, "1").tags[APPROVAL_TAG])
    assert (
        client.get_model_version(MODEL_NAME, "1").tags["approval.approved_by"] == "Dana Marketing"
    )
    shown = invoke("thresholds", "show", "--model", f"models:/{MODEL_NAME}/1")
    assert "approved" in shown.output and "Dana Marketing" in shown.output


def test_approve_edited_values_records_them_with_their_expected_effect(store: Path):
    result = invoke(
        "thresholds", "approve", "--by", "Sam", "--mql", "0.1", "--sql", "0.3",
        "--approvals-dir", str(store / "approvals"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output  # newest version used when no champion
    record = load_approval(client=MlflowClient(), model_name=MODEL_NAME, version="1")
    assert (record["mql_threshold"], record["sql_threshold"]) == (0.1, 0.3)
    assert record["edited"] is True and record["proposed_sql_threshold"] == 0.4
    assert record["expected_on_calibration"]["sql"]["leads_per_week"] == 120.0


def test_a_second_approval_keeps_the_first_in_the_history(store: Path):
    approvals = store / "approvals"
    for by, sql in (("Dana Marketing", "0.4"), ("Sam Sales", "0.3")):
        result = invoke(
            "thresholds", "approve", "--by", by, "--sql", sql, "--version", "1",
            "--approvals-dir", str(approvals),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    client = MlflowClient()
    history = load_approval_history(client=client, model_name=MODEL_NAME, version="1")
    assert [(r["approved_by"], r["sql_threshold"]) for r in history] == [
        ("Dana Marketing", 0.4),
        ("Sam Sales", 0.3),
    ]
    assert history[0]["approved_at"] <= history[1]["approved_at"]
    in_force = load_approval(client=client, model_name=MODEL_NAME, version="1")
    assert in_force == history[-1]  # the latest is the one scoring uses
    lines = history_file(model_name=MODEL_NAME, version="1", directory=approvals).read_text()
    assert [json.loads(line) for line in lines.splitlines()] == history
    shown = invoke("thresholds", "show", "--version", "1")
    assert "Approval history (2)" in shown.output
    assert "Dana Marketing" in shown.output and shown.output.count("in force") == 1


def test_a_version_approved_before_the_history_has_its_one_approval_as_history(store: Path):
    client = MlflowClient()
    record = {"approved_by": "Old", "approved_at": "2025-01-01T00:00:00+00:00"}
    record |= {"mql_threshold": 0.1, "sql_threshold": 0.4}
    client.set_model_version_tag(MODEL_NAME, "1", APPROVAL_TAG, json.dumps(record))
    assert load_approval_history(client=client, model_name=MODEL_NAME, version="1") == [record]
    result = invoke(
        "thresholds", "approve", "--by", "New", "--version", "1",
        "--approvals-dir", str(store / "approvals"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    history = load_approval_history(client=client, model_name=MODEL_NAME, version="1")
    assert [r["approved_by"] for r in history] == ["Old", "New"]


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--mql", "0.5", "--sql", "0.2"], "above the SQL threshold", 2),
        (["--sql", "1.5"], "not a probability", 2),
        (["--version", "9"], "not found", 5),
    ],
)
def test_bad_approvals_stop_with_one_line(store: Path, args: list[str], message: str, code: int):
    result = CliRunner().invoke(
        app, ["thresholds", "approve", "--by", "Sam", "--approvals-dir", str(store / "a"), *args]
    )
    assert result.exit_code == code
    assert message in result.output
    assert load_approval(client=MlflowClient(), model_name=MODEL_NAME, version="1") is None


# Per-segment thresholds (issue 18): the calibrate stage's own choice on a small table of
# leads by region. EMEA and NA choose their own thresholds (NA with a stricter SQL precision);
# APAC has too few conversions and falls back to the global thresholds.
SEGMENTED_MODEL = "lead-conversion-segmented"
REGIONS = {"EMEA": (0.6, 0.05), "NA": (0.3, 0.05), "APAC": (0.1, 0.02)}  # share, base rate
WIDE = {"COLUMNS": "220"}  # rich wraps long cells on the 80 columns of the test runner


def region_thresholds(n_leads: int = 3000, moments: int = 6, every_days: float = 14.0) -> dict:
    """thresholds.json of a calibration cohort of leads by region (a one-feature booster)."""
    rng = np.random.default_rng(1)
    region = rng.choice(list(REGIONS), size=n_leads, p=[v[0] for v in REGIONS.values()])
    lead = np.repeat(np.arange(n_leads), moments)
    step = np.tile(np.arange(moments), n_leads)
    score = rng.random(lead.size)
    base = np.array([REGIONS[r][1] for r in region])[lead]
    table = pd.DataFrame(
        {
            "lead_id": lead,
            "as_of": pd.Timestamp("2025-06-01", tz="UTC") + pd.to_timedelta(step * every_days, "D"),
            "label": rng.binomial(1, np.clip(base * (0.2 + 4 * score**2), 0, 1)),
            "cohort": "calibration",
            "engagement_score": score,
            "region": pd.Categorical(region[lead]),
        }
    )
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 4, "num_threads": 1},
        lgb.Dataset(table[["engagement_score"]], table["label"]),
        num_boost_round=20,
    )
    _, _, thresholds = calibrate_and_choose(
        table=table,
        booster=booster,
        spec=ModelSpec(features=("engagement_score",), categorical=()),
        calibration=CalibrationParams(),
        policy=ThresholdsParams(
            segment_column="region",
            segments={"NA": {"sql_precision": 0.2}},
            sql_precision=0.1,
            bootstrap_samples=20,
        ),
        snapshot_every_days=every_days,
        min_segment_positives=100,
        min_segment_negatives=60,
    )
    return json.loads(json.dumps(thresholds))  # as thresholds.json and the bundle hold it


@pytest.fixture(scope="module")
def proposal() -> dict:
    """The segmented thresholds the bundle holds."""
    thresholds = region_thresholds()
    segments = thresholds["segments"]
    assert [v for v, e in segments.items() if e["fallback"]] == ["APAC"], "the test's premise"
    assert segments["NA"]["sql"]["target"] == 0.2 and not segments["EMEA"]["fallback"]
    return thresholds


@pytest.fixture(scope="module")
def segmented_version(tracking: tuple[Path, str], proposal: dict) -> str:
    """A second registered model in the same store whose bundle holds `proposal`."""
    root, uri = tracking
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)
        bundle = root / "segmented" / "bundle"  # the artifact keeps the folder's name
        bundle.mkdir(parents=True)
        (bundle / "bundle.json").write_text(json.dumps({"thresholds": proposal}))
        with mlflow.start_run():
            mlflow.pyfunc.log_model(
                name="model",
                python_model=LeadScoringModel(),
                artifacts={"bundle_dir": str(bundle)},
                registered_model_name=SEGMENTED_MODEL,
                pip_requirements=["mlflow"],
            )
    return f"models:/{SEGMENTED_MODEL}/1"


@pytest.fixture()
def segmented(segmented_version: str, store: Path) -> str:
    """The segmented model's URI, with no approval recorded yet."""
    client = MlflowClient()
    for tag in client.get_model_version(SEGMENTED_MODEL, "1").tags:
        if tag in (APPROVAL_TAG, HISTORY_TAG) or tag.startswith("approval."):
            client.delete_model_version_tag(SEGMENTED_MODEL, "1", tag)
    return segmented_version


def cuts(entry: dict) -> tuple[float, float]:
    """(MQL, SQL) thresholds of a proposal entry."""
    return entry["mql"]["threshold"], entry["sql"]["threshold"]


def approved(model: str = SEGMENTED_MODEL) -> dict:
    return load_approval(client=MlflowClient(), model_name=model, version="1")


def test_approving_without_segment_approves_the_global_and_every_segment(
    segmented: str, store: Path, proposal: dict
):
    result = invoke(
        "thresholds", "approve", "--by", "Dana", "--model", segmented,
        "--approvals-dir", str(store / "approvals"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "fallback segments, on the global thresholds: APAC" in " ".join(result.output.split())
    record = approved()
    assert (record["mql_threshold"], record["sql_threshold"]) == cuts(proposal)
    assert set(record["segments"]) == {"EMEA", "NA", "APAC"}
    for value, entry in record["segments"].items():
        assert (entry["mql_threshold"], entry["sql_threshold"]) == cuts(proposal["segments"][value])
        assert entry["approved_by"] == "Dana" and entry["edited"] is False
    assert record["segments"]["APAC"]["fallback"] is True
    assert cuts(proposal["segments"]["APAC"]) == cuts(proposal)  # a fallback's are the global
    assert cuts(proposal["segments"]["NA"]) != cuts(proposal)


def test_an_edited_global_approval_carries_to_the_fallback_segment_only(
    segmented: str, store: Path, proposal: dict
):
    result = invoke(
        "thresholds", "approve", "--by", "Dana", "--model", segmented, "--sql", "0.15",
        "--approvals-dir", str(store / "approvals"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    segments = approved()["segments"]
    apac = segments["APAC"]  # its thresholds are the global ones, with their effect on APAC
    assert apac["sql_threshold"] == 0.15 and apac["edited"] is True
    assert apac["expected_on_calibration"]["sql"] == effect_of(proposal["segments"]["APAC"], 0.15)
    assert segments["EMEA"]["sql_threshold"] == proposal["segments"]["EMEA"]["sql"]["threshold"]
    assert segments["EMEA"]["edited"] is False


def test_approving_one_segment_records_it_and_keeps_the_rest_in_force(
    segmented: str, store: Path, proposal: dict
):
    approvals = store / "approvals"
    first = invoke(
        "thresholds", "approve", "--by", "Dana", "--note", "Q3", "--model", segmented,
        "--approvals-dir", str(approvals),
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    result = invoke(
        "thresholds", "approve", "--by", "Sam", "--model", segmented, "--segment", "EMEA",
        "--sql", "0.15", "--note", "EMEA sales team doubled", "--approvals-dir", str(approvals),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    emea_mql = proposal["segments"]["EMEA"]["mql"]["threshold"]
    assert f"Approved segment EMEA: MQL >= {emea_mql:.4f}, SQL >= 0.1500 (edited" in result.output
    client = MlflowClient()
    history = load_approval_history(client=client, model_name=SEGMENTED_MODEL, version="1")
    before, record = history
    assert record == approved()
    # the new record is the previous one with EMEA replaced
    emea = record["segments"]["EMEA"]
    assert (emea["sql_threshold"], emea["approved_by"], emea["edited"]) == (0.15, "Sam", True)
    assert emea["note"] == "EMEA sales team doubled"
    assert emea["proposed_sql_threshold"] == proposal["segments"]["EMEA"]["sql"]["threshold"]
    assert emea["expected_on_calibration"]["sql"] == effect_of(proposal["segments"]["EMEA"], 0.15)
    for value in ("NA", "APAC"):
        assert record["segments"][value] == before["segments"][value]
    assert (record["mql_threshold"], record["sql_threshold"]) == cuts(proposal)
    assert record["global_approval"] == before["global_approval"]
    assert record["global_approval"]["approved_by"] == "Dana"
    assert record["approved_by"] == "Sam"  # who wrote this record
    on_disk = approval_file(model_name=SEGMENTED_MODEL, version="1", directory=approvals)
    assert json.loads(on_disk.read_text()) == record
    shown = invoke("thresholds", "show", "--model", segmented, env=WIDE)
    assert "Approved by Dana" in shown.output and "(Q3)" in shown.output  # the global approval
    history_table = shown.output[shown.output.index("Approval history (2)") :]
    sam_line = next(line for line in history_table.splitlines() if "Sam" in line)
    assert "EMEA" in sam_line and "APAC" not in sam_line


def test_approving_a_segment_alone_leaves_the_global_thresholds_proposed(
    segmented: str, store: Path, proposal: dict
):
    result = invoke(
        "thresholds", "approve", "--by", "Sam", "--model", segmented, "--segment", "APAC",
        "--approvals-dir", str(store / "approvals"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "APAC is a fallback segment" in " ".join(result.output.split())
    record = approved()
    assert "mql_threshold" not in record and "sql_threshold" not in record
    assert list(record["segments"]) == ["APAC"]
    apac = record["segments"]["APAC"]
    assert (apac["mql_threshold"], apac["sql_threshold"]) == cuts(proposal)
    shown = invoke("thresholds", "show", "--model", segmented, env=WIDE)
    assert shown.exit_code == 0, shown.output
    assert "Global thresholds not approved" in shown.output
    lines = shown.output.splitlines()
    assert "approved" in next(line for line in lines if "APAC (fallback)" in line)
    assert "proposed" in next(line for line in lines if "EMEA" in line)
    assert "Approved segments: APAC (Sam, " in shown.output


def test_show_lists_the_segments(segmented: str, store: Path, proposal: dict):
    shown = invoke("thresholds", "show", "--model", segmented, env=WIDE)
    assert shown.exit_code == 0, shown.output
    assert "thresholds per region" in shown.output
    lines = shown.output.splitlines()
    for value, target in (("EMEA", "precision 10.0%"), ("NA", "precision 20.0%")):
        entry = proposal["segments"][value]
        sql_row = next(line for line in lines if line.startswith(f"│ {value} "))
        expected = (
            f"{entry['rows']:,} ({entry['positives']:,})",
            "SQL",
            f"{entry['sql']['threshold']:.1%}",
            target,
            "yes" if entry["sql"]["feasible"] else "no",
            f"{entry['sql']['precision']:.1%}",
            "proposed",
        )
        for text in expected:
            assert text in sql_row, (value, text)
        mql_row = lines[lines.index(sql_row) + 1]
        assert "MQL" in mql_row and f"{entry['mql']['threshold']:.1%}" in mql_row
        assert "recall 80.0%" in mql_row and f"{entry['mql']['precision']:.1%}" in mql_row
    apac = proposal["segments"]["APAC"]
    apac_row = next(line for line in lines if "APAC (fallback)" in line)
    assert f"{apac['rows']:,} ({apac['positives']:,})" in apac_row
    assert f"APAC: fallback, the global thresholds ({apac['reason']})" in shown.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--segment", "LATAM"], "unknown segment 'LATAM' of region; the segments are: EMEA"),
        (["--segment", "EMEA", "--segment", "NA", "--sql", "0.3"], "one segment at a time"),
        (["--segment", "EMEA", "--mql", "0.5", "--sql", "0.2"], "segment 'EMEA': MQL threshold"),
        (["--segment", "EMEA", "--sql", "1.5"], "segment 'EMEA': SQL threshold 1.5 is not a"),
    ],
)
def test_bad_segment_approvals_stop_with_one_line_and_record_nothing(
    segmented: str, store: Path, args: list[str], message: str
):
    approvals = store / "approvals"
    result = CliRunner().invoke(
        app,
        ["thresholds", "approve", "--by", "Sam", "--model", segmented, *args,
         "--approvals-dir", str(approvals)],
    )  # fmt: skip
    assert result.exit_code == 2
    assert message in result.output and result.output.strip().count("\n") == 0
    assert approved() is None
    assert not approvals.exists()


def test_a_segment_of_a_model_without_segments_is_refused(store: Path):
    result = CliRunner().invoke(
        app, ["thresholds", "approve", "--by", "Sam", "--version", "1", "--segment", "EMEA"]
    )
    assert result.exit_code == 2 and "no per-segment thresholds" in result.output
    assert approved(MODEL_NAME) is None
