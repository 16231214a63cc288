"""The `leadscore` command line: every stage and job as a small Typer command."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import typer

from pipelines import calibrate, evaluate, extract, featurize, generate, train
from pipelines.errors import LeadscoreError

app = typer.Typer(
    name="leadscore",
    help="Calibrated, point-in-time lead scoring: stages, scoring and threshold approval.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def configure(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Set up logging once per command (never at import time)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("alembic", "mlflow", "urllib3", "git", "numexpr"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def guarded(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command; a LeadscoreError becomes one line on stderr and its exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LeadscoreError as exc:
            typer.echo(f"leadscore: error: {exc}", err=True)
            raise typer.Exit(code=exc.exit_code) from None

    return wrapper


app.command("generate", help="Write the synthetic CRM export (source.kind: synthetic).")(
    guarded(generate.main)
)
app.command("extract", help="Validate the export; write clean tables and the quarantine.")(
    guarded(extract.main)
)
app.command("features", help="Label leads as of T, build point-in-time features, split cohorts.")(
    guarded(featurize.main)
)
app.command("train", help="Train LightGBM on the train cohort; open the MLflow run.")(
    guarded(train.main)
)
app.command("calibrate", help="Calibrate probabilities; propose MQL/SQL thresholds.")(
    guarded(calibrate.main)
)
app.command("evaluate", help="Model vs points on the test cohort; register; promotion gate.")(
    guarded(evaluate.main)
)
