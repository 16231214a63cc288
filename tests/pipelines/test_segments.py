"""Thresholds per segment (`thresholds.segment_column`): chosen per value by its own policy,
thin values fall back to the global cut, scoring gives each lead its segment's stage."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features.build import build_feature_table
from models.stages import SQL
from models.train import ModelSpec
from pipelines.config import CalibrationParams, ThresholdsParams, parse_params
from pipelines.errors import InputError
from pipelines.scoring.job import load_model
from pipelines.scoring.options import DEFAULT_MODEL_URI
from pipelines.stages.calibrate import calibrate_and_choose

EVERY = 14.0
MOMENTS = 6
# region: (share of leads, base rate): EU converts twice as often as NA, MEA is thin
REGIONS = {"NA": (0.55, 0.03), "EU": (0.35, 0.06), "MEA": (0.10, 0.03)}


def region_table(n_leads: int = 3000, seed: int = 1) -> pd.DataFrame:
    """Every lead at six scoring moments, with a region; conversion grows with the score."""
    rng = np.random.default_rng(seed)
    names = list(REGIONS)
    region = rng.choice(names, size=n_leads, p=[REGIONS[r][0] for r in names])
    lead = np.repeat(np.arange(n_leads), MOMENTS)
    step = np.tile(np.arange(MOMENTS), n_leads)
    score = rng.random(lead.size)
    base = np.array([REGIONS[r][1] for r in region])[lead]
    return pd.DataFrame(
        {
            "lead_id": lead,
            "as_of": pd.Timestamp("2025-06-01", tz="UTC") + pd.to_timedelta(step * EVERY, "D"),
            "label": rng.binomial(1, np.clip(base * (0.2 + 4 * score**2), 0, 1)),
            "cohort": "calibration",
            "engagement_score": score,
            "region": pd.Categorical(region[lead]),
        }
    )


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, lgb.Booster]:
    table = region_table()
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 4, "num_threads": 1},
        lgb.Dataset(table[["engagement_score"]], table["label"]),
        num_boost_round=20,
    )
    return table, booster


def choose(fitted, **policy) -> dict:
    table, booster = fitted
    base = ThresholdsParams(
        segment_column="region", bootstrap_samples=20, sql_precision=0.1, mql_recall=0.8
    )
    _, _, thresholds = calibrate_and_choose(
        table=table,
        booster=booster,
        spec=ModelSpec(features=("engagement_score",), categorical=()),
        calibration=CalibrationParams(),
        policy=replace(base, **policy),
        snapshot_every_days=EVERY,
        min_segment_positives=100,
        min_segment_negatives=60,
    )
    return json.loads(json.dumps(thresholds))  # as thresholds.json holds it


def cut(entry: dict) -> tuple[float, float]:
    return entry["mql"]["threshold"], entry["sql"]["threshold"]


def test_a_segment_policy_change_moves_only_that_segments_thresholds(fitted) -> None:
    before = choose(fitted, segments={"EU": {"sql_precision": 0.12}})
    after = choose(fitted, segments={"EU": {"sql_precision": 0.18}})
    assert cut(before) == cut(after)  # the global cut
    assert before["segments"]["NA"] == after["segments"]["NA"]
    assert before["segments"]["MEA"] == after["segments"]["MEA"]
    assert (
        after["segments"]["EU"]["sql"]["threshold"] > before["segments"]["EU"]["sql"]["threshold"]
    )
    assert after["segments"]["EU"]["overrides"] == {"sql_precision": 0.18}
    assert after["segments"]["EU"]["sql"]["target"] == 0.18


def test_each_segment_that_chose_its_own_cut_meets_its_target(fitted) -> None:
    thresholds = choose(
        fitted, segments={"EU": {"sql_precision": 0.18}, "NA": {"sql_precision": 0.08}}
    )
    table = fitted[0]
    for value, target in (("EU", 0.18), ("NA", 0.08)):
        entry = thresholds["segments"][value]
        assert not entry["fallback"]
        assert entry["rows"] == int((table["region"] == value).sum())
        assert entry["sql"]["feasible"] and entry["sql"]["precision"] >= target
    # the two segments convert at different rates: one global cut would not fit both
    assert cut(thresholds["segments"]["EU"]) != cut(thresholds["segments"]["NA"])


def test_thin_and_absent_segments_fall_back_to_the_global_cut_flagged(fitted) -> None:
    thresholds = choose(fitted, segments={"MEA": {"sql_precision": 0.1}, "LATAM": {}})
    thin = thresholds["segments"]["MEA"]
    assert thin["positives"] < 100 and thin["fallback"]
    assert "below the minimum of 100" in thin["reason"]
    assert cut(thin) == cut(thresholds)  # the global thresholds, what they give on MEA beside
    assert thin["rows"] > 0 and thin["expected"]
    absent = thresholds["segments"]["LATAM"]
    assert absent["fallback"] and absent["rows"] == 0 and "no lead" in absent["reason"]


def test_a_misspelt_policy_key_in_a_segment_is_a_one_line_input_error() -> None:
    with pytest.raises(InputError, match=r"EU\.sql_precison is not a policy key"):
        parse_params(
            {
                "source": {"leads": "leads.csv"},
                "thresholds": {"segments": {"EU": {"sql_precison": 0.2}}},
            }
        )


def test_a_segment_column_that_is_no_feature_is_a_clear_error(fitted) -> None:
    with pytest.raises(InputError, match="not a categorical feature"):
        choose(fitted, segment_column="sales_team")


@pytest.fixture(scope="module")
def segmented_model(segmented_project: Path):
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{segmented_project / 'mlflow.db'}"
    try:
        yield load_model(DEFAULT_MODEL_URI)
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous


@pytest.fixture(scope="module")
def open_base(segmented_project: Path, segmented_model) -> pd.DataFrame:
    """The project's leads as feature rows as of the export's end."""
    interim = segmented_project / "data/interim"
    leads = pd.read_parquet(interim / "leads.parquet")
    activities = pd.read_parquet(interim / "activities.parquet")
    as_of = pd.Timestamp(activities["occurred_at"].max())
    return build_feature_table(
        leads=leads,
        activities=activities,
        as_of=pd.Series(as_of, index=leads.index, dtype="datetime64[ns, UTC]"),
        config=segmented_model.scorer.feature_config,
    )


def test_scoring_gives_each_lead_its_segments_stage(segmented_model, open_base) -> None:
    scorer = segmented_model.scorer
    proposal = scorer.bundle["thresholds"]
    scores = scorer.score(open_base)
    assert scores["segment"].astype(str).tolist() == open_base["source"].astype(str).tolist()
    own = {v: e for v, e in proposal["segments"].items() if not e["fallback"]}
    assert own, "no segment chose thresholds of its own: the fixture no longer tests them"
    assert any(e["fallback"] for e in proposal["segments"].values())
    for value, entry in proposal["segments"].items():
        rows = scores[scores["segment"] == value]
        sql = (entry if value in own else proposal)["sql"]["threshold"]
        # a score at or above the segment's SQL cut is SQL unless an override says otherwise
        by_score = rows[rows["probability"] >= sql]
        assert (by_score["stage"] == SQL).mean() > 0.5 or by_score.empty
        below = rows[(rows["probability"] < sql) & (rows["stage"] == SQL)]
        assert len(below) <= int((open_base.loc[below.index, "is_hand_raiser"] > 0).sum())


def test_an_approved_segment_cut_moves_only_that_segments_leads(segmented_model, open_base) -> None:
    scorer = segmented_model.scorer
    proposal = scorer.bundle["thresholds"]
    before = scorer.score(open_base)
    own = [v for v, e in proposal["segments"].items() if not e["fallback"]]
    # the segment with the most MQLs; its approved SQL cut lowered to its MQL cut
    value = before.loc[before["segment"].isin(own) & (before["stage"] == "MQL"), "segment"].mode()[
        0
    ]
    mql = proposal["segments"][value]["mql"]["threshold"]
    after = scorer.score(
        open_base,
        override={"segments": {value: {"mql_threshold": mql, "sql_threshold": mql}}},
    )
    moved = before["stage"] != after["stage"]
    assert moved.any()
    assert set(after.loc[moved, "segment"]) == {value}
    assert (after.loc[moved, "stage"] == SQL).all()


def test_evaluate_reports_each_segment_on_the_test_cohort(segmented_project: Path) -> None:
    metrics = json.loads((segmented_project / "data/reports/metrics.json").read_text())
    thresholds = json.loads((segmented_project / "data/model/thresholds.json").read_text())
    segments = metrics["segments"]
    assert segments["column"] == "source"
    assert set(segments["values"]) == set(thresholds["segments"])
    for value, entry in segments["values"].items():
        assert entry["fallback"] == thresholds["segments"][value]["fallback"]
        assert entry["sql"]["threshold"] == thresholds["segments"][value]["sql"]["threshold"]
        rows = entry["test_rows"]
        assert entry["observed_rate"] == (entry["test_positives"] / rows if rows else None)
        if rows:
            assert 0.0 < entry["mean_predicted"] < 1.0
        if entry["sql"]["in_stage"]:
            assert entry["sql"]["precision_low"] <= entry["sql"]["precision"]
            assert entry["sql"]["precision"] <= entry["sql"]["precision_high"]


def test_leadscore_score_writes_segments_and_marks_an_approved_segment(
    segmented_project: Path, segmented_model, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient
    from typer.testing import CliRunner

    from pipelines.cli import app

    proposal = segmented_model.scorer.bundle["thresholds"]
    value = next(v for v, e in proposal["segments"].items() if not e["fallback"])
    entry = proposal["segments"][value]
    client = MlflowClient()
    # an approval of one segment only (the global thresholds stay proposed)
    approval = {
        "segments": {
            value: {
                "mql_threshold": entry["mql"]["threshold"],
                "sql_threshold": entry["sql"]["threshold"],
                "approved_by": "EMEA sales lead",
            }
        }
    }
    version = segmented_model.version
    client.set_model_version_tag(
        "lead-conversion", version, "approved_thresholds", json.dumps(approval)
    )
    interim = segmented_project / "data/interim"
    output = tmp_path / "scores.parquet"
    try:
        result = CliRunner().invoke(
            app,
            [
                "score",
                "--params",
                str(segmented_project / "params.yaml"),
                "--leads",
                str(interim / "leads.parquet"),
                "--activities",
                str(interim / "activities.parquet"),
                "--outcomes",
                str(interim / "outcomes.parquet"),
                "--output",
                str(output),
                "--no-record",
            ],
        )
    finally:
        client.delete_model_version_tag("lead-conversion", version, "approved_thresholds")
    assert result.exit_code == 0, result.stderr
    scored = pd.read_parquet(output)
    assert scored.columns[-1] == "segment"
    status = scored.groupby("segment")["thresholds_status"].agg(set)
    assert status[value] == {"approved"}
    assert set().union(*status.drop(value)) == {"proposed"}
    summary = json.loads((tmp_path / "scores.summary.json").read_text())
    assert summary["segment_column"] == "source"
    by_segment = summary["by_segment"]
    assert by_segment[value]["thresholds_status"] == "approved"
    assert sum(s["leads"] for s in by_segment.values()) == len(scored)
    for name, row in by_segment.items():
        counts = scored.loc[scored["segment"] == name, "stage"].value_counts()
        assert row["stages"] == {k: int(counts.get(k, 0)) for k in row["stages"]}
    fallback = next(v for v, e in proposal["segments"].items() if e["fallback"] and e["rows"])
    assert by_segment[fallback]["thresholds_status"] == "global (proposed)"
    assert by_segment[fallback]["sql"] == proposal["sql"]["threshold"]


def test_overrides_written_in_other_case_apply_to_the_value(fitted) -> None:
    # features.lowercase_categories lowercases the data; params may keep the CRM's spelling
    thresholds = choose(fitted, segments={"eu": {"sql_precision": 0.18}})
    assert set(thresholds["segments"]) == set(REGIONS)
    assert thresholds["segments"]["EU"]["sql"]["target"] == 0.18


def test_leads_without_a_segment_value_get_the_global_thresholds(
    segmented_model, open_base
) -> None:
    scorer = segmented_model.scorer
    blank = open_base.copy()
    blank.loc[blank.index[:50], "source"] = np.nan
    scores = scorer.score(blank)
    assert scores["segment"].iloc[:50].isna().all()
    # as if the segment were one without thresholds of its own: the global cut
    mql, sql, _ = scorer.row_thresholds(blank)
    assert (mql[:50] == scorer.thresholds()[0]).all() and (sql[:50] == scorer.thresholds()[1]).all()
    pd.testing.assert_frame_equal(
        scores.iloc[50:].drop(columns="reasons"),
        scorer.score(open_base).iloc[50:].drop(columns="reasons"),
    )


def test_calibration_rows_without_a_segment_value_count_for_no_segment(fitted) -> None:
    table, booster = fitted
    blank = table.assign(region=table["region"].where(table.index % 10 != 0))
    _, _, thresholds = calibrate_and_choose(
        table=blank,
        booster=booster,
        spec=ModelSpec(features=("engagement_score",), categorical=()),
        calibration=CalibrationParams(),
        policy=ThresholdsParams(segment_column="region", bootstrap_samples=20),
        snapshot_every_days=EVERY,
        min_segment_positives=100,
    )
    assert set(thresholds["segments"]) == set(REGIONS)
    assert sum(e["rows"] for e in thresholds["segments"].values()) == int(
        blank["region"].notna().sum()
    )
