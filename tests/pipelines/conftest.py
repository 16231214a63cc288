"""Shared fixtures of the scoring tests: a trained project in its own MLflow store, bad rows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipelines.scoring.job import load_model
from pipelines.scoring.options import DEFAULT_MODEL_URI
from pipelines.scoring.settings import TABLES, LoadedModel
from pipelines.stages import calibrate, evaluate, extract, featurize, generate, scorecard, train

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """generate -> evaluate (scorecard included) in-process, in a temporary directory with its
    own MLflow store."""
    yield from build_project(tmp_path_factory.mktemp("score_project"))


# Per-segment thresholds by lead source: two policies overridden, one value the synthetic
# export never has (it falls back), and a data minimum that the thinnest sources miss.
SEGMENTS = {
    "segment_column": "source",
    "segments": {
        "organic_search": {"sql_precision": 0.12},
        "paid_search": {"sql_precision": 0.2},
        "email": {"sql_policy": "capacity", "sql_capacity_per_week": 5},
        "webinar": {"sql_precision": 0.3},
    },
    "min_segment_positives": 10,  # a small export: organic, paid search and email reach it
}


@pytest.fixture(scope="session")
def segmented_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The project of `project` with thresholds per lead source (`SEGMENTS`); tests set
    MLFLOW_TRACKING_URI to its store (`<project>/mlflow.db`) themselves."""
    yield from build_project(tmp_path_factory.mktemp("segmented_project"), thresholds=SEGMENTS)


def build_project(directory: Path, *, thresholds: dict | None = None) -> Iterator[Path]:
    """Run the stages in `directory` on a small synthetic export (`thresholds`: keys set in
    the thresholds section), then restore the working directory and MLflow store."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["thresholds"] |= thresholds or {}
    params["generate"]["n_leads"] = 6000
    params["label"]["max_training_rows"] = 15_000  # ~10 snapshots per lead: a sample is enough
    params["evaluate"]["bootstrap_samples"] = 50
    params["promotion"] = {
        "min_lift_over_points_roc_auc": -1.0,
        "min_gain_over_champion_roc_auc": -1.0,
        "max_ece": 1.0,
    }
    (directory / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    previous_cwd = Path.cwd()
    previous_uri = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{directory / 'mlflow.db'}"
    os.chdir(directory)
    try:
        for stage in (generate, extract, featurize, train, calibrate, scorecard, evaluate):
            stage.main()
        yield directory
    finally:
        os.chdir(previous_cwd)
        if previous_uri is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous_uri


@pytest.fixture(scope="module")
def champion(project: Path) -> LoadedModel:
    """The model the project registered as champion."""
    return load_model(DEFAULT_MODEL_URI)


@pytest.fixture(scope="module")
def interim(project: Path) -> dict[str, Path]:
    """The project's clean Parquet tables (leads, activities, outcomes)."""
    return {t: project / "data/interim" / f"{t}.parquet" for t in TABLES}


@pytest.fixture
def bad_export_tables(interim: dict[str, Path]) -> dict[str, pd.DataFrame]:
    """200 good leads (with their activities) plus every kind of bad row, all as text."""
    leads = pd.read_parquet(interim["leads"]).head(200).astype("string")
    bad_leads = pd.DataFrame(
        {
            "lead_id": [None, "", "BAD3", "BAD4", "DUP", "DUP", "EXACT", "EXACT", "LATER", "BAD5"],
            "created_at": [
                "2025-03-01",
                "2025-03-01",
                "not a date",
                "2027-06-01",
                "2025-03-01",
                "2025-03-02",
                "2025-03-01",
                "2025-03-01",
                "2026-06-01",  # after the as-of moment: skipped, not bad
                "2999-01-01",  # beyond pandas' timestamp range: bad, not a crash
            ],
            "industry": "software",
        }
    )
    activities = pd.read_parquet(interim["activities"])
    activities = activities[activities["lead_id"].isin(leads["lead_id"])].astype("string")
    bad_activities = pd.DataFrame(
        {
            "lead_id": ["NOBODY", leads["lead_id"][0], leads["lead_id"][1], None],
            "occurred_at": ["2025-05-01", "yesterday", "2025-05-01", "2025-05-01"],
            "activity_type": ["page_view", "page_view", None, "chat"],
            "page": "/pricing",
        }
    )
    outcomes = pd.DataFrame(
        {
            "lead_id": [leads["lead_id"][2], leads["lead_id"][3], "NOBODY"],
            "converted_at": ["2025-12-01", "1990-01-01", "2025-12-01"],
        }
    )
    return {
        "leads": pd.concat([leads, bad_leads], ignore_index=True),
        "activities": pd.concat([activities, bad_activities], ignore_index=True),
        "outcomes": outcomes,
    }
