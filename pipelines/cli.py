"""The `leadscore` command line: every stage and job as a small Typer command."""

from __future__ import annotations

import functools
import importlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from pipelines.config import apply_overrides
from pipelines.errors import LeadscoreError

# command: (module, function, help). Imported when the command runs, not before: each stage
# pays only for its own imports, and `leadscore score` starts its worker processes before
# MLflow and the training stack are imported.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "generate": (
        "pipelines.stages.generate",
        "main",
        "Write the synthetic CRM export (source.kind: synthetic).",
    ),
    "extract": (
        "pipelines.stages.extract",
        "main",
        "Validate the export; write clean tables and the quarantine.",
    ),
    "features": (
        "pipelines.stages.featurize",
        "main",
        "Label leads as of T, build point-in-time features, split cohorts.",
    ),
    "train": (
        "pipelines.stages.train",
        "main",
        "Train LightGBM on the train cohort; open the MLflow run.",
    ),
    "calibrate": (
        "pipelines.stages.calibrate",
        "main",
        "Calibrate probabilities; propose MQL/SQL thresholds.",
    ),
    "scorecard": (
        "pipelines.stages.scorecard",
        "main",
        "Fit the learned points card; write data/model/learned_rules.yaml.",
    ),
    "evaluate": (
        "pipelines.stages.evaluate",
        "main",
        "Model vs points on the test cohort; register; promotion gate.",
    ),
    "score": (
        "pipelines.scoring.command",
        "main",
        "Score every open lead with the registered model (streamed, atomic).",
    ),
    "report": (
        "pipelines.stages.report",
        "main",
        "Write the marketing report (HTML) on the test cohort.",
    ),
    "monitor": (
        "pipelines.monitor.command",
        "main",
        "Check past scores against the conversions and sales feedback since.",
    ),
}
# group: (module, {command: (function, help)}, help)
GROUPS: dict[str, tuple[str, dict[str, tuple[str, str]], str]] = {
    "thresholds": (
        "pipelines.thresholds.commands",
        {
            "show": ("show", "Proposed and approved thresholds, expected effect."),
            "approve": ("approve", "Record who approved which thresholds, and when."),
        },
        "Show the proposed and approved stage thresholds; approve them.",
    ),
    "model": (
        "pipelines.lifecycle",
        {
            "list": ("list_versions", "Versions, metrics, approval, champion now and before."),
            "promote": ("promote", "Make a version the champion (who, when, why recorded)."),
            "revert": ("revert", "Give the champion back to the previous one (recorded)."),
        },
        "Registered model versions: list them, promote one, revert to the previous champion.",
    ),
}


class LazyGroup(TyperGroup):
    """The `leadscore` group with its stage commands loaded on use (click's lazy subcommands)."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *super().list_commands(ctx), *GROUPS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in COMMANDS:
            module, function, text = COMMANDS[cmd_name]
            single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
            command = getattr(importlib.import_module(module), function)
            single.command(cmd_name, help=text)(guarded(command))
            return typer.main.get_command(single)
        if cmd_name in GROUPS:
            module, commands, text = GROUPS[cmd_name]
            group = typer.Typer(
                name=cmd_name, help=text, no_args_is_help=True, pretty_exceptions_enable=False
            )
            imported = importlib.import_module(module)
            for name, (function, command_help) in commands.items():
                group.command(name, help=command_help)(guarded(getattr(imported, function)))
            return typer.main.get_group(group)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    name="leadscore",
    cls=LazyGroup,
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


# Commands that have closed and renamed every output when they return, and leave no MLflow
# run active (whose end is recorded at interpreter exit; `score` ends the run it records
# before returning): after them the console entry point skips the interpreter's teardown of
# the imported modules (about 1 s after `score`).
FAST_EXIT_COMMANDS = frozenset({"score"})


def run() -> None:
    """The `leadscore` console entry point: `app`, then a prompt exit after `score`."""
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    try:
        app()
    except SystemExit as exc:
        if command not in FAST_EXIT_COMMANDS or not isinstance(exc.code, int | None):
            raise
        logging.shutdown()  # flushes the log handlers
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exc.code or 0)
