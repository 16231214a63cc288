"""The marketing report in a real headless browser (offline), and the review notebook."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import mlflow
import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml
from nbclient import NotebookClient

from features.split import TEST, cohort_rows
from models.stages import assign_stages
from models.thresholds import CohortTiming, choose_thresholds, cohort_timing, snapshot_timing
from pipelines.artifacts import load_training_table
from pipelines.config import ReportParams
from pipelines.report.context import (
    base_rate_drift,
    build_context,
    learned_card_figures,
    with_learned_card,
)
from pipelines.report.render import render_report
from pipelines.scoring.settings import LoadedModel
from pipelines.stages import report as report_stage
from pipelines.stages.report import (
    ARTIFACT_DIR,
    EVIDENCE_FILE,
    STAGE_METRICS_FILE,
    effect_metrics,
    stage_evidence,
    with_lead_age,
)

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "01-threshold-review.ipynb"
PLOT_LABELS = [
    "Conversion rate per stage",
    "What-if",
    "Gains",
    "Calibration",
    "Funnel",
    "Top drivers",
]
STAGE_ROWS = ("SQL", "MQL", "IQL", "DISQUALIFIED", "MQL or higher")  # the stage table's order
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}")


def synthetic_evidence(seed: int = 0, n: int = 3000) -> tuple[pd.DataFrame, dict]:
    """Scored test leads as the report stage keeps them, and proposed thresholds."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.7, 6.0, n)
    forced = rng.random(n) < 0.03
    p = np.where(forced, np.clip(p + 0.35, 0, 1), p)
    excluded = rng.random(n) < 0.04
    y = rng.binomial(1, p)
    points = np.round(p * 150 + rng.normal(0, 15, n))
    policy = {"sql_policy": "precision", "sql_precision": 0.45, "mql_recall": 0.8}
    choices = choose_thresholds(y=y, p=p, policy=policy, weeks=8, forced=forced, excluded=excluded)
    overrides = {"hand_raiser": forced, "disqualified": excluded, "hand_raiser_to_sql": True}
    stage = assign_stages(
        scores=p,
        mql_threshold=choices["mql"].threshold,
        sql_threshold=choices["sql"].threshold,
        **overrides,
    )
    rule_stage = assign_stages(scores=points, mql_threshold=50, sql_threshold=100, **overrides)
    start = pd.Timestamp("2025-08-01", tz="UTC")
    evidence = pd.DataFrame(
        {
            "as_of": start + pd.to_timedelta(np.sort(rng.uniform(0, 56, n)), unit="D"),
            "label": y,
            "probability": p,
            "stage": stage,
            "rule_score": points,
            "rule_stage": rule_stage,
            "forced": forced,
            "excluded": excluded,
        }
    )
    thresholds = {key: choice.to_dict() for key, choice in choices.items()}
    return evidence, thresholds


def render(
    evidence: pd.DataFrame,
    thresholds: dict,
    metrics: dict | None = None,
    timing: CohortTiming | None = None,
    scorecard: dict | None = None,
) -> tuple[str, object]:
    context = build_context(
        evidence=evidence,
        thresholds=thresholds,
        drivers=pd.DataFrame(
            {
                "feature": ["is_hand_raiser", "n_page_pricing_30d"],
                "driver": ["Asked for a demo, trial or sales contact", "Pricing page visits"],
                "share": [0.3, 0.2],
            }
        ),
        points_thresholds={"mql_points": 50.0, "sql_points": 100.0},
        version="7",
        alias="challenger",
        metrics=metrics or {"model": {"ece": 0.01, "brier": 0.07}},
        extract_summary={"leads": {"read": 100, "kept": 99, "quarantined": 1}},
        features_summary={"cohorts": {"test": {"rows": 3000, "positives": 300}}},
        report=ReportParams(bootstrap_samples=200),
        lift_fractions=(0.05, 0.1, 0.2),
        min_positives=40,
        approval=None,
        timing=timing,
        scorecard=scorecard,
    )
    return render_report(context), context


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> str:
    found = chromium()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required under CI (.ci/run installs it)")
        pytest.skip("Chromium not installed: apt-get install chromium to run the browser test")
    return found


