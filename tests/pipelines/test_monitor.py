"""`leadscore monitor` on hand-built scores, outcomes and feedback files and a real MLflow store.

Every expected figure below is counted by hand from the tables in this file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from models.artifact import LeadScoringModel
from pipelines.cli import app
from pipelines.thresholds.approvals import record_approval
from pipelines.tracking import MODEL_NAME

SCORED_AT = "2025-03-01T00:00:00+00:00"
HORIZON = 30  # the training run's label.horizon_days: window (03-01, 03-31]
THRESHOLDS = {
    "sql": {"threshold": 0.35, "precision": 0.45},
    "mql": {"threshold": 0.15, "precision": 0.3},
    "expected": [
        {"stage": "SQL", "precision": 0.45, "precision_low": 0.3, "precision_high": 0.6},
        {"stage": "MQL", "precision": 0.2, "precision_low": 0.1, "precision_high": 0.3},
        {"stage": "MQL or higher", "precision": 0.3, "precision_low": 0.2, "precision_high": 0.4},
    ],
}
# per-segment thresholds (issue 18): EMEA its own, APAC a fallback (the global thresholds,
# measured on its rows); a segment the calibration cohort lacks (LATAM) promised nothing
THRESHOLDS["segment_column"] = "region"
THRESHOLDS["segments"] = {
    "EMEA": {
        "rows": 500, "positives": 60, "fallback": False, "reason": "",
        "sql": {"threshold": 0.45, "precision": 0.6}, "mql": {"threshold": 0.15, "precision": 0.35},
        "expected": [
            {"stage": "SQL", "precision": 0.6, "precision_low": 0.5, "precision_high": 0.7},
            {"stage": "MQL or higher", "precision": 0.35},
        ],
    },
    "APAC": {
        "rows": 80, "positives": 9, "fallback": True, "reason": "9 conversions",
        **{key: THRESHOLDS[key] for key in ("sql", "mql")},
        "expected": [
            {"stage": "SQL", "precision": 0.4, "precision_low": 0.2, "precision_high": 0.6}
        ],
    },
}  # fmt: skip
REGION = {"L1": "EMEA", "L2": "EMEA", "L3": "APAC", "L4": "LATAM", "L5": "EMEA", "L6": "APAC"}
REGION |= {"L7": None, "L8": "EMEA"}  # L7: no region
# lead, stage, probability, points, points stage, age (days), conversion (None: not converted)
LEADS = [
    ("L1", "SQL", 0.6, 80.0, "SQL", 3.0, "2025-03-10"),  # in the window
    ("L2", "SQL", 0.5, 70.0, "SQL", 20.0, "2025-02-20"),  # before scoring: not counted
    ("L3", "SQL", 0.4, 20.0, "IQL", 45.0, "2025-04-15"),  # after the horizon: not counted
    ("L4", "SQL", 0.5, 30.0, "MQL", 100.0, None),
    ("L5", "MQL", 0.2, 60.0, "SQL", 200.0, "2025-03-31T00:00:00Z"),  # last moment: counted
    ("L6", "MQL", 0.2, 10.0, "IQL", 300.0, None),
    ("L7", "IQL", 0.05, 5.0, "IQL", 10.0, "2025-03-20"),
    ("L8", "DISQUALIFIED", 0.01, -50.0, "DISQUALIFIED", 8.0, None),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tmp store with version 1 of the model: its bundle's thresholds and its horizon."""
    root = tmp_path_factory.mktemp("monitor_store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment("leadscore")
        bundle = root / "bundle"
        bundle.mkdir()
        (bundle / "bundle.json").write_text(json.dumps({"thresholds": THRESHOLDS}))
        with mlflow.start_run():
            mlflow.log_param("label.horizon_days", HORIZON)
            mlflow.pyfunc.log_model(
                name="model",
                python_model=LeadScoringModel(),
                artifacts={"bundle_dir": str(bundle)},
                registered_model_name=MODEL_NAME,
                pip_requirements=["mlflow"],
            )
    return uri


@pytest.fixture()
def files(store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The scores (CSV, as `leadscore score` writes them), outcomes and feedback files."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    scores = pd.DataFrame(
        {
            "lead_id": [row[0] for row in LEADS],
            "probability": [row[2] for row in LEADS],
            "stage": [row[1] for row in LEADS],
            "rule_score": [row[3] for row in LEADS],
            "rule_stage": [row[4] for row in LEADS],
            "reasons": "",
            "model_version": "1",
            "thresholds_status": "proposed",
            "scored_at": SCORED_AT,
            "lead_age_days": [row[5] for row in LEADS],
        }
    )
    outcomes = pd.DataFrame(
        {
            "lead_id": [row[0] for row in LEADS if row[6]] + ["NOBODY", "L8"],
            "converted_at": [row[6] for row in LEADS if row[6]] + ["2025-03-05", "not a date"],
        }
    )
    feedback = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3", "L4", "L6", "L1", "L4", "L6"],
            "decided_at": [
                "2025-03-02T12:00:00Z",  # 36 h after the hand-off
                "2025-03-03T00:00:00Z",  # 48 h
                "2025-03-05T12:00:00Z",  # 108 h
                "2025-02-01T00:00:00Z",  # before the hand-off: an earlier one
                "2025-03-01T06:00:00Z",  # 6 h
                "2025-03-09T00:00:00Z",  # a later second decision: the first counts
                "soon",
                "2025-03-02T00:00:00Z",
            ],
            "accepted": ["yes", "no", "No", "yes", "yes", "no", "yes", "maybe"],
            "reason": ["", "bad timing", "<b>too small</b>", "", "", "", "", ""],
        }
    )
    paths = {
        "scores": tmp_path / "scores.csv",
        "outcomes": tmp_path / "outcomes.csv",
        "feedback": tmp_path / "feedback.csv",
    }
    scores.to_csv(paths["scores"], index=False)
    outcomes.to_csv(paths["outcomes"], index=False)
    feedback.to_csv(paths["feedback"], index=False)
    return paths


