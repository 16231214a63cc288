"""Where the stages keep their outputs, and the readers other stages share."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import pandas as pd

from features.build import FeatureConfig
from models.train import ModelSpec

INTERIM_DIR = Path("data/interim")
FEATURES_DIR = Path("data/features")
MODEL_DIR = Path("data/model")
REPORTS_DIR = Path("data/reports")


def load_training_table(features_dir: Path) -> tuple[pd.DataFrame, FeatureConfig]:
    """The feature table and the configuration that built it."""
    table = pd.read_parquet(features_dir / "features.parquet")
    config = FeatureConfig.from_dict(json.loads((features_dir / "feature_config.json").read_text()))
    return table, config


def load_booster(model_dir: Path) -> tuple[lgb.Booster, ModelSpec]:
    """The trained booster and its feature spec."""
    booster = lgb.Booster(model_file=str(model_dir / "booster.txt"))
    spec = ModelSpec.from_dict(json.loads((model_dir / "model_spec.json").read_text()))
    return booster, spec


def read_calibrator(model_dir: Path) -> dict:
    """The calibrate stage's calibrator, as stored (`models.calibration.Calibrator.from_dict`)."""
    return json.loads((model_dir / "calibrator.json").read_text())
