"""The Spark engine in local mode against the single-machine job: same scores, same quarantine.

Needs pyspark (`pip install -e .[spark]`) and Java; without them the tests skip locally, and
fail under CI (CI=true), where `.ci/run` installs both.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.scoring.local import run_score
from pipelines.scoring.partition import ROW, SLOT
from pipelines.scoring.settings import TABLES, LoadedModel, ScoreSettings
from pipelines.scoring.spark import (
    BAD,
    KIND,
    REASON,
    RECORD,
    STATS,
    TABLE,
    BucketSpec,
    prepare_bucket,
    run_spark_score,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ROOT = Path(__file__).resolve().parents[2]
AS_OF = pd.Timestamp("2025-12-31T00:00:00Z")
SOURCE = {"renames": {}, "timed": True}


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One small local Spark for the whole run (skipped without pyspark or Java, unless CI)."""
    missing = [
        need
        for need, there in (
            ("pyspark (pip install -e '.[spark]')", importlib.util.find_spec("pyspark")),
            ("java (apt-get install openjdk-17-jre-headless)", shutil.which("java")),
        )
        if not there
    ]
    if missing and os.environ.get("CI") != "true":
        pytest.skip(f"the Spark engine needs {' and '.join(missing)}")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("leadscore-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    yield session
    session.stop()


def write_export(tables: dict[str, pd.DataFrame], directory: Path) -> dict[str, Path]:
    """Each table as a Parquet file (text columns, so that bad cells survive as they are)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / f"{name}.parquet" for name in tables}
    for name, frame in tables.items():
        frame.to_parquet(paths[name], index=False)
    return paths


def score_both(
    spark: SparkSession, model: LoadedModel, paths: dict[str, Path], directory: Path
) -> dict[str, dict]:
    """Summaries of the single-machine job and of the Spark engine on the same files."""
    settings = ScoreSettings(max_bad_row_share=1.0, chunk_size=300, workers=1)
    common = {"as_of": AS_OF, "model": model, "settings": settings, "source": SOURCE}
    local = run_score(**paths, output=directory / "local.parquet", **common)
    on_spark = run_spark_score(
        spark=spark,
        **{name: str(path) for name, path in paths.items()},
        output=str(directory / "spark.parquet"),
        **common,
    )
    return {"local": local, "spark": on_spark}


def test_spark_engine_scores_and_quarantines_as_the_single_machine_job(
    spark: SparkSession,
    champion: LoadedModel,
    bad_export_tables: dict[str, pd.DataFrame],
    tmp_path: Path,
):
    paths = write_export(bad_export_tables, tmp_path / "export")
    summaries = score_both(spark, champion, paths, tmp_path)
    local = pd.read_parquet(tmp_path / "local.parquet").sort_values("lead_id")
    on_spark = pd.read_parquet(tmp_path / "spark.parquet").sort_values("lead_id")
    on_spark = on_spark.assign(stage=on_spark["stage"].astype(str))[champion.output_columns]
    assert len(local) == summaries["local"]["counts"]["scored"] > 150
    pd.testing.assert_series_equal(
        local["probability"].reset_index(drop=True),
        on_spark["probability"].reset_index(drop=True),
        check_exact=False,
        rtol=0,
        atol=1e-9,
    )
    columns = [c for c in champion.output_columns if c not in ("probability", "scored_at")]
    pd.testing.assert_frame_equal(
        local[columns].reset_index(drop=True),
        on_spark[columns].reset_index(drop=True),
        check_dtype=False,
    )
    assert set(on_spark["reasons"]) != {""}  # reasons came through the model's params
    # the same bad rows, reasons and records, in the same order
    quarantine = [(tmp_path / f"{e}.quarantine.csv").read_text() for e in ("local", "spark")]
    assert quarantine[0] == quarantine[1]
    assert pd.read_csv(tmp_path / "spark.quarantine.csv")["table"].value_counts().to_dict() == {
        "leads": 8,
        "activities": 4,
        "outcomes": 2,
    }
    for key in ("counts", "stages", "rule_stages", "quarantined_by_reason", "thresholds"):
        assert summaries["spark"][key] == summaries["local"][key]
    for name, psi in summaries["local"]["drift"]["psi"].items():
        assert summaries["spark"]["drift"]["psi"][name] == pytest.approx(psi, abs=1e-9)
    written = json.loads((tmp_path / "spark.summary.json").read_text())
    assert written["engine"].startswith("spark") and written["chunks"] > 1


def test_engine_option_of_the_command_line(
    spark: SparkSession, project: Path, interim: dict[str, Path], tmp_path: Path
):
    def run(*args: str) -> tuple[int, str]:
        command = ["score", "--engine", "spark", "--params", str(project / "params.yaml")]
        result = CliRunner().invoke(app, [*command, *args])
        return result.exit_code, result.stderr

    output = tmp_path / "scores.parquet"
    inputs = ["--leads", str(interim["leads"]), "--outcomes", str(interim["outcomes"])]
    code, err = run(*inputs, "--output", str(output), "--as-of", AS_OF.isoformat())
    assert code == 0, err
    scored = pd.read_parquet(output)  # pandas' nanosecond timestamps were read
    summary = json.loads((tmp_path / "scores.summary.json").read_text())
    assert len(scored) == summary["counts"]["scored"] > 0
    assert sorted(p.name for p in output.iterdir() if p.is_dir()) == sorted(
        f"stage={s}" for s, n in summary["stages"].items() if n
    )
    pd.DataFrame({"lead_id": ["A"], "created_at": ["2025-01-01"]}).to_csv(tmp_path / "leads.csv")
    for leads, reason in (
        (tmp_path / "nope.parquet", "file not found"),
        (tmp_path / "leads.csv", "the Spark engine reads Parquet"),
    ):
        code, err = run("--leads", str(leads), "--output", str(tmp_path / "other.parquet"))
        assert code == 2 and reason in err and len(err.strip().splitlines()) == 1


def test_events_of_leads_that_are_nowhere_are_quarantined(champion: LoadedModel):
    """A bucket with activities but no leads (no Spark needed: the bucket function alone)."""
    spec = BucketSpec(
        feature_config=champion.scorer.feature_config,
        model_spec=champion.scorer.spec,
        references={},
        as_of=AS_OF,
        latest=AS_OF,
        timed=True,
        sentinels={},
        lead_columns=("lead_id", "created_at"),
        outcome_columns=None,
    )
    no_leads = (
        pa.table({name: pa.array([], pa.string()) for name in ("lead_id", "created_at", TABLE)})
        .append_column(ROW, pa.array([], pa.int64()))
        .append_column(SLOT, pa.array([], pa.int32()))
    )
    activities = pa.table(
        {
            "lead_id": ["X", "Y"],
            "occurred_at": ["2025-05-01", "2025-05-02"],
            "activity_type": ["page_view", "chat"],
            "page": pa.array([None, None], pa.string()),
            ROW: pa.array([4, 9], pa.int64()),
            SLOT: pa.array([5, 5], pa.int32()),
        }
    )
    prepared = prepare_bucket(spec, no_leads, activities).to_pandas()
    bad = prepared[prepared[KIND] == BAD]
    assert set(bad[REASON]) == {"lead_id not found in clean leads"} and len(bad) == 2
    counters = json.loads(prepared.loc[prepared[KIND] == STATS, RECORD].iloc[0])
    assert counters["read"] == {"leads": 0, "activities": 2}
    assert counters["quarantined"] == {"activities": {"lead_id not found in clean leads": 2}}


def test_the_local_engine_works_without_pyspark():
    # pyspark made unimportable: the command line and the local engine load all the same
    probe = (
        "import sys; sys.modules['pyspark'] = None;"
        " import pipelines.cli, pipelines.scoring.command;"
        " sys.exit('pipelines.scoring.spark' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=False).returncode == 0


def test_both_engines_give_each_segment_its_thresholds(
    spark: SparkSession, segmented_project: Path, tmp_path: Path
):
    from pipelines.scoring.job import load_model
    from pipelines.scoring.options import DEFAULT_MODEL_URI

    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{segmented_project / 'mlflow.db'}"
    try:
        model = load_model(DEFAULT_MODEL_URI)
        paths = {t: segmented_project / "data/interim" / f"{t}.parquet" for t in TABLES}
        summaries = score_both(spark, model, paths, tmp_path)
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
    local = pd.read_parquet(tmp_path / "local.parquet").sort_values("lead_id")
    on_spark = pd.read_parquet(tmp_path / "spark.parquet").sort_values("lead_id")
    on_spark = on_spark.assign(stage=on_spark["stage"].astype(str))[model.output_columns]
    columns = ["lead_id", "stage", "segment", "thresholds_status"]
    assert local.columns[-1] == "segment"
    pd.testing.assert_frame_equal(
        local[columns].reset_index(drop=True),
        on_spark[columns].reset_index(drop=True),
        check_dtype=False,
    )
    assert summaries["spark"]["by_segment"] == summaries["local"]["by_segment"]
    assert summaries["local"]["segment_column"] == "source"
