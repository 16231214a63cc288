"""The scoring job's command-line options, declared once.

`leadscore score` (`pipelines.scoring.command.main`) and the Spark engine's spark-submit entry
point (`pipelines.scoring.spark.main_spark`) take the same options. Paths are kept as text,
shown as <path>: the local engine makes them `Path`s, the Spark engine passes them to Spark as
they are (a `Path` would turn `s3a://bucket/leads` into `s3a:/bucket/leads`).
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from pipelines.tracking import MODEL_NAME

DEFAULT_MODEL_URI = f"models:/{MODEL_NAME}@champion"
DEFAULT_PARAMS = "params.yaml"
PATH = "<path>"

Leads = Annotated[str, typer.Option(metavar=PATH, help="Leads file (CSV or Parquet).")]
Output = Annotated[
    str, typer.Option(metavar=PATH, help="Scores file (.csv or .parquet), written atomically.")
]
Activities = Annotated[
    str | None, typer.Option(metavar=PATH, help="Activities file (CSV or Parquet).")
]
Outcomes = Annotated[
    str | None,
    typer.Option(metavar=PATH, help="Outcomes file: converted leads are not scored."),
]
AsOf = Annotated[
    str | None, typer.Option(help="Score as of this ISO 8601 moment (default: now, UTC).")
]
Model = Annotated[
    str, typer.Option(help="MLflow model URI (models:/name@alias, models:/name/N, runs:/).")
]
Previous = Annotated[
    str | None,
    typer.Option(
        metavar=PATH,
        help="The last run's output (CSV or Parquet): adds previous_stage; the summary counts"
        " the leads entering and leaving each stage.",
    ),
]
Quarantine = Annotated[
    str | None,
    typer.Option(metavar=PATH, help="Bad rows with reasons (default: beside the output)."),
]
ChunkSize = Annotated[
    int | None, typer.Option(min=1, help="Leads per chunk (default: score.chunk_size).")
]
FailOnDrift = Annotated[bool, typer.Option(help="Exit 4 when a PSI is above score.psi_warn.")]
Reasons = Annotated[
    str | None, typer.Option(help="Reasons method: path (fast) or shap (exact, ~25x slower).")
]
Workers = Annotated[
    int | None, typer.Option(min=1, help="Processes scoring chunks (default: score.workers, 2).")
]
Params = Annotated[str, typer.Option(metavar=PATH, help="params.yaml (score and source sections).")]
Engine = Annotated[
    Literal["local", "spark"],
    typer.Option(help="local, or spark: Parquet in, a Parquet directory out (see README)."),
]
RequireApproved = Annotated[
    bool,
    typer.Option(
        help="Exit 4, writing nothing, unless the thresholds in force are approved"
        " (production jobs)."
    ),
]
Record = Annotated[
    bool,
    typer.Option(
        help="Record the run in MLflow's `scoring` experiment: model, thresholds, counts,"
        " drift, the summary (local engine)."
    ),
]
LogScores = Annotated[
    bool,
    typer.Option(help="Also attach the scores file to the recorded run (off: it lists leads)."),
]
