"""The scoring bundle: booster, calibrator, thresholds, points rules and feature settings.

Everything scoring needs besides MLflow: the pyfunc model (`models.artifact`) wraps it, and
the batch-scoring workers use it directly, so they never import MLflow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.build import FeatureConfig
from features.naming import describe_feature
from features.vocabulary import slug
from models.attribution import TreePaths, contributions
from models.calibration import Calibrator
from models.reasons import REASONS_PATH, REASONS_SHAP
from models.stages import (
    assign_stages,
    disqualified_mask,
    hand_raiser_mask,
    sql_ineligible_mask,
)
from models.train import ModelSpec, predict_raw, prepare_matrix

BOOSTER_FILE = "booster.txt"
BUNDLE_FILE = "bundle.json"
OUTPUT_COLUMNS = ["probability", "stage", "rule_score", "rule_stage", "reasons"]
LEARNED_POINTS = "learned_points"  # after rule_stage, only when the bundle holds a learned card
SEGMENT = "segment"  # last, only when the thresholds are per segment (`thresholds.segment_column`)


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
        # the learned points card (scorecard stage); None in bundles without one
        learned = bundle.get("learned_rules")
        self.learned = PointsBaseline.from_params(learned) if learned else None
        self.stage_policy = bundle["stage_policy"]
        self._tree_paths: TreePaths | None = None

    @classmethod
    def from_dir(cls, directory: Path) -> ScoringBundle:
        booster = lgb.Booster(model_file=str(Path(directory) / BOOSTER_FILE))
        bundle = json.loads((Path(directory) / BUNDLE_FILE).read_text())
        return cls(booster=booster, bundle=bundle)

    @property
    def output_columns(self) -> list[str]:
        """The columns of `score`: `learned_points` after `rule_stage` when a card exists,
        `segment` last when the thresholds are per segment."""
        columns = list(OUTPUT_COLUMNS)
        if self.learned is not None:
            at = OUTPUT_COLUMNS.index("rule_stage") + 1
            columns = [*OUTPUT_COLUMNS[:at], LEARNED_POINTS, *OUTPUT_COLUMNS[at:]]
        return [*columns, SEGMENT] if self.segment_column else columns

    @property
    def segment_column(self) -> str | None:
        """The lead attribute whose values have thresholds of their own (None: one segment)."""
        return (self.bundle.get("thresholds") or {}).get("segment_column") or None

    def segments(self, table: pd.DataFrame) -> pd.Series | None:
        """Each row's segment value as text (NA when missing); None without segments."""
        if not self.segment_column:
            return None
        return table[slug(self.segment_column)].astype("string")

    def segment_thresholds(
        self, override: Mapping[str, Any] | None = None
    ) -> dict[str, tuple[float, float]]:
        """(MQL, SQL) per segment value with thresholds of its own: approved ones in
        `override["segments"]` (a mapping or its JSON text) first, else the proposed ones of
        the segments that did not fall back. Other values use the global thresholds."""
        proposal = (self.bundle.get("thresholds") or {}).get("segments") or {}
        result = {
            value: (float(entry["mql"]["threshold"]), float(entry["sql"]["threshold"]))
            for value, entry in proposal.items()
            if not entry.get("fallback")
        }
        approved = (override or {}).get("segments") or {}
        if isinstance(approved, str):
            approved = json.loads(approved)
        for value, entry in approved.items():
            result[str(value)] = (float(entry["mql_threshold"]), float(entry["sql_threshold"]))
        return result

    def row_thresholds(
        self, table: pd.DataFrame, override: Mapping[str, Any] | None = None
    ) -> tuple[np.ndarray | float, np.ndarray | float, pd.Series | None]:
        """(MQL, SQL) threshold per row (one pair for all without segments) and the segments."""
        mql, sql = self.thresholds(override)
        segments = self.segments(table)
        if segments is None:
            return mql, sql, None
        values = segments.to_numpy(dtype=object, na_value=None)  # missing: global thresholds
        mql_rows, sql_rows = np.full(len(values), mql), np.full(len(values), sql)
        for value, (segment_mql, segment_sql) in self.segment_thresholds(override).items():
            hit = values == value
            mql_rows[hit], sql_rows[hit] = segment_mql, segment_sql
        return mql_rows, sql_rows, segments

    def thresholds(self, override: Mapping[str, Any] | None = None) -> tuple[float, float]:
        """(MQL, SQL) probability thresholds: approved ones when given, else the proposed."""
        proposed = self.bundle["thresholds"]
        override = override or {}
        mql = override.get("mql_threshold")
        sql = override.get("sql_threshold")
        mql = proposed["mql"]["threshold"] if mql is None or mql < 0 else mql
        sql = proposed["sql"]["threshold"] if sql is None or sql < 0 else sql
        return float(mql), float(sql)

    def probability(self, table: pd.DataFrame, *, X: pd.DataFrame | None = None) -> np.ndarray:
        """Calibrated conversion probability (`X`: the table's model matrix, if already made)."""
        X = prepare_matrix(table, self.spec) if X is None else X
        return self.calibrator.transform(predict_raw(self.booster, X))

    @property
    def tree_paths(self) -> TreePaths:
        """The tree-path tables, built once per bundle."""
        if self._tree_paths is None:
            self._tree_paths = TreePaths.of(self.booster)
        return self._tree_paths

    def predict(self, X: pd.DataFrame, *, method: str) -> tuple[np.ndarray, np.ndarray]:
        """(calibrated probability, contributions with the bias column) of the model matrix.

        Tree path: one `pred_leaf` pass gives both. SHAP: LightGBM's `pred_contrib` as well.
        """
        if len(X) == 0:  # e.g. a chunk whose leads are all converted (LightGBM refuses)
            return np.zeros(0), np.zeros((0, self.booster.num_feature() + 1))
        if method == REASONS_PATH:
            leaves = self.tree_paths.leaves(self.booster, X)
            raw = self.tree_paths.probability(leaves)
            contrib = self.tree_paths.contributions(leaves, self.booster.num_feature())
        elif method == REASONS_SHAP:
            raw, contrib = predict_raw(self.booster, X), contributions(self.booster, X)
        else:
            raise ValueError(
                f"unknown reasons method {method!r}; use {REASONS_SHAP} or {REASONS_PATH}"
            )
        return self.calibrator.transform(raw), contrib

    def reasons(
        self,
        table: pd.DataFrame,
        *,
        top_k: int,
        method: str = REASONS_SHAP,
        X: pd.DataFrame | None = None,
    ) -> list[str]:
        """Top features pushing each lead's score up, in words (SHAP or tree-path attribution)."""
        X = prepare_matrix(table, self.spec) if X is None else X
        return self.reasons_of(self.predict(X, method=method)[1], X, top_k=top_k).tolist()

    def reasons_of(
        self, contrib: np.ndarray, X: pd.DataFrame, *, top_k: int
    ) -> pd.api.extensions.ExtensionArray:
        """Reasons in words (a text array) from the contributions (the bias column last) of
        the matrix `X`.

        A lead's reasons are its `top_k` largest positive contributions, largest first (ties go
        to the earlier feature); a categorical reason names the lead's value ("Industry:
        software").
        """
        contrib = contrib[:, :-1]
        top_k = min(top_k, contrib.shape[1])
        if top_k == 0:
            return pd.array([""] * len(X), dtype="str")
        rows = np.arange(len(contrib))
        # only positive contributions are reasons (fmax: NaN too becomes 0); row-major for argmax
        remaining = np.fmax(contrib, 0.0, order="C")
        shown = np.full((len(contrib), top_k), -1)  # feature position per rank, -1: none
        for rank in range(top_k):
            best = remaining.argmax(axis=1)  # the first maximum: ties go to the earlier feature
            shown[:, rank] = np.where(remaining[rows, best] > 0, best, -1)
            remaining[rows, best] = 0.0
        # `shown` indexes `words`: feature names, then "Name: value" of the categoricals
        words = [describe_feature(f) for f in self.spec.features]
        for name in self.spec.categorical:
            hit = shown == self.spec.features.index(name)
            if hit.any():
                codes, values = pd.factorize(X[name])
                named = [f"{describe_feature(name)}: {value}" for value in values.astype("string")]
                codes[codes < 0] = len(named)  # a missing value: "Industry: unknown"
                shown[hit] = len(words) + codes[np.nonzero(hit)[0]]
                words += [*named, f"{describe_feature(name)}: unknown"]
        # leads share few combinations of reasons: put each one into words once
        combination = pd.DataFrame(shown).groupby(list(range(top_k)), sort=False).ngroup()
        _, first = np.unique(combination, return_index=True)
        texts = ["; ".join(words[i] for i in row if i >= 0) for row in shown[first]]
        return pd.array(texts, dtype="str").take(combination.to_numpy())

    def score(
        self, table: pd.DataFrame, *, override: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Probability, stage, points, points stage (the learned card's points when the bundle
        has one) and reasons per row of the feature table."""
        mql, sql, segments = self.row_thresholds(table, override)
        top_k = int((override or {}).get("top_reasons", 3))
        method = str((override or {}).get("reasons_method") or REASONS_SHAP)
        X = prepare_matrix(table, self.spec)
        probability, contrib = self.predict(X, method=method)
        # a bundle older than the window kept hand-raisers in SQL forever: None keeps that
        window = self.stage_policy.get("hand_raiser_window_days")
        hand_raiser = hand_raiser_mask(table, window_days=window)
        disqualified = disqualified_mask(table, self.stage_policy.get("disqualify_when", {}))
        stage = assign_stages(
            scores=probability,
            mql_threshold=mql,
            sql_threshold=sql,
            hand_raiser=hand_raiser,
            disqualified=disqualified,
            hand_raiser_to_sql=bool(self.stage_policy.get("hand_raiser_to_sql", True)),
            sql_ineligible=sql_ineligible_mask(
                table, activity_days=self.stage_policy.get("sql_requires_activity_days")
            ),
        )
        points = self.rules.decision_function(table)
        columns = {
            "probability": probability,
            "stage": stage,
            "rule_score": points,
            "rule_stage": self.rules.predict_stage(table, points=points),
            "reasons": self.reasons_of(contrib, X, top_k=top_k),
        }
        if self.learned is not None:
            columns[LEARNED_POINTS] = self.learned.decision_function(table)
        if segments is not None:
            columns[SEGMENT] = segments.array
        return pd.DataFrame(columns, index=table.index, columns=self.output_columns)


def write_bundle(*, directory: Path, booster: lgb.Booster, bundle: Mapping[str, Any]) -> Path:
    """Write the booster (LightGBM text format) and the JSON bundle into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(directory / BOOSTER_FILE))
    (directory / BUNDLE_FILE).write_text(json.dumps(bundle, indent=2, sort_keys=True, default=str))
    return directory
