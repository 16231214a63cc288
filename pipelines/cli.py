"""The `leadscore` command line: every stage and job as a small Typer command."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from pipelines import (
    calibrate,
    evaluate,
    extract,
    featurize,
    generate,
    report,
    score,
    thresholds_cli,
    train,
)
from pipelines.config import apply_overrides
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

params_app = typer.Typer(help="Point the pipeline at another export by params alone.")
app.add_typer(params_app, name="params")


@params_app.command("apply")
@guarded
def apply_params(
    override: Annotated[Path, typer.Argument(help="Override file, e.g. params/datasets/x.yaml.")],
    params: Annotated[Path, typer.Option(help="The params.yaml to update.")] = Path("params.yaml"),
) -> None:
    """Write the override's section.key values into params.yaml (comments kept)."""
    changed = apply_overrides(params_path=params, override_path=override)
    typer.echo(f"{params}: {len(changed)} keys set from {override}: {', '.join(changed)}")


app.command("score", help="Score every open lead with the registered model (streamed, atomic).")(
    guarded(score.main)
)
app.command("report", help="Write the marketing report (HTML) on the test cohort.")(
    guarded(report.main)
)

thresholds_app = typer.Typer(
    help="Show the proposed and approved stage thresholds; approve them.", no_args_is_help=True
)
app.add_typer(thresholds_app, name="thresholds")
thresholds_app.command("show", help="Proposed and approved thresholds, expected effect.")(
    guarded(thresholds_cli.show)
)
thresholds_app.command("approve", help="Record who approved which thresholds, and when.")(
    guarded(thresholds_cli.approve)
)
