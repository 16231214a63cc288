"""Activity types: the canonical names, an export's own names, and the roles they play.

An export may name its events its own way ("Meeting Booked", "Fill Out Form"). The feature
builder counts the types the training data actually has (`learn_activity_types`), each under
the slug of its name; `source.activity_type_map` maps an export's names to canonical ones;
the roles (hand-raise, form conversion, unsubscribe, page view) are lists of names in either
vocabulary. Names are compared by slug, so "Meeting Booked" and "meeting_booked" are one.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

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
# words that name count columns of their own (`n_other_7d`, `n_events_7d`): never a type's
RESERVED_TYPE_SLUGS = frozenset({"other", "events"})
# role bits of an event (`activity_roles`)
HAND_RAISE, FORM_CONVERSION, UNSUBSCRIBE, PAGE_VIEW = 1, 2, 4, 8
ROLE_KEYS: dict[str, int] = {
    "hand_raiser_types": HAND_RAISE,
    "form_types": FORM_CONVERSION,
    "unsubscribe_types": UNSUBSCRIBE,
    "page_view_types": PAGE_VIEW,
}


def slug(name: str) -> str:
    """A column name LightGBM and MLflow accept: lower snake case, ascii only."""
    text = re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_").lower()
    return text or "column"


def slug_pattern(pattern: str) -> str:
    """A glob pattern with its names slugged and its wildcards kept ("n_Meeting Booked_*d"
    -> "n_meeting_booked_*d")."""
    parts = re.split(r"([*?\[\]])", str(pattern))
    return "".join(
        p if p in "*?[]" and p else re.sub(r"[^0-9a-zA-Z_]+", "_", p).lower() for p in parts
    )


def slug_map(type_map: Mapping[str, str]) -> dict[str, str]:
    """`source.activity_type_map` keyed and valued by slug; a chain (a target that is itself
    mapped elsewhere) is refused, so mapping twice gives what mapping once does."""
    mapped = {slug(k): slug(v) for k, v in (type_map or {}).items()}
    chained = sorted(k for k, v in mapped.items() if mapped.get(v, v) != v)
    if chained:
        raise ValueError(
            f"source.activity_type_map maps {chained} to names that are mapped again;"
            " map every name straight to its canonical one"
        )
    return mapped


def canonical_slug(name: object, type_map: Mapping[str, str]) -> str | None:
    """The slug a raw activity type is counted under (after the slugged map); None if missing."""
    if name is None or (isinstance(name, float) and np.isnan(name)) or name is pd.NA:
        return None
    key = slug(str(name))
    return type_map.get(key, key)


def apply_type_map(values: pd.Series, type_map: Mapping[str, str]) -> pd.Series:
    """Activity types with the export's names replaced by the canonical ones (matched by
    slug); names not in the map are kept as written. A categorical stays categorical."""
    mapped = slug_map(type_map)
    if not mapped:
        return values

    def target(name: object) -> object:
        key = canonical_slug(name, {})
        return mapped.get(key, name) if key is not None else name

    if isinstance(values.dtype, pd.CategoricalDtype):
        names = pd.Index([target(c) for c in values.cat.categories])
        uniques = pd.Index(names.unique())
        codes = np.append(uniques.get_indexer(names), -1)[values.cat.codes.to_numpy()]
        return pd.Series(pd.Categorical.from_codes(codes, categories=uniques), index=values.index)
    distinct = pd.unique(values.dropna())
    lookup = {name: target(name) for name in distinct}
    return values.map(lookup).astype(values.dtype)


def learn_activity_types(
    activity_types: pd.Series,
    *,
    max_types: int,
    type_map: Mapping[str, str],
    reserved: Iterable[str] = (),
) -> tuple[str, ...]:
    """The activity types that get columns of their own: the `max_types` most frequent (by
    slug, ties by name), standard types first in their standard order, then the others from
    the most frequent. On an export with the canonical names this is the standard types
    present, in the standard order, so its feature table is the one of a fixed vocabulary."""
    counts = activity_types.value_counts(dropna=True)
    per_slug: dict[str, int] = {}
    skip = RESERVED_TYPE_SLUGS | set(reserved)
    for name, count in counts.items():
        key = canonical_slug(name, type_map)
        if key is not None and key not in skip and count > 0:
            per_slug[key] = per_slug.get(key, 0) + int(count)
    ranked = sorted(per_slug, key=lambda k: (-per_slug[k], k))[: max(int(max_types), 0)]
    kept = set(ranked)
    standard = [t for t in STANDARD_ACTIVITY_TYPES if t in kept]
    return (*standard, *(t for t in ranked if t not in STANDARD_ACTIVITY_TYPES))


def role_bits(roles: Mapping[str, Sequence[str]], type_map: Mapping[str, str]) -> dict[str, int]:
    """Role bits per canonical slug, from lists of names in either vocabulary."""
    bits: dict[str, int] = {}
    for key, names in roles.items():
        for name in names:
            canonical = canonical_slug(name, type_map)
            if canonical is not None:
                bits[canonical] = bits.get(canonical, 0) | ROLE_KEYS[key]
    return bits


_TYPE_IN_COLUMN = (re.compile(r"n_(.+)_(?:\d+d|total)"), re.compile(r"decayed_(.+)"))


def named_types_in_patterns(patterns: Sequence[str]) -> list[tuple[str, str]]:
    """(pattern, activity type) for each pattern naming one type's column outright
    ("n_demo_request_total", "decayed_Meeting Booked"); wildcard patterns name none."""
    named = []
    for pattern in patterns:
        if any(c in str(pattern) for c in "*?["):
            continue
        for regex in _TYPE_IN_COLUMN:
            if match := regex.fullmatch(slug_pattern(pattern)):
                named.append((str(pattern), match[1]))
                break
    return named


def unknown_activity_names(
    named: Mapping[str, Sequence[str]],
    *,
    present: pd.Series,
    type_map: Mapping[str, str],
    not_types: Iterable[str] = (),
) -> dict[str, list[str]]:
    """Per params key, the activity names it lists that never occur in `present` (the
    training data's activity types), compared by slug after the map. `not_types`: words a
    column pattern may name that are not activity types (`other`, `events`, `page_pricing`)."""
    seen = {canonical_slug(n, type_map) for n in pd.unique(present.dropna())}
    seen |= RESERVED_TYPE_SLUGS | set(not_types)
    unknown = {}
    for key, names in named.items():
        missing = [str(n) for n in names if canonical_slug(n, type_map) not in seen]
        if missing:
            unknown[key] = list(dict.fromkeys(missing))
    return unknown


def matches_any(name: str, patterns: Sequence[str]) -> bool:
    """Whether a feature name matches a glob pattern, as written or with its names slugged."""
    return any(
        fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(name, slug_pattern(p)) for p in patterns
    )
