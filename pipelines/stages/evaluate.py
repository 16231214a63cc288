"""`evaluate` stage: model vs points baseline on the test cohort, the MLflow model, the gate."""

from __future__ import annotations

import itertools
import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import mlflow
import numpy as np
import pandas as pd
import typer
import yaml
from mlflow.models import ModelSignature, infer_signature
from mlflow.tracking import MlflowClient
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from features.build import FeatureConfig, build_feature_table
from features.split import CALIBRATION, TEST, TRAIN, cohort_rows, holds_snapshots
from models.artifact import (
    REASONS_SHAP,
    LeadScoringModel,
    ScoringBundle,
    input_schema,
    model_input,
    write_bundle,
)
from models.bundle import SEGMENT
from models.drift import reference_distribution
from models.evaluation import (
    age_band_frame,
    bootstrap_rate_by_group,
    calibration_points,
    classification_metrics,
    ece_vs_truth,
    gains_points,
    metrics_by_age_band,
    metrics_by_segment,
    pr_points,
    precision_at_volume,
    roc_points,
)
from models.rules import PointsBaseline
from models.stages import SQL
from models.train import TrainOptions, predict_raw, prepare_matrix, train_model
from pipelines.artifacts import (
    FEATURES_DIR,
    INTERIM_DIR,
    MODEL_DIR,
    REPORTS_DIR,
    load_booster,
    load_training_table,
    read_calibrator,
)
from pipelines.config import Params, PromotionParams, RulesParams, load_config, parse_section
from pipelines.io import write_json, write_table
from pipelines.tracking import (
    CHALLENGER,
    CHAMPION,
    MODEL_NAME,
    configure_tracking,
    run_id_of,
)

logger = logging.getLogger(__name__)

PIP_REQUIREMENTS = [
    "lightgbm",
    "scikit-learn",
    "pandas",
    "numpy",
    "pyarrow",
    "pandera",
    "mlflow",
]
N_REFERENCE_FEATURES = 15


def build_bundle(
    *,
    table: pd.DataFrame,
    config: FeatureConfig,
    model_dir: Path,
    rules: PointsBaseline,
    hand_raiser_to_sql: bool,
    learned: PointsBaseline | None = None,
) -> tuple[Any, dict[str, Any]]:
    """(booster, bundle dict) holding everything scoring needs (`learned`: the learned points
    card, scored per lead as `learned_points`; none: no such key nor column)."""
    booster, spec = load_booster(model_dir)
    calibrator = read_calibrator(model_dir)
    thresholds = json.loads((model_dir / "thresholds.json").read_text())
    train_rows = cohort_rows(table, TRAIN)
    gain = booster.feature_importance(importance_type="gain")
    top = [spec.features[i] for i in np.argsort(-gain, kind="stable")[:N_REFERENCE_FEATURES]]
    references = {
        name: reference_distribution(train_rows[name], categorical=name in spec.categorical)
        for name in top
    }
    bundle = {
        "feature_config": config.to_dict(),
        "model_spec": spec.to_dict(),
        "calibrator": calibrator,
        "thresholds": thresholds,
        "rules": rules.to_params(),
        "stage_policy": {
            "hand_raiser_to_sql": hand_raiser_to_sql,
            # the window the thresholds were chosen with (none in older ones: forever)
            "hand_raiser_window_days": thresholds.get("hand_raiser_window_days"),
            # SQL by score only with recent activity (none in older thresholds: no such rule)
            "sql_requires_activity_days": thresholds.get("sql_requires_activity_days"),
            "disqualify_when": dict(rules.disqualify_when or {}),
        },
        "references": references,
    }
    if learned is not None:
        bundle["learned_rules"] = learned.to_params()
    scorer = ScoringBundle(booster=booster, bundle=bundle)
    calibration_rows = cohort_rows(table, CALIBRATION)
    bundle["references"]["probability"] = reference_distribution(
        pd.Series(scorer.probability(calibration_rows)), categorical=False
    )
    return booster, bundle


