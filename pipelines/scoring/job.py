"""What both scoring engines share: inputs, settings, model and thresholds, summary and gates.

The local engine (`pipelines.scoring.local`) and the Spark engine (`pipelines.scoring.spark`)
read the same tables with the same column mapping, load the model and the thresholds in force
the same way, and end the same way: one JSON summary (counts, stages, quarantine, drift),
the bad-rows gate and the drift gate. Light at import (no LightGBM, MLflow or pandera): the
local engine starts its workers first.
"""

from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from models.drift import population_stability_index
from models.reasons import REASONS_PATH, REASONS_SHAP
from pipelines.config import load_params
from pipelines.errors import EXIT_GATE, EXIT_MODEL, DataQualityError, InputError, LeadscoreError
from pipelines.io import utc_moment
from pipelines.scoring.partition import TableSource
from pipelines.scoring.settings import (
    APPROVED_STATUS,
    PROPOSED_STATUS,
    LoadedModel,
    ScoreSettings,
    Thresholds,
)
from pipelines.tracking import configure_tracking

if TYPE_CHECKING:
    from pipelines.scoring.chunk import RunState

logger = logging.getLogger(__name__)

PathT = TypeVar("PathT", str, Path)  # local paths, or any URI Spark reads (kept as text)
# a stage's promised weekly inflow: new leads in the stage per week (the calibrate stage's
# snapshot cohorts), else the older volume per week (the `sql` section, the `expected` rows)
INFLOW_KEYS = ("entering_per_week", "volume_per_week", "leads_per_week")
REQUIRED = {
    "activities": ("lead_id", "occurred_at", "activity_type"),
    "outcomes": ("lead_id", "converted_at"),
}


class ModelError(LeadscoreError):
    """The model cannot be found or loaded."""

    exit_code = EXIT_MODEL


class DriftGateError(LeadscoreError):
    """Drift above `score.psi_warn` with `--fail-on-drift`."""

    exit_code = EXIT_GATE


class ApprovalGateError(LeadscoreError):
    """`--require-approved` and the thresholds in force are not approved (a gate: the model
    itself is there and loadable, so not EXIT_MODEL)."""

    exit_code = EXIT_GATE


def read_params(path: str | Path) -> dict[str, Any]:
    """params.yaml when it is there, else nothing (every setting at its default)."""
    path = Path(path)
    return load_params(path) if path.exists() else {}


def parse_as_of(value: str | None) -> pd.Timestamp:
    """The as-of moment in UTC (naive means UTC); default now."""
    return pd.Timestamp.now(tz="UTC") if value is None else utc_moment(value, what="--as-of")


def settings_for(
    params: dict[str, Any],
    *,
    chunk_size: int | None,
    reasons: str | None,
    workers: int | None = None,
) -> ScoreSettings:
    """The `score` params with the command line's overrides."""
    overrides: dict[str, Any] = {}
    if chunk_size is not None:
        overrides["chunk_size"] = chunk_size
    if workers is not None:
        overrides["workers"] = workers
    if reasons is not None:
        if reasons not in (REASONS_PATH, REASONS_SHAP):
            raise InputError(f"--reasons must be {REASONS_PATH} or {REASONS_SHAP}, not {reasons!r}")
        overrides["reasons_method"] = reasons
    return ScoreSettings(**{**ScoreSettings.from_params(params).__dict__, **overrides})


def source_params(params: dict[str, Any]) -> dict[str, Any]:
    """Column mapping and CSV options from the `source` section (canonical names if absent)."""
    source = params.get("source") or {}
    renames = {}
    id_column = source.get("id_column") or "lead_id"
    if id_column != "__row_number__":
        renames[id_column] = "lead_id"
    created = source.get("created_at_column", "created_at")
    if created:
        renames[created] = "created_at"
    return {
        "renames": renames,
        "timed": created is not None,
        "separator": source.get("csv_separator") or ",",
        "missing_values": tuple(str(v) for v in source.get("missing_values") or ()),
        "missing_values_by_column": {
            str(column): [str(v) for v in values]
            for column, values in (source.get("missing_values_by_column") or {}).items()
        },
    }


