"""Point-in-time feature table: one pure function used by training and scoring alike.

A lead is described as of a moment T: only activities with `occurred_at <= T` count.
A window of w days covers events with `T - w days <= occurred_at <= T` (both edges inside).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

STANDARD_ACTIVITY_TYPES: tuple[str, ...] = (
    "page_view",
    "form_submit",
    "content_download",
    "webinar_registered",
    "webinar_attended",
    "email_open",
    "email_click",
    "email_unsubscribe",
    "chat",
    "trial_request",
    "demo_request",
    "contact_sales",
)
FORM_CONVERSION_TYPES = (
    "form_submit",
    "content_download",
    "webinar_registered",
    "trial_request",
    "demo_request",
    "contact_sales",
)
SENIORITY_LEVELS = ("c_level", "vp", "director", "manager", "individual", "student", "unknown")
SENIORITY_PATTERNS: tuple[tuple[str, str], ...] = (
    ("student", r"\b(?:student|intern|trainee|graduate)\b"),
    ("c_level", r"\b(?:ceo|cto|cfo|cmo|coo|cio|chief|founder|co-founder|owner|president)\b"),
    ("vp", r"\b(?:vp|svp|evp|vice president)\b"),
    ("director", r"\b(?:director|head of)\b"),
    ("manager", r"\b(?:manager|lead|supervisor)\b"),
)
DAY_NS = 86_400 * 10**9


def slug(name: str) -> str:
    """A column name LightGBM and MLflow accept: lower snake case, ascii only."""
    text = re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_").lower()
    return text or "column"


@dataclass(frozen=True)
class FeatureConfig:
    """What the feature builder computes; stored in the model so scoring matches training."""

    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    email_column: str | None = None
    competitor_domains: tuple[str, ...] = ()
    personal_domains: tuple[str, ...] = ()
    student_domain_suffixes: tuple[str, ...] = ()
    job_title_column: str | None = None
    windows_days: tuple[int, ...] = (7, 30, 90)
    decay_half_life_days: float = 14.0
    hand_raiser_types: tuple[str, ...] = ("trial_request", "demo_request", "contact_sales")
    page_categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    lowercase_categories: bool = False
    behavioural: bool = True
    # Attribute columns whose absence is itself a signal (an unanswered form question):
    # each gets a 0/1 `is_missing_<column>` feature. Last, so positional use stays valid.
    missing_indicators: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, features: Mapping[str, Any], *, behavioural: bool) -> FeatureConfig:
        """Build from the `features` section of params.yaml."""

        def strings(key: str) -> tuple[str, ...]:
            return tuple(str(v) for v in features.get(key) or ())

        excluded = set(strings("exclude"))
        return cls(
            categorical=tuple(c for c in strings("categorical") if c not in excluded),
            numeric=tuple(c for c in strings("numeric") if c not in excluded),
            exclude=tuple(sorted(excluded)),
            email_column=features.get("email_column"),
            competitor_domains=tuple(d.lower() for d in strings("competitor_domains")),
            personal_domains=tuple(d.lower() for d in strings("personal_domains")),
            student_domain_suffixes=tuple(d.lower() for d in strings("student_domain_suffixes")),
            job_title_column=features.get("job_title_column"),
            windows_days=tuple(int(w) for w in features.get("windows_days") or (7, 30, 90)),
            decay_half_life_days=float(features.get("decay_half_life_days", 14)),
            hand_raiser_types=strings("hand_raiser_types")
            or ("trial_request", "demo_request", "contact_sales"),
            page_categories={
                str(k): tuple(str(p).lower() for p in v)
                for k, v in (features.get("page_categories") or {}).items()
            },
            lowercase_categories=bool(features.get("lowercase_categories", False)),
            behavioural=behavioural,
            missing_indicators=tuple(c for c in strings("missing_indicators") if c not in excluded),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored with the model)."""
        out = asdict(self)
        out["page_categories"] = {k: list(v) for k, v in self.page_categories.items()}
        return out

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> FeatureConfig:
        """Inverse of `to_dict`."""
        data = dict(payload)
        for key in (
            "categorical",
            "numeric",
            "exclude",
            "competitor_domains",
            "personal_domains",
            "student_domain_suffixes",
            "windows_days",
            "hand_raiser_types",
            "missing_indicators",
        ):
            data[key] = tuple(data.get(key) or ())
        data["page_categories"] = {
            k: tuple(v) for k, v in (data.get("page_categories") or {}).items()
        }
        return cls(**data)

    @property
    def uses_email(self) -> bool:
        return bool(self.email_column) and self.email_column not in self.exclude

    @property
    def uses_job_title(self) -> bool:
        return bool(self.job_title_column) and self.job_title_column not in self.exclude

    def behavioural_columns(self) -> list[str]:
        """Names of the behavioural features, in table order."""
        if not self.behavioural:
            return []
        spans = [f"{w}d" for w in self.windows_days] + ["total"]
        names = [f"n_{t}_{s}" for t in STANDARD_ACTIVITY_TYPES for s in spans]
        names += [f"n_other_{s}" for s in spans] + [f"n_events_{s}" for s in spans]
        names += [f"n_page_{c}_{s}" for c in self.page_categories for s in spans]
        names += [f"decayed_{t}" for t in STANDARD_ACTIVITY_TYPES]
        names += [
            "engagement_score",
            "active_days_total",
            f"active_days_{max(self.windows_days)}d",
            "is_returning_visitor",
            "n_form_conversions",
            "days_since_first_activity",
            "days_since_last_activity",
            "is_hand_raiser",
            "days_since_first_hand_raise",
            "has_unsubscribed",
        ]
        return names

    def missing_indicator_columns(self) -> list[str]:
        """Names of the 0/1 missing-value indicators, one per declared column."""
        return [f"is_missing_{slug(c)}" for c in self.missing_indicators]

    def demographic_numeric_columns(self) -> list[str]:
        """Numeric demographic features (numerics, e-mail domain flags, missing indicators)."""
        names = [slug(c) for c in self.numeric]
        if self.uses_email:
            names += [
                "has_email",
                "is_personal_email",
                "is_competitor_domain",
                "is_student_domain",
            ]
        return names + self.missing_indicator_columns()

    def categorical_columns(self) -> list[str]:
        """Categorical features (declared categoricals plus seniority)."""
        names = [slug(c) for c in self.categorical]
        if self.uses_job_title:
            names.append("seniority")
        return names

    def feature_columns(self) -> list[str]:
        """Every model feature, in the order the model sees them."""
        return (
            self.categorical_columns() + self.demographic_numeric_columns()
        ) + self.behavioural_columns()


