"""`features` stage: labels, point-in-time features and time-ordered cohorts."""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import pandera.errors
import typer

from features.build import FeatureConfig, build_feature_table
from features.labels import ELIGIBLE, data_end_of, label_from_column, label_leads
from features.schemas import feature_table_schema
from features.split import COHORTS, split_by_order, split_stratified
from pipelines.artifacts import FEATURES_DIR, INTERIM_DIR
from pipelines.config import FeaturesParams, LabelParams, SplitParams, load_config
from pipelines.errors import DataQualityError
from pipelines.io import write_json, write_table

logger = logging.getLogger(__name__)


def feature_config(features: FeaturesParams, *, behavioural: bool) -> FeatureConfig:
    """The feature configuration declared in params.yaml."""
    return FeatureConfig(**asdict(features), behavioural=behavioural).normalised()


def validate_feature_table(
    table: pd.DataFrame, *, config: FeatureConfig, training: bool
) -> pd.DataFrame:
    """Strict pandera check at the stage boundary; failures become a readable error."""
    schema = feature_table_schema(
        categorical=config.categorical_columns(),
        numeric=config.demographic_numeric_columns() + config.behavioural_columns(),
        training=training,
    )
    try:
        return schema.validate(table, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        raise DataQualityError(
            f"feature table failed its schema: {describe_failures(exc.failure_cases)}"
        ) from exc


def describe_failures(cases: pd.DataFrame) -> str:
    """One line from pandera's failure cases: which column, which check, how many rows."""
    parts = []
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=True):
        values = sorted(group["failure_case"].astype(str).unique())
        if check == "column_in_schema":
            parts.append(f"unexpected column(s) {values}")
        elif check == "column_in_dataframe":
            parts.append(f"missing column(s) {values}")
        else:
            parts.append(f"{column}: {check} fails on {len(group)} row(s)")
    return "; ".join(parts)


def assign_cohorts(
    labelled: pd.DataFrame,
    *,
    split_by: str,
    train_fraction: float,
    calibration_fraction: float,
    seed: int,
) -> pd.Series:
    """Cohort per row: by as-of time, by row order, or stratified random."""
    if split_by == "auto":
        split_by = "time" if labelled["as_of"].notna().all() else "random"
    if split_by == "time":
        order = labelled["as_of"]
    elif split_by == "row_order":
        order = pd.Series(range(len(labelled)), index=labelled.index)
    else:
        return split_stratified(
            labelled["label"],
            train_fraction=train_fraction,
            calibration_fraction=calibration_fraction,
            seed=seed,
        )
    return split_by_order(
        order, train_fraction=train_fraction, calibration_fraction=calibration_fraction
    )


def build_training_table(
    *,
    leads: pd.DataFrame,
    activities: pd.DataFrame,
    outcomes: pd.DataFrame,
    config: FeatureConfig,
    label: LabelParams,
    split: SplitParams,
    labelled_source: bool,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Eligible leads with features, label and cohort, plus a summary of what was removed."""
    if labelled_source:
        labels = label_from_column(leads)
    else:
        data_end = data_end_of(
            leads["created_at"], activities["occurred_at"], outcomes["converted_at"]
        )
        labels = label_leads(
            leads=leads,
            outcomes=outcomes,
            observation_days=label.observation_days,
            horizon_days=label.horizon_days,
            data_end=data_end,
        )
    removed = labels["status"].value_counts().to_dict()
    eligible = labels["status"] == ELIGIBLE
    table = build_feature_table(
        leads=leads[eligible],
        activities=activities,
        as_of=labels.loc[eligible, "as_of"],
        config=config,
    )
    table["label"] = labels.loc[eligible, "label"].to_numpy()
    table["cohort"] = assign_cohorts(
        table,
        split_by=split.by,
        train_fraction=split.train_fraction,
        calibration_fraction=split.calibration_fraction,
        seed=split.seed,
    ).to_numpy()
    summary = {
        "leads": len(labels),
        "by_status": {k: int(v) for k, v in sorted(removed.items())},
        "cohorts": {},
    }
    for cohort in COHORTS:
        rows = table[table["cohort"] == cohort]
        summary["cohorts"][cohort] = {
            "rows": len(rows),
            "positives": int(rows["label"].sum()),
            "conversion_rate": round(float(rows["label"].mean()), 6) if len(rows) else None,
            "as_of_min": rows["as_of"].min(),
            "as_of_max": rows["as_of"].max(),
        }
    return table, summary


def main(
    params: Annotated[Path, typer.Option(help="Path to params.yaml.")] = Path("params.yaml"),
    interim_dir: Annotated[Path, typer.Option(help="Clean tables from extract.")] = INTERIM_DIR,
    out_dir: Annotated[Path, typer.Option(help="Where the feature table goes.")] = FEATURES_DIR,
) -> None:
    """Label leads as of their scoring moment, build features, split into cohorts."""
    settings = load_config(params)
    source = settings.source
    leads = pd.read_parquet(interim_dir / "leads.parquet")
    activities = pd.read_parquet(interim_dir / "activities.parquet")
    outcomes = pd.read_parquet(interim_dir / "outcomes.parquet")
    config = feature_config(
        settings.features, behavioural=bool(source.activities) and len(activities) > 0
    )
    table, summary = build_training_table(
        leads=leads,
        activities=activities,
        outcomes=outcomes,
        config=config,
        label=settings.label,
        split=settings.split,
        labelled_source=bool(source.label_column),
    )
    table = validate_feature_table(table, config=config, training=True)
    write_table(table, out_dir / "features.parquet")
    write_json(config.to_dict(), out_dir / "feature_config.json")
    write_json(summary, out_dir / "features_summary.json")
    logger.info(
        "features: %d leads, %s; cohorts %s",
        summary["leads"],
        ", ".join(f"{k} {v}" for k, v in summary["by_status"].items()),
        ", ".join(
            f"{k} {v['rows']} ({v['positives']} converted)" for k, v in summary["cohorts"].items()
        ),
    )
