"""The classic points baseline (marketing's lead score) as a scikit-learn-style classifier.

Points come from the feature table built by `features.build`, so the baseline sees exactly
the leads, as-of moments and split the model sees:
- attribute points: categorical feature value -> points (e.g. seniority, company size);
- flag points: points when a 0/1 feature is 1 (e.g. competitor domain, unsubscribed);
- activity points: points per event, applied to `decayed_{type}`, so behavioural points
  halve every `features.decay_half_life_days` (a demo request one half-life ago earns half);
- page points: points per visit of a page category within `page_window_days`;
- numeric points: tiers `[threshold, points]` for numeric columns (single-table datasets).
Behavioural points (activities and pages) can be capped. Stages follow `models.stages`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
import pandas as pd
from pandas.api.types import is_string_dtype
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from features.vocabulary import slug
from models.stages import (
    HAND_RAISER_COLUMN,
    LAST_HAND_RAISE_COLUMN,
    assign_stages,
    disqualified_mask,
    feature_column,
    hand_raiser_mask,
)

logger = logging.getLogger(__name__)

__all__ = ["BEHAVIOUR_CAP_COLUMN", "HAND_RAISER_COLUMN", "PointsBaseline"]
BEHAVIOUR_CAP_COLUMN = "behaviour_cap"


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as floats with missing or unparsable values as 0 (no points)."""
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)


def _attribute_values(series: pd.Series, points: Mapping[str, float]) -> np.ndarray:
    """Points per row for a categorical column; values match the mapping's keys as text."""
    if isinstance(series.dtype, pd.CategoricalDtype) and is_string_dtype(series.cat.categories):
        # match each category once; a missing value (code -1) picks the 0 appended last
        per_category = _attribute_values(pd.Series(series.cat.categories), points)
        return np.append(per_category, 0.0)[series.cat.codes.to_numpy()]
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series):
        numeric_keys: dict[float, float] = {}
        for key, value in points.items():
            try:
                numeric_keys[float(key)] = float(value)
            except ValueError:
                continue
        mapped = series.map(numeric_keys)
    else:
        text_keys = {str(k): float(v) for k, v in points.items()}
        mapped = series.astype("string").str.strip().map(text_keys)
    return _numeric(mapped.to_frame("points"), "points")


