"""`features` stage: snapshots of the open lead base, point-in-time features, purged cohorts."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pandera.errors
import typer

from features.build import LEAD_AGE, FeatureConfig, build_feature_table, epoch_ns, lookup_codes
from features.labels import (
    ELIGIBLE,
    data_end_of,
    label_from_column,
    label_leads,
    lead_clock,
    open_base_sizes,
    sample_snapshots,
    sampling_rate,
    snapshot_moments,
)
from features.schemas import UTC_NS, feature_table_schema
from features.split import (
    COHORTS,
    MomentSplit,
    split_by_order,
    split_snapshot_moments,
    split_stratified,
)
from features.vocabulary import named_types_in_patterns, slug_map, unknown_activity_names
from models.evaluation import age_band
from pipelines.artifacts import FEATURES_DIR, INTERIM_DIR
from pipelines.config import (
    FeaturesParams,
    LabelParams,
    RulesParams,
    SplitParams,
    TrainParams,
    load_config,
)
from pipelines.errors import DataQualityError
from pipelines.io import write_json, write_table

logger = logging.getLogger(__name__)


def feature_config(
    features: FeaturesParams,
    *,
    behavioural: bool,
    lead_age: bool = False,
    activity_type_map: Mapping[str, str] | None = None,
) -> FeatureConfig:
    """The feature configuration declared in params.yaml (`lead_age`: snapshots of leads of
    every age, whose age is then a feature; `activity_type_map`: `source.activity_type_map`).
    The activity vocabulary is learned later, from the training data (`with_activity_types`)."""
    return FeatureConfig(
        **asdict(features),
        behavioural=behavioural,
        lead_age=lead_age,
        activity_type_map=dict(activity_type_map or {}),
    ).normalised()


def activity_names_in_params(
    config: FeatureConfig, *, rules: RulesParams, train: TrainParams
) -> dict[str, list[str]]:
    """Every activity name params.yaml lists, by key: the role lists, the points baseline's
    `rules.activity_points`, and the types the monotone constraints name outright."""
    named = {f"features.{key}": list(names) for key, names in config.roles().items()}
    named["rules.activity_points"] = list(rules.activity_points or {})
    for key in ("monotone_increasing", "monotone_decreasing"):
        named[f"train.{key}"] = [t for _, t in named_types_in_patterns(getattr(train, key))]
    return named


def check_activity_names(
    config: FeatureConfig, activities: pd.DataFrame, *, rules: RulesParams, train: TrainParams
) -> dict[str, list[str]]:
    """Activity names in params that never occur in the training data, each a warning: a
    role, points or a constraint on a name the export does not use is never a silent drop."""
    if not config.behavioural:
        return {}
    unknown = unknown_activity_names(
        activity_names_in_params(config, rules=rules, train=train),
        present=activities["activity_type"],
        type_map=slug_map(config.activity_type_map),
        not_types=config.reserved_type_slugs(),
    )
    for key, names in unknown.items():
        logger.warning(
            "%s names activity type(s) the training data never has: %s (check the export's"
            " names or source.activity_type_map)",
            key,
            ", ".join(names),
        )
    return unknown


def validate_feature_table(
    table: pd.DataFrame, *, config: FeatureConfig, training: bool
) -> pd.DataFrame:
    """Strict pandera check at the stage boundary; failures become a readable error."""
    schema = feature_table_schema(
        categorical=config.categorical_columns(),
        numeric=config.numeric_columns(),
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
    """The training table (features, label, cohort) and a summary of how it was drawn.

    A time-aware export gives snapshots of the open lead base (`build_snapshot_table`); a
    single-table export carrying its own label gives one row per lead.
    """
    if labelled_source:
        return build_labelled_table(leads=leads, activities=activities, config=config, split=split)
    if label.snapshot_every_days is None:
        return build_cohort_table(
            leads=leads,
            activities=activities,
            outcomes=outcomes,
            config=config,
            label=label,
            split=split,
        )
    return build_snapshot_table(
        leads=leads,
        activities=activities,
        outcomes=outcomes,
        config=config,
        label=label,
        split=split,
    )


def build_labelled_table(
    *, leads: pd.DataFrame, activities: pd.DataFrame, config: FeatureConfig, split: SplitParams
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One row per lead of a single-table export, as of its creation (if known)."""
    labels = label_from_column(leads)
    table = build_feature_table(
        leads=leads, activities=activities, as_of=labels["as_of"], config=config
    )
    cohorts = assign_cohorts(
        table.assign(label=labels["label"].to_numpy()),
        split_by=split.by,
        train_fraction=split.train_fraction,
        calibration_fraction=split.calibration_fraction,
        seed=split.seed,
    )
    table = compact_rows(
        table,
        numeric=config.numeric_columns(),
        label=labels["label"].to_numpy(),
        cohort=cohorts.to_numpy(),
    )
    summary = {
        "leads": len(labels),
        "rows": len(table),
        "by_status": {ELIGIBLE: len(table)},
        "sampling_rate": 1.0,
        "purged": None,
        "cohorts": cohort_summaries(table),
    }
    return table, summary


