"""What the batch scoring job is told and what it writes: settings, the loaded model, the
thresholds in force, the output columns. Light on purpose (no LightGBM, MLflow or pandera):
the scoring command reads its settings and starts its workers before importing those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
PREVIOUS_STAGE = "previous_stage"  # the output's last column with `--previous`
SKIPPED_CONVERTED = "converted at or before the as-of moment"
SKIPPED_NOT_CREATED = "created after the as-of moment (not open yet)"
TABLES = ("leads", "activities", "outcomes")


def output_columns(*, learned: bool) -> list[str]:
    """The output's columns: `learned_points` after `rule_stage` when the model has a card."""
    if not learned:
        return list(OUTPUT_COLUMNS)
    at = OUTPUT_COLUMNS.index("rule_stage") + 1
    return [*OUTPUT_COLUMNS[:at], LEARNED_POINTS, *OUTPUT_COLUMNS[at:]]


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
    def output_columns(self) -> list[str]:
        """The output's columns for this model."""
        return output_columns(learned=self.learned)


@dataclass(frozen=True)
class Thresholds:
    """Stage thresholds in force for this run and where they come from."""

    mql: float
    sql: float
    status: str
    approved_by: str | None = None
    approved_at: str | None = None
