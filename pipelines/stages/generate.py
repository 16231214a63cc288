"""The `generate` stage: write the synthetic export and its ground truth (pipelines.synthetic)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from pipelines.config import load_params, section
from pipelines.errors import InputError
from pipelines.io import utc_moment, write_table
from pipelines.synthetic.export import export_from_params, export_summary
from pipelines.synthetic.truth import EPISODES_FILE

logger = logging.getLogger(__name__)

SKIPPED_MARKER = Path("data/raw/synthetic/SKIPPED")
TRUTH_DEFAULT = "data/synthetic_truth/truth.parquet"


def main(
    params: Annotated[Path, typer.Option(help="params.yaml path")] = Path("params.yaml"),
) -> None:
    """Write the synthetic export (when source.kind is synthetic) and its ground truth."""
    config = load_params(params)
    source = section(config, "source")
    if source.get("kind") != "synthetic":
        _mark_skipped(config)
        logger.info("source.kind is %r: nothing to generate", source.get("kind"))
        return
    generate = section(config, "generate")
    label = section(config, "label")
    export = export_from_params(config)
    try:
        days = generate["days"]
        truth_path = Path(generate["truth_path"])
        leads_path = source["leads"]
    except KeyError as exc:
        raise InputError(f"params.yaml is missing the key {exc.args[0]!r}") from exc
    if not leads_path:
        raise InputError("source.leads must name the file to write")
    write_table(export.leads, Path(leads_path))
    if source.get("activities"):
        write_table(export.activities, Path(source["activities"]))
    if source.get("outcomes"):
        write_table(export.outcomes, Path(source["outcomes"]))
    # The per-lead truth at truth_path, its interest episodes beside it (`load_truth`).
    write_table(export.truth, truth_path)
    write_table(export.episodes, truth_path.parent / EPISODES_FILE)
    SKIPPED_MARKER.unlink(missing_ok=True)
    summary = export_summary(
        export,
        horizon_days=label["horizon_days"],
        data_end=utc_moment(str(generate["start"]), what="generate.start")
        + pd.Timedelta(days=days),
    )
    logger.info(
        "generated %d leads, %d events, %d conversions, %d early converters, "
        "%d censored leads, eligible conversion rate %.1f%%, %.0f%% of conversions after "
        "day 200 of a lead",
        summary["leads"],
        summary["events"],
        summary["conversions"],
        summary["early_converters"],
        summary["censored_leads"],
        100 * summary["eligible_conversion_rate"],
        100 * summary["conversions_after_200_days"],
    )


def _mark_skipped(config: dict[str, Any]) -> None:
    """Write the SKIPPED markers: DVC needs every declared output to exist."""
    truth_dir = Path((config.get("generate") or {}).get("truth_path", TRUTH_DEFAULT)).parent
    for marker in (SKIPPED_MARKER, truth_dir / "SKIPPED"):
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("")
