"""The learned card in evaluate: fidelity figures, and the card read as a points baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.split import CALIBRATION
from models.stages import MQL, SQL
from pipelines.stages.evaluate import card_fidelity, learned_points_baseline


def test_a_card_ranking_like_the_model_has_full_fidelity() -> None:
    y = np.array([0, 0, 1, 0, 1, 1, 0, 1])
    probability = np.linspace(0.05, 0.9, 8)
    model_stage = np.array([MQL] * 5 + [SQL] * 3)
    fidelity = card_fidelity(
        y=y,
        probability=probability,
        model_stage=model_stage,
        card_points=np.arange(8) * 10.0,  # the model's order, other units
        card_stage=model_stage.copy(),
    )
    assert fidelity["spearman_with_model"] == pytest.approx(1.0)
    assert fidelity["share_of_model_sql_in_card_sql"] == pytest.approx(1.0)
    assert fidelity["roc_auc_lost"] == pytest.approx(0.0)
    assert fidelity["sql_precision_lost"] == pytest.approx(0.0)


def test_a_reversed_card_loses_the_model_sql_leads() -> None:
    y = np.array([0, 0, 1, 1])
    stage = np.array([MQL, MQL, SQL, SQL])
    fidelity = card_fidelity(
        y=y,
        probability=np.array([0.1, 0.2, 0.7, 0.8]),
        model_stage=stage,
        card_points=np.array([40.0, 30.0, 20.0, 10.0]),
        card_stage=stage[::-1].copy(),
    )
    assert fidelity["spearman_with_model"] == pytest.approx(-1.0)
    assert fidelity["share_of_model_sql_in_card_sql"] == 0.0
    assert fidelity["roc_auc_lost"] == pytest.approx(1.0)


def test_learned_rules_file_becomes_a_fitted_baseline(tmp_path: Path) -> None:
    assert learned_points_baseline(pd.DataFrame(), tmp_path / "absent.yaml") is None
    path = tmp_path / "learned_rules.yaml"
    path.write_text(
        "rules:\n  attribute_points: {}\n  flag_points:\n    is_personal_email: -20\n"
        "  activity_points: {}\n  page_points: {}\n  numeric_points: {}\n"
        "  mql_points: -10\n  sql_points: 0\n"
    )
    table = pd.DataFrame(
        {
            "is_personal_email": [0.0, 1.0, 0.0, 1.0, 0.0, 1.0],
            "label": [1, 0, 1, 0, 0, 1],
            "cohort": CALIBRATION,
            "as_of": pd.Timestamp("2026-01-01"),
        }
    )
    card = learned_points_baseline(table, path)
    assert card is not None
    np.testing.assert_array_equal(card.decision_function(table), [0, -20, 0, -20, 0, -20])
    assert card.predict_proba(table).shape == (6, 2)
    assert card.sql_points == 0.0