def run_chromium(
    browser: str, page: Path, profile: Path, *extra: str
) -> subprocess.CompletedProcess:
    """Headless Chromium with the network unreachable (a dead proxy) and a fresh profile."""
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--proxy-server=127.0.0.1:9",
            "--enable-logging=stderr",
            "--v=0",
            *extra,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_report_is_self_contained_and_free_of_personal_data():
    html, context = render(*synthetic_evidence())
    assert "<script" not in html and "<link" not in html and "src=" not in html
    assert not re.search(r"url\((?!#)", html), "no external CSS resources"
    assert not EMAIL.search(html)
    assert html.count("<svg") == len(PLOT_LABELS)
    assert 'id="stage-table"' in html and "Awaiting approval" in html
    sql = context.model_effect.set_index("stage").loc["SQL"]
    assert sql["leads_per_week_low"] <= sql["leads_per_week"] <= sql["leads_per_week_high"]


def test_report_renders_offline_in_headless_chromium(browser: str, tmp_path: Path):
    html, _ = render(*synthetic_evidence(seed=1))
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / "report.png"
    result = run_chromium(
        browser,
        page,
        tmp_path / "profile",
        "--dump-dom",
        f"--screenshot={shot}",
        "--window-size=1280,4000",
        "--hide-scrollbars",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert 'id="stage-table"' in dom and "MQL or higher" in dom
    for label in PLOT_LABELS:
        assert re.search(rf'<svg[^>]*aria-label="{label}', dom), f"plot missing: {label}"
    console_errors = [
        line
        for line in result.stderr.splitlines()
        if "CONSOLE" in line or "net::ERR" in line or "Uncaught" in line
    ]
    assert not console_errors, console_errors
    assert shot.exists() and shot.stat().st_size > 50_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture()
def tracked_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A tmp MLflow store with one run holding the evidence `leadscore report` logs."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("leadscore", artifact_location=(tmp_path / "mlruns").as_uri())
    evidence, thresholds = synthetic_evidence(seed=2)
    _, context = render(evidence, thresholds)
    metrics = effect_metrics(context.model_effect, prefix="report_")
    files = tmp_path / "files"
    files.mkdir()
    evidence.to_csv(files / EVIDENCE_FILE, index=False)
    (files / STAGE_METRICS_FILE).write_text(json.dumps(metrics))
    mlflow.set_experiment("leadscore")
    with mlflow.start_run() as run:
        mlflow.log_metrics(metrics)
        mlflow.log_dict(thresholds, "thresholds/proposed.json")
        for name in (EVIDENCE_FILE, STAGE_METRICS_FILE):
            mlflow.log_artifact(str(files / name), artifact_path=ARTIFACT_DIR)
    return tmp_path, run.info.run_id


def test_review_notebook_reproduces_the_stage_table(tracked_run: tuple[Path, str]):
    project, run_id = tracked_run
    (project / "notebooks").mkdir()
    copy = project / "notebooks" / NOTEBOOK.name
    shutil.copy2(NOTEBOOK, copy)
    notebook = nbformat.read(copy, as_version=4)
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(copy.parent)}},
    ).execute()
    outputs = "\n".join(
        str(output.get("text", "")) for cell in notebook.cells for output in cell.get("outputs", [])
    )
    assert f"run {run_id}" in outputs
    assert "SQL:" in outputs and "leads/week" in outputs
    assert not [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]


def test_base_rate_drift_is_discussed_not_hidden():
    drifting = {"train": {"conversion_rate": 0.056}, "test": {"conversion_rate": 0.38}}
    assert base_rate_drift(drifting) == {"train": 0.056, "test": 0.38}
    steady = {"train": {"conversion_rate": 0.09}, "test": {"conversion_rate": 0.095}}
    assert base_rate_drift(steady) is None
    _, context = render(*synthetic_evidence())
    html = render_report(dataclasses.replace(context, features_summary={"cohorts": drifting}))
    assert "not stable over time: 5.6%" in html and "38.0% in the test period" in html


def test_values_from_the_data_are_escaped():
    _, context = render(*synthetic_evidence())
    hostile = "<script>alert(1)</script>"
    context = dataclasses.replace(
        context,
        model_alias=hostile,
        extract_summary={hostile: {"read": 1, "kept": 1, "quarantined": 0}},
        approval={"approved_by": hostile, "approved_at": "2025-10-01T09:00:00"},
    )
    html = render_report(context)
    assert "<script" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 4


