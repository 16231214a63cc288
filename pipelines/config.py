"""params.yaml: typed sections with their defaults (`load_config`), and the raw dict.

One frozen dataclass per section holds that section's keys and defaults; a key absent from
params.yaml (or null where null has no meaning of its own) takes the default declared here,
nowhere else. `load_config` checks every value's type (a wrong one is a one-line InputError
naming the key) and warns about unknown sections and keys, with the nearest known name: a
typo shows, and a params file written for a newer leadscore still runs. `load_params` (the
raw dict) stays for code not yet converted and for logging the sections as written.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import types
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from features.build import FeatureConfig
from pipelines.errors import InputError
from pipelines.io import atomic_path

logger = logging.getLogger(__name__)

DEFAULT_PARAMS = Path("params.yaml")
Number = int | float  # a number kept as written (1 stays 1, 1.0 stays 1.0)
TRUTH_DEFAULT = "data/synthetic_truth/truth.parquet"


@dataclass(frozen=True, kw_only=True)
class SourceParams:
    """Where the export is and what its columns are called."""

    kind: str = "synthetic"  # synthetic | files
    leads: str
    activities: str | None = None
    outcomes: str | None = None
    id_column: str = "lead_id"
    created_at_column: str | None = "created_at"  # null: no timestamps
    label_column: str | None = None  # single-table exports: the 0/1 column of leads
    csv_separator: str = ","
    missing_values: tuple[str, ...] = ()
    missing_values_by_column: dict[str, tuple[str, ...]] = field(default_factory=dict)
    activity_type_map: dict[str, str] = field(default_factory=dict)  # their name: canonical


@dataclass(frozen=True, kw_only=True)
class GenerateParams:
    """The synthetic export (source.kind: synthetic)."""

    n_leads: int = 40_000
    start: str = "2024-01-02"
    days: int = 730
    seed: int = 42
    truth_path: str = TRUTH_DEFAULT


@dataclass(frozen=True, kw_only=True)
class ExtractParams:
    """Row checks of the extract stage."""

    max_bad_row_share: float = 0.05
    max_future_skew_hours: float = 24.0


@dataclass(frozen=True, kw_only=True)
class LabelParams:
    """When a lead is scored (observation) and how long a conversion may take (horizon)."""

    observation_days: float = 14.0
    horizon_days: float = 90.0
    # days between two snapshots of the open lead base; null: one row per lead at
    # created_at + observation_days (a fixed-age cohort, for a base scored at that age only)
    snapshot_every_days: float | None = 14.0
    max_training_rows: int = 1_000_000  # (lead, snapshot) pairs kept, by uniform sampling


@dataclass(frozen=True, kw_only=True)
class FeaturesParams:
    """What the feature builder computes; defaults are `features.build.FeatureConfig`'s."""

    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    missing_indicators: tuple[str, ...] = ()
    lowercase_categories: bool = False
    email_column: str | None = None
    competitor_domains: tuple[str, ...] = ()
    personal_domains: tuple[str, ...] = ()
    student_domain_suffixes: tuple[str, ...] = ()
    job_title_column: str | None = None
    windows_days: tuple[int, ...] = FeatureConfig.windows_days
    decay_half_life_days: float = FeatureConfig.decay_half_life_days
    hand_raiser_types: tuple[str, ...] = FeatureConfig.hand_raiser_types
    page_categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    max_activity_types: int = FeatureConfig.max_activity_types
    form_types: tuple[str, ...] = FeatureConfig.form_types
    unsubscribe_types: tuple[str, ...] = FeatureConfig.unsubscribe_types
    page_view_types: tuple[str, ...] = FeatureConfig.page_view_types


@dataclass(frozen=True, kw_only=True)
class SplitParams:
    """Cohorts: train, calibration, and the rest for test."""

    by: str = "auto"  # auto | time | row_order | random
    train_fraction: float = 0.6
    calibration_fraction: float = 0.2
    seed: int = 42


@dataclass(frozen=True, kw_only=True)
class TrainParams:
    """The minimum-data gate, early stopping and LightGBM's own parameters."""

    min_positives: int = 40
    min_negatives: int = 40
    early_stopping_fraction: float = 0.15
    early_stopping_slice: str = "newest"  # newest | random
    early_stopping_rounds: int = 50  # 0: no early stopping
    num_boost_round: int = 2000
    monotone_increasing: tuple[str, ...] = ()
    monotone_decreasing: tuple[str, ...] = ()
    lightgbm: dict[str, Any] = field(default_factory=dict)  # passed to LightGBM as written

    @property
    def seed(self) -> int:
        """LightGBM's seed, which also draws a random early-stopping slice."""
        return int(self.lightgbm.get("seed", 0))


