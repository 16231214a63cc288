"""The conversion model: LightGBM on the point-in-time feature table."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd
from pandas.api.types import is_string_dtype
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from features.build import FeatureConfig
from features.split import TRAIN, cohort_rows
from features.vocabulary import matches_any

logger = logging.getLogger(__name__)

# "Never happened" recency is encoded as a long time ago, so monotone constraints on
# recency also cover the move from "never" to "just now".
NEVER_DAYS = 3650.0


class TrainOptions(Protocol):
    """What training reads from the `train` params (`pipelines.config.TrainParams`)."""

    min_positives: int
    min_negatives: int
    early_stopping_fraction: float
    early_stopping_slice: str
    early_stopping_rounds: int
    num_boost_round: int
    monotone_increasing: Sequence[str]
    monotone_decreasing: Sequence[str]
    lightgbm: Mapping[str, Any]

    @property
    def seed(self) -> int:
        """The seed of LightGBM and of a random early-stopping slice."""
        ...


class NotEnoughDataError(ValueError):
    """Too few positives or negatives to train a model worth trusting."""


@dataclass(frozen=True)
class ModelSpec:
    """How the feature table becomes the model's matrix; stored with the model."""

    features: tuple[str, ...]
    categorical: tuple[str, ...]
    recency: tuple[str, ...] = ()
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "categorical": list(self.categorical),
            "recency": list(self.recency),
            "categories": {k: list(v) for k, v in self.categories.items()},
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> ModelSpec:
        return cls(
            features=tuple(payload["features"]),
            categorical=tuple(payload["categorical"]),
            recency=tuple(payload.get("recency", ())),
            categories={k: tuple(v) for k, v in payload.get("categories", {}).items()},
        )


def make_spec(
    table: pd.DataFrame, *, features: Sequence[str], categorical: Sequence[str]
) -> ModelSpec:
    """Freeze the feature list and the training categories (unseen ones become missing)."""
    categories = {
        name: tuple(str(c) for c in table[name].astype("category").cat.categories)
        for name in categorical
    }
    recency = tuple(f for f in features if f.startswith("days_since_"))
    return ModelSpec(
        features=tuple(features),
        categorical=tuple(categorical),
        recency=recency,
        categories=categories,
    )