def table_sources(
    *, leads: PathT, activities: PathT | None, outcomes: PathT | None, source: dict[str, Any]
) -> dict[str, TableSource]:
    """The input tables with their required columns, the `source` renames and CSV options."""
    timed = bool(source.get("timed", True))
    required = {"leads": ("lead_id", "created_at") if timed else ("lead_id",), **REQUIRED}
    options = {
        "renames": source.get("renames", {}),
        "separator": source.get("separator", ","),
        "missing_values": tuple(source.get("missing_values") or ()),
    }
    paths = {"leads": leads, "activities": activities, "outcomes": outcomes}
    return {
        name: TableSource(name=name, path=path, required=required[name], **options)
        for name, path in paths.items()
        if path is not None
    }


def sidecar_paths(output: PathT, quarantine: PathT | None) -> tuple[PathT, PathT]:
    """(quarantine, summary) paths: beside the output unless given."""
    stem = posixpath.splitext(str(output).rstrip("/"))[0]
    kind = type(output)
    return quarantine or kind(f"{stem}.quarantine.csv"), kind(f"{stem}.summary.json")


def load_model(uri: str) -> LoadedModel:
    """Load the pyfunc model and unwrap its scoring bundle; resolve its registered version."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from models.bundle import ScoringBundle

    configure_tracking()
    try:
        model = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        message = str(getattr(exc, "message", exc)).strip().splitlines()[0]
        raise ModelError(f"model {uri} not found or not loadable: {message}") from exc
    scorer = getattr(model.unwrap_python_model(), "scorer", None)
    if not isinstance(scorer, ScoringBundle):
        raise ModelError(f"model {uri} is not a leadscore model (no scoring bundle)")
    run_id = model.metadata.run_id
    name, version = registered_version(MlflowClient(), uri, run_id=run_id)
    return LoadedModel(uri=uri, scorer=scorer, version=version, registered_name=name, run_id=run_id)


def registered_version(client: Any, uri: str, *, run_id: str | None) -> tuple[str | None, str]:
    """(registered model name, version) behind a URI; runs:/ URIs map to a version if any."""
    from mlflow.exceptions import MlflowException

    if match := re.fullmatch(r"models:/([^/@]+)@(.+)", uri):
        version = client.get_model_version_by_alias(match[1], match[2]).version
        return match[1], str(version)
    if match := re.fullmatch(r"models:/([^/@]+)/(\d+)", uri):
        return match[1], match[2]
    if run_id:
        try:
            versions = client.search_model_versions(f"run_id='{run_id}'")
        except MlflowException:
            versions = []
        if versions:
            newest = max(versions, key=lambda v: int(v.version))
            return newest.name, str(newest.version)
        return None, f"run:{run_id}"
    return None, "unregistered"


def thresholds_for(model: LoadedModel) -> Thresholds:
    """Approved thresholds for the model version when recorded, else the proposed ones."""
    from mlflow.tracking import MlflowClient

    from pipelines.thresholds.approvals import APPROVED, PROPOSED, global_approver, load_approval

    approval = None
    if model.registered_name is not None:
        approval = load_approval(
            client=MlflowClient(), model_name=model.registered_name, version=model.version
        )
    segments = {str(k): dict(v) for k, v in ((approval or {}).get("segments") or {}).items()}
    if approval and approval.get("mql_threshold") is not None:
        approver = global_approver(approval)  # not whoever approved a segment since
        return Thresholds(
            mql=float(approval["mql_threshold"]),
            sql=float(approval["sql_threshold"]),
            status=APPROVED,
            approved_by=str(approver.get("approved_by") or "") or None,
            approved_at=str(approver.get("approved_at") or "") or None,
            segments=segments,
        )
    mql, sql = model.scorer.thresholds()
    if segments:  # some segments approved on their own, the global thresholds not
        logger.warning(
            "model version %s: segments %s approved, the global thresholds not: using the"
            " proposed ones (MQL >= %.4f, SQL >= %.4f) elsewhere, rows marked 'proposed'",
            model.version,
            ", ".join(sorted(segments)),
            mql,
            sql,
        )
        return Thresholds(mql=mql, sql=sql, status=PROPOSED, segments=segments)
    logger.warning(
        "no approved thresholds for model version %s: using the proposed ones"
        " (MQL >= %.4f, SQL >= %.4f); every row is marked 'proposed'",
        model.version,
        mql,
        sql,
    )
    return Thresholds(mql=mql, sql=sql, status=PROPOSED)


def check_approved(uri: str) -> None:
    """`--require-approved`, before any input is read: stop unless the registered version
    behind `uri` has approved thresholds (the model itself is not loaded here)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from pipelines.thresholds.approvals import load_approval

    configure_tracking()
    client = MlflowClient()
    run = re.fullmatch(r"runs:/([^/]+)/.*", uri)
    try:
        name, version = registered_version(client, uri, run_id=run[1] if run else None)
    except MlflowException as exc:
        message = str(getattr(exc, "message", exc)).strip().splitlines()[0]
        raise ModelError(f"model {uri} not found or not loadable: {message}") from exc
    if name is None or load_approval(client=client, model_name=name, version=version) is None:
        raise not_approved(uri, version)


