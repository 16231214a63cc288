"""`scorecard` stage: the learned points card, in the `rules:` format of params.yaml.

Fits a card on the train cohort both ways (labels, and the calibrated model's log-odds) and
keeps the one whose points rank the calibration cohort most like the model (Spearman), unless
`scorecard.target` names one. MQL/SQL point thresholds come from the model's policies
(`thresholds`) on the calibration cohort, with the same hand-raiser and disqualification
overrides. `leadscore params apply data/model/learned_rules.yaml` makes it the points baseline.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
import yaml
from scipy.stats import spearmanr

from features.split import CALIBRATION, TRAIN, cohort_rows
from models.calibration import Calibrator
from models.scorecard import DISTILL, LABELS, PointsCard, card_thresholds, fit_card
from models.stages import disqualified_mask, hand_raiser_mask
from models.thresholds import cohort_timing
from models.train import ModelSpec, predict_raw, prepare_matrix
from pipelines.artifacts import (
    FEATURES_DIR,
    MODEL_DIR,
    load_booster,
    load_training_table,
    read_calibrator,
)
from pipelines.config import Params, load_config
from pipelines.io import atomic_path, write_json

logger = logging.getLogger(__name__)

RULES_FILE = "learned_rules.yaml"
INFO_FILE = "scorecard.json"


def table_snapshots(features_dir: Path) -> dict[str, Any]:
    """How the feature table was drawn (as the calibrate stage reads it)."""
    path = features_dir / "features_summary.json"
    summary = json.loads(path.read_text()) if path.is_file() else {}
    snapshots = summary.get("snapshots") or {}
    return {
        "snapshot_every_days": snapshots.get("every_days"),
        "sample_rate": float(summary.get("sampling_rate") or 1.0),
    }


def model_probability(
    booster: Any, spec: ModelSpec, calibrator: Calibrator, rows: pd.DataFrame
) -> np.ndarray:
    """The calibrated model's probability per row, kept off 0 and 1 (log-odds stay finite)."""
    raw = predict_raw(booster, prepare_matrix(rows, spec))
    return np.clip(calibrator.transform(raw), 1e-6, 1 - 1e-6)


def fit_best_card(
    *,
    train: pd.DataFrame,
    calibration: pd.DataFrame,
    train_probability: np.ndarray,
    calibration_probability: np.ndarray,
    spec: ModelSpec,
    settings: Params,
) -> tuple[PointsCard, dict[str, float]]:
    """(card, Spearman with the model on calibration per target tried)."""
    options = settings.scorecard
    candidates = [f for f in spec.features if f not in set(options.exclude)]
    log_odds = np.log(train_probability / (1 - train_probability))
    targets = [LABELS, DISTILL] if options.target == "auto" else [options.target]
    if any(t not in (LABELS, DISTILL) for t in targets):
        raise ValueError(f"scorecard.target must be auto, {LABELS} or {DISTILL}")
    cards, ranking = {}, {}
    for target in targets:
        cards[target] = fit_card(
            train[candidates],
            train["label"].to_numpy(),
            categorical=[c for c in spec.categorical if c in candidates],
            increasing=settings.train.monotone_increasing,
            decreasing=settings.train.monotone_decreasing,
            target_log_odds=log_odds if target == DISTILL else None,
            max_variables=options.max_variables,
            max_bins=options.max_bins,
            points_to_double_odds=options.points_to_double_odds,
        )
        points = cards[target].points(calibration)
        ranking[target] = float(spearmanr(points, calibration_probability).statistic)
    best = max(ranking, key=ranking.__getitem__)
    return cards[best], ranking