def _arrow(values: pd.Series | Sequence[str]) -> pa.Array:
    """Values as an Arrow array (dictionary-encoded stays dictionary-encoded)."""
    array = pa.array(values)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _as_large_string(array: pa.Array) -> pa.Array:
    return array if array.type == pa.large_string() else pc.cast(array, pa.large_string())


def lookup_codes(values: pd.Series, keys: Sequence[str] | pd.Series) -> np.ndarray:
    """Position of each value in `keys` (-1 when absent or missing), hashed by Arrow."""
    key_set = _as_large_string(_arrow(pd.Series(keys, dtype=object)))
    array = _arrow(values)
    if pa.types.is_dictionary(array.type):
        in_keys = pc.index_in(_as_large_string(array.dictionary), value_set=key_set)
        per_entry = np.append(in_keys.fill_null(-1).to_numpy(zero_copy_only=False), -1)
        indices = array.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        return per_entry[indices]
    codes = pc.index_in(_as_large_string(array), value_set=key_set)
    return codes.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def page_category_codes(pages: pd.Series, categories: Mapping[str, Sequence[str]]) -> np.ndarray:
    """Category index per page (first matching substring wins), -1 for none or missing."""
    array = _arrow(pages)
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(_as_large_string(array))
    unique_text = pd.Series(array.dictionary.to_pylist(), dtype="string").str.lower()
    per_unique = np.full(len(unique_text) + 1, -1, dtype=np.int64)
    for index, patterns in reversed(list(enumerate(categories.values()))):
        pattern = "|".join(re.escape(p) for p in patterns)
        if pattern:
            hit = unique_text.str.contains(pattern, regex=True).fillna(False).to_numpy(bool)
            per_unique[:-1][hit] = index
    indices = array.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return per_unique[indices]


