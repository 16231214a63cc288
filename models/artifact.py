"""The MLflow pyfunc model: everything scoring needs, in one artifact.

Input: the point-in-time feature table (as built by `features.build.build_feature_table`
with the stored feature configuration). Output: probability, stage, points and reasons.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightgbm as lgb
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.types import ColSpec, Schema

from features.build import FeatureConfig
from features.naming import describe_feature
from models.calibration import Calibrator
from models.stages import assign_stages, disqualified_mask
from models.train import ModelSpec, contributions, predict_raw, prepare_matrix

BOOSTER_FILE = "booster.txt"
BUNDLE_FILE = "bundle.json"
OUTPUT_COLUMNS = ["probability", "stage", "rule_score", "rule_stage", "reasons"]


class ScoringBundle:
    """Booster + the JSON bundle (spec, calibrator, thresholds, rules, references)."""

    def __init__(self, *, booster: lgb.Booster, bundle: Mapping[str, Any]) -> None:
        from models.rules import PointsBaseline

        self.booster = booster
        self.bundle = dict(bundle)
        self.spec = ModelSpec.from_dict(bundle["model_spec"])
        self.feature_config = FeatureConfig.from_dict(bundle["feature_config"])
        self.calibrator = Calibrator.from_dict(bundle["calibrator"])
        self.rules = PointsBaseline.from_params(bundle["rules"])
        self.stage_policy = bundle["stage_policy"]

    @classmethod
    def from_dir(cls, directory: Path) -> ScoringBundle:
        booster = lgb.Booster(model_file=str(Path(directory) / BOOSTER_FILE))
        bundle = json.loads((Path(directory) / BUNDLE_FILE).read_text())
        return cls(booster=booster, bundle=bundle)

    def thresholds(self, override: Mapping[str, Any] | None = None) -> tuple[float, float]:
        """(MQL, SQL) probability thresholds: approved ones when given, else the proposed."""
        proposed = self.bundle["thresholds"]
        override = override or {}
        mql = override.get("mql_threshold")
        sql = override.get("sql_threshold")
        mql = proposed["mql"]["threshold"] if mql is None or mql < 0 else mql
        sql = proposed["sql"]["threshold"] if sql is None or sql < 0 else sql
        return float(mql), float(sql)

    def probability(self, table: pd.DataFrame) -> np.ndarray:
        """Calibrated conversion probability."""
        X = prepare_matrix(table, self.spec)
        return self.calibrator.transform(predict_raw(self.booster, X))

    def reasons(self, table: pd.DataFrame, *, top_k: int) -> list[str]:
        """Top features pushing each lead's score up, in words (LightGBM pred_contrib)."""
        X = prepare_matrix(table, self.spec)
        contrib = contributions(self.booster, X)[:, :-1]
        order = np.argsort(-contrib, axis=1, kind="stable")[:, :top_k]
        names = np.array([describe_feature(f) for f in self.spec.features], dtype=object)
        labels = np.empty(order.shape, dtype=object)
        for j in range(order.shape[1]):
            labels[:, j] = names[order[:, j]]
        for name in self.spec.categorical:
            position = self.spec.features.index(name)
            # a categorical reason names its value: "Industry: software"
            hit = order == position
            if hit.any():
                rows = np.flatnonzero(hit.any(axis=1))
                values = X[name].astype("string").fillna("unknown").to_numpy()[rows]
                labels[hit] = [f"{describe_feature(name)}: {v}" for v in values]
        positive = np.take_along_axis(contrib, order, axis=1) > 0
        return ["; ".join(labels[i][positive[i]]) for i in range(len(labels))]

    def score(
        self, table: pd.DataFrame, *, override: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Probability, stage, points, points stage and reasons per row of the feature table."""
        mql, sql = self.thresholds(override)
        probability = self.probability(table)
        hand_raiser = table["is_hand_raiser"].to_numpy() >= 1 if "is_hand_raiser" in table else None
        disqualified = disqualified_mask(table, self.stage_policy.get("disqualify_when", {}))
        stage = assign_stages(
            scores=probability,
            mql_threshold=mql,
            sql_threshold=sql,
            hand_raiser=hand_raiser,
            disqualified=disqualified,
            hand_raiser_to_sql=bool(self.stage_policy.get("hand_raiser_to_sql", True)),
        )
        top_k = int((override or {}).get("top_reasons", 3))
        return pd.DataFrame(
            {
                "probability": probability,
                "stage": stage,
                "rule_score": self.rules.decision_function(table),
                "rule_stage": self.rules.predict_stage(table),
                "reasons": self.reasons(table, top_k=top_k),
            },
            index=table.index,
        )


class LeadScoringModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: feature table in, scores out; thresholds can be overridden by params."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        directory = Path(context.artifacts["bundle_dir"])
        self.scorer = ScoringBundle.from_dir(directory)

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        return self.scorer.score(model_input, override=params).reset_index(drop=True)


def model_input(table: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """The pyfunc input: model features only, categoricals as plain text (the signature's type)."""
    columns = {
        name: table[name].astype(object).where(table[name].notna(), None)
        if name in spec.categorical
        else table[name].astype(float)
        for name in spec.features
    }
    return pd.DataFrame(columns).reset_index(drop=True)


def input_schema(spec: ModelSpec) -> Schema:
    """Every feature optional: scoring tolerates missing attributes (they count as unknown)."""
    return Schema(
        [
            ColSpec("string" if name in spec.categorical else "double", name, required=False)
            for name in spec.features
        ]
    )


def write_bundle(*, directory: Path, booster: lgb.Booster, bundle: Mapping[str, Any]) -> Path:
    """Write the booster (LightGBM text format) and the JSON bundle into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(directory / BOOSTER_FILE))
    (directory / BUNDLE_FILE).write_text(json.dumps(bundle, indent=2, sort_keys=True, default=str))
    return directory