class PointsBaseline(ClassifierMixin, BaseEstimator):
    """Points-based lead score with MQL/SQL point thresholds, mapped to probabilities on fit.

    `fit` learns only a monotone (isotonic) map from points to conversion probability, so
    the baseline can be scored with Brier/ECE/log loss like the model. The map never reverses
    the ranking, but it can tie leads whose points differ (pooled blocks): compute ranking
    metrics (AUC, lift) on `decision_function`, calibration metrics on `predict_proba`.
    `decision_function` and `predict_stage` depend on the configuration only and also work on
    an unfitted instance (e.g. rebuilt with `from_params` at scoring time).
    """

    def __init__(
        self,
        *,
        attribute_points: dict[str, dict[str, float]] | None = None,
        flag_points: dict[str, float] | None = None,
        activity_points: dict[str, float] | None = None,
        page_points: dict[str, float] | None = None,
        page_window_days: int = 30,
        numeric_points: dict[str, list[list[float]]] | None = None,
        max_behaviour_points: float | None = None,
        mql_points: float = 30.0,
        sql_points: float = 60.0,
        hand_raiser_to_sql: bool = True,
        hand_raiser_window_days: float | None = None,
        disqualify_when: dict[str, float] | None = None,
    ) -> None:
        self.attribute_points = attribute_points
        self.flag_points = flag_points
        self.activity_points = activity_points
        self.page_points = page_points
        self.page_window_days = page_window_days
        self.numeric_points = numeric_points
        self.max_behaviour_points = max_behaviour_points
        self.mql_points = mql_points
        self.sql_points = sql_points
        self.hand_raiser_to_sql = hand_raiser_to_sql
        self.hand_raiser_window_days = hand_raiser_window_days
        self.disqualify_when = disqualify_when

    # -- configuration ---------------------------------------------------------------------

    @classmethod
    def from_params(cls, rules: Mapping[str, Any]) -> PointsBaseline:
        """Build from the `rules` section of params.yaml (or from `to_params` output)."""
        known = set(cls._get_param_names())
        unknown = sorted(set(rules) - known)
        if unknown:
            raise ValueError(f"unknown rules keys {unknown}; expected some of {sorted(known)}")
        return cls(**copy.deepcopy(dict(rules)))

    def to_params(self) -> dict[str, Any]:
        """JSON-ready configuration (stored inside the model artifact)."""
        cap = self.max_behaviour_points
        window = self.hand_raiser_window_days
        return {
            "attribute_points": {
                str(column): {str(value): float(points) for value, points in mapping.items()}
                for column, mapping in (self.attribute_points or {}).items()
            },
            "flag_points": _float_dict(self.flag_points),
            "activity_points": _float_dict(self.activity_points),
            "page_points": _float_dict(self.page_points),
            "page_window_days": int(self.page_window_days),
            "numeric_points": {
                str(column): [[float(t), float(p)] for t, p in tiers]
                for column, tiers in (self.numeric_points or {}).items()
            },
            "max_behaviour_points": None if cap is None else float(cap),
            "mql_points": float(self.mql_points),
            "sql_points": float(self.sql_points),
            "hand_raiser_to_sql": bool(self.hand_raiser_to_sql),
            "hand_raiser_window_days": None if window is None else float(window),
            "disqualify_when": _float_dict(self.disqualify_when),
        }

    def _validate_config(self) -> None:
        if float(self.mql_points) > float(self.sql_points):
            raise ValueError(
                f"mql_points ({self.mql_points}) must not exceed sql_points ({self.sql_points})"
            )
        if int(self.page_window_days) <= 0:
            raise ValueError(f"page_window_days must be positive, got {self.page_window_days}")
        if self.max_behaviour_points is not None and float(self.max_behaviour_points) < 0:
            raise ValueError("max_behaviour_points must be >= 0 or null")
        window = self.hand_raiser_window_days
        if window is not None and float(window) < 0:
            raise ValueError(f"hand_raiser_window_days must be >= 0 or null, got {window}")
        for column, tiers in (self.numeric_points or {}).items():
            if any(len(tier) != 2 for tier in tiers):
                raise ValueError(f"numeric_points[{column}] must be a list of [threshold, points]")

    def configured_columns(self) -> list[str]:
        """Every feature column the configuration reads, in a stable order."""
        columns = [
            *(self.attribute_points or {}),
            *(self.flag_points or {}),
            *(_decayed_column(activity) for activity in (self.activity_points or {})),
            *(self._page_column(category) for category in (self.page_points or {})),
            *(self.numeric_points or {}),
            *(self.disqualify_when or {}),
            HAND_RAISER_COLUMN,
            *([LAST_HAND_RAISE_COLUMN] if self.hand_raiser_window_days is not None else []),
        ]
        return list(dict.fromkeys(str(c) for c in columns))

    def _page_column(self, category: str) -> str:
        return f"n_page_{category}_{int(self.page_window_days)}d"

    # -- scikit-learn API ------------------------------------------------------------------

    def fit(
        self,
        X: pd.DataFrame,
        y: Any,
        sample_weight: Any = None,
    ) -> Self:
        """Check the configuration, note the columns found, fit the points -> probability map."""
        self._validate_config()
        frame = _require_frame(X)
        target = np.asarray(y).reshape(-1)
        if target.shape[0] != len(frame):
            raise ValueError(f"X has {len(frame)} rows but y has {target.shape[0]}")
        check_classification_targets(target)
        classes = np.unique(target)
        if classes.shape[0] != 2:
            raise ValueError(f"PointsBaseline needs two classes in y, got {classes.tolist()}")
        configured = self.configured_columns()
        found = {name: feature_column(frame, name) for name in configured}
        self.used_columns_ = [column for column in found.values() if column is not None]
        self.missing_columns_ = [name for name, column in found.items() if column is None]
        if self.missing_columns_:
            logger.warning(
                "points rules ignore columns absent from the feature table: %s",
                self.missing_columns_,
            )
        self.classes_ = classes
        points = self.decision_function(frame)
        positive = (target == classes[1]).astype(float)
        self.calibrator_ = IsotonicRegression(
            y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip"
        ).fit(points, positive, sample_weight=sample_weight)
        return self

    def point_contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Points per rule (one column per configured feature, plus the behaviour cap)."""
        self._validate_config()
        frame = _require_frame(X)
        self._warn_on_new_missing(frame)
        n = len(frame)
        parts: dict[str, np.ndarray] = {}

        def add(column: str, points: np.ndarray) -> None:
            # a column named by two rules (e.g. a flag and a tier) earns both
            parts[column] = parts.get(column, 0.0) + points

        for name, mapping in (self.attribute_points or {}).items():
            if (column := feature_column(frame, name)) is not None:
                add(column, _attribute_values(frame[column], mapping))
        for name, points in (self.flag_points or {}).items():
            if (column := feature_column(frame, name)) is not None:
                add(column, (_numeric(frame, column) >= 1.0) * float(points))
        behaviour = np.zeros(n)
        for activity, points in (self.activity_points or {}).items():
            column = _decayed_column(activity)
            if column in frame.columns:
                earned = _numeric(frame, column) * float(points)
                add(column, earned)
                behaviour = behaviour + earned
        for category, points in (self.page_points or {}).items():
            column = self._page_column(category)
            if column in frame.columns:
                earned = _numeric(frame, column) * float(points)
                add(column, earned)
                behaviour = behaviour + earned
        for name, tiers in (self.numeric_points or {}).items():
            if (column := feature_column(frame, name)) is not None:
                values = pd.to_numeric(frame[column], errors="coerce").to_numpy(
                    dtype=float, na_value=np.nan
                )
                # tiers stack: every threshold a value reaches adds its points; NaN reaches none
                add(column, sum(((values >= float(t)) * float(p) for t, p in tiers), np.zeros(n)))
        cap = np.zeros(n)
        if self.max_behaviour_points is not None:
            cap = np.minimum(float(self.max_behaviour_points) - behaviour, 0.0)
        parts[BEHAVIOUR_CAP_COLUMN] = cap
        return pd.DataFrame(parts, index=frame.index)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Total points per lead (missing values earn no points)."""
        return self.point_contributions(X).sum(axis=1).to_numpy(dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Conversion probability per lead via the fitted monotone map, shape (n, 2)."""
        check_is_fitted(self, "calibrator_")
        positive = np.clip(self.calibrator_.predict(self.decision_function(X)), 0.0, 1.0)
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Positive class where points reach `sql_points`."""
        check_is_fitted(self, "classes_")
        return self.classes_[(self.decision_function(X) >= float(self.sql_points)).astype(int)]

    def predict_stage(self, X: pd.DataFrame, *, points: np.ndarray | None = None) -> np.ndarray:
        """Stage per lead (DISQUALIFIED/IQL/MQL/SQL) from points, hand-raise and negative rules.

        A hand-raise overrides the points for `hand_raiser_window_days` (None: forever).
        `points`: the leads' `decision_function`, when already computed.
        """
        frame = _require_frame(X)
        return assign_stages(
            scores=self.decision_function(frame) if points is None else points,
            mql_threshold=float(self.mql_points),
            sql_threshold=float(self.sql_points),
            hand_raiser=hand_raiser_mask(frame, window_days=self.hand_raiser_window_days),
            disqualified=disqualified_mask(frame, self.disqualify_when or {}),
            hand_raiser_to_sql=bool(self.hand_raiser_to_sql),
        )

    def _warn_on_new_missing(self, frame: pd.DataFrame) -> None:
        lost = [c for c in getattr(self, "used_columns_", []) if c not in frame.columns]
        if lost:
            logger.warning("columns used at fit are missing now (0 points): %s", lost)


def _decayed_column(activity: str) -> str:
    """The decayed-count column of an activity type, named as in the export or canonically
    ("Meeting Booked" and "meeting_booked" both read `decayed_meeting_booked`)."""
    return f"decayed_{slug(activity)}"


def _float_dict(mapping: Mapping[str, float] | None) -> dict[str, float]:
    return {str(k): float(v) for k, v in (mapping or {}).items()}


def _require_frame(data: Any) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"PointsBaseline needs a DataFrame with named columns, got {type(data)}")
    return data