def open_base_evidence(seed: int = 4) -> tuple[pd.DataFrame, dict, dict]:
    """Evidence of the open base on 6 scoring days (leads of every age), thresholds that state
    both stage units, and metrics.json holding the synthetic truth per age band."""
    evidence, thresholds = synthetic_evidence(seed=seed)
    rng = np.random.default_rng(seed)
    # 500 open leads seen on each of 6 scoring days, 14 days apart
    days = pd.Timestamp("2025-08-01", tz="UTC") + pd.to_timedelta(
        14 * (np.arange(len(evidence)) // 500), unit="D"
    )
    # 40% young (0-14), 35% 30-60, 25% older than 240 days
    age = rng.choice([5.0, 40.0, 300.0], size=len(evidence), p=[0.4, 0.35, 0.25])
    evidence = evidence.assign(as_of=days, lead_age_days=age)
    thresholds["sql"] |= {"in_stage_per_scoring_day": 1234.5, "entering_per_week": 87.25}
    thresholds["mql"] |= {"in_stage_per_scoring_day": 4321.0, "entering_per_week": 456.0}
    thresholds |= {"snapshot_every_days": 14, "snapshot_moments": 6}
    metrics = {
        "model": {"ece": 0.01, "brier": 0.07},
        "by_age_band": {
            "0-14": {"count": 1, "mean_true": 0.1234},
            "30-60": {"count": 1, "mean_true": 0.0567},
            "240+": {"count": 1, "mean_true": None},
        },
    }
    return evidence, thresholds, metrics


def table_text(html: str, table_id: str) -> list[str]:
    """The rows of one table as text, cells separated by ' | '."""
    body = re.search(rf'<table id="{table_id}">(.*?)</table>', html, flags=re.S)
    assert body, f"table {table_id} missing"
    rows = re.findall(r"<tr>(.*?)</tr>", body.group(1), flags=re.S)
    cells = [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S) for row in rows]
    return [" | ".join(re.sub(r"<[^>]+>", "", c).strip() for c in row) for row in cells]


def test_report_states_the_population_its_age_mix_and_calibration_by_age():
    evidence, thresholds, metrics = open_base_evidence()
    html, context = render(evidence, thresholds, metrics)
    assert "The open lead base on a scoring day: leads of every age" in html
    assert "holds 6 scoring\ndays" in html
    by_age = context.by_age.set_index("band")
    young, middle, old = (by_age.loc[band] for band in ("0-14", "30-60", "240+"))
    assert young["count"] + middle["count"] + old["count"] == len(evidence)
    assert young["share"] == pytest.approx((evidence["lead_age_days"] < 14).mean())
    mix = table_text(html, "age-mix")
    assert mix[1:] == [
        f"0-14 days | {young['share']:.1%} |  | {int(young['count']):,}",
        f"30-60 days | {middle['share']:.1%} |  | {int(middle['count']):,}",
        f"240+ days | {old['share']:.1%} |  | {int(old['count']):,}",
    ]  # empty bands are left out
    calibration = table_text(html, "calibration-by-age-table")
    young_rows = evidence[evidence["lead_age_days"] < 14]
    assert calibration[0].endswith("True chance")
    assert calibration[1] == (
        f"0-14 | {len(young_rows):,} | {young_rows['probability'].mean():.1%}"
        f" | {young_rows['label'].mean():.1%} | 12.3%"
    )
    assert calibration[2].endswith("| 5.7%") and calibration[3].endswith("| —")
    assert 'aria-label="Calibration by lead age' in html
    assert html.count("<svg") == len(PLOT_LABELS) + 1


def test_report_shows_stages_in_both_units():
    evidence, thresholds, metrics = open_base_evidence()
    lead_id = np.arange(len(evidence)) % 500
    timing = snapshot_timing(lead_id, evidence["as_of"], every_days=14)
    html, context = render(evidence, thresholds, metrics, timing)
    in_sql = (evidence["stage"] == "SQL").sum() / 6
    units = table_text(html, "stage-units")
    assert units[1] == f"SQL | 1,234 | 87 | {in_sql:,.0f}"
    assert units[2].startswith("MQL | 4,321 | 456 | ")
    assert context.in_stage_per_scoring_day["SQL"] == pytest.approx(in_sql)
    assert "New SQLs per week" in html and "new ones enter SQL each week" in html
    # thresholds written before the units existed: a dash, and the weekly KPI as before
    evidence, thresholds = synthetic_evidence()
    for stage in ("sql", "mql"):
        for key in ("in_stage_per_scoring_day", "entering_per_week"):
            thresholds[stage].pop(key, None)
    plain, _ = render(evidence, thresholds)
    assert table_text(plain, "stage-units")[1:] == ["SQL | — | — | —", "MQL | — | — | —"]
    assert "New SQLs per week" not in plain and "SQLs per week" in plain
    assert "Each lead of the test period once" in plain and 'id="age-mix"' not in plain


