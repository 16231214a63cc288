"""Reference distributions stored with the model, and the population stability index."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_string_dtype

N_BINS = 10
EPSILON = 1e-4  # keeps empty bins from giving an infinite PSI


def reference_distribution(values: pd.Series, *, categorical: bool) -> dict[str, Any]:
    """Bins and shares of one feature (quantile bins for numbers, levels for categories)."""
    if categorical:
        shares = values.astype("string").fillna("(missing)").value_counts(normalize=True)
        return {"kind": "categorical", "levels": shares.index.tolist(), "shares": shares.tolist()}
    numbers = values.astype(float)
    finite = numbers.dropna()
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, N_BINS + 1))) if len(finite) else []
    return {
        "kind": "numeric",
        "edges": [float(e) for e in edges],
        "shares": _numeric_shares(numbers, list(edges)).tolist(),
    }


def _numeric_shares(values: pd.Series, edges: Sequence[float]) -> np.ndarray:
    """Shares per inner bin (open ends) plus a last bin for missing values."""
    numbers = values.astype(float).to_numpy()
    inner = np.asarray(edges[1:-1], dtype=float)
    missing = np.isnan(numbers)
    bins = np.searchsorted(inner, numbers[~missing], side="right")
    counts = np.bincount(bins, minlength=len(inner) + 1).astype(float)
    counts = np.append(counts, missing.sum())
    return counts / max(len(numbers), 1)


def observed_shares(values: pd.Series, reference: Mapping[str, Any]) -> np.ndarray:
    """Shares of new values in the reference's bins."""
    if reference["kind"] == "categorical":
        if isinstance(values.dtype, pd.CategoricalDtype) and is_string_dtype(values.cat.categories):
            # count per category rather than turn every row into text
            counts = values.value_counts(dropna=False)
            shares = counts.groupby(counts.index.astype("string").fillna("(missing)")).sum()
            shares = shares / max(len(values), 1)
        else:
            shares = values.astype("string").fillna("(missing)").value_counts(normalize=True)
        return np.array([shares.get(level, 0.0) for level in reference["levels"]])
    return _numeric_shares(values, reference["edges"])


def population_stability_index(expected: Sequence[float], observed: Sequence[float]) -> float:
    """PSI = sum (o - e) * ln(o / e); above ~0.2 the population has shifted materially."""
    e = np.clip(np.asarray(expected, dtype=float), EPSILON, None)
    o = np.clip(np.asarray(observed, dtype=float), EPSILON, None)
    return float(np.sum((o - e) * np.log(o / e)))


def psi_report(
    frame: pd.DataFrame, references: Mapping[str, Mapping[str, Any]]
) -> dict[str, float]:
    """PSI per referenced column present in `frame`."""
    out = {}
    for name, reference in references.items():
        if name in frame:
            observed = observed_shares(frame[name], reference)
            out[name] = round(population_stability_index(reference["shares"], observed), 6)
    return out
