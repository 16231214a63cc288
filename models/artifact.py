"""The MLflow pyfunc model: the scoring bundle (`models.bundle`) as one MLflow artifact.

Input: the point-in-time feature table (as built by `features.build.build_feature_table`
with the stored feature configuration). Output: probability, stage, points and reasons.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.types import ColSpec, Schema

from models.bundle import (
    BOOSTER_FILE,
    BUNDLE_FILE,
    OUTPUT_COLUMNS,
    REASONS_PATH,
    REASONS_SHAP,
    ScoringBundle,
    write_bundle,
)
from models.train import ModelSpec

__all__ = [  # the bundle's names, for callers that know the artifact only
    "BOOSTER_FILE",
    "BUNDLE_FILE",
    "OUTPUT_COLUMNS",
    "REASONS_PATH",
    "REASONS_SHAP",
    "LeadScoringModel",
    "ScoringBundle",
    "input_schema",
    "model_input",
    "write_bundle",
]


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
