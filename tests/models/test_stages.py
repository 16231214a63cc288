"""Funnel stages: thresholds, hand-raiser and disqualification overrides, monotone order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.stages import (
    DISQUALIFIED,
    IQL,
    MQL,
    SQL,
    STAGE_ORDER,
    assign_stages,
    disqualified_mask,
    stage_rank,
)


def stages(scores: list[float], **overrides: object) -> list[str]:
    """Stages at MQL 0.3 / SQL 0.6 with no overrides unless given."""
    kwargs: dict[str, object] = {
        "mql_threshold": 0.3,
        "sql_threshold": 0.6,
        "hand_raiser": None,
        "disqualified": None,
        "hand_raiser_to_sql": False,
    }
    kwargs.update(overrides)
    return assign_stages(scores=np.array(scores), **kwargs).tolist()


def test_stage_order_is_lowest_to_highest() -> None:
    assert STAGE_ORDER == (DISQUALIFIED, IQL, MQL, SQL)


def test_thresholds_are_inclusive() -> None:
    assert stages([0.0, 0.29, 0.3, 0.59, 0.6, 1.0]) == [IQL, IQL, MQL, MQL, SQL, SQL]


def test_missing_score_is_iql() -> None:
    assert stages([np.nan]) == [IQL]


def test_hand_raiser_goes_to_sql_only_when_switched_on() -> None:
    raised = np.array([True, False])
    assert stages([0.1, 0.1], hand_raiser=raised, hand_raiser_to_sql=True) == [SQL, IQL]
    assert stages([0.1, 0.1], hand_raiser=raised, hand_raiser_to_sql=False) == [IQL, IQL]


def test_disqualification_beats_score_and_hand_raise() -> None:
    out = stages(
        [0.9, 0.1, 0.9],
        hand_raiser=np.array([True, True, False]),
        disqualified=np.array([True, True, False]),
        hand_raiser_to_sql=True,
    )
    assert out == [DISQUALIFIED, DISQUALIFIED, SQL]


def test_mql_above_sql_raises() -> None:
    with pytest.raises(ValueError, match="mql_threshold"):
        stages([0.5], mql_threshold=0.7, sql_threshold=0.6)


def test_equal_thresholds_skip_mql() -> None:
    assert stages([0.4, 0.5], mql_threshold=0.5, sql_threshold=0.5) == [IQL, SQL]


def test_override_length_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="hand_raiser"):
        stages([0.1, 0.2], hand_raiser=np.array([True]))


def test_stage_is_monotone_in_score() -> None:
    scores = np.random.default_rng(0).random(500)
    order = np.argsort(scores)
    ranks = stage_rank(np.array(stages(scores.tolist())))[order]
    assert (np.diff(ranks) >= 0).all()


def test_stage_rank_rejects_unknown_stage() -> None:
    with pytest.raises(ValueError, match="unknown stage"):
        stage_rank(["SQL", "HOT"])


def test_disqualified_mask_any_rule_at_or_above_its_value() -> None:
    X = pd.DataFrame(
        {
            "is_competitor_domain": [1.0, 0.0, 0.0, 0.0, np.nan],
            "n_page_careers_total": [0.0, 3.0, 2.0, 0.0, np.nan],
        }
    )
    rules = {"is_competitor_domain": 1, "n_page_careers_total": 3, "is_student_domain": 1}
    assert disqualified_mask(X, rules).tolist() == [True, True, False, False, False]


def test_disqualified_mask_skips_absent_columns_and_keeps_input() -> None:
    X = pd.DataFrame({"seniority": ["vp", "manager"]})
    before = X.copy()
    assert disqualified_mask(X, {"is_student_domain": 1}).tolist() == [False, False]
    pd.testing.assert_frame_equal(X, before)