def side_by_side(
    *,
    test: pd.DataFrame,
    probability: np.ndarray,
    points_probability: np.ndarray,
    points: np.ndarray,
    model_stage: np.ndarray,
    rule_stage: np.ndarray,
    ece_bins: int,
    lift_fractions: Sequence[float],
) -> dict[str, Any]:
    """Metrics of model and points on the same leads, and the like-for-like SQL comparison."""
    y = test["label"].to_numpy()
    kwargs = {"ece_bins": ece_bins, "lift_fractions": lift_fractions}
    model = classification_metrics(y, probability, **kwargs)
    baseline = classification_metrics(y, points_probability, **kwargs)
    # Like for like: the top `sql_volume` leads by each score (overrides aside).
    sql_volume = int((model_stage == SQL).sum())
    comparison = {"model_sql_volume": sql_volume}
    if sql_volume:
        model_precision = precision_at_volume(y, probability, sql_volume)
        points_precision = precision_at_volume(y, points, sql_volume)
        comparison |= {
            "model_precision_at_model_sql_volume": model_precision,
            "model_sql_precision": float(y[model_stage == SQL].mean()),
            "points_precision_at_model_sql_volume": points_precision,
            "precision_ratio_vs_points": model_precision / points_precision
            if points_precision
            else float("inf"),
            "points_sql_volume": int((rule_stage == SQL).sum()),
            "points_sql_precision": float(y[rule_stage == SQL].mean())
            if (rule_stage == SQL).any()
            else float("nan"),
        }
    return {"model": model, "points": baseline, "sql_comparison": comparison}


def stage_rates(
    *,
    y: np.ndarray,
    model_stage: np.ndarray,
    rule_stage: np.ndarray,
    n_boot: int,
    seed: int,
) -> pd.DataFrame:
    """Conversion rate per stage with bootstrap CIs, for the model and the points."""
    frames = []
    for scorer, stages in (("model", model_stage), ("points", rule_stage)):
        rates = bootstrap_rate_by_group(
            y,
            stages,
            n_boot=n_boot,
            seed=seed,
        ).reset_index()  # the stage is the index; keep it as a column
        rates.insert(0, "scorer", scorer)
        frames.append(rates)
    out = pd.concat(frames, ignore_index=True)
    if "group" in out.columns:
        out = out.rename(columns={"group": "stage"})
    return out


AGE_COLUMN = "lead_age_days"
AGE_PLOT_COLUMNS = [
    "band",
    "age_from_days",
    "count",
    "share",
    "mean_predicted",
    "mean_observed",
    "mean_true",
]


def _age_days(test: pd.DataFrame) -> np.ndarray | None:
    """Each test row's lead age in days at its as-of moment, or None (no timestamps)."""
    if AGE_COLUMN not in test.columns:
        return None
    return test[AGE_COLUMN].to_numpy(dtype=float)


def _per_lead_truth(
    test: pd.DataFrame, *, truth_file: Path, observation_days: float
) -> np.ndarray | None:
    """The older per-lead truth (p_true at created_at + observation_days): known only for the
    rows of that age (all rows of a table without ages), NaN elsewhere; None without a file."""
    if not truth_file.is_file():
        return None
    truth = pd.read_parquet(truth_file, columns=["lead_id", "p_true"])
    known = test["lead_id"].map(truth.set_index("lead_id")["p_true"])
    p_true = known.to_numpy(dtype=float, copy=True)
    age = _age_days(test)
    if age is not None:
        # an older truth says nothing about the same lead at another age
        p_true[~np.isclose(age, observation_days, atol=1e-3)] = np.nan
    return p_true


def truth_for_rows(
    test: pd.DataFrame, *, truth_path: Path, horizon_days: float, observation_days: float
) -> np.ndarray | None:
    """The synthetic generator's true probability per test row (lead, as_of): NaN where it is
    unknown, None when there is no truth at all."""
    directory = truth_path if truth_path.is_dir() else truth_path.parent
    try:  # the exact truth for any (lead, T), when the generator provides it
        from pipelines.synthetic.truth import load_truth, truth_probability
    except ImportError:
        load_truth = truth_probability = None
    if load_truth is not None and truth_probability is not None and directory.is_dir():
        try:
            truth = load_truth(directory)
        except FileNotFoundError as exc:
            logger.warning("no exact synthetic truth (%s); using the per-lead truth", exc)
        else:
            return np.asarray(
                truth_probability(truth, test["lead_id"], test["as_of"], horizon_days),
                dtype=float,
            )
    file = truth_path if truth_path.is_file() else directory / "truth.parquet"
    return _per_lead_truth(test, truth_file=file, observation_days=observation_days)


def truth_metrics(test: pd.DataFrame, probability: np.ndarray, p_true: np.ndarray) -> dict:
    """Against the synthetic generator's true probabilities, on the rows where it is known."""
    known = ~np.isnan(p_true)
    if not known.any():
        return {}
    y = test["label"].to_numpy()[known]
    return {
        "truth_rows": int(known.sum()),
        "truth_roc_auc": float(roc_auc_score(y, p_true[known]))
        if np.unique(y).shape[0] == 2
        else None,
        "model_ece_vs_truth": ece_vs_truth(p_true[known], probability[known]),
        "model_mae_vs_truth": float(np.mean(np.abs(p_true[known] - probability[known]))),
    }