def test_report_shows_the_learned_card_beside_model_and_points():
    scorecard = {
        "target": "labels",
        "table": [
            {"variable": "seniority", "bin": "vp", "points": 20},
            {"variable": "is_personal_email", "bin": "yes", "points": -33},
        ],
    }
    metrics = {
        "model": {"ece": 0.01, "brier": 0.07, "roc_auc": 0.76},
        "points": {"roc_auc": 0.71},
        "learned_points": {"roc_auc": 0.74},
        "fidelity": {
            "card_points_roc_auc": 0.745,
            "spearman_with_model": 0.74,
            "share_of_model_sql_in_card_sql": 0.89,
            "model_sql_precision": 0.145,
            "card_sql_precision": 0.142,
        },
    }
    html, context = render(*synthetic_evidence())
    assert "learned-card-table" not in html  # no card: no section
    html = render_report(
        dataclasses.replace(
            context,
            scorecard=scorecard["table"],
            learned_card=learned_card_figures(metrics, scorecard),
        )
    )
    rows = table_text(html, "learned-card-table")
    assert any("seniority" in r and "vp" in r and "20" in r for r in rows)
    assert any("is_personal_email" in r and "-33" in r for r in rows)
    comparison = " ".join(table_text(html, "learned-card-comparison"))
    assert "0.760" in comparison and "0.745" in comparison and "0.710" in comparison
    assert "89%" in html


# -- the real small pipeline (tests/pipelines/conftest.py): learned card and segments ------


@pytest.fixture(scope="module")
def pipeline_report(project: Path, champion: LoadedModel) -> dict:
    """The report's inputs as the report stage builds them from the pipeline's registered model:
    the test cohort's evidence with the learned card's points and stages, the thresholds,
    metrics.json and scorecard.json."""
    table, _ = load_training_table(project / "data/features")
    rows = cohort_rows(table, TEST)
    scorer = champion.scorer
    evidence = with_learned_card(
        with_lead_age(stage_evidence(scorer, rows), rows), card=scorer.learned, rows=rows
    )
    thresholds = scorer.bundle["thresholds"]
    every_days = thresholds.get("snapshot_every_days")
    timing = cohort_timing(
        rows,
        snapshots=every_days is not None,
        every_days=float(every_days or 1.0),
        fallback_weeks=13.0,
        sample_rate=float(thresholds.get("sample_rate") or 1.0),
    )
    return {
        "evidence": evidence,
        "thresholds": thresholds,
        "timing": timing,
        "metrics": json.loads((project / "data/reports/metrics.json").read_text()),
        "scorecard": json.loads((project / "data/model/scorecard.json").read_text()),
        "card": yaml.safe_load((project / "data/model/learned_rules.yaml").read_text())["rules"],
    }


def render_pipeline(inputs: dict, **changes: object) -> tuple[str, object]:
    """The page from the pipeline's inputs, with some of them replaced."""
    inputs = inputs | changes
    return render(
        inputs["evidence"],
        inputs["thresholds"],
        inputs["metrics"],
        inputs["timing"],
        scorecard=inputs["scorecard"],
    )


def svg_text(html: str, label: str) -> str:
    """The text of the inline plot whose accessible label starts with `label`."""
    found = re.search(rf'<svg[^>]*aria-label="{label}[^"]*".*?</svg>', html, flags=re.S)
    assert found, f"plot missing: {label}"
    return re.sub(r"<[^>]+>", " ", found.group(0))


def test_stage_table_and_gains_set_the_learned_card_beside_model_and_points(
    pipeline_report: dict,
):
    html, context = render_pipeline(pipeline_report)
    stages = table_text(html, "stage-comparison")
    assert stages[0].split(" | ")[1:] == [
        "Model",
        "Learned points card",
        "Hand-written points (today)",
    ]
    card = context.card_effect.set_index("stage")
    points = context.points_effect.set_index("stage")
    for stage, row in zip(STAGE_ROWS, stages[2:], strict=True):
        cells = row.split(" | ")
        assert cells[0].startswith(stage) and cells[4:] == [
            f"{card.loc[stage, 'leads_per_week']:,.0f}",
            f"{card.loc[stage, 'precision']:.1%}",
            f"{points.loc[stage, 'leads_per_week']:,.0f}",
            f"{points.loc[stage, 'precision']:.1%}",
        ]
    # the card's stages are its own (its MQL/SQL points), as evaluate staged it on these leads
    fidelity = pipeline_report["metrics"]["fidelity"]
    assert card.loc["SQL", "precision"] == pytest.approx(fidelity["card_sql_precision"])
    assert (pipeline_report["evidence"]["learned_stage"] == "SQL").sum() == fidelity[
        "card_sql_leads"
    ]
    rules = pipeline_report["card"]
    assert f"MQL from\n{rules['mql_points']:,.0f} points, SQL from {rules['sql_points']:,.0f}" in (
        html
    )
    assert set(context.gains["model"]) == {"model", "learned_card", "points"}
    gains = svg_text(html, "Gains")
    for label in ("Model", "Learned points card", "Hand-written points (today)"):
        assert label in gains, f"gains curve missing: {label}"
    assert "Learned points card" in svg_text(html, "Conversion rate per stage")
    lift = table_text(html, "lift-comparison")
    assert lift[1].split(" | ")[1:4] == ["Model", "Learned card", "Hand-written points"]