@dataclass(frozen=True, kw_only=True)
class CalibrationParams:
    """How raw probabilities are calibrated."""

    method: str = "auto"  # isotonic | sigmoid | auto
    min_rows_isotonic: int = 1000
    min_positives_isotonic: int = 50


@dataclass(frozen=True, kw_only=True)
class ThresholdsParams:
    """The MQL/SQL threshold policies, and the intervals on what they give."""

    sql_policy: str = "precision"  # precision | capacity | expected_value
    sql_precision: float = 0.4
    sql_capacity_per_week: float = 100.0
    deal_value: float = 5000.0
    contact_cost: float = 400.0
    mql_policy: str = "recall"  # recall | precision_floor
    mql_recall: float = 0.8
    mql_precision_floor: float = 0.1
    hand_raiser_to_sql: bool = True
    hand_raiser_window_days: float | None = 30.0  # days in SQL after a hand-raise; null: forever
    sql_requires_activity_days: float | None = 90.0  # SQL by score needs activity this recent
    confidence: float = 0.95
    bootstrap_samples: int = 1000
    seed: int = 0
    what_if_rows: int = 200
    cohort_weeks: float = 13.0  # weeks the calibration cohort spans when it has no timestamps
    # Per-segment thresholds: a lead attribute (one of features.categorical; null: one segment)
    # and, per value of it, overrides of the policy keys above. Values not listed use these.
    segment_column: str | None = None
    segments: dict[str, dict[str, Any]] = field(default_factory=dict)
    min_segment_positives: int | None = None  # null: train.min_positives
    min_segment_negatives: int | None = None  # null: train.min_negatives

    def __post_init__(self) -> None:
        bad = {
            f"{value}.{key}"
            for value, overrides in self.segments.items()
            for key in (overrides or {})
            if key not in SEGMENT_POLICY_KEYS
        }
        if bad:
            raise InputError(
                f"thresholds.segments: {', '.join(sorted(bad))} is not a policy key"
                f" (one of {', '.join(SEGMENT_POLICY_KEYS)})"
            )
        for value, overrides in self.segments.items():
            try:
                self.for_segment(str(value))
            except TypeError:
                raise InputError(
                    f"thresholds.segments.{value}: wrong value type in {dict(overrides)}"
                ) from None

    def overrides_of(self, value: str) -> dict[str, Any]:
        """The overrides written for a segment value: under the value itself, else under the
        same value in other case (`features.lowercase_categories` lowercases the data)."""
        written = {str(k): v for k, v in self.segments.items()}
        if str(value) in written:
            return dict(written[str(value)] or {})
        caseless = {k.casefold(): v for k, v in written.items()}
        return dict(caseless.get(str(value).casefold()) or {})

    def for_segment(self, value: str) -> ThresholdsParams:
        """The policy of one segment value: these keys with the segment's overrides (and no
        `segments` of its own)."""
        overrides = self.overrides_of(value)
        if not overrides:
            return self
        hints = get_type_hints(ThresholdsParams)
        typed = {key: _typed(item, hints[key]) for key, item in overrides.items()}
        return replace(self, segments={}, **typed)


# The policy keys a segment may override (`thresholds.segments`).
SEGMENT_POLICY_KEYS = (
    "sql_policy",
    "sql_precision",
    "sql_capacity_per_week",
    "deal_value",
    "contact_cost",
    "mql_policy",
    "mql_recall",
    "mql_precision_floor",
)


@dataclass(frozen=True, kw_only=True)
class PromotionParams:
    """The gate a new model passes to become champion."""

    min_lift_over_points_roc_auc: float = 0.02
    min_gain_over_champion_roc_auc: float = 0.0
    max_ece: float = 0.03