def epoch_ns(values: pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch (UTC) of a timestamp column, as int64."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.to_numpy().astype("datetime64[ns]").view(np.int64)


def _distinct_per_lead(lead_pos: np.ndarray, day: np.ndarray, n_leads: int) -> np.ndarray:
    """Number of distinct days per lead (hash of one int64 key per event)."""
    if lead_pos.size == 0:
        return np.zeros(n_leads)
    offset = day - day.min()
    key = lead_pos.astype(np.int64) * (int(offset.max()) + 1) + offset
    unique = pd.unique(key)
    return np.bincount(unique // (int(offset.max()) + 1), minlength=n_leads).astype(float)


def _grouped_count(
    lead_pos: np.ndarray, n_leads: int, weights: np.ndarray | None = None
) -> np.ndarray:
    return np.bincount(lead_pos, weights=weights, minlength=n_leads).astype(float)


def build_behavioural_features(
    *,
    lead_ids: pd.Series,
    as_of: pd.Series,
    activities: pd.DataFrame,
    config: FeatureConfig,
) -> pd.DataFrame:
    """Behavioural features per lead from its activities at or before its as-of moment."""
    n = len(lead_ids)
    as_of_ns = epoch_ns(as_of)
    lead_pos = lookup_codes(activities["lead_id"], lead_ids)
    occurred_ns = epoch_ns(activities["occurred_at"])
    type_code = lookup_codes(activities["activity_type"], STANDARD_ACTIVITY_TYPES)
    if "page" in activities:
        page_code = page_category_codes(activities["page"], config.page_categories)
    else:
        page_code = np.full(len(activities), -1, dtype=np.int64)
    known = lead_pos >= 0
    age_ns = np.where(known, as_of_ns[np.maximum(lead_pos, 0)] - occurred_ns, -1)
    visible = known & (age_ns >= 0)  # the point-in-time rule: nothing after T
    lead_pos, age_ns = lead_pos[visible], age_ns[visible]
    occurred_ns, type_code, page_code = occurred_ns[visible], type_code[visible], page_code[visible]
    age_days = age_ns / DAY_NS
    spans: list[tuple[str, np.ndarray | None]] = [
        (f"{w}d", age_ns <= w * DAY_NS) for w in config.windows_days
    ]
    spans.append(("total", None))
    n_types = len(STANDARD_ACTIVITY_TYPES)
    columns: dict[str, np.ndarray] = {}
    per_type_key = lead_pos * (n_types + 1) + np.where(type_code >= 0, type_code, n_types)
    page_key = lead_pos * (len(config.page_categories) + 1) + np.where(
        page_code >= 0, page_code, len(config.page_categories)
    )
    type_counts = {}
    page_counts = {}
    for span, mask in spans:
        keys = per_type_key if mask is None else per_type_key[mask]
        type_counts[span] = np.bincount(keys, minlength=n * (n_types + 1)).reshape(n, n_types + 1)
        pkeys = page_key if mask is None else page_key[mask]
        n_cat = len(config.page_categories) + 1
        page_counts[span] = np.bincount(pkeys, minlength=n * n_cat).reshape(n, n_cat)
    for t_index, activity_type in enumerate(STANDARD_ACTIVITY_TYPES):
        for span, _ in spans:
            columns[f"n_{activity_type}_{span}"] = type_counts[span][:, t_index]
    for span, _ in spans:
        columns[f"n_other_{span}"] = type_counts[span][:, n_types]
    for span, _ in spans:
        columns[f"n_events_{span}"] = type_counts[span].sum(axis=1)
    for c_index, category in enumerate(config.page_categories):
        for span, _ in spans:
            columns[f"n_page_{category}_{span}"] = page_counts[span][:, c_index]

    decay = np.exp2(-age_days / config.decay_half_life_days)
    decayed = np.bincount(per_type_key, weights=decay, minlength=n * (n_types + 1))
    decayed = decayed.reshape(n, n_types + 1)
    for t_index, activity_type in enumerate(STANDARD_ACTIVITY_TYPES):
        columns[f"decayed_{activity_type}"] = decayed[:, t_index]
    columns["engagement_score"] = decayed.sum(axis=1)

    day_index = occurred_ns // DAY_NS
    columns["active_days_total"] = _distinct_per_lead(lead_pos, day_index, n)
    longest = max(config.windows_days)
    recent = age_ns <= longest * DAY_NS
    columns[f"active_days_{longest}d"] = _distinct_per_lead(lead_pos[recent], day_index[recent], n)
    is_view = type_code == STANDARD_ACTIVITY_TYPES.index("page_view")
    view_days = _distinct_per_lead(lead_pos[is_view], day_index[is_view], n)
    columns["is_returning_visitor"] = (view_days >= 2) * 1.0
    form_codes = [STANDARD_ACTIVITY_TYPES.index(t) for t in FORM_CONVERSION_TYPES]
    columns["n_form_conversions"] = type_counts["total"][:, form_codes].sum(axis=1)

    first_age = np.full(n, -np.inf)
    np.maximum.at(first_age, lead_pos, age_days)
    last_age = np.full(n, np.inf)
    np.minimum.at(last_age, lead_pos, age_days)
    columns["days_since_first_activity"] = np.where(np.isfinite(first_age), first_age, np.nan)
    columns["days_since_last_activity"] = np.where(np.isfinite(last_age), last_age, np.nan)

    raiser_codes = [
        STANDARD_ACTIVITY_TYPES.index(t)
        for t in config.hand_raiser_types
        if t in STANDARD_ACTIVITY_TYPES
    ]
    is_raise = np.isin(type_code, raiser_codes)
    first_raise = np.full(n, -np.inf)
    np.maximum.at(first_raise, lead_pos[is_raise], age_days[is_raise])
    columns["is_hand_raiser"] = np.isfinite(first_raise) * 1.0
    columns["days_since_first_hand_raise"] = np.where(np.isfinite(first_raise), first_raise, np.nan)
    unsub = STANDARD_ACTIVITY_TYPES.index("email_unsubscribe")
    columns["has_unsubscribed"] = (type_counts["total"][:, unsub] > 0) * 1.0

    frame = pd.DataFrame(columns, index=lead_ids.index)
    return frame[config.behavioural_columns()].astype(float)


def seniority_from_title(titles: pd.Series) -> pd.Series:
    """Seniority level from a free-text job title (first matching rule wins)."""
    text = titles.astype("string").str.lower()
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    unique_text = pd.Series(uniques, dtype="string")
    levels = np.full(len(unique_text), "individual", dtype=object)
    for level, pattern in reversed(SENIORITY_PATTERNS):
        hit = unique_text.str.contains(pattern, regex=True).fillna(False).to_numpy(bool)
        levels[hit] = level
    out = np.where(
        codes >= 0, levels[np.maximum(codes, 0)] if len(levels) else "unknown", "unknown"
    )
    return pd.Series(
        pd.Categorical(out, categories=SENIORITY_LEVELS), index=titles.index, name="seniority"
    )


def email_domain_flags(emails: pd.Series, config: FeatureConfig) -> pd.DataFrame:
    """Domain-type flags from e-mail addresses; neither the address nor the domain is kept."""
    text = pc.utf8_lower(pc.utf8_trim_whitespace(_as_large_string(_arrow(emails.astype("string")))))
    matched = pc.extract_regex(text, r"^[^@\s]+@(?P<domain>[^@\s]+)$")
    domain = pc.struct_field(matched, "domain")

    def flag(mask: pa.Array) -> np.ndarray:
        return mask.fill_null(False).to_numpy(zero_copy_only=False).astype(float)

    student = pa.array(np.zeros(len(emails), dtype=bool))
    for suffix in config.student_domain_suffixes:
        student = pc.or_(student, pc.ends_with(domain, suffix).fill_null(False))
    return pd.DataFrame(
        {
            "has_email": flag(pc.is_valid(domain)),
            "is_personal_email": flag(
                pc.is_in(domain, value_set=pa.array(config.personal_domains, pa.large_string()))
            ),
            "is_competitor_domain": flag(
                pc.is_in(domain, value_set=pa.array(config.competitor_domains, pa.large_string()))
            ),
            "is_student_domain": flag(student),
        },
        index=emails.index,
    )


def missing_indicators(*, leads: pd.DataFrame, config: FeatureConfig) -> pd.DataFrame:
    """1.0 where a declared column is missing or blank (or absent from the export), else 0.0.

    Tree models send missing categories down one fixed side of every split; an explicit
    indicator lets them group "not answered" with whichever answers it resembles.
    """
    columns = {}
    names = config.missing_indicator_columns()
    for name, column in zip(config.missing_indicators, names, strict=True):
        if name not in leads:
            columns[column] = np.ones(len(leads))
            continue
        text = leads[name].astype("string").str.strip()
        columns[column] = (text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True) * 1.0
    return pd.DataFrame(columns, index=leads.index, dtype=float)


def build_demographic_features(*, leads: pd.DataFrame, config: FeatureConfig) -> pd.DataFrame:
    """Declared attribute columns (typed), e-mail domain flags, seniority, missing indicators."""
    columns: dict[str, pd.Series] = {}
    for name in config.categorical:
        values = leads[name] if name in leads else pd.Series(pd.NA, index=leads.index)
        text = values.astype("string").str.strip()
        if config.lowercase_categories:
            text = text.str.lower()  # "Google" and "google" are one source
        columns[slug(name)] = text.where(text != "").astype("category")
    numeric_columns: dict[str, pd.Series] = {}
    for name in config.numeric:
        values = leads[name] if name in leads else pd.Series(np.nan, index=leads.index)
        numeric_columns[slug(name)] = pd.to_numeric(values, errors="coerce").astype(float)
    frame = pd.DataFrame({**columns, **numeric_columns}, index=leads.index)
    if config.uses_job_title:
        titles = leads.get(config.job_title_column, pd.Series(pd.NA, index=leads.index))
        frame["seniority"] = seniority_from_title(titles)
    if config.uses_email:
        emails = leads.get(config.email_column, pd.Series(pd.NA, index=leads.index))
        frame = frame.join(email_domain_flags(emails, config))
    if config.missing_indicators:
        frame = frame.join(missing_indicators(leads=leads, config=config))
    return frame[config.categorical_columns() + config.demographic_numeric_columns()]


def build_feature_table(
    *,
    leads: pd.DataFrame,
    activities: pd.DataFrame | None,
    as_of: pd.Series,
    config: FeatureConfig,
) -> pd.DataFrame:
    """`lead_id`, `as_of` and every feature, one row per lead, as of each lead's moment.

    `as_of` is aligned with `leads` (same index). Training and batch scoring both call this.
    """
    demographic = build_demographic_features(leads=leads, config=config)
    parts = [
        pd.DataFrame({"lead_id": leads["lead_id"].astype(str), "as_of": as_of}, index=leads.index),
        demographic,
    ]
    if config.behavioural:
        events = activities if activities is not None else _no_activities()
        parts.append(
            build_behavioural_features(
                lead_ids=leads["lead_id"], as_of=as_of, activities=events, config=config
            )
        )
    table = pd.concat(parts, axis=1)
    return table.reset_index(drop=True)


def _no_activities() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": pd.Series(dtype=str),
            "occurred_at": pd.Series(dtype="datetime64[ns, UTC]"),
            "activity_type": pd.Series(dtype=str),
            "page": pd.Series(dtype=str),
        }
    )
