"""Stage changes since the last run (`leadscore score --previous PATH`).

The last run's output (Parquet or CSV, by extension) is read for its `lead_id` and `stage`
columns only and partitioned by lead with the inputs' bucket scheme
(`pipelines.scoring.partition`), so each bucket joins its own slice of it and memory stays flat
however large the lead base. Each scored lead gets its `previous_stage` (null when it was not in
the last output); per stage the run counts the leads entering it (in the stage now, another
stage or none before) and leaving it (in the stage before, another stage now, or not scored
any more: converted, no longer in the export, quarantined).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.stages import STAGE_ORDER
from pipelines.errors import InputError
from pipelines.scoring.partition import TableSource, canonical_names, source_columns
from pipelines.scoring.settings import PREVIOUS_STAGE

PREVIOUS = "previous"  # the table's name among the partitioned inputs
PREVIOUS_COLUMNS = ("lead_id", "stage")


def previous_source(path: Path) -> TableSource:
    """The last run's output as a partitioned input: its lead_id and stage columns only.

    Written by leadscore, so canonical names and default CSV options (not the `source` ones)."""
    return TableSource(
        name=PREVIOUS, path=path, required=PREVIOUS_COLUMNS, columns=PREVIOUS_COLUMNS
    )


def check_previous(source: TableSource) -> None:
    """Structural checks before any work: a readable CSV or Parquet file with both columns."""
    try:
        canonical_names(source, source_columns(source))
    except InputError as exc:
        message = str(exc).removeprefix(f"{PREVIOUS}: ")
        raise InputError(f"--previous {source.path}: {message} (expected: a scores file)") from exc


def clean_previous(frame: pd.DataFrame, *, path: str) -> pd.DataFrame:
    """One bucket's slice of the previous output: `lead_id` (stripped text) and `stage`.

    A missing id or stage, a stage that is not one of ours, or a lead twice is a malformed
    scores file: an InputError (a lead's rows all land in one bucket, so each is seen)."""
    ids = frame["lead_id"].astype("str").str.strip()
    stages = frame["stage"].astype("str").str.strip()
    fault = None
    if ids.isna().any() or (ids == "").any():
        fault = "a row has no lead_id"
    elif not (known := stages.isin(STAGE_ORDER)).all():
        value = stages[~known].iloc[0]
        fault = "a row has no stage" if pd.isna(value) else f"unknown stage {value!r}"
    elif (duplicated := ids.duplicated()).any():
        fault = f"lead {ids[duplicated].iloc[0]!r} is there twice"
    if fault is not None:
        raise InputError(f"--previous {path}: not a scores file ({fault})")
    return pd.DataFrame({"lead_id": ids.array, "stage": stages.array})


def with_previous_stage(scored: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """`scored` with its `previous_stage` column (null for leads absent from `previous`)."""
    stages = np.full(len(scored), None, dtype=object)
    if previous is not None and len(previous) and len(scored):
        position = pd.Index(previous["lead_id"]).get_indexer(scored["lead_id"])
        found = position >= 0
        stages[found] = previous["stage"].to_numpy()[position[found]]
    return scored.assign(**{PREVIOUS_STAGE: pd.array(stages, dtype="str")})


def stage_changes(scored: pd.DataFrame, previous: pd.DataFrame | None) -> dict[str, dict[str, int]]:
    """Counts of one bucket (`scored` has `previous_stage`): leads `entering` and `leaving`
    each stage, and the `previous` output's leads scored again, new, or no longer scored."""
    now = scored["stage"].astype("str").to_numpy(dtype=object)
    before = scored[PREVIOUS_STAGE].astype("str")
    was_there = before.notna().to_numpy()
    before = before.to_numpy(dtype=object)
    moved = ~was_there | (now != before)
    leaving = pd.Series(before[moved & was_there]).value_counts()
    gone = 0
    if previous is not None and len(previous):
        still_there = pd.Index(scored["lead_id"]).get_indexer(previous["lead_id"]) >= 0
        gone = int((~still_there).sum())
        leaving = leaving.add(previous["stage"][~still_there].value_counts(), fill_value=0)
    return {
        "entering": counts_of(pd.Series(now[moved]).value_counts()),
        "leaving": counts_of(leaving),
        "previous": {
            "rows": 0 if previous is None else len(previous),
            "scored_again": int(was_there.sum()),
            "new": int((~was_there).sum()),
            "no_longer_scored": gone,
        },
    }


def counts_of(counts: pd.Series) -> dict[str, int]:
    """Value counts as a plain dict of ints."""
    return {str(key): int(value) for key, value in counts.items()}