def monitor(files: dict[str, Path], out: Path, *extra: str) -> dict:
    args = ["monitor", "--scores", str(files["scores"]), "--outcomes", str(files["outcomes"])]
    result = CliRunner().invoke(app, [*args, "--output", str(out), *extra])
    assert result.exit_code == 0, result.output
    return json.loads((out / "monitor.json").read_text())


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson interval, written out independently of the code under test."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_stage_figures_equal_the_hand_count_once_the_horizon_has_passed(
    files: dict[str, Path], tmp_path: Path
):
    result = monitor(files, tmp_path / "out", "--as-of", "2025-05-01")
    assert result["horizon_complete"] is True
    assert result["horizon_days"] == HORIZON  # from the training run of the scoring model
    expected = {"SQL": (4, 1), "MQL": (2, 1), "IQL": (1, 1), "DISQUALIFIED": (1, 0)}
    for stage, (leads, converted) in expected.items():
        figures = result["stages"][stage]
        assert (figures["leads"], figures["converted"]) == (leads, converted), stage
        assert figures["rate"] == pytest.approx(converted / leads)
        low, high = wilson(converted, leads)
        assert figures["rate_low"] == pytest.approx(low, abs=1e-6)
        assert figures["rate_high"] == pytest.approx(high, abs=1e-6)
        assert figures["estimate"] is None
    assert result["stages"]["SQL"]["promised"] == 0.45
    assert result["stages"]["MQL"]["promised"] == 0.2
    assert result["stages"]["MQL or higher"]["promised"] == 0.3
    # 3 conversions, 2 of them in MQL or higher; the points sent L1, L2, L5 to sales
    assert result["stages"]["MQL or higher"]["recall"] == pytest.approx(2 / 3)
    assert (result["points"]["SQL"]["leads"], result["points"]["SQL"]["converted"]) == (3, 2)
    # quarantined outcome row, written with its reason
    bad = pd.read_csv(tmp_path / "out" / "outcomes_quarantine.csv")
    assert bad["lead_id"].tolist() == ["L8"]
    assert "converted_at" in bad["reason"][0]
    quality = result["quality"]
    assert quality["overall"]["mean_observed"] == pytest.approx(3 / 8)
    assert quality["by_age_band"]["0-14"]["leads"] == 3  # L1, L7, L8
    assert quality["by_age_band"]["0-14"]["converted"] == 2
    assert quality["overall"]["model_roc_auc"] is not None


