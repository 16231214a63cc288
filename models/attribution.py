"""Attribution: how much each feature moved a lead's log-odds (the reasons behind a score).

Two methods (`models.reasons`): exact TreeSHAP through LightGBM's `pred_contrib`
(`contributions`), and the tree-path (Saabas) attribution of `TreePaths`, at about the cost
of one prediction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd


def contributions(booster: lgb.Booster, X: pd.DataFrame) -> np.ndarray:
    """Per-feature contributions to the log-odds (SHAP values); last column is the bias."""
    return booster.predict(X, num_iteration=booster.best_iteration or None, pred_contrib=True)


def _node_values(node: dict[str, Any], values: dict[int, float]) -> tuple[float, float]:
    """(value x count, count) of a subtree; records each node's mean value by id()."""
    if "split_feature" not in node:
        count = float(node.get("leaf_count", 1.0)) or 1.0
        values[id(node)] = float(node["leaf_value"])
        return values[id(node)] * count, count
    left_sum, left_count = _node_values(node["left_child"], values)
    right_sum, right_count = _node_values(node["right_child"], values)
    values[id(node)] = (left_sum + right_sum) / (left_count + right_count)
    return left_sum + right_sum, left_count + right_count


def _leaf_paths(
    node: dict[str, Any], values: dict[int, float], path: dict[int, float]
) -> list[tuple[int, dict[str, Any], dict[int, float]]]:
    """(leaf index, leaf, summed value change per split feature on the way) for every leaf."""
    if "split_feature" not in node:
        return [(int(node.get("leaf_index", 0)), node, path)]
    feature = int(node["split_feature"])
    out = []
    for child in (node["left_child"], node["right_child"]):
        step = dict(path)
        step[feature] = step.get(feature, 0.0) + values[id(child)] - values[id(node)]
        out += _leaf_paths(child, values, step)
    return out


@dataclass(frozen=True)
class TreePaths:
    """Tree-path (Saabas) attribution tables, and each tree's leaf values.

    A node's value is the data-weighted mean of its leaves; each split gives its feature the
    change of value from parent to child. Per lead, the contributions plus the bias sum to the
    raw log-odds exactly (as XGBoost's `approx_contribs`). One `pred_leaf` pass gives both the
    probability and the contributions.
    """

    leaf_values: list[np.ndarray]  # per tree, indexed by leaf
    attributions: list[tuple[int, np.ndarray, np.ndarray]]  # (tree, features, features x leaves)
    bias: float
    sigmoid: float
    num_iteration: int | None

    @classmethod
    def of(cls, booster: lgb.Booster) -> TreePaths:
        """The tables of a binary LightGBM booster, at its best iteration."""
        num_iteration = booster.best_iteration if booster.best_iteration > 0 else None
        model = booster.dump_model(num_iteration=num_iteration)
        sigmoid = re.search(r"sigmoid:([0-9.eE+-]+)", str(model.get("objective", "")))
        leaf_values: list[np.ndarray] = []
        attributions: list[tuple[int, np.ndarray, np.ndarray]] = []
        bias = 0.0
        for tree in model["tree_info"]:
            root = tree["tree_structure"]
            values: dict[int, float] = {}
            _node_values(root, values)
            bias += values[id(root)]
            n_leaves = int(tree["num_leaves"])
            per_feature: dict[int, np.ndarray] = {}
            leaf_value = np.full(n_leaves, values[id(root)])  # a stump is one leaf
            for leaf, node, path in _leaf_paths(root, values, {}):
                leaf_value[leaf] = float(node.get("leaf_value", values[id(root)]))
                for feature, delta in path.items():
                    per_feature.setdefault(feature, np.zeros(n_leaves))[leaf] = delta
            leaf_values.append(leaf_value)
            if per_feature:
                features = np.array(sorted(per_feature), dtype=np.int64)
                table = np.vstack([per_feature[f] for f in features])
                attributions.append((int(tree["tree_index"]), features, table))
        return cls(
            leaf_values=leaf_values,
            attributions=attributions,
            bias=bias,
            sigmoid=float(sigmoid[1]) if sigmoid else 1.0,
            num_iteration=num_iteration,
        )

    def leaves(self, booster: lgb.Booster, X: pd.DataFrame) -> np.ndarray:
        """Leaf index of every row in every tree, shape (trees, rows)."""
        leaves = booster.predict(X, pred_leaf=True, num_iteration=self.num_iteration)
        return np.ascontiguousarray(np.asarray(leaves, dtype=np.int64).reshape(len(X), -1).T)

    def probability(self, leaves: np.ndarray) -> np.ndarray:
        """Uncalibrated probability, as `booster.predict` sums it: tree by tree, then sigmoid."""
        raw = np.zeros(leaves.shape[1])
        for tree, values in enumerate(self.leaf_values):
            raw += values[leaves[tree]]
        return 1.0 / (1.0 + np.exp(-self.sigmoid * raw))

    def contributions(self, leaves: np.ndarray, n_features: int) -> np.ndarray:
        """Per-feature contributions plus the bias column, laid out like `pred_contrib`."""
        out = np.zeros((n_features + 1, leaves.shape[1]))  # feature-major: contiguous updates
        for tree, features, table in self.attributions:
            # one gather per tree, then in-place adds (no fancy-indexed copies of `out`)
            for feature, values in zip(features, np.take(table, leaves[tree], axis=1), strict=True):
                out[feature] += values
        out[-1] = self.bias
        return out.T