@dataclass(frozen=True, kw_only=True)
class RulesParams:
    """The points baseline (`models.rules.PointsBaseline`, which holds the defaults).

    None means "the baseline's default"; `baseline_kwargs` passes only the keys set.
    """

    attribute_points: dict[str, dict[str, Number]] | None = None
    flag_points: dict[str, Number] | None = None
    activity_points: dict[str, Number] | None = None
    page_points: dict[str, Number] | None = None
    page_window_days: int | None = None
    numeric_points: dict[str, list[list[Number]]] | None = None
    max_behaviour_points: Number | None = None
    mql_points: Number | None = None
    sql_points: Number | None = None
    hand_raiser_to_sql: bool | None = None
    hand_raiser_window_days: float | None = None  # null: thresholds.hand_raiser_window_days
    disqualify_when: dict[str, Number] | None = None

    def baseline_kwargs(self, *, hand_raiser_window_days: float | None = None) -> dict[str, Any]:
        """Keyword arguments of `PointsBaseline` for the keys params.yaml sets.

        `hand_raiser_window_days`: the window when the rules set none (the thresholds' one),
        so both scorers release a hand-raiser after the same time.
        """
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        if values["hand_raiser_window_days"] is None:
            values["hand_raiser_window_days"] = hand_raiser_window_days
        return {k: v for k, v in values.items() if v is not None}

    @property
    def disqualify(self) -> dict[str, float]:
        """The disqualification rules (none when unset)."""
        return dict(self.disqualify_when or {})


@dataclass(frozen=True, kw_only=True)
class ScorecardParams:
    """The learned points card (`models.scorecard`)."""

    max_variables: int = 12
    max_bins: int = 5
    points_to_double_odds: float = 20.0
    target: str = "auto"  # labels | distill | auto (the one keeping more of the model's ranking)
    exclude: list[str] = field(default_factory=lambda: ["job_title", "engagement_score"])
    max_rows: int = 100000  # train rows the card is fitted on (a random sample above this)
    seed: int = 0


@dataclass(frozen=True, kw_only=True)
class EvaluateParams:
    """Model vs points on the test cohort."""

    ece_bins: int = 10
    bootstrap_samples: int = 1000
    lift_fractions: tuple[float, ...] = (0.05, 0.1, 0.2)
    seed: int = 0
    rolling_blocks: int = 0  # >0: also backtest retraining before each of N test blocks


@dataclass(frozen=True, kw_only=True)
class ReportParams:
    """The marketing report."""

    capacities_per_week: tuple[int, ...] = (25, 50, 100, 200)
    top_drivers: int = 10
    bootstrap_samples: int = 1000
    confidence: float = 0.95
    seed: int = 0


@dataclass(frozen=True, kw_only=True)
class ScoreParams:
    """The batch scoring job."""

    chunk_size: int = 50_000
    max_bad_row_share: float = 0.05
    psi_warn: float = 0.2
    top_reasons: int = 3
    reasons_method: str = "path"  # path | shap
    workers: int = 0  # 0: the job decides


@dataclass(frozen=True, kw_only=True)
class Params:
    """All of params.yaml, one attribute per section."""

    source: SourceParams
    generate: GenerateParams = field(default_factory=GenerateParams)
    extract: ExtractParams = field(default_factory=ExtractParams)
    label: LabelParams = field(default_factory=LabelParams)
    features: FeaturesParams = field(default_factory=FeaturesParams)
    split: SplitParams = field(default_factory=SplitParams)
    train: TrainParams = field(default_factory=TrainParams)
    calibration: CalibrationParams = field(default_factory=CalibrationParams)
    thresholds: ThresholdsParams = field(default_factory=ThresholdsParams)
    promotion: PromotionParams = field(default_factory=PromotionParams)
    rules: RulesParams = field(default_factory=RulesParams)
    scorecard: ScorecardParams = field(default_factory=ScorecardParams)
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)
    report: ReportParams = field(default_factory=ReportParams)
    score: ScoreParams = field(default_factory=ScoreParams)


def load_config(path: Path = DEFAULT_PARAMS) -> Params:
    """params.yaml as typed sections; a wrong type or unknown key is a one-line InputError."""
    return parse_params(load_params(path), origin=str(path))


def parse_params(raw: Mapping[str, Any], *, origin: str = "params.yaml") -> Params:
    """Typed sections from a params mapping (see `load_config`)."""
    hints = get_type_hints(Params)
    warn_unknown(raw, known=hints, where="section ", origin=origin)
    sections = {}
    for item in fields(Params):
        value = raw.get(item.name)
        if value is None:
            if item.default_factory is MISSING:
                raise InputError(f"{origin} has no {item.name!r} section")
            continue
        if not isinstance(value, Mapping):
            raise InputError(f"{origin}: section {item.name!r} must be a mapping of keys")
        sections[item.name] = parse_section(hints[item.name], value, name=item.name, origin=origin)
    return Params(**sections)