def test_before_the_horizon_conversions_so_far_and_the_labelled_estimate(
    files: dict[str, Path], tmp_path: Path
):
    result = monitor(files, tmp_path / "out", "--as-of", "2025-03-20")
    assert result["horizon_complete"] is False
    sql = result["stages"]["SQL"]
    assert sql["converted"] == 1 and sql["verdict"] == "too early"
    assert result["stages"]["MQL"]["converted"] == 0  # L5 converts on 03-31, not known yet
    assert result["stages"]["IQL"]["converted"] == 1  # L7 on 03-20, known at 03-20
    assert sql["estimate"]["label"] == "estimate"
    assert sql["estimate"]["rate"] == pytest.approx((0.6 + 0.5 + 0.4 + 0.5) / 4)
    assert sql["estimate"]["rate_low"] < 0.5 < sql["estimate"]["rate_high"]
    page = (tmp_path / "out" / "monitor.html").read_text()
    assert "Horizon not complete" in page and "estimate 50.0%" in page


def test_horizon_days_override(files: dict[str, Path], tmp_path: Path):
    result = monitor(files, tmp_path / "out", "--as-of", "2025-05-01", "--horizon-days", "10")
    assert result["horizon_days"] == 10 and result["model"]["horizon_from"] == "--horizon-days"
    assert result["converted"] == 1  # only L1 (03-10) within 10 days


def test_sales_feedback_shares_times_reasons_and_quarantine(files: dict[str, Path], tmp_path: Path):
    out = tmp_path / "out"
    result = monitor(files, out, "--as-of", "2025-05-01", "--feedback", str(files["feedback"]))
    sql = result["feedback"]["stages"]["SQL"]
    assert (sql["leads"], sql["decided"], sql["accepted"]) == (4, 3, 1)  # L1 yes; L2, L3 no
    assert sql["accepted_share"] == pytest.approx(1 / 3)
    assert sql["median_hours"] == pytest.approx(48.0)
    assert sql["p90_hours"] == pytest.approx(48 + 0.8 * (108 - 48))
    assert sql["rejection_reasons"] == {"<b>too small</b>": 1, "bad timing": 1}
    assert (sql["accepted_leads"]["leads"], sql["accepted_leads"]["converted"]) == (1, 1)
    assert (sql["rejected_leads"]["leads"], sql["rejected_leads"]["converted"]) == (2, 0)
    mql = result["feedback"]["stages"]["MQL"]
    assert (mql["decided"], mql["accepted_share"], mql["median_hours"]) == (1, 1.0, 6.0)
    assert result["feedback"]["before_hand_off"] == 1
    bad = pd.read_csv(out / "feedback_quarantine.csv")
    assert sorted(bad["reason"]) == [
        "accepted missing or not yes/no",
        "decided_at missing or not an ISO 8601 timestamp",
    ]
    assert result["quarantined"]["feedback"] == 2
    page = (out / "monitor.html").read_text()
    assert "&lt;b&gt;too small&lt;/b&gt;" in page and "<b>too small</b>" not in page


@pytest.mark.parametrize(
    ("change", "extra", "message", "code"),
    [
        ("drop_stage", [], "required column 'stage' is missing", 2),
        ("unknown_version", [], "pass --horizon-days", 5),
        ("no_outcomes", [], "file not found", 2),
    ],
)
def test_bad_inputs_stop_with_one_line(
    files: dict[str, Path], tmp_path: Path, change: str, extra: list[str], message: str, code: int
):
    scores = pd.read_csv(files["scores"])
    if change == "drop_stage":
        scores = scores.drop(columns="stage")
    if change == "unknown_version":
        scores["model_version"] = "7"
    scores.to_csv(files["scores"], index=False)
    if change == "no_outcomes":
        files["outcomes"].unlink()
    args = ["monitor", "--scores", str(files["scores"]), "--outcomes", str(files["outcomes"])]
    result = CliRunner().invoke(app, [*args, "--output", str(tmp_path / "out"), *extra])
    assert result.exit_code == code
    assert message in result.stderr and result.stderr.strip().count("\n") == 0
    assert not (tmp_path / "out" / "monitor.json").exists()


def with_segments(files: dict[str, Path], status: dict[str, str] | None = None) -> None:
    """Add scoring's `segment` column (and per-row thresholds status) to the scores file."""
    scores = pd.read_csv(files["scores"])
    scores["segment"] = scores["lead_id"].map(REGION)
    if status:
        scores["thresholds_status"] = scores["segment"].map(status).fillna("proposed")
    scores.to_csv(files["scores"], index=False)