def not_approved(uri: str, version: str) -> ApprovalGateError:
    """The one-line reason a `--require-approved` run stops with."""
    return ApprovalGateError(
        f"the thresholds of model {uri} (version {version}) are not approved"
        f" (--require-approved); no output written; approve them with"
        f" `leadscore thresholds approve --by NAME --version {version}`"
    )


def drift_report(state: RunState, references: dict[str, Any], *, psi_warn: float) -> dict[str, Any]:
    """PSI per referenced feature and of the probability, against the training distribution."""
    psi = {}
    if state.scored:
        for name, counts in state.drift_counts.items():
            observed = np.asarray(counts, dtype=float) / state.scored
            psi[name] = round(population_stability_index(references[name]["shares"], observed), 6)
    drifted = sorted(name for name, value in psi.items() if value > psi_warn)
    return {"psi": dict(sorted(psi.items())), "psi_warn": psi_warn, "drifted": drifted}


def too_many_bad_rows(
    state: RunState, settings: ScoreSettings, *, quarantine: Path | str
) -> DataQualityError | None:
    """The error to stop with when a table's bad rows pass `score.max_bad_row_share`."""
    for table, reasons in state.quarantined.items():
        n_bad, n_read = sum(reasons.values()), state.read[table]
        if n_bad > settings.max_bad_row_share * max(n_read, 1):
            return DataQualityError(
                f"{table}: {n_bad} of {n_read} rows ({n_bad / max(n_read, 1):.1%}) are bad,"
                f" above score.max_bad_row_share={settings.max_bad_row_share:.1%};"
                f" no output written; see {quarantine}"
            )
    return None


def run_summary(
    *,
    state: RunState,
    model: LoadedModel,
    thresholds: Thresholds,
    settings: ScoreSettings,
    as_of: pd.Timestamp,
    scored_at: pd.Timestamp,
    paths: dict[str, Path | str],
    inputs: dict[str, Path | str],
    n_chunks: int,
    timings: dict[str, float],
    previous: Path | str | None = None,
) -> dict[str, Any]:
    """The JSON run summary: counts, stages (with the promise of the thresholds in force and,
    with `previous`, the leads entering and leaving each), quarantine by reason, drift,
    timings (no PII)."""
    references = model.scorer.bundle.get("references") or {}
    drift = drift_report(state, references, psi_warn=settings.psi_warn)
    quarantined = {t: dict(sorted(r.items())) for t, r in sorted(state.quarantined.items())}
    promise = stage_promises(model.scorer.bundle.get("thresholds") or {}, thresholds)
    by_stage = {
        stage: {"count": count, **promise["stages"].get(stage, {})}
        for stage, count in state.stages.items()
    }
    changes: dict[str, Any] = {}
    if previous is not None:
        for stage, row in by_stage.items():
            row["entering"] = state.entering.get(stage, 0)
            row["leaving"] = state.leaving.get(stage, 0)
        changes = {"previous": {"path": str(previous), **state.previous}}
    return {
        "status": "ok",
        "as_of": as_of.isoformat(),
        "scored_at": scored_at.isoformat(),
        "model": {
            "uri": model.uri,
            "registered_name": model.registered_name,
            "version": model.version,
            "run_id": model.run_id,
        },
        "thresholds": {
            "status": thresholds.status,
            "mql": thresholds.mql,
            "sql": thresholds.sql,
        },
        "approval": None
        if thresholds.approved_by is None and thresholds.approved_at is None
        else {"approved_by": thresholds.approved_by, "approved_at": thresholds.approved_at},
        "inputs": {name: str(path) for name, path in inputs.items()},
        "output": str(paths["output"]),
        "quarantine": str(paths["quarantine"]),
        "counts": {
            "leads_read": state.read.get("leads", 0),
            "activities_read": state.read.get("activities", 0),
            "outcomes_read": state.read.get("outcomes", 0),
            "scored": state.scored,
            "skipped": dict(state.skipped),
            "quarantined": {t: sum(r.values()) for t, r in quarantined.items()},
        },
        "quarantined_by_reason": quarantined,
        "stages": dict(state.stages),
        "by_stage": by_stage,
        **segment_summary(model, thresholds, state),
        "promise": promise["source"],
        **changes,
        "rule_stages": dict(state.rule_stages),
        "drift": drift,
        "chunks": n_chunks,
        "chunk_size": settings.chunk_size,
        "reasons_method": settings.reasons_method,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }


def segment_summary(model: LoadedModel, thresholds: Thresholds, state: RunState) -> dict[str, Any]:
    """`segment_column` and `by_segment` (leads, stages, thresholds in force and their status
    per segment value) when the thresholds are per segment; nothing otherwise."""
    column = getattr(model.scorer, "segment_column", None)
    if not column:
        return {}
    own = model.scorer.segment_thresholds(thresholds.override())
    proposed = model.scorer.segment_thresholds()
    by_segment = {}
    for value, stages in sorted(state.by_segment.items(), key=lambda item: -sum(item[1].values())):
        if value in thresholds.segments:
            status = APPROVED_STATUS
        elif value in proposed:
            status = PROPOSED_STATUS
        else:
            status = f"global ({thresholds.status})"
        mql, sql = own.get(value, (thresholds.mql, thresholds.sql))
        by_segment[value] = {
            "leads": sum(stages.values()),
            "stages": {stage: stages.get(stage, 0) for stage in state.stages},
            "mql": mql,
            "sql": sql,
            "thresholds_status": status,
        }
    return {"segment_column": column, "by_segment": by_segment}


def stage_promises(proposal: dict[str, Any], thresholds: Thresholds) -> dict[str, Any]:
    """What the thresholds in force promise per stage: precision and weekly inflow.

    From the bundle's thresholds (the calibrate stage's proposal): SQL from its `sql` section,
    every stage from its `expected` row otherwise (the `mql` section is MQL or higher, not the
    MQL stage). Inflow: `entering_per_week` (new leads in the stage per week) when the proposal
    has it, else its volume per week (leads in the stage per week of the calibration cohort),
    named in `promised_entering_per_week_from`. No promise when approved thresholds differ
    from the proposed ones (the proposal's figures are for its own thresholds).
    """
    proposed = {name: (proposal.get(name) or {}).get("threshold") for name in ("mql", "sql")}
    if proposed != {"mql": thresholds.mql, "sql": thresholds.sql}:
        return {
            "source": "none: the thresholds in force are not the proposed ones of the bundle",
            "stages": {},
        }
    rows = {str(row.get("stage")): (row, "expected") for row in proposal.get("expected") or []}
    if proposal.get("sql"):
        rows["SQL"] = (proposal["sql"], "sql")
    stages = {}
    for stage, (row, section) in rows.items():
        inflow = next((key for key in INFLOW_KEYS if key in row), None)
        where = "thresholds.sql" if section == "sql" else f"thresholds.expected[{stage}]"
        stages[stage] = {
            "promised_precision": row.get("precision"),
            "promised_entering_per_week": None if inflow is None else row[inflow],
            "promised_entering_per_week_from": None if inflow is None else f"{where}.{inflow}",
        }
    return {"source": f"the model bundle's thresholds ({thresholds.status})", "stages": stages}


def log_summary(summary: dict[str, Any]) -> None:
    """Headline log lines, and a warning per drifted feature."""
    counts = summary["counts"]
    logger.info(
        "scored %d leads (%s); skipped %s; quarantined %s",
        counts["scored"],
        ", ".join(f"{k} {v}" for k, v in summary["stages"].items()),
        ", ".join(f"{v} {k}" for k, v in counts["skipped"].items()) or "none",
        ", ".join(f"{v} {k}" for k, v in counts["quarantined"].items()) or "none",
    )
    drift = summary["drift"]
    for name in drift["drifted"]:
        logger.warning(
            "drift: PSI of %s is %.3f, above score.psi_warn=%.2f: the incoming leads no longer"
            " look like the training data",
            name,
            drift["psi"][name],
            drift["psi_warn"],
        )


def finish(
    summary: dict[str, Any], *, summary_path: Path | str, psi_warn: float, fail_on_drift: bool
) -> dict[str, Any]:
    """Log the written summary; with `--fail-on-drift`, a drifted run ends in DriftGateError."""
    log_summary(summary)
    if summary["drift"]["drifted"] and fail_on_drift:
        raise DriftGateError(
            f"drift above score.psi_warn={psi_warn} in"
            f" {', '.join(summary['drift']['drifted'])} (--fail-on-drift); see {summary_path}"
        )
    return summary