def prepare_matrix(table: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """The model's input matrix: training categories, "never" recency, float numerics."""
    missing = [f for f in spec.features if f not in table.columns]
    if missing:
        raise KeyError(f"feature table lacks model features: {missing[:5]}")
    numeric = [name for name in spec.features if name not in spec.categories]
    recency = [name for name in numeric if name in spec.recency]
    matrix = table[numeric].astype(float).fillna(dict.fromkeys(recency, NEVER_DAYS))
    for position, name in enumerate(spec.features):
        if name in spec.categories:
            values = training_categories(table[name], spec.categories[name])
            matrix.insert(position, name, values)
    return matrix


def training_categories(values: pd.Series, categories: Sequence[str]) -> pd.Series:
    """A column as the training categories, matched as text (other values become missing)."""
    dtype = pd.CategoricalDtype(list(categories))
    if isinstance(values.dtype, pd.CategoricalDtype) and is_string_dtype(values.cat.categories):
        return values.astype(dtype)  # recodes the categories, not every row
    return values.astype("string").astype(dtype)


def monotone_constraints(
    features: Sequence[str], *, increasing: Sequence[str], decreasing: Sequence[str]
) -> list[int]:
    """+1 / -1 / 0 per feature from glob patterns; a decreasing pattern wins over increasing.

    A pattern may name activity types as the export does ("n_Meeting Booked_total"): it is
    matched as written and with its names slugged, as the feature columns are."""
    matches = matches_any
    return [-1 if matches(f, decreasing) else 1 if matches(f, increasing) else 0 for f in features]


def check_enough_data(labels: pd.Series, *, min_positives: int, min_negatives: int) -> None:
    """The minimum-data gate: stop with a clear message rather than fit noise."""
    positives = int(labels.sum())
    negatives = int(len(labels) - positives)
    if positives < min_positives or negatives < min_negatives:
        raise NotEnoughDataError(
            f"training cohort has {positives} converted and {negatives} unconverted rows;"
            f" at least {min_positives} and {min_negatives} are needed"
            " (train.min_positives / train.min_negatives)"
        )


def early_stopping_split(
    labels: pd.Series,
    *,
    fraction: float,
    slice_by: str = "newest",
    seed: int = 0,
    as_of: pd.Series | None = None,
    purge_days: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the fit rows and of the rows that decide when to stop boosting.

    `newest`: the last `fraction` of rows (rows come oldest first), for time-ordered cohorts;
    with `as_of` (sorted), whole as-of moments: a snapshot of the open lead base is either
    all fit or all stop, unless the cohort holds one moment only. With `purge_days` (the
    label horizon), fit rows whose label window reaches the first stop moment are left out.
    `random`: a stratified random `fraction`, for cohorts drawn at random (no time order).
    """
    n_rows = len(labels)
    positions = np.arange(n_rows)
    if slice_by == "random":
        fit_rows, stop_rows = train_test_split(
            positions, test_size=fraction, stratify=labels.to_numpy(), random_state=seed
        )
        return np.sort(fit_rows), np.sort(stop_rows)
    if slice_by != "newest":
        raise ValueError(f"early_stopping_slice must be newest or random, not {slice_by!r}")
    cut = n_rows - max(1, round(n_rows * fraction))
    if as_of is not None and as_of.notna().all():
        # the moment boundary nearest the row cut, so no snapshot is split in two
        moments = as_of.to_numpy("datetime64[ns]")  # UTC instants, not Timestamp objects
        bounds = [
            int(np.searchsorted(moments, moments[cut], side=side)) for side in ("left", "right")
        ]
        inside = [b for b in bounds if 0 < b < n_rows]
        cut = min(inside, key=lambda b: abs(b - cut)) if inside else cut
        if purge_days:
            return _purged(positions, moments, cut=cut, purge_days=purge_days)
    return positions[:cut], positions[cut:]


def _purged(
    positions: np.ndarray, moments: np.ndarray, *, cut: int, purge_days: float
) -> tuple[np.ndarray, np.ndarray]:
    """Fit rows before `cut` whose label window ends by the first stop moment; stop rows.

    The same lead sits in consecutive snapshots with overlapping label windows: without
    the gap, early stopping rewards learning those leads by heart (measured on the
    default export: 2000 rounds and test ROC-AUC 0.71 without it, 118 rounds and 0.75 with).
    """
    window_end = moments[:cut] + np.timedelta64(round(purge_days * 86_400), "s")
    fit_end = int(np.searchsorted(window_end, moments[cut], side="right"))
    if fit_end == 0:
        logger.warning(
            "the train cohort spans too little time for a %s-day gap before its early-stopping"
            " slice: early stopping without the gap",
            purge_days,
        )
        fit_end = cut
    return positions[:fit_end], positions[cut:]


def fit_booster(
    *,
    X: pd.DataFrame,
    y: pd.Series,
    params: Mapping[str, Any],
    constraints: list[int],
    fit_rows: np.ndarray,
    stop_rows: np.ndarray,
    early_stopping_rounds: int,
    num_boost_round: int,
) -> lgb.Booster:
    """Fit LightGBM with early stopping on `stop_rows`.

    With `early_stopping_rounds` 0 it boosts `num_boost_round` rounds on every row instead
    (for cohorts whose newest slice is too unlike the rest to steer by).
    """
    lgb_params = {
        "objective": "binary",
        "verbosity": -1,
        "deterministic": True,
        "force_row_wise": True,
        "monotone_constraints": constraints,
        "monotone_constraints_method": "advanced",
        **params,
    }
    if early_stopping_rounds <= 0:
        train_set = lgb.Dataset(X, label=y, categorical_feature="auto")
        return lgb.train(lgb_params, train_set, num_boost_round=num_boost_round)
    train_set = lgb.Dataset(
        X.iloc[fit_rows], label=y.iloc[fit_rows], categorical_feature="auto", free_raw_data=False
    )
    stop_set = lgb.Dataset(X.iloc[stop_rows], label=y.iloc[stop_rows], reference=train_set)
    booster = lgb.train(
        lgb_params,
        train_set,
        num_boost_round=num_boost_round,
        valid_sets=[stop_set],
        valid_names=["early_stopping"],
        callbacks=[lgb.early_stopping(early_stopping_rounds, verbose=False)],
    )
    logger.info(
        "LightGBM stopped at %d rounds (best %d)",
        booster.current_iteration(),
        booster.best_iteration,
    )
    return booster


def predict_raw(booster: lgb.Booster, X: pd.DataFrame) -> np.ndarray:
    """Uncalibrated conversion probability at the best iteration."""
    return booster.predict(X, num_iteration=booster.best_iteration or None)


def train_model(
    *,
    table: pd.DataFrame,
    config: FeatureConfig,
    options: TrainOptions,
    purge_days: float | None = None,
) -> tuple[Any, Any, dict[str, float]]:
    """(booster, spec, metrics) from the train cohort; raises NotEnoughDataError.

    `purge_days` (the label horizon, for snapshot tables): the gap between the fit rows and
    the newest early-stopping slice.
    """
    rows = cohort_rows(table, TRAIN)
    check_enough_data(
        rows["label"],
        min_positives=options.min_positives,
        min_negatives=options.min_negatives,
    )
    spec = make_spec(
        rows, features=config.feature_columns(), categorical=config.categorical_columns()
    )
    X = prepare_matrix(rows, spec)
    fit_rows, stop_rows = early_stopping_split(
        rows["label"],
        fraction=options.early_stopping_fraction,
        slice_by=options.early_stopping_slice,
        seed=options.seed,
        as_of=rows["as_of"],
        purge_days=purge_days,
    )
    constraints = monotone_constraints(
        spec.features,
        increasing=options.monotone_increasing,
        decreasing=options.monotone_decreasing,
    )
    booster = fit_booster(
        X=X,
        y=rows["label"],
        params=options.lightgbm,
        constraints=constraints,
        fit_rows=fit_rows,
        stop_rows=stop_rows,
        early_stopping_rounds=options.early_stopping_rounds,
        num_boost_round=options.num_boost_round,
    )
    stop = stop_rows
    metrics = {
        "train_rows": float(len(rows)),
        "train_positives": float(rows["label"].sum()),
        "best_iteration": float(booster.best_iteration),
        "early_stopping_roc_auc": float(
            roc_auc_score(rows["label"].iloc[stop], predict_raw(booster, X.iloc[stop]))
        ),
    }
    return booster, spec, metrics


def cross_validated_roc_auc(
    *,
    table: pd.DataFrame,
    config: FeatureConfig,
    options: TrainOptions,
    folds: int = 5,
    seed: int = 0,
) -> list[float]:
    """ROC-AUC of `train_model` per fold of a stratified k-fold over every row of `table`.

    For exports without timestamps, where one random test cohort is a noisy estimate; the
    cohort column is ignored (each fold's training rows play the train cohort).
    """
    scores = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_rows, held_rows in splitter.split(table, table["label"]):
        fold = table.iloc[fit_rows].assign(cohort=TRAIN)
        booster, spec, _ = train_model(table=fold, config=config, options=options)
        held = table.iloc[held_rows]
        probability = predict_raw(booster, prepare_matrix(held, spec))
        scores.append(float(roc_auc_score(held["label"], probability)))
    return scores