def champion_roc_auc(
    client: MlflowClient, test: pd.DataFrame, *, interim_dir: Path
) -> float | None:
    """ROC-AUC of the current champion on the same test leads (its own feature config)."""
    try:
        version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except mlflow.exceptions.MlflowException:
        return None
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@{CHAMPION}")
    scorer: ScoringBundle = model.unwrap_python_model().scorer
    features = test
    missing = [f for f in scorer.spec.features if f not in test.columns]
    if missing:
        leads = pd.read_parquet(interim_dir / "leads.parquet")
        leads = (
            leads[leads["lead_id"].isin(test["lead_id"])].set_index("lead_id").loc[test["lead_id"]]
        )
        leads = leads.reset_index()
        activities = pd.read_parquet(interim_dir / "activities.parquet")
        features = build_feature_table(
            leads=leads,
            activities=activities,
            as_of=test["as_of"].reset_index(drop=True),
            config=scorer.feature_config,
        )
    auc = float(roc_auc_score(test["label"], scorer.probability(features)))
    logger.info("champion v%s ROC-AUC on this test cohort: %.4f", version.version, auc)
    return auc


def rolling_backtest(
    *,
    table: pd.DataFrame,
    config: FeatureConfig,
    options: TrainOptions,
    blocks: int,
    horizon_days: float | None = None,
) -> np.ndarray:
    """Raw probabilities for the test cohort, each of `blocks` time-ordered test blocks scored by
    a model retrained on every row before it (expanding window, as in Moro et al. 2014).

    This backtests a model that is retrained as labels arrive; same hyperparameters, same
    early stopping on the newest slice of each window. Probabilities are not recalibrated.
    With `horizon_days` (snapshot tables), a window keeps only rows whose label window ends
    before the block's first moment, and early stopping keeps the same gap.
    """
    history = pd.concat(
        [cohort_rows(table, TRAIN), cohort_rows(table, CALIBRATION)], ignore_index=True
    )
    test = cohort_rows(table, TEST)
    edges = np.linspace(0, len(test), blocks + 1).round().astype(int)
    predictions = np.empty(len(test))
    for start, stop in itertools.pairwise(edges):
        window = pd.concat([history, test.iloc[:start]], ignore_index=True).assign(cohort=TRAIN)
        if horizon_days is not None:
            block_start = test["as_of"].iloc[start]
            window = window[window["as_of"] + pd.Timedelta(days=horizon_days) <= block_start]
        booster, spec, _ = train_model(
            table=window, config=config, options=options, purge_days=horizon_days
        )
        block = prepare_matrix(test.iloc[start:stop], spec)
        predictions[start:stop] = predict_raw(booster, block)
    return predictions


def promotion_decision(
    *, metrics: dict[str, Any], champion_auc: float | None, promotion: PromotionParams
) -> dict[str, Any]:
    """Champion only if it beats the points and the champion by the margins and is calibrated."""
    model_auc = metrics["model"]["roc_auc"]
    points_auc = metrics["points"]["roc_auc"]
    reasons = []
    margin_points = promotion.min_lift_over_points_roc_auc
    if not model_auc >= points_auc + margin_points:
        reasons.append(
            f"ROC-AUC {model_auc:.4f} does not beat the points baseline {points_auc:.4f}"
            f" by {margin_points}"
        )
    margin_champion = promotion.min_gain_over_champion_roc_auc
    if champion_auc is not None and not model_auc >= champion_auc + margin_champion:
        reasons.append(
            f"ROC-AUC {model_auc:.4f} does not beat the champion {champion_auc:.4f}"
            f" by {margin_champion}"
        )
    max_ece = promotion.max_ece
    if not metrics["model"]["ece"] <= max_ece:
        reasons.append(f"ECE {metrics['model']['ece']:.4f} above the bound {max_ece}")
    return {
        "promoted": not reasons,
        "alias": CHALLENGER if reasons else CHAMPION,
        "reasons": reasons,
        "champion_roc_auc": champion_auc,
        "model_roc_auc": model_auc,
        "points_roc_auc": points_auc,
    }


