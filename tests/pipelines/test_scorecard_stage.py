"""learned_rules.yaml applied to params makes the points baseline score exactly the card."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from models.rules import PointsBaseline
from models.scorecard import fit_card
from pipelines.config import apply_overrides, load_config
from pipelines.stages.scorecard import card_yaml

ROOT = Path(__file__).resolve().parents[2]


def test_learned_rules_round_trip_into_the_points_baseline(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 3000
    leads = pd.DataFrame(
        {
            "n_demo_request_30d": rng.poisson(0.3, n).astype(float),
            "days_since_last_activity": np.where(
                rng.random(n) < 0.2, np.nan, rng.exponential(20, n)
            ),
            "is_personal_email": rng.integers(0, 2, n).astype(float),
            "seniority": pd.Categorical(rng.choice(["vp", "manager", "individual", None], n)),
        }
    )
    logit = -1.5 + leads["n_demo_request_30d"] - 0.5 * leads["is_personal_email"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    card = fit_card(leads, y, categorical=["seniority"], decreasing=["days_since_*"])
    rules = card.baseline().to_params() | {"mql_points": 5.0, "sql_points": 20.0}
    rules.pop("page_window_days")
    override = tmp_path / "learned_rules.yaml"
    override.write_text(card_yaml(rules, card=card, ranking={"labels": 1.0}))
    params = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", params)
    apply_overrides(params_path=params, override_path=override)
    baseline = PointsBaseline(**load_config(params).rules.baseline_kwargs())
    np.testing.assert_array_equal(baseline.decision_function(leads), card.points(leads))
    assert baseline.sql_points == 20.0
    assert not baseline.activity_points  # the hand-written rules are replaced, not merged