def learned_rules(
    card: PointsCard,
    *,
    calibration: pd.DataFrame,
    settings: Params,
    snapshot_every_days: float | None = None,
    sample_rate: float = 1.0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the `rules:` section of the card with its thresholds, the thresholds' details)."""
    policy = settings.thresholds
    forced = np.zeros(len(calibration), dtype=bool)  # as the calibrate stage sets them
    if policy.hand_raiser_to_sql:
        forced = hand_raiser_mask(calibration, window_days=policy.hand_raiser_window_days)
    excluded = disqualified_mask(calibration, settings.rules.disqualify)
    timing = cohort_timing(
        calibration,
        snapshots=snapshot_every_days is not None,
        every_days=float(snapshot_every_days or 1.0),
        fallback_weeks=policy.cohort_weeks,
        sample_rate=sample_rate,
    )
    chosen = card_thresholds(
        y=calibration["label"].to_numpy(),
        points=card.points(calibration),
        policy=policy,
        timing=timing,
        forced=forced,
        excluded=excluded,
    )
    rules = card.baseline().to_params() | {
        "mql_points": chosen["mql_points"],
        "sql_points": chosen["sql_points"],
        "hand_raiser_to_sql": policy.hand_raiser_to_sql,
        "hand_raiser_window_days": policy.hand_raiser_window_days,
        "disqualify_when": settings.rules.disqualify,
    }
    rules.pop("page_window_days")  # the hand-written rules' window stays as it is
    return rules, chosen


def card_yaml(rules: dict[str, Any], *, card: PointsCard, ranking: dict[str, float]) -> str:
    """The override file: a header of comments, then `rules:` (whole numbers as ints)."""

    def whole(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: whole(v) for k, v in value.items()}
        if isinstance(value, list):
            return [whole(v) for v in value]
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    fidelity = ", ".join(f"{k} {v:.3f}" for k, v in ranking.items())
    header = (
        "# Learned points card (leadscore scorecard): fitted on the train cohort, to the "
        f"{card.target}.\n"
        f"# {card.points_to_double_odds:g} points double the odds of converting; missing values"
        " earn 0.\n"
        f"# Rank correlation with the model on the calibration cohort: {fidelity}.\n"
        "# numeric_points tiers stack: every [at least, points] a value reaches adds its"
        " points.\n"
        "# Make it the points baseline: leadscore params apply data/model/learned_rules.yaml\n"
    )
    return header + yaml.safe_dump({"rules": whole(rules)}, sort_keys=False, width=100)


def main(
    params: Annotated[Path, typer.Option(help="Path to params.yaml.")] = Path("params.yaml"),
    features_dir: Annotated[Path, typer.Option(help="Feature table directory.")] = FEATURES_DIR,
    model_dir: Annotated[Path, typer.Option(help="Model directory.")] = MODEL_DIR,
) -> None:
    """Fit the learned points card and write it in the `rules:` format of params.yaml."""
    settings = load_config(params)
    table, _ = load_training_table(features_dir)
    booster, spec = load_booster(model_dir)
    calibrator = Calibrator.from_dict(read_calibrator(model_dir))
    train = cohort_rows(table, TRAIN)
    if len(train) > settings.scorecard.max_rows:
        train = train.sample(settings.scorecard.max_rows, random_state=settings.scorecard.seed)
    calibration = cohort_rows(table, CALIBRATION)
    card, ranking = fit_best_card(
        train=train,
        calibration=calibration,
        train_probability=model_probability(booster, spec, calibrator, train),
        calibration_probability=model_probability(booster, spec, calibrator, calibration),
        spec=spec,
        settings=settings,
    )
    rules, chosen = learned_rules(
        card, calibration=calibration, settings=settings, **table_snapshots(features_dir)
    )
    with atomic_path(model_dir / RULES_FILE) as tmp:
        tmp.write_text(card_yaml(rules, card=card, ranking=ranking), encoding="utf-8")
    info = {"target": card.target, "spearman_on_calibration": ranking, "table": card.table}
    write_json(info | {"thresholds": chosen}, model_dir / INFO_FILE)
    logger.info(
        "scorecard: %d variables fitted to the %s (Spearman with the model %s); MQL >= %g,"
        " SQL >= %g points",
        len(card.variables),
        card.target,
        ranking,
        rules["mql_points"],
        rules["sql_points"],
    )
