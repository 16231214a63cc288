"""`leadscore monitor`: did the scores issued convert as the thresholds in force promised?"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from pipelines.io import atomic_path, utc_moment, write_json, write_table
from pipelines.monitor.inputs import read_feedback, read_outcomes, read_scores
from pipelines.monitor.model_info import scoring_model
from pipelines.monitor.outcomes import build_monitor, model_version_of
from pipelines.monitor.page import render_monitor
from pipelines.tracking import MODEL_NAME

logger = logging.getLogger(__name__)

PATH = "PATH"


def main(
    scores: Annotated[Path, typer.Option(metavar=PATH, help="A `leadscore score` output.")],
    outcomes: Annotated[
        Path, typer.Option(metavar=PATH, help="Conversions known since (lead_id, converted_at).")
    ],
    output: Annotated[Path, typer.Option(metavar="DIR", help="Writes monitor.json and .html.")],
    feedback: Annotated[
        Path | None,
        typer.Option(metavar=PATH, help="Sales decisions (lead_id, decided_at, accepted, reason)."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Count what is known at this ISO 8601 moment (default now).")
    ] = None,
    horizon_days: Annotated[
        float | None,
        typer.Option(min=0.0, help="Conversion horizon (default: the scoring model's label)."),
    ] = None,
    model_name: Annotated[str, typer.Option(help="Registered model name.")] = MODEL_NAME,
) -> None:
    """Check past scores against the conversions and sales decisions known as of a moment."""
    moment = pd.Timestamp.now(tz="UTC") if as_of is None else utc_moment(as_of, what="--as-of")
    scored, start_from = read_scores(scores)
    clean_outcomes, bad_outcomes = read_outcomes(outcomes)
    clean_feedback, bad_feedback = read_feedback(feedback) if feedback else (None, None)
    model = scoring_model(
        name=model_name, version=model_version_of(scored), horizon_override=horizon_days
    )
    result = build_monitor(
        scores=scored,
        start_from=start_from,
        outcomes=clean_outcomes,
        feedback=clean_feedback,
        model=model,
        as_of=moment,
    )
    result["inputs"] = {
        "scores": str(scores),
        "outcomes": str(outcomes),
        "feedback": None if feedback is None else str(feedback),
    }
    result["quarantined"] = {
        "outcomes": len(bad_outcomes),
        "feedback": None if bad_feedback is None else len(bad_feedback),
    }
    output.mkdir(parents=True, exist_ok=True)
    write_table(bad_outcomes, output / "outcomes_quarantine.csv")
    if bad_feedback is not None:
        write_table(bad_feedback, output / "feedback_quarantine.csv")
    write_json(result, output / "monitor.json")
    with atomic_path(output / "monitor.html") as tmp:
        tmp.write_text(render_monitor(result), encoding="utf-8")
    sql = result["stages"]["SQL"]
    logger.info(
        "monitor: %d leads scored %s; SQL %s of %s converted so far (promised %s); horizon %s",
        result["leads"],
        result["window_start"][:10],
        sql["converted"],
        sql["leads"],
        "–" if sql["promised"] is None else f"{sql['promised']:.1%}",
        "complete" if result["horizon_complete"] else "not complete",
    )
    typer.echo(f"{output / 'monitor.json'}\n{output / 'monitor.html'}")
