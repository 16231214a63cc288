"""Point-in-time feature table: one pure function used by training and scoring alike.

A lead is described as of a moment T: only activities with `occurred_at <= T` count.
A window of w days covers events with `T - w days <= occurred_at <= T` (both edges inside).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.vocabulary import (
    FORM_CONVERSION,
    FORM_CONVERSION_TYPES,
    HAND_RAISE,
    PAGE_VIEW,
    ROLE_KEYS,
    STANDARD_ACTIVITY_TYPES,
    UNSUBSCRIBE,
    canonical_slug,
    learn_activity_types,
    role_bits,
    slug,
    slug_map,
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
LEAD_AGE = "lead_age_days"


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
    # `lead_age_days` (days from created_at to the as-of moment) is a feature: set when the
    # training rows are snapshots of leads of every age. Last, so positional use stays valid.
    lead_age: bool = False
    # The activity vocabulary (see `features.vocabulary`), after the fields above so
    # positional use stays valid. `activity_types`: the slugs counted under their own name,
    # learned from the training data (`with_activity_types`); None (bundles from before the
    # open vocabulary): the standard types. Roles are names in the export's vocabulary or the
    # canonical one; `activity_type_map` is `source.activity_type_map`, applied again here so
    # that scoring counts an export's names as training did.
    max_activity_types: int = 20
    activity_types: tuple[str, ...] | None = None
    form_types: tuple[str, ...] = FORM_CONVERSION_TYPES
    unsubscribe_types: tuple[str, ...] = ("email_unsubscribe",)
    page_view_types: tuple[str, ...] = ("page_view",)
    activity_type_map: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_params(cls, features: Mapping[str, Any], *, behavioural: bool) -> FeatureConfig:
        """Build from a mapping like the `features` section of params.yaml (absent or null
        keys take this class's defaults; keys it does not know are ignored)."""
        names = {f.name for f in fields(cls)} - {"behavioural", "lead_age"}
        declared = {k: v for k, v in features.items() if k in names and v is not None}
        return cls(**declared, behavioural=behavioural).normalised()

    def normalised(self) -> FeatureConfig:
        """Tuples of text, excluded columns dropped, domains and page keywords lowercased;
        an empty `windows_days` or `hand_raiser_types` takes the default."""

        def strings(values: Sequence[Any]) -> tuple[str, ...]:
            return tuple(str(v) for v in values or ())

        excluded = set(strings(self.exclude))
        return replace(
            self,
            categorical=tuple(c for c in strings(self.categorical) if c not in excluded),
            numeric=tuple(c for c in strings(self.numeric) if c not in excluded),
            exclude=tuple(sorted(excluded)),
            competitor_domains=tuple(d.lower() for d in strings(self.competitor_domains)),
            personal_domains=tuple(d.lower() for d in strings(self.personal_domains)),
            student_domain_suffixes=tuple(d.lower() for d in strings(self.student_domain_suffixes)),
            windows_days=tuple(int(w) for w in self.windows_days or ())
            or FeatureConfig.windows_days,
            decay_half_life_days=float(self.decay_half_life_days),
            hand_raiser_types=strings(self.hand_raiser_types) or FeatureConfig.hand_raiser_types,
            page_categories={
                str(k): tuple(str(p).lower() for p in v) for k, v in self.page_categories.items()
            },
            lowercase_categories=bool(self.lowercase_categories),
            missing_indicators=tuple(
                c for c in strings(self.missing_indicators) if c not in excluded
            ),
            lead_age=bool(self.lead_age),
            max_activity_types=int(self.max_activity_types),
            activity_types=None if self.activity_types is None else strings(self.activity_types),
            form_types=strings(self.form_types),
            unsubscribe_types=strings(self.unsubscribe_types),
            page_view_types=strings(self.page_view_types),
            activity_type_map={str(k): str(v) for k, v in (self.activity_type_map or {}).items()},
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored with the model)."""
        out = asdict(self)
        out["page_categories"] = {k: list(v) for k, v in self.page_categories.items()}
        out["activity_type_map"] = dict(self.activity_type_map)
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
        for key in ("form_types", "unsubscribe_types", "page_view_types"):
            if key in data:
                data[key] = tuple(data[key] or ())
        if data.get("activity_types") is not None:
            data["activity_types"] = tuple(data["activity_types"])
        data["page_categories"] = {
            k: tuple(v) for k, v in (data.get("page_categories") or {}).items()
        }
        return cls(**data)

    def vocabulary(self) -> tuple[str, ...]:
        """The activity types with columns of their own (slugs), in table order."""
        return STANDARD_ACTIVITY_TYPES if self.activity_types is None else self.activity_types

    def reserved_type_slugs(self) -> set[str]:
        """Type slugs whose columns would clash with the page-category counts."""
        return {f"page_{c}" for c in self.page_categories}

    def roles(self) -> dict[str, tuple[str, ...]]:
        """The role lists by params key (hand-raise, form conversion, unsubscribe, page view)."""
        return {key: tuple(getattr(self, key)) for key in ROLE_KEYS}

    def with_activity_types(self, activity_types: pd.Series) -> FeatureConfig:
        """This configuration with its vocabulary learned from the training data's types."""
        learned = learn_activity_types(
            activity_types,
            max_types=self.max_activity_types,
            type_map=slug_map(self.activity_type_map),
            reserved=self.reserved_type_slugs(),
        )
        return replace(self, activity_types=learned)

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
        names = [f"n_{t}_{s}" for t in self.vocabulary() for s in spans]
        names += [f"n_other_{s}" for s in spans] + [f"n_events_{s}" for s in spans]
        names += [f"n_page_{c}_{s}" for c in self.page_categories for s in spans]
        names += [f"decayed_{t}" for t in self.vocabulary()]
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
            "days_since_last_hand_raise",
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

    def lead_age_columns(self) -> list[str]:
        """`lead_age_days` when the lead's age is a feature, else nothing."""
        return [LEAD_AGE] if self.lead_age else []

    def numeric_columns(self) -> list[str]:
        """Every numeric (float) feature, in table order."""
        return (
            self.demographic_numeric_columns() + self.lead_age_columns()
        ) + self.behavioural_columns()

    def feature_columns(self) -> list[str]:
        """Every model feature, in the order the model sees them."""
        return self.categorical_columns() + self.numeric_columns()


def _arrow(values: pd.Series | Sequence[str]) -> pa.Array:
    """Values as an Arrow array (dictionary-encoded stays dictionary-encoded)."""
    array = pa.array(values)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _as_large_string(array: pa.Array) -> pa.Array:
    """The values as plain Arrow large strings (a dictionary is decoded)."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array if array.type == pa.large_string() else pc.cast(array, pa.large_string())


def lookup_codes(
    values: pd.Series, keys: Sequence[str] | pd.Series, *, absent: int = -1
) -> np.ndarray:
    """Position of each value in `keys` (`absent` when not there or missing), hashed by Arrow.

    A dictionary-encoded column (Arrow dictionary, pandas categorical) is looked up once per
    dictionary entry.
    """
    key_set = _as_large_string(_arrow(keys if isinstance(keys, pd.Series) else pd.Series(keys)))
    array = _arrow(values)
    if pa.types.is_dictionary(array.type):
        in_keys = pc.index_in(_as_large_string(array.dictionary), value_set=key_set)
        per_entry = np.append(in_keys.fill_null(absent).to_numpy(zero_copy_only=False), absent)
        indices = array.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        return per_entry.astype(np.int64)[indices]
    codes = pc.index_in(_as_large_string(array), value_set=key_set)
    return codes.fill_null(absent).to_numpy(zero_copy_only=False).astype(np.int64)


def page_category_codes(
    pages: pd.Series, categories: Mapping[str, Sequence[str]], *, absent: int = -1
) -> np.ndarray:
    """Category index per page (first matching substring wins), `absent` for none or missing.

    Each distinct page is matched once (through a dictionary encoding of the column).
    """
    array = _arrow(pages)
    if not pa.types.is_dictionary(array.type):
        # a missing page gets an entry of its own, so the indices have no gaps to fill
        array = pc.dictionary_encode(_as_large_string(array), null_encoding="encode")
    unique_text = pd.Series(array.dictionary.to_pylist(), dtype="string").str.lower().tolist()
    per_unique = np.full(len(unique_text) + 1, absent, dtype=np.int64)  # last: missing page
    for index, patterns in reversed(list(enumerate(categories.values()))):
        if "|".join(patterns):  # no patterns (or one empty one) match nothing
            hit = [isinstance(t, str) and any(p in t for p in patterns) for t in unique_text]
            per_unique[:-1][np.array(hit, dtype=bool)] = index
    indices = array.indices.fill_null(len(unique_text)).to_numpy(zero_copy_only=False)
    return per_unique[indices]


def activity_type_codes(values: pd.Series, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per event: the index of its type in the vocabulary (its length for any other type or
    a missing one) and its role bits. Each distinct type is looked up once (by its slug,
    after `activity_type_map`), so an unseen type counts as "other" and plays no role."""
    array = _arrow(values)
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(_as_large_string(array))
    vocabulary = {name: index for index, name in enumerate(config.vocabulary())}
    type_map = slug_map(config.activity_type_map)
    bits = role_bits(config.roles(), type_map)
    names = array.dictionary.to_pylist()
    code_of_name = np.full(len(names) + 1, len(vocabulary), dtype=np.int64)  # last: missing
    role_of_name = np.zeros(len(names) + 1, dtype=np.uint8)
    for position, name in enumerate(names):
        key = canonical_slug(name, type_map)
        code_of_name[position] = vocabulary.get(key, len(vocabulary))
        role_of_name[position] = bits.get(key, 0)
    indices = array.indices.fill_null(len(names)).to_numpy(zero_copy_only=False)
    return code_of_name[indices], role_of_name[indices]


def epoch_ns(values: pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch (UTC) of a timestamp column, as read-only int64.

    A tz-aware column gives its UTC instants, whatever its zone; a naive one is read as UTC.
    A column already in nanoseconds is not copied (hence read-only).
    """
    ns = pd.DatetimeIndex(values).as_unit("ns").asi8.view()
    ns.flags.writeable = False
    return ns


def _active_days_per_lead(
    *, lead_pos: np.ndarray, day: np.ndarray, recent: np.ndarray, n_leads: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct days with events per lead: all of them, and those with a recent event.

    One sort serves both. Each event's (lead, day) key carries its `recent` flag as the lowest
    bit, so after sorting, the last event of a lead's day is recent if any of that day's are.
    """
    if lead_pos.size == 0:
        return np.zeros(n_leads), np.zeros(n_leads)
    first_day = int(day.min())
    days_span = int(day.max()) - first_day + 1
    # key = (lead_pos * days_span + day - first_day) * 2 + recent, built in place
    key = lead_pos * days_span
    key += day
    key -= first_day
    key <<= 1
    key |= recent
    if (n_leads * days_span) << 1 <= np.iinfo(np.int32).max:
        key = key.astype(np.int32)  # half the bytes: sorts about twice as fast
    key.sort()
    lead_day = key >> 1
    last_of_day = np.empty(key.size, dtype=bool)
    np.not_equal(lead_day[1:], lead_day[:-1], out=last_of_day[:-1])
    last_of_day[-1] = True
    day_key = key[last_of_day]  # one per lead and day: the key of its last event
    lead_of_day = (day_key >> 1) // days_span
    recent_day = (day_key & 1).astype(bool)
    return (
        np.bincount(lead_of_day, minlength=n_leads).astype(float),
        np.bincount(lead_of_day[recent_day], minlength=n_leads).astype(float),
    )


def _window_slots(
    *, age_ns: np.ndarray, lead_pos: np.ndarray, n_leads: int, windows_days: Sequence[int]
) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """Slot `age_bin * n_leads + lead_pos` of each event, and the age bin closing each span.

    Bins are the windows from the shortest up, then one for events outside every window.
    Windows nest, so the events up to a window's bin are its events, up to the last bin all.
    """
    edges_ns = np.sort(np.asarray(windows_days, dtype=np.int64)) * DAY_NS
    age_bin = np.zeros(age_ns.size, dtype=np.int8)
    for edge_ns in edges_ns:
        age_bin += age_ns > edge_ns  # an event exactly w days old is inside the w-day window
    slot = np.multiply(age_bin, n_leads, dtype=np.int64)
    slot += lead_pos
    spans = [(f"{w}d", int(np.searchsorted(edges_ns, w * DAY_NS))) for w in windows_days]
    return slot, [*spans, ("total", len(edges_ns))]


def _cumulative_counts(
    *, group: np.ndarray, slot: np.ndarray, n_groups: int, n_bins: int, n_leads: int
) -> np.ndarray:
    """Events per group, up to each age bin, per lead: int64 of shape (group, bin, lead)."""
    key = group * (n_bins * n_leads)
    key += slot
    counts = np.bincount(key, minlength=n_groups * n_bins * n_leads)
    counts = counts.reshape(n_groups, n_bins, n_leads)
    for b in range(1, n_bins):
        counts[:, b] += counts[:, b - 1]
    return counts


@dataclass(frozen=True)
class _VisibleEvents:
    """The events a lead's features may see, as parallel arrays in input order."""

    lead_pos: np.ndarray  # position of the lead in the feature table
    age_ns: np.ndarray  # as-of moment minus occurred_at (>= 0)
    type_code: np.ndarray  # index in the vocabulary; its length for any other type
    role: np.ndarray  # role bits of the event's type (`features.vocabulary`), uint8
    page_code: np.ndarray  # index in the page categories; their count for none
    day: np.ndarray  # day of occurred_at (days since the epoch)


def _visible_events(
    *, lead_ids: pd.Series, as_of: pd.Series, activities: pd.DataFrame, config: FeatureConfig
) -> _VisibleEvents:
    """Encode the activities and keep those of known leads at or before their as-of moment."""
    n_categories = len(config.page_categories)
    lead_pos = lookup_codes(activities["lead_id"], lead_ids)
    # Code len(vocabulary) is any other activity type, n_categories a page in no category.
    type_code, role = activity_type_codes(activities["activity_type"], config)
    if "page" in activities:
        page_code = page_category_codes(
            activities["page"], config.page_categories, absent=n_categories
        )
    else:
        page_code = np.full(len(activities), n_categories, dtype=np.int64)
    occurred_ns = epoch_ns(activities["occurred_at"])
    # An unknown lead (-1) gets the appended moment: any will do, its events are dropped.
    age_ns = np.append(epoch_ns(as_of), 0).take(lead_pos)
    age_ns -= occurred_ns
    # The point-in-time rule: an event counts only for a known lead, and only at or before
    # that lead's as-of moment T (age >= 0). Nothing below sees the other events.
    visible = (lead_pos >= 0) & (age_ns >= 0)
    # Boolean selection keeps the events in input order, so weighted sums add in that order.
    return _VisibleEvents(
        lead_pos=lead_pos[visible],
        age_ns=age_ns[visible],
        type_code=type_code[visible],
        role=role[visible],
        page_code=page_code[visible],
        day=occurred_ns[visible] // DAY_NS,
    )


def _count_columns(
    *,
    type_counts: np.ndarray,
    page_counts: np.ndarray,
    spans: list[tuple[str, int]],
    config: FeatureConfig,
) -> dict[str, np.ndarray]:
    """Event counts per activity type, in total and per page category, over each span."""
    n_types = len(config.vocabulary())
    columns: dict[str, np.ndarray] = {}
    for t_index, activity_type in enumerate(config.vocabulary()):
        for span, b in spans:
            columns[f"n_{activity_type}_{span}"] = type_counts[t_index, b]
    for span, b in spans:
        columns[f"n_other_{span}"] = type_counts[n_types, b]
    events = type_counts.sum(axis=0)
    for span, b in spans:
        columns[f"n_events_{span}"] = events[b]
    for c_index, category in enumerate(config.page_categories):
        for span, b in spans:
            columns[f"n_page_{category}_{span}"] = page_counts[c_index, b]
    return columns


def _decayed_columns(
    events: _VisibleEvents, *, n_leads: int, config: FeatureConfig
) -> dict[str, np.ndarray]:
    """Events weighted by 2 ** (-age / half-life): per type and summed (engagement score)."""
    n_types = len(config.vocabulary())
    # in place: dividing by -h gives the same float as negating and then dividing by h
    decay = events.age_ns / DAY_NS
    decay /= -config.decay_half_life_days
    np.exp2(decay, out=decay)
    per_type_key = events.lead_pos * (n_types + 1) + events.type_code
    decayed = np.bincount(per_type_key, weights=decay, minlength=n_leads * (n_types + 1))
    decayed = decayed.reshape(n_leads, n_types + 1)
    columns = {"engagement_score": decayed.sum(axis=1)}
    decayed_by_type = decayed.T.copy()  # one contiguous row per type: cheap to copy out
    for t_index, activity_type in enumerate(config.vocabulary()):
        columns[f"decayed_{activity_type}"] = decayed_by_type[t_index]
    return columns


def _engagement_columns(
    events: _VisibleEvents, *, n_leads: int, config: FeatureConfig
) -> dict[str, np.ndarray]:
    """Active days, returning visits, form conversions and unsubscribes."""
    lead_pos, day = events.lead_pos, events.day
    longest = max(config.windows_days)
    columns: dict[str, np.ndarray] = {}
    columns["active_days_total"], columns[f"active_days_{longest}d"] = _active_days_per_lead(
        lead_pos=lead_pos, day=day, recent=events.age_ns <= longest * DAY_NS, n_leads=n_leads
    )
    # A returning visitor viewed pages on two or more days: its first and last view days differ.
    is_view = (events.role & PAGE_VIEW) > 0
    view_lead, view_day = lead_pos[is_view], day[is_view]
    first_view_day = np.full(n_leads, np.iinfo(np.int64).max)
    np.minimum.at(first_view_day, view_lead, view_day)
    last_view_day = np.full(n_leads, np.iinfo(np.int64).min)
    np.maximum.at(last_view_day, view_lead, view_day)
    columns["is_returning_visitor"] = (last_view_day > first_view_day) * 1.0
    # Roles are read per event, so a role type counted as "other" (beyond the cap) still counts.
    is_form = (events.role & FORM_CONVERSION) > 0
    columns["n_form_conversions"] = np.bincount(lead_pos[is_form], minlength=n_leads) * 1.0
    is_unsub = (events.role & UNSUBSCRIBE) > 0
    columns["has_unsubscribed"] = (np.bincount(lead_pos[is_unsub], minlength=n_leads) > 0) * 1.0
    return columns


def _recency_columns(
    events: _VisibleEvents, *, n_leads: int, config: FeatureConfig
) -> dict[str, np.ndarray]:
    """Days since the first and the last activity and since the first and last hand-raise."""
    lead_pos, age_ns = events.lead_pos, events.age_ns
    # Extremes are taken in integer nanoseconds, then turned into days: the division is
    # monotonic, so this is the same float as the extreme of the per-event ages in days.
    first_age_ns = np.full(n_leads, -1)  # ages are >= 0: -1 means no event
    np.maximum.at(first_age_ns, lead_pos, age_ns)
    last_age_ns = np.full(n_leads, np.iinfo(np.int64).max)
    np.minimum.at(last_age_ns, lead_pos, age_ns)
    has_events = first_age_ns >= 0
    columns = {
        "days_since_first_activity": np.where(has_events, first_age_ns / DAY_NS, np.nan),
        "days_since_last_activity": np.where(has_events, last_age_ns / DAY_NS, np.nan),
    }
    is_raise = (events.role & HAND_RAISE) > 0
    first_raise_ns = np.full(n_leads, -1)
    np.maximum.at(first_raise_ns, lead_pos[is_raise], age_ns[is_raise])
    columns["is_hand_raiser"] = (first_raise_ns >= 0) * 1.0
    columns["days_since_first_hand_raise"] = np.where(
        first_raise_ns >= 0, first_raise_ns / DAY_NS, np.nan
    )
    # A hand-raise's pull fades: the newest one says whether sales can still act on it.
    last_raise_ns = np.full(n_leads, np.iinfo(np.int64).max)
    np.minimum.at(last_raise_ns, lead_pos[is_raise], age_ns[is_raise])
    columns["days_since_last_hand_raise"] = np.where(
        first_raise_ns >= 0, last_raise_ns / DAY_NS, np.nan
    )
    return columns


def build_behavioural_features(
    *,
    lead_ids: pd.Series,
    as_of: pd.Series,
    activities: pd.DataFrame,
    config: FeatureConfig,
) -> pd.DataFrame:
    """Behavioural features per lead from its activities at or before its as-of moment."""
    n = len(lead_ids)
    n_types, n_categories = len(config.vocabulary()), len(config.page_categories)
    events = _visible_events(lead_ids=lead_ids, as_of=as_of, activities=activities, config=config)
    slot, spans = _window_slots(
        age_ns=events.age_ns, lead_pos=events.lead_pos, n_leads=n, windows_days=config.windows_days
    )
    n_bins = len(config.windows_days) + 1
    type_counts = _cumulative_counts(
        group=events.type_code, slot=slot, n_groups=n_types + 1, n_bins=n_bins, n_leads=n
    )
    page_counts = _cumulative_counts(
        group=events.page_code, slot=slot, n_groups=n_categories + 1, n_bins=n_bins, n_leads=n
    )
    columns = _count_columns(
        type_counts=type_counts, page_counts=page_counts, spans=spans, config=config
    )
    columns |= _decayed_columns(events, n_leads=n, config=config)
    columns |= _engagement_columns(events, n_leads=n, config=config)
    columns |= _recency_columns(events, n_leads=n, config=config)
    # One float block, filled column by column: pandas keeps it as is, with no copy per column.
    names = config.behavioural_columns()
    block = np.empty((len(names), n))
    for row, name in enumerate(names):
        block[row] = columns[name]
    return pd.DataFrame(block.T, index=lead_ids.index, columns=names, copy=False)


def _distinct_text(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Values as text, factorized: a code per row (-1 when missing) and the distinct texts."""
    encoded = pc.dictionary_encode(_as_large_string(_arrow(values.astype("string"))))
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    return codes, pd.Series(encoded.dictionary.to_pylist(), dtype="string")


def seniority_from_title(titles: pd.Series) -> pd.Series:
    """Seniority level from a free-text job title (first matching rule wins)."""
    codes, distinct = _distinct_text(titles)
    unique_text = distinct.str.lower()  # once per distinct title
    level_of_unique = np.full(len(unique_text) + 1, SENIORITY_LEVELS.index("individual"))
    level_of_unique[-1] = SENIORITY_LEVELS.index("unknown")  # code -1: no title
    for level, pattern in reversed(SENIORITY_PATTERNS):
        hit = unique_text.str.contains(pattern, regex=True).fillna(False).to_numpy(bool)
        level_of_unique[:-1][hit] = SENIORITY_LEVELS.index(level)
    return pd.Series(
        pd.Categorical.from_codes(level_of_unique[codes], categories=SENIORITY_LEVELS),
        index=titles.index,
        name="seniority",
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


def _category_of_text(values: pd.Series, *, lowercase: bool) -> pd.Series:
    """Values as trimmed (optionally lower-cased) text categories; blank text is missing."""
    codes, distinct = _distinct_text(values)
    text = distinct.str.strip()  # cleaned once per distinct value
    if lowercase:
        text = text.str.lower()  # "Google" and "google" are one source
    categories = text.where(text != "").astype("category")
    code_of_unique = np.append(categories.cat.codes.to_numpy(), -1)  # code -1: missing value
    return pd.Series(
        pd.Categorical.from_codes(code_of_unique[codes], dtype=categories.dtype),
        index=values.index,
    )


def build_demographic_features(*, leads: pd.DataFrame, config: FeatureConfig) -> pd.DataFrame:
    """Declared attribute columns (typed), e-mail domain flags, seniority, missing indicators."""
    columns: dict[str, pd.Series] = {}
    for name in config.categorical:
        values = leads[name] if name in leads else pd.Series(pd.NA, index=leads.index)
        columns[slug(name)] = _category_of_text(values, lowercase=config.lowercase_categories)
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
    if config.lead_age:
        parts.append(lead_age_days(leads=leads, as_of=as_of))
    if config.behavioural:
        events = activities if activities is not None else _no_activities()
        parts.append(
            build_behavioural_features(
                lead_ids=leads["lead_id"], as_of=as_of, activities=events, config=config
            )
        )
    table = pd.concat(parts, axis=1)
    return table.reset_index(drop=True)


def lead_age_days(*, leads: pd.DataFrame, as_of: pd.Series) -> pd.DataFrame:
    """Days from created_at to the as-of moment (missing without a creation time)."""
    if "created_at" not in leads:
        return pd.DataFrame({LEAD_AGE: np.nan}, index=leads.index, dtype=float)
    age_ns = epoch_ns(as_of) - epoch_ns(leads["created_at"])
    age = age_ns / DAY_NS
    age[pd.isna(as_of).to_numpy() | pd.isna(leads["created_at"]).to_numpy()] = np.nan
    return pd.DataFrame({LEAD_AGE: age}, index=leads.index)


def _no_activities() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": pd.Series(dtype=str),
            "occurred_at": pd.Series(dtype="datetime64[ns, UTC]"),
            "activity_type": pd.Series(dtype=str),
            "page": pd.Series(dtype=str),
        }
    )