def test_report_without_a_learned_card_shows_model_and_points_only(pipeline_report: dict):
    evidence = pipeline_report["evidence"].drop(columns=["learned_points", "learned_stage"])
    html, context = render_pipeline(pipeline_report, evidence=evidence, scorecard={})
    assert context.card_effect is None and set(context.gains["model"]) == {"model", "points"}
    assert table_text(html, "stage-comparison")[0].endswith(
        "Points: leads / week | Points: convert"
    )
    assert "Learned points card" not in svg_text(html, "Gains")
    assert "learned-card" not in html and "lift-comparison" not in html


FALLBACK_REASON = "12 conversions in the calibration cohort, below the minimum of 40"


def segmented(thresholds: dict, sizes: dict[str, int], fallbacks: set[str]) -> dict:
    """The pipeline's thresholds with its global entries copied into segments (an interim
    stand-in for the calibrate stage's `segments`, shaped as in the segments contract)."""
    entries = {
        value: {
            "rows": rows,
            "positives": rows // 20,
            "fallback": value in fallbacks,
            "reason": FALLBACK_REASON if value in fallbacks else "",
            "overrides": {} if value in fallbacks else {"sql_precision": 0.2},
            **{key: thresholds[key] for key in ("mql", "sql", "expected", "what_if")},
        }
        for value, rows in sizes.items()
    }
    return thresholds | {"segment_column": "region", "segments": entries}


def run_report_stage(project: Path) -> tuple[str, pd.DataFrame]:
    """The report stage on a pipeline project: its page and its evidence file."""
    directory = project / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'mlflow.db'}")
        report_stage.main(
            params=project / "params.yaml",
            features_dir=directory / "features",
            model_dir=directory / "model",
            reports_dir=directory / "reports",
            interim_dir=directory / "interim",
        )
    page = (directory / "reports" / "report.html").read_text(encoding="utf-8")
    return page, report_stage.read_evidence(directory / "reports" / EVIDENCE_FILE)


def test_the_report_stage_sets_the_learned_card_in_the_stage_table_and_gains(
    project: Path, champion: LoadedModel
):
    html, evidence = run_report_stage(project)
    stages = table_text(html, "stage-comparison")
    assert stages[0].split(" | ")[1:] == [
        "Model",
        "Learned points card",
        "Hand-written points (today)",
    ]
    card_sql = evidence.loc[evidence["learned_stage"] == "SQL", "label"]
    assert stages[2].split(" | ")[5] == f"{card_sql.mean():.1%}"
    assert "Learned points card" in svg_text(html, "Gains")


@pytest.fixture(scope="module")
def segmented_report(segmented_project: Path) -> dict:
    """The report stage on the project with thresholds per lead source (conftest), and the
    files it reads."""
    html, evidence = run_report_stage(segmented_project)
    directory = segmented_project / "data"
    return {
        "html": html,
        "evidence": evidence,
        "thresholds": json.loads((directory / "model/thresholds.json").read_text()),
        "metrics": json.loads((directory / "reports/metrics.json").read_text()),
    }


