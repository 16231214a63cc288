"""What the local engine writes: the scores (CSV or Parquet, chunk by chunk) and the quarantine,
in the run's temporary directory, renamed into place once the run has succeeded."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.io import ParquetChunkWriter
from pipelines.scoring.settings import LEARNED_POINTS, PREVIOUS_STAGE, SEGMENT


class OutputWriter:
    """Scored chunks appended to a temporary CSV or Parquet file (renamed by the caller)."""

    def __init__(self, path: Path, *, fmt: str) -> None:
        self.path = path
        self.fmt = fmt
        self._parquet = ParquetChunkWriter(path) if fmt == "parquet" else None
        self._header = True

    def write(self, frame: pd.DataFrame) -> None:
        """Append one chunk."""
        if self._parquet is not None:
            if len(frame) or self._parquet._writer is None:
                self._parquet.write(frame)
            return
        if len(frame) or self._header:
            out = frame.assign(scored_at=frame["scored_at"].map(pd.Timestamp.isoformat))
            out.to_csv(
                self.path, mode="w" if self._header else "a", header=self._header, index=False
            )
            self._header = False

    def close(self) -> None:
        """Finish the file."""
        if self._parquet is not None:
            self._parquet.close()


def empty_output(
    *, with_previous: bool = False, learned: bool = False, segmented: bool = False
) -> pd.DataFrame:
    """The output's columns with their types and no rows (`previous_stage` with `--previous`,
    `learned_points` when the model has a learned card, `segment` with per-segment
    thresholds)."""
    text = pd.Series(dtype="str")
    columns = {
        "lead_id": text,
        "probability": pd.Series(dtype=float),
        "stage": text,
        "rule_score": pd.Series(dtype=float),
        "rule_stage": text,
        LEARNED_POINTS: pd.Series(dtype=float),
        "reasons": text,
        "model_version": text,
        "thresholds_status": text,
        "scored_at": pd.Series(dtype="datetime64[ns, UTC]"),
        "lead_age_days": pd.Series(dtype=float),
    }
    if segmented:
        columns[SEGMENT] = text
    if with_previous:
        columns[PREVIOUS_STAGE] = text
    if not learned:
        del columns[LEARNED_POINTS]
    return pd.DataFrame(columns)


def start_quarantine(path: Path) -> Path:
    """A quarantine file with its header and no rows yet (bad rows are appended)."""
    from features.validation import QUARANTINE_COLUMNS  # pandera: once the workers are busy

    pd.DataFrame(columns=QUARANTINE_COLUMNS).to_csv(path, index=False)
    return path


def publish(temporary: Path, path: Path) -> Path:
    """Rename a finished temporary file into place (readable by all, as `atomic_path` makes)."""
    temporary.chmod(0o644)
    temporary.replace(path)
    return path