def test_without_a_segment_column_there_is_no_segment_breakdown(
    files: dict[str, Path], tmp_path: Path
):
    result = monitor(files, tmp_path / "out", "--as-of", "2025-05-01")
    assert "segments" not in result and "segment_column" not in result
    assert 'id="segments"' not in (tmp_path / "out" / "monitor.html").read_text()


def test_rates_are_broken_down_by_segment_against_each_segments_promise(
    files: dict[str, Path], tmp_path: Path
):
    with_segments(files)
    result = monitor(files, tmp_path / "out", "--as-of", "2025-05-01")
    assert result["segment_column"] == "region"
    segments = result["segments"]
    assert set(segments) == {"EMEA", "APAC", "LATAM", "(missing)"}  # JSON keys are sorted
    emea = segments["EMEA"]  # L1 SQL converted, L2 SQL, L5 MQL converted, L8 disqualified
    assert (emea["leads"], emea["converted"], emea["thresholds_status"]) == (4, 2, "proposed")
    sql = emea["stages"]["SQL"]
    assert (sql["leads"], sql["converted"], sql["rate"]) == (2, 1, 0.5)
    low, high = wilson(1, 2)
    assert sql["rate_low"] == pytest.approx(low, abs=1e-6)
    assert sql["rate_high"] == pytest.approx(high, abs=1e-6)
    assert sql["promised"] == 0.6 and sql["promised_low"] == 0.5  # EMEA's own promise
    handed = emea["stages"]["MQL or higher"]
    assert (handed["leads"], handed["converted"], handed["promised"]) == (3, 2, 0.35)
    apac = segments["APAC"]  # fallback: what the global thresholds gave on APAC's rows
    assert apac["fallback"] is True
    assert (apac["stages"]["SQL"]["leads"], apac["stages"]["SQL"]["converted"]) == (1, 0)
    assert apac["stages"]["SQL"]["promised"] == 0.4
    assert segments["LATAM"]["stages"]["SQL"]["leads"] == 1
    assert segments["LATAM"]["stages"]["SQL"]["promised"] is None  # not in the calibration
    assert segments["(missing)"]["stages"]["IQL"]["converted"] == 1  # L7
    assert sum(s["leads"] for s in segments.values()) == result["leads"] == 8
    assert result["stages"]["SQL"]["promised"] == 0.45  # the overall figures are unchanged
    page = (tmp_path / "out" / "monitor.html").read_text()
    section = page[page.index('id="segments"') : page.index('id="points"')]
    assert "Stages by region" in section and "(fallback)" in section
    # largest first, leads without a value last
    assert section.index("EMEA") < section.index("APAC") < section.index("LATAM")
    assert section.index("LATAM") < section.index("(missing)")
    assert "60.0%" in section  # EMEA's promised SQL rate


def test_an_approved_segment_is_held_to_its_approved_thresholds(
    files: dict[str, Path], tmp_path: Path
):
    """EMEA approved with an edited SQL threshold: its promise is what the approval recorded.
    APAC, a fallback scored with edited global thresholds, promised nothing measured."""
    client = MlflowClient()
    record_approval(
        client=client,
        model_name=MODEL_NAME,
        version="1",
        approved_by="Sam",
        directory=tmp_path / "approvals",
        mql_threshold=0.15,
        sql_threshold=0.4,
        details={"edited": True, "expected_on_calibration": {"sql": {"precision": 0.5}}},
        segments={
            "EMEA": {
                "mql_threshold": 0.15,
                "sql_threshold": 0.5,
                "edited": True,
                "expected_on_calibration": {
                    "sql": {"precision": 0.55},
                    "mql_or_higher": {"precision": 0.33},
                },
            }
        },
    )
    try:
        with_segments(files, status={"EMEA": "approved", "APAC": "approved"})
        segments = monitor(files, tmp_path / "out", "--as-of", "2025-05-01")["segments"]
    finally:
        for tag in client.get_model_version(MODEL_NAME, "1").tags:
            if tag.startswith("approv"):
                client.delete_model_version_tag(MODEL_NAME, "1", tag)
    assert segments["EMEA"]["thresholds_status"] == "approved"
    assert segments["EMEA"]["stages"]["SQL"]["promised"] == 0.55
    assert segments["EMEA"]["stages"]["MQL or higher"]["promised"] == 0.33
    assert segments["APAC"]["thresholds_status"] == "approved"
    assert segments["APAC"]["stages"]["SQL"]["promised"] is None
    assert segments["APAC"]["stages"]["SQL"]["verdict"] == "no promise"
