"""Probability calibration on a cohort the booster never trained on (scikit-learn)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import brier_score_loss
from sklearn.utils.validation import check_is_fitted

from models.train import predict_raw

logger = logging.getLogger(__name__)

METHODS = ("isotonic", "sigmoid")


class BoosterClassifier(ClassifierMixin, BaseEstimator):
    """A trained LightGBM booster behind the scikit-learn classifier API (already fitted)."""

    def __init__(self, booster: lgb.Booster | None = None) -> None:
        self.booster = booster

    def fit(self, X: pd.DataFrame, y: Any = None) -> BoosterClassifier:
        """Nothing to learn: the booster is trained; this only records the classes."""
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "classes_")
        positive = predict_raw(self.booster, X)
        return np.column_stack([1 - positive, positive])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


@dataclass(frozen=True)
class Calibrator:
    """A fitted 1-D map from raw to calibrated probability, stored as plain numbers."""

    method: str
    params: dict[str, Any]

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw booster probabilities."""
        raw = np.asarray(raw, dtype=float)
        if self.method == "isotonic":
            return np.interp(raw, self.params["x"], self.params["y"])
        if self.method == "sigmoid":
            return 1.0 / (1.0 + np.exp(self.params["a"] * raw + self.params["b"]))
        return raw

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "params": self.params}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Calibrator:
        return cls(method=payload["method"], params=payload["params"])


def _fit_one(booster: lgb.Booster, X: pd.DataFrame, y: pd.Series, method: str) -> Calibrator:
    frozen = FrozenEstimator(BoosterClassifier(booster).fit(X))
    fitted = CalibratedClassifierCV(frozen, method=method).fit(X, y)
    inner = fitted.calibrated_classifiers_[0].calibrators[0]
    if method == "isotonic":
        params = {"x": inner.X_thresholds_.tolist(), "y": inner.y_thresholds_.tolist()}
    else:
        params = {"a": float(inner.a_), "b": float(inner.b_)}
    calibrator = Calibrator(method=method, params=params)
    # The stored numbers must reproduce scikit-learn's own output.
    np.testing.assert_allclose(
        calibrator.transform(predict_raw(booster, X)), fitted.predict_proba(X)[:, 1], atol=1e-9
    )
    return calibrator


def fit_calibrator(
    *,
    booster: lgb.Booster,
    X: pd.DataFrame,
    y: pd.Series,
    method: str,
    min_rows_isotonic: int,
    min_positives_isotonic: int,
) -> tuple[Calibrator, dict[str, Any]]:
    """Calibrate on (X, y); `method` is isotonic, sigmoid or auto (lower Brier on the cohort).

    Isotonic regression overfits small cohorts, so below the row/positive minimums it falls
    back to sigmoid and says why.
    """
    if method not in (*METHODS, "auto"):
        raise ValueError(f"calibration method must be isotonic, sigmoid or auto, not {method!r}")
    info: dict[str, Any] = {"requested": method}
    small = len(y) < min_rows_isotonic or int(y.sum()) < min_positives_isotonic
    candidates = list(METHODS) if method == "auto" else [method]
    if small and "isotonic" in candidates:
        reason = (
            f"calibration cohort too small for isotonic ({len(y)} rows, {int(y.sum())} converted;"
            f" needs {min_rows_isotonic} rows and {min_positives_isotonic} converted): sigmoid used"
        )
        logger.warning(reason)
        info["fallback_reason"] = reason
        candidates = ["sigmoid"]
    fitted = {m: _fit_one(booster, X, y, m) for m in candidates}
    raw = predict_raw(booster, X)
    briers = {m: float(brier_score_loss(y, c.transform(raw))) for m, c in fitted.items()}
    chosen = min(briers, key=briers.get)
    info |= {
        "method": chosen,
        "brier_by_method": briers,
        "brier_raw": float(brier_score_loss(y, raw)),
    }
    return fitted[chosen], info