def build_cohort_table(
    *,
    leads: pd.DataFrame,
    activities: pd.DataFrame,
    outcomes: pd.DataFrame,
    config: FeatureConfig,
    label: LabelParams,
    split: SplitParams,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One row per lead as of created_at + observation_days (`label.snapshot_every_days: null`).

    The fixed-age cohort: right for a base scored only at that age, not for the open base.
    Early converters and censored leads are left out; cohorts by as-of time.
    """
    data_end = data_end_of(leads["created_at"], activities["occurred_at"], outcomes["converted_at"])
    labels = label_leads(
        leads=leads,
        outcomes=outcomes,
        observation_days=label.observation_days,
        horizon_days=label.horizon_days,
        data_end=data_end,
    )
    eligible = (labels["status"] == ELIGIBLE).to_numpy()
    table = build_feature_table(
        leads=leads[eligible],
        activities=activities,
        as_of=labels.loc[eligible, "as_of"],
        config=config,
    )
    label_values = labels.loc[eligible, "label"].to_numpy()
    cohorts = assign_cohorts(
        table.assign(label=label_values),
        split_by=split.by,
        train_fraction=split.train_fraction,
        calibration_fraction=split.calibration_fraction,
        seed=split.seed,
    )
    table = compact_rows(
        table, numeric=config.numeric_columns(), label=label_values, cohort=cohorts.to_numpy()
    )
    summary = {
        "leads": len(labels),
        "rows": len(table),
        "by_status": {k: int(v) for k, v in sorted(labels["status"].value_counts().items())},
        "sampling_rate": 1.0,
        "purged": None,
        "cohorts": cohort_summaries(table),
    }
    return table, summary


def build_snapshot_table(
    *,
    leads: pd.DataFrame,
    activities: pd.DataFrame,
    outcomes: pd.DataFrame,
    config: FeatureConfig,
    label: LabelParams,
    split: SplitParams,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Sampled (lead, snapshot moment) rows of the open lead base, one moment at a time.

    Memory stays bounded by the sample: each moment's features are built from the events of
    that moment's sampled leads only, and kept as float32.
    """
    data_end = data_end_of(leads["created_at"], activities["occurred_at"], outcomes["converted_at"])
    moments = snapshot_moments(
        created_at=leads["created_at"],
        data_end=data_end,
        observation_days=label.observation_days,
        horizon_days=label.horizon_days,
        every_days=label.snapshot_every_days,
    )
    clock = lead_clock(leads=leads, outcomes=outcomes, observation_days=label.observation_days)
    sizes = open_base_sizes(clock, moments)
    cohorts = snapshot_cohorts(moments, sizes, label=label, split=split)
    kept = cohorts.cohort != ""
    rate = sampling_rate(int(sizes[kept].sum()), max_rows=label.max_training_rows)
    event_lead = lookup_codes(activities["lead_id"], leads["lead_id"]).astype(np.int32)
    event_ns = epoch_ns(activities["occurred_at"])
    samples = sample_snapshots(
        clock,
        moments[kept],
        horizon_days=label.horizon_days,
        rate=rate,
        max_rows=label.max_training_rows,
        seed=split.seed,
    )
    parts = []
    for moment, cohort, (positions, labels) in zip(
        moments[kept], cohorts.cohort[kept], samples, strict=True
    ):
        visible = np.zeros(len(leads) + 1, dtype=bool)  # the last entry: events of no lead
        visible[positions] = True
        events = np.flatnonzero(visible[event_lead] & (event_ns <= moment.value))
        part = build_feature_table(
            leads=leads.iloc[positions],
            activities=activities.iloc[events],
            as_of=pd.Series(moment, index=leads.index[positions], dtype=UTC_NS),
            config=config,
        )
        parts.append(
            compact_rows(part, numeric=config.numeric_columns(), label=labels, cohort=cohort)
        )
    table = concat_tables(parts, categorical=config.categorical_columns())
    summary = {
        "leads": len(leads),
        "rows": len(table),
        "by_status": {
            "sampled": len(table),
            "not_sampled": int(sizes[kept].sum()) - len(table),
            "in_purge_gaps": int(sizes[~kept].sum()),
        },
        "sampling_rate": rate,
        "purged": cohorts.purged,
        "snapshots": snapshot_summary(moments, sizes, kept=kept, label=label),
        "age_mix": age_mix(table),
        "cohorts": cohort_summaries(table),
    }
    return table, summary


def snapshot_cohorts(
    moments: pd.DatetimeIndex, sizes: np.ndarray, *, label: LabelParams, split: SplitParams
) -> MomentSplit:
    """Cohort per snapshot moment, with purge gaps when the data span allows them."""
    if split.by not in ("auto", "time"):
        logger.warning(
            "split.by %r is for one-row-per-lead tables; snapshots of the open lead base are"
            " split by their moment (time)",
            split.by,
        )
    try:
        cohorts = split_snapshot_moments(
            moments,
            sizes,
            horizon_days=label.horizon_days,
            train_fraction=split.train_fraction,
            calibration_fraction=split.calibration_fraction,
        )
    except ValueError as exc:
        raise DataQualityError(str(exc)) from exc
    if not cohorts.purged:
        logger.warning(
            "the snapshots span too little time for a %s-day gap between cohorts: train,"
            " calibration and test touch, so labels of one reach into the next (purged: false)",
            label.horizon_days,
        )
    return cohorts


def compact_rows(
    table: pd.DataFrame, *, numeric: list[str], label: np.ndarray, cohort: np.ndarray | str
) -> pd.DataFrame:
    """The table with its numeric features as one float32 block, then `label` and `cohort`."""
    numbers = set(numeric)
    block = pd.DataFrame(
        table[numeric].to_numpy(np.float32), index=table.index, columns=numeric, copy=False
    )
    tail = pd.DataFrame({"label": label, "cohort": cohort}, index=table.index)
    return pd.concat([table[[c for c in table if c not in numbers]], block, tail], axis=1)


def concat_tables(parts: list[pd.DataFrame], *, categorical: list[str]) -> pd.DataFrame:
    """One table from per-moment tables; each categorical gets the union of their categories."""
    if not parts:
        raise DataQualityError("no snapshot of the open lead base to train on")
    categories = {
        name: sorted(set().union(*(part[name].cat.categories for part in parts)))
        for name in categorical
    }
    parts = [
        part.assign(**{name: part[name].cat.set_categories(c) for name, c in categories.items()})
        for part in parts
    ]
    return pd.concat(parts, ignore_index=True)


def snapshot_summary(
    moments: pd.DatetimeIndex, sizes: np.ndarray, *, kept: np.ndarray, label: LabelParams
) -> dict[str, Any]:
    """The snapshot moments: how many, when, how many were dropped in purge gaps."""
    return {
        "every_days": label.snapshot_every_days,
        "moments": len(moments),
        "moments_kept": int(kept.sum()),
        "first": moments.min(),
        "last": moments.max(),
        "open_leads_per_moment_mean": round(float(sizes.mean()), 1),
        "eligible_pairs": int(sizes.sum()),
    }


def age_mix(table: pd.DataFrame) -> dict[str, int]:
    """Rows per lead-age band (days from creation to the snapshot moment)."""
    if LEAD_AGE not in table:
        return {}
    bands = pd.Series(age_band(table[LEAD_AGE].to_numpy())).value_counts(sort=False)
    return {str(band): int(rows) for band, rows in bands.items()}


def cohort_summaries(table: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Rows, positives, conversion rate, period, moments, leads and age mix per cohort."""
    summaries = {}
    for cohort in COHORTS:
        rows = table[table["cohort"] == cohort]
        summaries[cohort] = {
            "rows": len(rows),
            "positives": int(rows["label"].sum()),
            "conversion_rate": round(float(rows["label"].mean()), 6) if len(rows) else None,
            "as_of_min": rows["as_of"].min(),
            "as_of_max": rows["as_of"].max(),
            "snapshot_moments": int(rows["as_of"].nunique()),
            "leads": int(rows["lead_id"].nunique()),
            "age_mix": age_mix(rows),
        }
    return summaries


def main(
    params: Annotated[Path, typer.Option(help="Path to params.yaml.")] = Path("params.yaml"),
    interim_dir: Annotated[Path, typer.Option(help="Clean tables from extract.")] = INTERIM_DIR,
    out_dir: Annotated[Path, typer.Option(help="Where the feature table goes.")] = FEATURES_DIR,
) -> None:
    """Snapshot the open lead base, build features as of each moment, split into cohorts."""
    settings = load_config(params)
    source = settings.source
    leads = pd.read_parquet(interim_dir / "leads.parquet")
    activities = pd.read_parquet(interim_dir / "activities.parquet")
    outcomes = pd.read_parquet(interim_dir / "outcomes.parquet")
    config = feature_config(
        settings.features,
        behavioural=bool(source.activities) and len(activities) > 0,
        lead_age=not source.label_column,
        activity_type_map=source.activity_type_map,
    )
    if config.behavioural:
        config = config.with_activity_types(activities["activity_type"])
    unknown = check_activity_names(config, activities, rules=settings.rules, train=settings.train)
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
    write_json(
        {**summary, "activity_types": config.activity_types, "unknown_activity_names": unknown},
        out_dir / "features_summary.json",
    )
    logger.info(
        "features: %d leads, %d rows (sampling rate %.3g, purged %s), %s; cohorts %s",
        summary["leads"],
        summary["rows"],
        summary["sampling_rate"],
        summary["purged"],
        ", ".join(f"{k} {v}" for k, v in summary["by_status"].items()),
        ", ".join(
            f"{k} {v['rows']} ({v['positives']} converted)" for k, v in summary["cohorts"].items()
        ),
    )
