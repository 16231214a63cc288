"""MLflow set-up: local sqlite store by default, the run shared by the model stages, tags.

MLflow is imported by the functions that use it: the scoring command reads the names here
and starts its workers before it imports MLflow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.io import write_json

logger = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
EXPERIMENT = "leadscore"
MODEL_NAME = "lead-conversion"
CHAMPION = "champion"
CHALLENGER = "challenger"
RUN_FILE = Path("data/model/run.json")


def configure_tracking() -> str:
    """Use MLFLOW_TRACKING_URI when set, else the local sqlite store; no server needed."""
    import mlflow

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    uri = os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    mlflow.set_tracking_uri(uri)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return uri


def git_commit() -> str:
    """The current commit (with '-dirty' when the tree has changes), or 'unknown'."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def file_hash(path: Path) -> str:
    """sha256 of a file, or 'missing'."""
    path = Path(path)
    if not path.exists():
        return "missing"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def data_fingerprint(frame: pd.DataFrame) -> str:
    """A stable hash of a table's content (row order included)."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


def start_run(*, run_name: str, tags: dict[str, str]) -> str:
    """Start the MLflow run of this pipeline execution and remember its id for later stages."""
    import mlflow

    configure_tracking()
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name=run_name, tags=tags) as run:
        run_id = run.info.run_id
    write_json({"run_id": run_id}, RUN_FILE)
    return run_id


def run_id_of(run_file: Path = RUN_FILE) -> str:
    """The run id written by the train stage."""
    return json.loads(Path(run_file).read_text())["run_id"]


def log_section_params(params: dict[str, Any], sections: list[str]) -> None:
    """Log params.yaml sections as flat 'section.key' params (values truncated by MLflow)."""
    import mlflow

    flat: dict[str, Any] = {}
    for name in sections:
        for key, value in (params.get(name) or {}).items():
            flat[f"{name}.{key}"] = str(value)[:500]
    mlflow.log_params(flat)
