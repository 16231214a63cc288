"""`leadscore score`: every open lead scored with the registered model, streamed in chunks.

The command reads its options (`pipelines.scoring.options`) and hands the job to an engine:
`pipelines.scoring.local` on this machine (the default), or `pipelines.scoring.spark` with
`--engine spark` (imported then only: the local engine never needs pyspark). Both engines
share the job's inputs, model, thresholds, summary and gates (`pipelines.scoring.job`).
"""

from __future__ import annotations

from pipelines.scoring.local import main_local
from pipelines.scoring.options import (
    DEFAULT_MODEL_URI,
    DEFAULT_PARAMS,
    Activities,
    AsOf,
    ChunkSize,
    Engine,
    FailOnDrift,
    Leads,
    LogScores,
    Model,
    Outcomes,
    Output,
    Params,
    Previous,
    Quarantine,
    Reasons,
    Record,
    RequireApproved,
    Workers,
)


def main(
    leads: Leads,
    output: Output,
    activities: Activities = None,
    outcomes: Outcomes = None,
    as_of: AsOf = None,
    model: Model = DEFAULT_MODEL_URI,
    quarantine: Quarantine = None,
    chunk_size: ChunkSize = None,
    fail_on_drift: FailOnDrift = False,
    reasons: Reasons = None,
    workers: Workers = None,
    params: Params = DEFAULT_PARAMS,
    engine: Engine = "local",
    previous: Previous = None,
    require_approved: RequireApproved = False,
    record: Record = True,
    log_scores: LogScores = False,
) -> None:
    """Score every open lead with the registered model; stream in chunks; atomic output."""
    options = {
        "leads": str(leads),
        "output": str(output),
        "activities": None if activities is None else str(activities),
        "outcomes": None if outcomes is None else str(outcomes),
        "as_of": as_of,
        "model": model,
        "quarantine": None if quarantine is None else str(quarantine),
        "chunk_size": chunk_size,
        "fail_on_drift": fail_on_drift,
        "reasons": reasons,
        "params": str(params),
        "previous": None if previous is None else str(previous),
        "require_approved": require_approved,
    }
    if engine == "spark":  # imported here only: the local engine never needs pyspark
        from pipelines.scoring.spark import main_spark

        return main_spark(**options)
    return main_local(**options, workers=workers, record=record, log_scores=log_scores)
