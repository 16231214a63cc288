"""What the batch scoring job is told and what it writes: settings, the loaded model, the
thresholds in force, the output columns. Light on purpose (no LightGBM, MLflow or pandera):
the scoring command reads its settings and starts its workers before importing those.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from models.reasons import REASONS_PATH

if TYPE_CHECKING:
    from models.bundle import ScoringBundle

OUTPUT_COLUMNS = [
    "lead_id",
    "probability",
    "stage",
    "rule_score",
    "rule_stage",
    "reasons",
    "model_version",
    "thresholds_status",
    "scored_at",
    "lead_age_days",
]
LEARNED_POINTS = "learned_points"  # after rule_stage, only when the model has a learned card
APPROVED_STATUS, PROPOSED_STATUS = "approved", "proposed"  # as pipelines.thresholds.approvals
SEGMENT = "segment"  # after lead_age_days, only when the thresholds are per segment
NO_SEGMENT = "(missing)"  # the summary's name for leads without a segment value
PREVIOUS_STAGE = "previous_stage"  # the output's last column with `--previous`
SKIPPED_CONVERTED = "converted at or before the as-of moment"
SKIPPED_NOT_CREATED = "created after the as-of moment (not open yet)"
TABLES = ("leads", "activities", "outcomes")


def output_columns(*, learned: bool, segmented: bool = False) -> list[str]:
    """The output's columns: `learned_points` after `rule_stage` when the model has a card,
    `segment` after `lead_age_days` when its thresholds are per segment."""
    columns = list(OUTPUT_COLUMNS)
    if learned:
        at = OUTPUT_COLUMNS.index("rule_stage") + 1
        columns = [*OUTPUT_COLUMNS[:at], LEARNED_POINTS, *OUTPUT_COLUMNS[at:]]
    return [*columns, SEGMENT] if segmented else columns


@dataclass(frozen=True)
class ScoreSettings:
    """The `score` section of params.yaml."""

    chunk_size: int = 50_000
    max_bad_row_share: float = 0.05
    psi_warn: float = 0.2
    top_reasons: int = 3
    reasons_method: str = REASONS_PATH
    max_future_skew_hours: float = 24.0
    workers: int = 2

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ScoreSettings:
        """Build from params.yaml (missing keys take the defaults above)."""
        score = params.get("score") or {}
        extract = params.get("extract") or {}
        return cls(
            chunk_size=int(score.get("chunk_size", cls.chunk_size)),
            max_bad_row_share=float(score.get("max_bad_row_share", cls.max_bad_row_share)),
            psi_warn=float(score.get("psi_warn", cls.psi_warn)),
            top_reasons=int(score.get("top_reasons", cls.top_reasons)),
            reasons_method=str(score.get("reasons_method", cls.reasons_method)),
            max_future_skew_hours=float(
                extract.get("max_future_skew_hours", cls.max_future_skew_hours)
            ),
            workers=int(score.get("workers", cls.workers)),
        )

    def latest_event(self, as_of: pd.Timestamp) -> pd.Timestamp:
        """Events after this moment are in the future (bad rows): now or the as-of moment,
        whichever is later, plus the clock skew `extract.max_future_skew_hours` allows."""
        now = pd.Timestamp.now(tz="UTC")
        return max(now, as_of) + pd.Timedelta(hours=self.max_future_skew_hours)


@dataclass(frozen=True)
class LoadedModel:
    """The scoring bundle behind a model URI, and which registered version it is."""

    uri: str
    scorer: ScoringBundle
    version: str
    registered_name: str | None
    run_id: str | None

    @property
    def learned(self) -> bool:
        """Whether the bundle holds a learned points card (the output then has its points)."""
        return getattr(self.scorer, "learned", None) is not None

    @property
    def segmented(self) -> bool:
        """Whether the bundle's thresholds are per segment (the output then has `segment`)."""
        return bool(getattr(self.scorer, "segment_column", None))

    @property
    def extras(self) -> dict[str, bool]:
        """Which optional columns the output has for this model (`output_columns`)."""
        return {"learned": self.learned, "segmented": self.segmented}

    @property
    def output_columns(self) -> list[str]:
        """The output's columns for this model."""
        return output_columns(**self.extras)


@dataclass(frozen=True)
class Thresholds:
    """Stage thresholds in force for this run and where they come from."""

    mql: float
    sql: float
    status: str
    approved_by: str | None = None
    approved_at: str | None = None
    # approved per-segment thresholds: {value: {mql_threshold, sql_threshold, approved_by, ...}}
    segments: dict[str, dict[str, Any]] = field(default_factory=dict)

    def override(self) -> dict[str, Any]:
        """The thresholds as the scoring bundle takes them (`ScoringBundle.score`)."""
        return {"mql_threshold": self.mql, "sql_threshold": self.sql, "segments": self.segments}

    def row_status(self, segments: pd.Series, own: Collection[str]) -> np.ndarray:
        """`thresholds_status` per row: approved for a segment approved on its own, proposed
        for one with proposed thresholds of its own (`own`), else that of the global ones."""
        status = np.full(len(segments), self.status, dtype=object)
        status[segments.isin(list(own)).to_numpy(dtype=bool)] = PROPOSED_STATUS
        status[segments.isin(list(self.segments)).to_numpy(dtype=bool)] = APPROVED_STATUS
        return status