def test_report_shows_thresholds_per_segment_with_fallbacks_targets_and_test_figures(
    segmented_report: dict,
):
    html, entries = segmented_report["html"], segmented_report["thresholds"]["segments"]
    by_size = sorted(entries, key=lambda value: -entries[value]["rows"])
    overview = table_text(html, "segment-thresholds")
    assert overview[0].startswith("Source | Calibration leads")
    assert [row.split(" | ")[0] for row in overview[1:]] == [
        *by_size[:6],
        f"Other segments ({len(by_size) - 6})",
    ]
    for value, row in zip(by_size[:6], overview[1:7], strict=True):
        entry, cells = entries[value], row.split(" | ")
        assert cells[1:5] == [
            f"{entry['rows']:,}",
            f"{entry['positives']:,}",
            f"{entry['mql']['threshold']:.1%}",
            f"{entry['sql']['threshold']:.1%}",
        ]
        reachable = "reachable" if entry["sql"]["feasible"] else "target not reachable"
        assert cells[5].endswith(reachable)
        assert cells[-1] == ("global (fallback)" if entry["fallback"] else "its own")
    callout = re.search(r'id="segment-fallbacks">(.*?)</div>', html, flags=re.S).group(1)
    fallbacks = [value for value in by_size if entries[value]["fallback"]]
    assert fallbacks and "webinar" in fallbacks  # in params, absent from the export
    for value in fallbacks:
        assert f"<b>{value}</b> ({entries[value]['reason']})" in callout
    tests = segment_test_rows(html)
    values = segmented_report["metrics"]["segments"]["values"]
    for value in by_size[:6]:
        if value in values:
            assert tests[value][2] == f"{values[value]['sql']['in_stage']:,}"
            # what the model expected of the segment's leads beside what they did
            test = values[value]
            observed = test["test_positives"] / test["test_rows"]
            assert tests[value][-1] == f"{test['mean_predicted']:.1%} / {observed:.1%}"
    # the largest source: calibration promise and test period side by side, and its what-if
    largest, evidence = by_size[0], segmented_report["evidence"]
    own = evidence[evidence["segment"] == largest]
    sql_row = table_text(html, "segment-stages-1")[2].split(" | ")
    promised = next(row for row in entries[largest]["expected"] if row["stage"] == "SQL")
    assert sql_row[0].startswith("SQL") and sql_row[1] == f"{promised['leads_per_week']:,.0f}"
    assert sql_row[5].startswith(f"{own.loc[own['stage'] == 'SQL', 'label'].mean():.1%}")
    what_if = table_text(html, "segment-what-if-1")
    assert sum(row.endswith("proposed") for row in what_if) == 1
    assert 'id="segment-stages-other"' in html


def segment_test_rows(html: str) -> dict[str, list[str]]:
    """The per-segment test-period table as {segment: the other cells}."""
    rows = [row.split(" | ") for row in table_text(html, "segment-test")[1:]]
    return {cells[0]: cells[1:] for cells in rows}


def test_report_without_segments_has_no_segment_section(pipeline_report: dict):
    html, _ = render_pipeline(pipeline_report)
    body = html[html.index("<body>") :]
    assert 'id="segments"' not in body and "segment" not in body.lower()


def test_report_groups_the_smaller_segments_as_other_segments(pipeline_report: dict):
    sizes = {f"region {i}": 1000 - 100 * i for i in range(8)}
    thresholds = segmented(pipeline_report["thresholds"], sizes, fallbacks={"region 7"})
    html, context = render_pipeline(pipeline_report, thresholds=thresholds)
    overview = table_text(html, "segment-thresholds")
    assert [row.split(" | ")[0] for row in overview[1:]] == [
        *(f"region {i}" for i in range(6)),
        "Other segments (2)",
    ]
    other = overview[-1].split(" | ")
    assert other[1:3] == ["700", "35"] and other[-1] == "1 of 2 global (fallback)"
    assert "region 7</b> (" + FALLBACK_REASON in html  # named although grouped
    sql = next(row for row in pipeline_report["thresholds"]["expected"] if row["stage"] == "SQL")
    grouped = table_text(html, "segment-stages-other")[2].split(" | ")
    assert grouped[0].startswith("SQL") and grouped[1:] == [
        f"{2 * sql['leads_per_week']:,.0f}",
        f"{sql['conversions'] / sql['leads']:.1%}",
        f"{sql['recall']:.0%}",
    ]  # added up; no test columns without each lead's segment in the evidence
    assert 'id="segment-what-if-6"' in html and 'id="segment-what-if-7"' not in html
    # a segment approved, the global thresholds not: the page still awaits global approval
    approval = {"segments": {"region 0": {"approved_by": "Ana", "approved_at": "2026-01-05T10"}}}
    approved = render_report(dataclasses.replace(context, approval=approval))
    assert "Awaiting approval" in approved
    rows = table_text(approved, "segment-thresholds")
    assert rows[1].endswith("approved by Ana on 2026-01-05") and rows[2].endswith("proposed")