def log_and_register(
    *, booster: Any, bundle: dict[str, Any], example: pd.DataFrame, output: pd.DataFrame
) -> str:
    """Log the pyfunc model in the open run and register a new version; returns the version."""
    with tempfile.TemporaryDirectory() as tmp:
        bundle_dir = write_bundle(directory=Path(tmp) / "bundle", booster=booster, bundle=bundle)
        # every scoring option is a param, so `spark_udf` can score exactly as `leadscore score`
        params = {
            "mql_threshold": -1.0,
            "sql_threshold": -1.0,
            "top_reasons": 3,
            "reasons_method": REASONS_SHAP,
            "segments": "",  # approved per-segment thresholds, as JSON (ScoringBundle.score)
        }
        inferred = infer_signature(example, output, params=params)
        signature = ModelSignature(
            inputs=input_schema(ScoringBundle(booster=booster, bundle=bundle).spec),
            outputs=inferred.outputs,
            params=inferred.params,
        )
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=LeadScoringModel(),
            artifacts={"bundle_dir": str(bundle_dir)},
            signature=signature,
            input_example=example,
            pip_requirements=PIP_REQUIREMENTS,
            registered_model_name=MODEL_NAME,
        )
    return str(info.registered_model_version)


def fitted_points_baseline(
    table: pd.DataFrame, rules: RulesParams, *, hand_raiser_window_days: float | None = None
) -> PointsBaseline:
    """The points baseline of params, its points-to-probability map fitted on calibration.

    `hand_raiser_window_days`: the hand-raiser window when the rules set none of their own.
    """
    window = hand_raiser_window_days
    baseline = PointsBaseline(**rules.baseline_kwargs(hand_raiser_window_days=window))
    calibration_rows = cohort_rows(table, CALIBRATION)
    return baseline.fit(calibration_rows, calibration_rows["label"])


LEARNED_RULES_FILE = "learned_rules.yaml"  # written by the scorecard stage


def learned_points_baseline(
    table: pd.DataFrame, path: Path, *, hand_raiser_window_days: float | None = None
) -> PointsBaseline | None:
    """The learned card (`rules:` of learned_rules.yaml) as a fitted points baseline, read as
    params.yaml's `rules:` section is; None when the file does not exist."""
    if not path.is_file():
        return None
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    rules = parse_section(RulesParams, raw.get("rules") or {}, name="rules", origin=str(path))
    return fitted_points_baseline(table, rules, hand_raiser_window_days=hand_raiser_window_days)


def card_fidelity(
    *,
    y: np.ndarray,
    probability: np.ndarray,
    model_stage: np.ndarray,
    card_points: np.ndarray,
    card_stage: np.ndarray,
) -> dict[str, Any]:
    """How much of the model the card keeps on the same leads: Spearman of the card's points
    with the model's probability, the share of the model's SQL leads the card also puts in
    SQL, and ROC-AUC (the card ranked by its points) and SQL precision lost against the model."""
    model_sql, card_sql = model_stage == SQL, card_stage == SQL
    both_classes = np.unique(y).shape[0] == 2
    model_auc = float(roc_auc_score(y, probability)) if both_classes else float("nan")
    card_auc = float(roc_auc_score(y, card_points)) if both_classes else float("nan")
    model_precision = float(y[model_sql].mean()) if model_sql.any() else float("nan")
    card_precision = float(y[card_sql].mean()) if card_sql.any() else float("nan")
    return {
        "spearman_with_model": float(spearmanr(card_points, probability).statistic),
        "model_sql_leads": int(model_sql.sum()),
        "card_sql_leads": int(card_sql.sum()),
        "share_of_model_sql_in_card_sql": float((model_sql & card_sql).sum() / model_sql.sum())
        if model_sql.any()
        else float("nan"),
        "card_points_roc_auc": card_auc,
        "roc_auc_lost": model_auc - card_auc,
        "model_sql_precision": model_precision,
        "card_sql_precision": card_precision,
        "sql_precision_lost": model_precision - card_precision,
    }


def learned_points_metrics(
    *,
    card: PointsBaseline,
    test: pd.DataFrame,
    scored: pd.DataFrame,
    ece_bins: int,
    lift_fractions: Sequence[float],
) -> dict[str, Any]:
    """`learned_points` (the figures of `model` and `points`) and `fidelity` of the card."""
    y = test["label"].to_numpy()
    points = card.decision_function(test)
    learned = classification_metrics(
        y, card.predict_proba(test)[:, 1], ece_bins=ece_bins, lift_fractions=lift_fractions
    )
    fidelity = card_fidelity(
        y=y,
        probability=scored["probability"].to_numpy(),
        model_stage=scored["stage"].to_numpy(),
        card_points=points,
        card_stage=card.predict_stage(test, points=points),
    )
    return {"learned_points": learned, "fidelity": fidelity}


