"""A learned points card: what the model knows, in the points format marketing already runs.

The card is fitted the credit-scoring way with optbinning: `BinningProcess` cuts each candidate
feature into a handful of optimal bins (monotonic where the model has a monotone constraint)
and keeps the `max_variables` with the highest information value; a linear model on the bins'
weights of evidence gives each bin its share of the log-odds of converting, either fitted to
the labels (`LogisticRegression`) or distilled from the model's calibrated log-odds
(`LinearRegression`). Coefficients are kept positive on the bins' evidence (a variable whose
coefficient turns negative next to the others is dropped and the fit repeated), so every bin
keeps the direction its own conversion rate shows.

Scaling: `points_to_double_odds` points (default 20) double the odds of converting, rounded to
whole points. Points are per variable relative to a missing value (or, for 0/1 flags, to 0),
so a lead with nothing known earns 0 and every rule reads "this earns N points".

optbinning's own `Scorecard` gives more points to the non-event (credit scoring: points for
being a good payer) unless `reverse_scorecard=True`; we compute the points from the
coefficients and the evidence directly, as conversion log-odds, so more points always means
more likely to convert.

The card is written as `PointsBaseline` keyword arguments (the `rules:` section of
params.yaml): categorical bins as `attribute_points`, 0/1 flags as `flag_points`, numeric bins
as stacking `numeric_points` tiers. The card's points ARE that baseline's points.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from optbinning import BinningProcess
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LinearRegression, LogisticRegression

from models.rules import PointsBaseline
from models.thresholds import ThresholdPolicy, choose_thresholds
from models.train import monotone_constraints

__all__ = ["DISTILL", "LABELS", "PointsCard", "card_thresholds", "fit_card"]

LABELS = "labels"
DISTILL = "distill"
TRENDS = {1: "ascending", -1: "descending", 0: "auto_asc_desc"}


@dataclass
class PointsCard:
    """A fitted card: `rules` are `PointsBaseline` kwargs (points only, no thresholds)."""

    rules: dict[str, Any]
    table: list[dict[str, Any]] = field(default_factory=list)  # variable, bin, points
    target: str = LABELS
    points_to_double_odds: float = 20.0

    @property
    def variables(self) -> list[str]:
        return list(dict.fromkeys(row["variable"] for row in self.table))

    def baseline(self, **stage_rules: Any) -> PointsBaseline:
        """The points baseline scoring exactly this card (plus thresholds/overrides given)."""
        empty = {"activity_points": {}, "page_points": {}, "max_behaviour_points": None}
        return PointsBaseline(**(empty | self.rules | stage_rules))

    def points(self, frame: pd.DataFrame) -> np.ndarray:
        return self.baseline().decision_function(frame)


def _as_binning_input(frame: pd.DataFrame, categorical: Sequence[str]) -> pd.DataFrame:
    """Categoricals as plain object text (NaN kept), numbers as floats."""
    out = {}
    for column in frame.columns:
        if column in categorical:
            out[column] = (
                frame[column].astype("object").map(lambda v: str(v) if pd.notna(v) else np.nan)
            )
        else:
            out[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return pd.DataFrame(out, index=frame.index)


def _fit_binning(
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    categorical: Sequence[str],
    increasing: Sequence[str],
    decreasing: Sequence[str],
    max_variables: int,
    max_bins: int,
) -> BinningProcess:
    names = list(X.columns)
    signs = monotone_constraints(names, increasing=increasing, decreasing=decreasing)
    fit_params = {
        name: {"monotonic_trend": TRENDS[sign]}
        for name, sign in zip(names, signs, strict=True)
        if name not in categorical
    }
    process = BinningProcess(
        variable_names=names,
        categorical_variables=[c for c in names if c in categorical],
        max_n_prebins=10,
        max_n_bins=max_bins,
        min_bin_size=0.02,
        selection_criteria={"iv": {"min": 0.01}},
        binning_fit_params=fit_params,
    )
    return process.fit(X, y)


def _family(name: str) -> str:
    """What a feature is about, whatever its window: `n_page_blog_7d` and `n_page_blog_total`
    are one family, so the card spends its few variables on different behaviours."""
    core = re.sub(r"^(n_|decayed_|days_since_(first|last)_)", "", name)
    return re.sub(r"_(\d+d|total)$", "", core)


def _strongest(process: BinningProcess, max_variables: int) -> list[str]:
    """The selected variables by information value, at most one per family."""
    summary = process.summary()
    summary = summary[summary["selected"].astype(bool)].sort_values("iv", ascending=False)
    chosen: dict[str, str] = {}
    for name in summary["name"]:
        chosen.setdefault(_family(str(name)), str(name))
    return list(chosen.values())[:max_variables]


def _positive_fit(
    evidence: pd.DataFrame, y: np.ndarray, target_log_odds: np.ndarray | None
) -> dict[str, float]:
    """Coefficients >= 0 on the evidence (drop the variable with the most negative, refit)."""
    columns = list(evidence.columns)
    while columns:
        if target_log_odds is None:
            model = LogisticRegression(C=1.0, max_iter=1000).fit(evidence[columns], y)
            coef = model.coef_[0]
        else:
            model = LinearRegression().fit(evidence[columns], target_log_odds)
            coef = model.coef_
        if (coef >= 0).all():
            return dict(zip(columns, coef.astype(float), strict=True))
        columns.pop(int(np.argmin(coef)))
    return {}


def _bin_rows(process: BinningProcess, name: str) -> tuple[pd.DataFrame, Any]:
    optb = process.get_binned_variable(name)
    table = optb.binning_table.build()
    table = table[table.index != "Totals"]
    return table, optb


def _readable(split: float, integer: bool) -> float:
    return float(math.ceil(split)) if integer else round(float(split), 2)


def _label(low: float | None, high: float | None) -> str:
    def text(value: float) -> str:
        return f"{value:g}"

    if low is None:
        return f"< {text(high)}"
    if high is None:
        return f">= {text(low)}"
    return f"{text(low)} to < {text(high)}"


def _numeric_rules(
    name: str, points: list[int], missing: int, splits: list[float], *, flag: bool, floor: float
) -> tuple[str, Any, list[dict[str, Any]]]:
    """('flag_points' | 'numeric_points', rule value, card rows) for a numeric variable."""
    if flag:
        rows = [
            {"variable": name, "bin": "no (0)", "points": 0},
            {"variable": name, "bin": "yes (1)", "points": points[-1] - points[0]},
        ]
        return "flag_points", points[-1] - points[0], rows
    relative = [p - missing for p in points]
    edges = [None, *splits, None] if splits else [floor, None]  # one bin: known or not
    rows = [
        {"variable": name, "bin": _label(edges[i], edges[i + 1]), "points": relative[i]}
        for i in range(len(relative))
    ]
    if missing != 0:
        rows.append({"variable": name, "bin": "missing", "points": 0})
    tiers = [[floor, relative[0]]] if relative[0] != 0 else []
    tiers += [
        [split, relative[i + 1] - relative[i]]
        for i, split in enumerate(splits)
        if relative[i + 1] != relative[i]
    ]
    return "numeric_points", tiers, rows


def _encode(
    process: BinningProcess, coef: dict[str, float], X: pd.DataFrame, scale: float
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The card as PointsBaseline kwargs and as rows (variable, bin, points)."""
    rules: dict[str, Any] = {"attribute_points": {}, "flag_points": {}, "numeric_points": {}}
    rows: list[dict[str, Any]] = []
    for name, weight in coef.items():
        table, optb = _bin_rows(process, name)
        woe = table["WoE"].astype(float).to_numpy()
        # optbinning's WoE is log(non-event share / event share): minus it is conversion evidence
        bin_points = [round(scale * weight * -w) for w in woe]
        n_bins = len(table) - 2  # then the Special and Missing rows
        points, missing = bin_points[:n_bins], bin_points[n_bins + 1]
        if optb.dtype == "categorical":
            mapping: dict[str, int] = {}
            for categories, p in zip(optb.splits, points, strict=False):
                for category in categories:
                    mapping[str(category)] = p - missing
                rows.append(
                    {
                        "variable": name,
                        "bin": ", ".join(map(str, categories)),
                        "points": p - missing,
                    }
                )
            rules["attribute_points"][name] = mapping
            continue
        values = X[name].dropna().to_numpy(dtype=float)
        integer = bool(np.all(np.mod(values, 1) == 0))
        flag = bool(np.isin(values, [0.0, 1.0]).all()) and len(points) == 2
        splits = [_readable(s, integer) for s in optb.splits]
        floor = float(math.floor(values.min())) if values.size else 0.0
        kind, rule, card_rows = _numeric_rules(
            name, points, missing, splits, flag=flag, floor=floor
        )
        if rule:  # a variable whose bins all earn the same points is no rule
            rules[kind][name] = rule
            rows += card_rows
    return rules, rows