def warn_unknown(
    raw: Mapping[str, Any], *, known: Mapping[str, Any], where: str, origin: str
) -> None:
    """Log every unknown name (ignored) with the nearest known one, if any."""
    for unknown in sorted(set(raw) - set(known)):
        nearest = difflib.get_close_matches(str(unknown), list(known), n=1)
        hint = f" (did you mean {nearest[0]!r}?)" if nearest else ""
        logger.warning("%s: unknown %s%s ignored%s", origin, where, unknown, hint)


def parse_section(cls: type, raw: Mapping[str, Any], *, name: str, origin: str) -> Any:
    """One section's dataclass: values checked against the field types, defaults for the rest.

    Null takes the default, except where the field itself may be None (e.g.
    `source.created_at_column: null` means "no timestamps").
    """
    hints = get_type_hints(cls)
    warn_unknown(raw, known=hints, where=f"key {name}.", origin=origin)
    values = {}
    for key, value in raw.items():
        if key not in hints:
            continue
        hint = hints[key]
        if value is None and not _allows_none(hint):
            continue
        try:
            values[key] = _typed(value, hint)
        except TypeError:
            raise InputError(
                f"{origin}: {name}.{key} must be {_describe(hint)}, not {value!r}"
            ) from None
    missing = [f.name for f in fields(cls) if f.name not in values and _required(f)]
    if missing:
        raise InputError(f"{origin}: {name}.{missing[0]} is required")
    return cls(**values)


def _required(item: Any) -> bool:
    return item.default is MISSING and item.default_factory is MISSING


def _allows_none(hint: Any) -> bool:
    return hint is Any or type(None) in get_args(hint)


def _typed(value: Any, hint: Any) -> Any:
    """`value` as type `hint` (int to float, list to tuple); TypeError when it is not one."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if type(value) in args:  # exactly one of the types: kept as it is
            return value
        for arg in args:
            try:
                return _typed(value, arg)
            except TypeError:
                continue
        raise TypeError(hint)
    if hint is bool and isinstance(value, bool):
        return value
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int and number and float(value).is_integer():
        return int(value)
    if hint is float and number:
        return float(value)
    if hint is str and isinstance(value, str):
        return value
    if hint is str and number:  # e.g. a sentinel written 999, read as text as before
        return str(value)
    if hint is str and isinstance(value, dt.date):  # an unquoted YAML date
        return value.isoformat()
    if origin in (tuple, list) and isinstance(value, list | tuple):
        items = [_typed(v, args[0]) for v in value]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) and isinstance(value, Mapping):
        return {k: _typed(v, args[1]) for k, v in value.items()}
    raise TypeError(hint)


def _describe(hint: Any) -> str:
    """A type in words, for error messages."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin in (tuple, list):
        return f"a list of {_describe(args[0])}"
    if origin in (dict, Mapping):
        return f"a mapping of {_describe(args[1])}"
    words = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}
    return words.get(hint, "null" if hint is type(None) else str(hint))


def load_params(path: Path = DEFAULT_PARAMS) -> dict[str, Any]:
    """Read params.yaml into a dict; a missing or malformed file is an InputError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read params file {path}: {exc.strerror or exc}") from exc
    try:
        params = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"params file {path} is not valid YAML: {exc}") from exc
    if not isinstance(params, dict):
        raise InputError(f"params file {path} must hold a mapping of sections")
    return params


def section(params: dict[str, Any], name: str) -> dict[str, Any]:
    """One section of params, or an InputError naming it."""
    value = params.get(name)
    if not isinstance(value, dict):
        raise InputError(f"params.yaml has no '{name}' section")
    return value


def apply_overrides(*, params_path: Path, override_path: Path) -> list[str]:
    """Write `section.key` values of an override file into params.yaml, keeping its comments.

    The granularity is that of `dvc exp run -S section.key=value`: a key's whole value is
    replaced. Returns the keys that changed.
    """
    from ruamel.yaml import YAML  # only this command needs round-trip YAML

    overrides = load_params(override_path)
    yaml_rt = YAML()
    yaml_rt.preserve_quotes = True
    yaml_rt.width = 4096  # keep long flow lists on one line, as written
    yaml_rt.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    params = yaml_rt.load(Path(params_path).read_text(encoding="utf-8"))
    changed = []
    for section_name, values in overrides.items():
        if not isinstance(values, dict):
            raise InputError(f"{override_path}: section '{section_name}' must be a mapping")
        target = params.setdefault(section_name, {})
        for key, value in values.items():
            if target.get(key) != value:
                target[key] = value
                changed.append(f"{section_name}.{key}")
    with atomic_path(Path(params_path)) as tmp, tmp.open("w", encoding="utf-8") as handle:
        yaml_rt.dump(params, handle)
    return changed