def metrics_on_test_cohort(
    *,
    table: pd.DataFrame,
    config: FeatureConfig,
    test: pd.DataFrame,
    scored: pd.DataFrame,
    points_probability: np.ndarray,
    params: Params,
    card: PointsBaseline | None = None,
    thresholds: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Model vs points on the test cohort, plus the learned card (when there is one), the
    truth (synthetic) and the rolling backtest."""
    probability = scored["probability"].to_numpy()
    metrics = side_by_side(
        test=test,
        probability=probability,
        points_probability=points_probability,
        points=scored["rule_score"].to_numpy(),
        model_stage=scored["stage"].to_numpy(),
        rule_stage=scored["rule_stage"].to_numpy(),
        ece_bins=params.evaluate.ece_bins,
        lift_fractions=params.evaluate.lift_fractions,
    )
    if card is not None:
        metrics |= learned_points_metrics(
            card=card,
            test=test,
            scored=scored,
            ece_bins=params.evaluate.ece_bins,
            lift_fractions=params.evaluate.lift_fractions,
        )
    if SEGMENT in scored:
        metrics["segments"] = metrics_by_segment(
            y=test["label"].to_numpy(),
            stages=scored["stage"].to_numpy(),
            segments=scored[SEGMENT],
            thresholds=thresholds or {},
            confidence=params.thresholds.confidence,
            probability=scored["probability"].to_numpy(dtype=float),
        )
    p_true = None
    if params.source.kind == "synthetic" and params.generate.truth_path:
        p_true = truth_for_rows(
            test,
            truth_path=Path(params.generate.truth_path),
            horizon_days=params.label.horizon_days,
            observation_days=params.label.observation_days,
        )
    if p_true is not None:
        metrics["truth"] = truth_metrics(test, probability, p_true)
        if "model_ece_vs_truth" in metrics["truth"]:
            metrics["model"]["ece_vs_truth"] = metrics["truth"]["model_ece_vs_truth"]
    age = _age_days(test)
    if age is not None:
        metrics["by_age_band"] = metrics_by_age_band(
            y_true=test["label"].to_numpy(),
            y_prob=probability,
            age_days=age,
            p_true=p_true,
            ece_bins=params.evaluate.ece_bins,
        )
    blocks = params.evaluate.rolling_blocks
    if blocks > 0:
        rolling = rolling_backtest(
            table=table,
            config=config,
            options=params.train,
            blocks=blocks,
            horizon_days=params.label.horizon_days if holds_snapshots(table) else None,
        )
        metrics["model_rolling_retrain"] = classification_metrics(
            test["label"].to_numpy(), rolling, ece_bins=params.evaluate.ece_bins
        )
        metrics["model_rolling_retrain"]["blocks"] = blocks
    return metrics


def write_curves(
    *,
    y: np.ndarray,
    probability: np.ndarray,
    points: np.ndarray,
    points_probability: np.ndarray,
    plots_dir: Path,
) -> list[Path]:
    """ROC, precision-recall, calibration and gains points of model and points (DVC plots)."""
    curves = {
        "roc.csv": (roc_points, probability, points),
        "precision_recall.csv": (pr_points, probability, points),
        "calibration.csv": (calibration_points, probability, points_probability),
        "gains.csv": (gains_points, probability, points),
    }
    paths = []
    for name, (curve, model_score, points_score) in curves.items():
        frame = pd.concat(
            [curve(y, model_score, model="model"), curve(y, points_score, model="points")],
            ignore_index=True,
        )
        write_table(frame, plots_dir / name)
        paths.append(plots_dir / name)
    return paths


def write_age_calibration(*, by_age_band: dict[str, Any] | None, plots_dir: Path) -> Path:
    """Mean predicted, observed and true per lead-age band (DVC plot); header only without ages."""
    path = plots_dir / "calibration_by_age.csv"
    if by_age_band:
        frame = age_band_frame(by_age_band)
        frame = frame[frame["count"] > 0]
    else:
        frame = pd.DataFrame(columns=AGE_PLOT_COLUMNS)
    write_table(frame[AGE_PLOT_COLUMNS], path)
    return path


def record_in_run(
    *,
    metrics: dict[str, Any],
    artifacts: dict[Path, str | None],
    booster: Any,
    bundle: dict[str, Any],
    scorer: ScoringBundle,
    test: pd.DataFrame,
) -> str:
    """Log test metrics and artifacts in the training run and register the model (version)."""
    example = model_input(test.head(5), scorer.spec)
    with mlflow.start_run(run_id=run_id_of()):
        flat = {f"test_{k}": v for k, v in metrics["model"].items()}
        flat |= {f"test_points_{k}": v for k, v in metrics["points"].items()}
        flat |= dict(metrics.get("truth", {}))
        flat |= {
            f"test_learned_points_{k}": v for k, v in metrics.get("learned_points", {}).items()
        }
        mlflow.log_metrics({k: float(v) for k, v in flat.items() if v is not None})
        if metrics.get("by_age_band"):
            mlflow.log_dict(metrics["by_age_band"], "metrics/by_age_band.json")
        for path, artifact_path in artifacts.items():
            mlflow.log_artifact(str(path), artifact_path=artifact_path)
        return log_and_register(
            booster=booster,
            bundle=bundle,
            example=example,
            output=scorer.score(example).reset_index(drop=True),
        )


def main(
    params: Annotated[Path, typer.Option(help="Path to params.yaml.")] = Path("params.yaml"),
    features_dir: Annotated[Path, typer.Option(help="Feature table directory.")] = FEATURES_DIR,
    model_dir: Annotated[Path, typer.Option(help="Model directory.")] = MODEL_DIR,
    reports_dir: Annotated[Path, typer.Option(help="Metrics and plots go here.")] = REPORTS_DIR,
) -> None:
    """Compare model and points on the test cohort, log the model, apply the promotion gate."""
    settings = load_config(params)
    table, config = load_training_table(features_dir)
    window = settings.thresholds.hand_raiser_window_days
    rules = fitted_points_baseline(table, settings.rules, hand_raiser_window_days=window)
    card = learned_points_baseline(
        table, model_dir / LEARNED_RULES_FILE, hand_raiser_window_days=window
    )
    booster, bundle = build_bundle(
        table=table,
        config=config,
        model_dir=model_dir,
        rules=rules,
        hand_raiser_to_sql=settings.thresholds.hand_raiser_to_sql,
        learned=card,
    )
    scorer = ScoringBundle(booster=booster, bundle=bundle)
    test = cohort_rows(table, TEST)
    scored = scorer.score(test)
    points_probability = rules.predict_proba(test)[:, 1]
    metrics = metrics_on_test_cohort(
        table=table,
        config=config,
        test=test,
        scored=scored,
        points_probability=points_probability,
        params=settings,
        card=card,
        thresholds=bundle["thresholds"],
    )
    y = test["label"].to_numpy()
    rates = stage_rates(
        y=y,
        model_stage=scored["stage"].to_numpy(),
        rule_stage=scored["rule_stage"].to_numpy(),
        n_boot=settings.evaluate.bootstrap_samples,
        seed=settings.evaluate.seed,
    )
    plots = write_curves(
        y=y,
        probability=scored["probability"].to_numpy(),
        points=scored["rule_score"].to_numpy(),
        points_probability=points_probability,
        plots_dir=reports_dir / "plots",
    )
    plots.append(
        write_age_calibration(
            by_age_band=metrics.get("by_age_band"), plots_dir=reports_dir / "plots"
        )
    )
    write_table(rates, reports_dir / "stage_rates.csv")

    configure_tracking()
    client = MlflowClient()
    champion_auc = champion_roc_auc(client, test, interim_dir=INTERIM_DIR)
    decision = promotion_decision(
        metrics=metrics, champion_auc=champion_auc, promotion=settings.promotion
    )
    version = record_in_run(
        metrics=metrics,
        artifacts={**dict.fromkeys(plots, "plots"), reports_dir / "stage_rates.csv": None},
        booster=booster,
        bundle=bundle,
        scorer=scorer,
        test=test,
    )
    client.set_registered_model_alias(MODEL_NAME, decision["alias"], version)
    client.set_model_version_tag(MODEL_NAME, version, "promotion", json.dumps(decision))
    decision["version"] = version
    metrics["promotion"] = decision
    write_json(metrics, reports_dir / "metrics.json")
    write_json(decision, model_dir / "registered.json")
    logger.info(
        "evaluate: model ROC-AUC %.4f vs points %.4f; version %s -> %s%s",
        metrics["model"]["roc_auc"],
        metrics["points"]["roc_auc"],
        version,
        decision["alias"],
        f" ({'; '.join(decision['reasons'])})" if decision["reasons"] else "",
    )