def fit_card(
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    categorical: Sequence[str] = (),
    increasing: Sequence[str] = (),
    decreasing: Sequence[str] = (),
    target_log_odds: np.ndarray | None = None,
    max_variables: int = 12,
    max_bins: int = 5,
    points_to_double_odds: float = 20.0,
) -> PointsCard:
    """Fit a card on `X` (candidate features) and 0/1 labels `y`.

    `target_log_odds`: distill these (the model's calibrated log-odds) instead of the labels;
    the bins are always cut on the labels.
    """
    frame = _as_binning_input(X, categorical)
    labels = np.asarray(y).astype(int)
    process = _fit_binning(
        frame,
        labels,
        categorical=categorical,
        increasing=increasing,
        decreasing=decreasing,
        max_variables=max_variables,
        max_bins=max_bins,
    )
    selected = _strongest(process, 2 * max_variables)
    # minus optbinning's WoE: larger converts more. "empirical": a missing value carries its
    # bin's WoE, as the card scores it (optbinning's default, 0, fits the coefficients to an
    # evidence the card never uses, and a missing bin's points come out of scale)
    empirical = {"metric_missing": "empirical", "metric_special": "empirical"}
    evidence = pd.DataFrame(
        {
            name: -process.get_binned_variable(name).transform(
                frame[name], metric="woe", **empirical
            )
            for name in selected
        },
        index=frame.index,
    )
    coef = _positive_fit(evidence, labels, target_log_odds)
    # keep the variables that move the score most (coefficient x spread of evidence), refit
    spread = {name: weight * float(evidence[name].std()) for name, weight in coef.items()}
    kept = sorted(spread, key=spread.__getitem__, reverse=True)[:max_variables]
    coef = _positive_fit(evidence[kept], labels, target_log_odds)
    scale = points_to_double_odds / math.log(2.0)
    rules, rows = _encode(process, coef, frame, scale)
    return PointsCard(
        rules=rules,
        table=rows,
        target=LABELS if target_log_odds is None else DISTILL,
        points_to_double_odds=points_to_double_odds,
    )


def card_thresholds(
    *,
    y: np.ndarray,
    points: np.ndarray,
    policy: ThresholdPolicy,
    timing: Any,
    forced: np.ndarray,
    excluded: np.ndarray,
) -> dict[str, Any]:
    """MQL/SQL point thresholds by the model's policies (`choose_thresholds`) on a cohort.

    The policies see the points mapped monotonically to probabilities (isotonic, ties broken
    by the points), so precision, capacity, recall and expected-value targets all apply; each
    chosen threshold is then the fewest points that reach it.
    """
    points = np.asarray(points, dtype=float)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(points, y)
    spread = float(points.max() - points.min()) + 1.0
    score = iso.predict(points) * (1 - 1e-6) + 1e-6 * (points - points.min()) / spread
    choices = choose_thresholds(
        y=y, p=score, policy=policy, timing=timing, forced=forced, excluded=excluded
    )
    out: dict[str, Any] = {}
    for name, choice in choices.items():
        reached = points[score >= choice.threshold]
        out[f"{name}_points"] = float(reached.min()) if reached.size else float(points.max() + 1)
        out[name] = choice.to_dict()
    return out
