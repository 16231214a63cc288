"""Batch scoring against a real model in a real MLflow sqlite store (built once per module)."""

from __future__ import annotations

import json
import multiprocessing
import re
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml
from typer.testing import CliRunner

from models.artifact import REASONS_PATH
from models.rules import PointsBaseline
from pipelines.cli import app
from pipelines.errors import DataQualityError
from pipelines.scoring import chunk as score_chunk
from pipelines.scoring.job import DriftGateError, load_model
from pipelines.scoring.local import run_score
from pipelines.scoring.partition import bucket_of_slot, lead_slots
from pipelines.scoring.settings import (
    OUTPUT_COLUMNS,
    SKIPPED_CONVERTED,
    SKIPPED_NOT_CREATED,
    TABLES,
    LoadedModel,
    ScoreSettings,
)

ROOT = Path(__file__).resolve().parents[2]
AS_OF = pd.Timestamp("2025-12-31T00:00:00Z")
SOURCE = {"renames": {}, "timed": True}
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}")


def score_files(
    model: LoadedModel,
    *,
    leads: Path,
    output: Path,
    activities: Path | None = None,
    outcomes: Path | None = None,
    as_of: pd.Timestamp = AS_OF,
    **settings: object,
) -> dict:
    chosen = ScoreSettings(**{"max_bad_row_share": 1.0, **settings})  # type: ignore[arg-type]
    return run_score(
        leads=leads,
        activities=activities,
        outcomes=outcomes,
        output=output,
        as_of=as_of,
        model=model,
        settings=chosen,
        source=SOURCE,
    )


def test_scores_equal_training_time_predictions(
    project: Path, champion: LoadedModel, interim: dict[str, Path], tmp_path: Path
):
    features = pd.read_parquet(project / "data/features/features.parquet")
    test_rows = features[features["cohort"] == "test"].sample(3, random_state=0)
    scorer = champion.scorer
    mql, sql = scorer.thresholds()
    for _, row in test_rows.iterrows():
        output = tmp_path / f"{row['lead_id']}.parquet"
        score_files(
            champion,
            leads=interim["leads"],
            activities=interim["activities"],
            outcomes=interim["outcomes"],
            output=output,
            as_of=row["as_of"],
        )
        scored = pd.read_parquet(output).set_index("lead_id").loc[row["lead_id"]]
        expected = scorer.score(
            features[(features["lead_id"] == row["lead_id"]) & (features["as_of"] == row["as_of"])],
            override={"mql_threshold": mql, "sql_threshold": sql, "reasons_method": REASONS_PATH},
        ).iloc[0]
        assert scored["probability"] == pytest.approx(expected["probability"], abs=1e-12)
        for column in ("stage", "rule_stage", "reasons"):
            assert scored[column] == expected[column]
        assert scored["rule_score"] == pytest.approx(expected["rule_score"])


def test_scores_carry_the_learned_cards_points(
    project: Path, champion: LoadedModel, interim: dict[str, Path], tmp_path: Path
):
    """The bundle holds the scorecard stage's card: each lead's learned_points are the card's
    whole-number points (learned_rules.yaml read as params' rules:) on its features."""
    assert champion.output_columns == [*OUTPUT_COLUMNS[:5], "learned_points", *OUTPUT_COLUMNS[5:]]
    raw = yaml.safe_load((project / "data/model/learned_rules.yaml").read_text())
    card = PointsBaseline.from_params(raw["rules"])
    features = pd.read_parquet(project / "data/features/features.parquet")
    row = features[features["cohort"] == "test"].sample(1, random_state=1).iloc[0]
    output = tmp_path / "scores.parquet"
    score_files(
        champion,
        leads=interim["leads"],
        activities=interim["activities"],
        outcomes=interim["outcomes"],
        output=output,
        as_of=row["as_of"],
    )
    scored = pd.read_parquet(output)
    assert list(scored.columns) == champion.output_columns
    points = scored["learned_points"].to_numpy()
    assert len(points) > 0 and np.array_equal(points, np.round(points))
    assert np.unique(points).shape[0] > 1
    same = features[(features["lead_id"] == row["lead_id"]) & (features["as_of"] == row["as_of"])]
    got = scored.set_index("lead_id").loc[row["lead_id"], "learned_points"]
    assert got == card.decision_function(same)[0]


def test_chunk_size_never_changes_a_result(
    champion: LoadedModel, interim: dict[str, Path], tmp_path: Path
):
    outputs, summaries = [], []
    # one chunk in this process; then many chunks over 1 and 2 worker processes
    for chunk_size, workers in ((100_000, 1), (1000, 2), (337, 2), (337, 1)):
        output = tmp_path / f"scores_{chunk_size}_{workers}.parquet"
        summaries.append(
            score_files(
                champion,
                leads=interim["leads"],
                activities=interim["activities"],
                outcomes=interim["outcomes"],
                output=output,
                chunk_size=chunk_size,
                workers=workers,
            )
        )
        outputs.append(pd.read_parquet(output).drop(columns="scored_at"))
    assert summaries[1]["chunks"] > 1 and summaries[2]["chunks"] > summaries[1]["chunks"]
    for other, summary in zip(outputs[1:], summaries[1:], strict=True):
        pd.testing.assert_frame_equal(outputs[0], other)
        for key in ("counts", "stages", "rule_stages"):
            assert summary[key] == summaries[0][key]
        for name, psi in summary["drift"]["psi"].items():
            assert psi == pytest.approx(summaries[0]["drift"]["psi"][name], abs=1e-5)
    assert len(outputs[0]) == summaries[0]["counts"]["scored"] > 0
    assert set(outputs[0]["thresholds_status"]) == {"proposed"}


def bad_input_corpus(directory: Path, tables: dict[str, pd.DataFrame]) -> dict[str, Path]:
    """The bad-row export (`bad_export_tables`) as CSV files."""
    paths = {name: directory / f"{name}.csv" for name in tables}
    for name, frame in tables.items():
        frame.to_csv(paths[name], index=False)
    return paths


def test_bad_rows_are_quarantined_and_every_row_is_accounted_for(
    champion: LoadedModel, bad_export_tables: dict[str, pd.DataFrame], tmp_path: Path
):
    paths = bad_input_corpus(tmp_path, bad_export_tables)
    output = tmp_path / "scores.csv"
    summary = score_files(champion, output=output, chunk_size=50, **paths)
    scored = pd.read_csv(output)
    quarantine = pd.read_csv(tmp_path / "scores.quarantine.csv")
    counts = summary["counts"]
    assert counts["leads_read"] == 210
    by_table = quarantine["table"].value_counts().to_dict()
    assert by_table == {"leads": 8, "activities": 4, "outcomes": 2}
    assert counts["quarantined"] == by_table
    assert counts["scored"] + sum(counts["skipped"].values()) + by_table["leads"] == 210
    assert len(scored) == counts["scored"] == 200 - 1 + 1  # one converted lead; EXACT kept once
    assert "exact duplicate of an earlier row" in set(quarantine["reason"])
    assert counts["skipped"][SKIPPED_CONVERTED] == 1
    assert counts["skipped"][SKIPPED_NOT_CREATED] == 1
    assert "EXACT" in set(scored["lead_id"]) and "DUP" not in set(scored["lead_id"])
    reasons = set(quarantine["reason"])
    assert "lead_id not found in clean leads" in reasons
    assert "duplicate lead_id with conflicting values" in reasons
    assert "converted_at before the lead's created_at" in reasons
    assert any("in the future" in r for r in reasons)
    bad_lead = quarantine[quarantine["lead_id"] == "BAD3"].iloc[0]
    assert bad_lead["source_row"] == 203  # 1-based data row, as in extract's quarantine
    assert json.loads(bad_lead["record"])["created_at"] == "not a date"
    assert not EMAIL.search(json.dumps(summary))  # no e-mail addresses in the summary


def test_events_in_a_chunk_without_leads_are_quarantined(champion: LoadedModel, tmp_path: Path):
    # two leads, two chunks: the orphan events are picked to hash into the chunk with no lead
    candidates = [f"ID{i}" for i in range(100)]
    chunk_of = dict(
        zip(candidates, bucket_of_slot(lead_slots(pa.array(candidates)), 2), strict=True)
    )
    ids = [c for c in candidates if chunk_of[c] == 0][:2]
    orphans = [c for c in candidates if chunk_of[c] == 1][:3]
    leads = pd.DataFrame({"lead_id": ids, "created_at": ["2025-06-01", "2025-06-02"]})
    activities = pd.DataFrame(
        {"lead_id": [*orphans, ids[0]], "occurred_at": "2025-07-01", "activity_type": "page_view"}
    )
    outcomes = pd.DataFrame({"lead_id": [orphans[0]], "converted_at": ["2025-08-01"]})
    paths = {name: tmp_path / f"{name}.parquet" for name in TABLES}
    for name, frame in zip(TABLES, (leads, activities, outcomes), strict=True):
        frame.to_parquet(paths[name])  # Parquet: the row count, so the chunk count, is exact
    output = tmp_path / "scores.csv"
    summary = score_files(champion, output=output, chunk_size=1, workers=1, **paths)
    quarantine = pd.read_csv(tmp_path / "scores.quarantine.csv")
    assert summary["chunks"] == 2 and summary["counts"]["scored"] == 2
    assert sorted(quarantine["lead_id"]) == sorted([*orphans, orphans[0]])
    assert set(quarantine["reason"]) == {"lead_id not found in clean leads"}


def test_a_lead_id_hashes_to_one_slot_whatever_else_is_in_its_batch():
    # a short id hashed among longer ones (a large activities batch) and alone (a small leads
    # batch) must land in the same bucket, or its events are quarantined as of no lead
    ids = ["L7", "L70", "L700", "C10-L0000001", " L7 "]
    together = lead_slots(pa.array(ids))
    assert together.tolist() == [lead_slots(pa.array([i]))[0] for i in ids]
    assert together[0] == together[4]  # the stripped text is hashed


def test_too_many_bad_rows_stop_without_output(
    champion: LoadedModel, bad_export_tables: dict[str, pd.DataFrame], tmp_path: Path
):
    paths = bad_input_corpus(tmp_path, bad_export_tables)
    output = tmp_path / "scores.parquet"
    with pytest.raises(DataQualityError, match="max_bad_row_share"):
        score_files(champion, output=output, max_bad_row_share=0.01, **paths)
    assert not output.exists()
    assert (tmp_path / "scores.quarantine.csv").exists()


def test_a_failure_mid_run_leaves_no_output(
    champion: LoadedModel, interim: dict[str, Path], tmp_path: Path, monkeypatch
):
    calls = {"n": 0}
    real = score_chunk.score_leads

    def failing(**kwargs: object) -> pd.DataFrame:
        calls["n"] += 1
        if calls["n"] == 2:
            raise MemoryError("injected")
        return real(**kwargs)

    monkeypatch.setattr(score_chunk, "score_leads", failing)
    output = tmp_path / "out" / "scores.parquet"
    with pytest.raises(MemoryError):
        score_files(
            champion,
            leads=interim["leads"],
            activities=interim["activities"],
            output=output,
            chunk_size=1000,
            workers=1,  # the patched function lives in this process
        )
    assert calls["n"] == 2
    assert list(output.parent.iterdir()) == []  # no output, no temp files, no buckets


def test_unknown_categories_and_missing_optional_columns(champion: LoadedModel, tmp_path: Path):
    leads = pd.DataFrame(
        {
            "lead_id": ["A1", "A2", "A3"],
            "created_at": ["2025-06-01T10:00:00", "2025-06-02", "2025-06-03T00:00:00+02:00"],
            "country": ["Atlantis", None, "DE"],
            "industry": ["quantum_basket_weaving", "software", ""],
        }
    )  # no email, job_title, company_size or source columns, no activities file
    leads.to_csv(tmp_path / "leads.csv", index=False)
    output = tmp_path / "scores.parquet"
    summary = score_files(champion, leads=tmp_path / "leads.csv", output=output)
    scored = pd.read_parquet(output)
    assert summary["counts"]["scored"] == 3
    assert scored["probability"].between(0, 1).all()
    assert list(scored.columns) == champion.output_columns


def test_model_by_run_uri_and_by_registry_version(champion: LoadedModel, tmp_path: Path):
    by_run = load_model(f"runs:/{champion.run_id}/model")
    by_version = load_model(f"models:/lead-conversion/{champion.version}")
    assert by_run.version == by_version.version == champion.version
    leads = pd.DataFrame({"lead_id": ["A1"], "created_at": ["2025-06-01"]})
    leads.to_parquet(tmp_path / "leads.parquet")
    results = []
    for model in (by_run, by_version):
        output = tmp_path / f"{model.uri.replace('/', '_').replace(':', '')}.csv"
        score_files(model, leads=tmp_path / "leads.parquet", output=output)
        results.append(pd.read_csv(output).drop(columns="scored_at"))
    pd.testing.assert_frame_equal(results[0], results[1])
    assert str(results[0]["model_version"][0]) == champion.version


def test_approved_thresholds_are_used_and_marked(
    project: Path, champion: LoadedModel, interim: dict[str, Path], tmp_path: Path
):
    from mlflow.tracking import MlflowClient

    from pipelines.thresholds.approvals import record_approval

    output = tmp_path / "proposed.parquet"
    proposed = score_files(champion, leads=interim["leads"], output=output)
    assert proposed["thresholds"]["status"] == "proposed"
    record_approval(
        client=MlflowClient(),
        model_name="lead-conversion",
        version=champion.version,
        mql_threshold=0.0,
        sql_threshold=0.0,
        approved_by="Marketing Lead",
        directory=tmp_path / "approvals",
    )
    try:
        output = tmp_path / "approved.parquet"
        approved = score_files(champion, leads=interim["leads"], output=output)
        scored = pd.read_parquet(output)
        assert set(scored["thresholds_status"]) == {"approved"}
        assert approved["thresholds"] == {"status": "approved", "mql": 0.0, "sql": 0.0}
        # thresholds 0: every open lead is MQL or higher; scored without activities, none has
        # shown recent interest, so none reaches SQL by its score (sql_requires_activity_days)
        assert set(scored["stage"]) == {"MQL", "DISQUALIFIED"}
    finally:
        MlflowClient().delete_model_version_tag(
            "lead-conversion", champion.version, "approved_thresholds"
        )


def cli(project: Path, *args: str) -> tuple[int, str]:
    runner = CliRunner()
    result = runner.invoke(app, ["score", "--params", str(project / "params.yaml"), *args])
    return result.exit_code, result.stderr


def test_exit_codes_and_one_line_messages(project: Path, tmp_path: Path):
    leads = project / "data/interim/leads.parquet"
    output = str(tmp_path / "scores.parquet")
    code, err = cli(project, "--leads", str(tmp_path / "nope.csv"), "--output", output)
    assert code == 2 and "file not found" in err and len(err.strip().splitlines()) == 1

    pd.DataFrame({"lead_id": ["A"]}).to_csv(tmp_path / "no_created.csv", index=False)
    code, err = cli(project, "--leads", str(tmp_path / "no_created.csv"), "--output", output)
    assert code == 2 and "required column 'created_at' is missing" in err

    code, err = cli(project, "--leads", str(leads), "--output", output, "--model", "models:/nope/1")
    assert code == 5 and err.startswith("leadscore: error: model models:/nope/1")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err

    code, err = cli(project, "--leads", str(leads), "--output", output, "--as-of", "soon")
    assert code == 2 and "--as-of" in err
    assert not Path(output).exists()


def test_drift_warns_and_gates_on_request(
    champion: LoadedModel, interim: dict[str, Path], tmp_path: Path, caplog
):
    # all leads as of the end of the data are much older than at training time (T = +14 days)
    output = tmp_path / "scores.parquet"
    summary = score_files(
        champion,
        leads=interim["leads"],
        activities=interim["activities"],
        output=output,
        psi_warn=0.2,
    )
    assert summary["drift"]["drifted"]
    assert set(summary["drift"]["psi"]) == set(champion.scorer.bundle["references"])
    assert "probability" in summary["drift"]["psi"]
    assert any("drift: PSI of" in r.message for r in caplog.records)
    with pytest.raises(DriftGateError) as gate:
        run_score(
            leads=interim["leads"],
            activities=interim["activities"],
            outcomes=None,
            output=output,
            as_of=AS_OF,
            model=champion,
            settings=ScoreSettings(psi_warn=0.2),
            source=SOURCE,
            fail_on_drift=True,
        )
    assert gate.value.exit_code == 4
    assert output.exists()  # the scores are complete; the exit code tells the scheduler


def test_make_run_scores_from_the_repo_root_with_no_flags(project: Path, tmp_path: Path):
    shutil.copy(project / "params.yaml", tmp_path / "params.yaml")
    code, err = cli(
        project,
        "--leads",
        str(project / "data/interim/leads.parquet"),
        "--outcomes",
        str(project / "data/interim/outcomes.parquet"),
        "--output",
        str(tmp_path / "scores.csv"),
    )
    assert code == 0, err
    assert (tmp_path / "scores.summary.json").exists()


def test_parquet_split_over_workers_gives_the_same_result(
    champion: LoadedModel, interim: dict[str, Path], tmp_path: Path
):
    """Activities in many row groups: partitioned in one segment per worker, same result.

    Also with dictionary-encoded columns whose dictionaries differ from row group to row group
    (as pandas categoricals written in parts give): the bucket files keep the small ones
    encoded and must still give the same result.
    """
    import pyarrow.parquet as pq

    table = pq.read_table(interim["activities"])
    activities = tmp_path / "activities.parquet"
    pq.write_table(table, activities, row_group_size=5000)
    assert pq.ParquetFile(activities).metadata.num_row_groups > 2
    encoded = tmp_path / "activities_dictionary.parquet"
    schema = pa.schema(
        [
            pa.field(f.name, pa.dictionary(pa.int32(), pa.string()))
            if f.name in ("lead_id", "activity_type", "page")
            else f
            for f in table.schema
        ]
    )
    with pq.ParquetWriter(encoded, schema) as writer:
        for part in range(0, table.num_rows, 7000):
            piece = table.slice(part, 7000)
            columns = [
                pc.dictionary_encode(piece.column(f.name).cast(pa.string()))
                if pa.types.is_dictionary(f.type)
                else piece.column(f.name)
                for f in schema
            ]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
    groups = pq.ParquetFile(encoded)
    assert groups.read_row_group(0).schema.field("activity_type").type.index_type == pa.int32()
    outputs, summaries = [], []
    for workers, path in ((1, activities), (2, activities), (2, encoded)):
        output = tmp_path / f"scores_{workers}_{path.stem}.parquet"
        summaries.append(
            score_files(
                champion,
                leads=interim["leads"],
                activities=path,
                outcomes=interim["outcomes"],
                output=output,
                chunk_size=1000,
                workers=workers,
            )
        )
        outputs.append(pd.read_parquet(output).drop(columns="scored_at"))
    for other, summary in zip(outputs[1:], summaries[1:], strict=True):
        pd.testing.assert_frame_equal(outputs[0], other)
        for key in ("counts", "stages", "rule_stages", "quarantined_by_reason"):
            assert summaries[0][key] == summary[key]
    assert len(outputs[0]) == summaries[0]["counts"]["scored"] > 0


def test_console_command_exits_with_the_code_and_message(project: Path, tmp_path: Path):
    # the installed `leadscore` skips the interpreter's teardown after `score` (os._exit):
    # the exit code and the flushed one-line message must survive it
    leadscore = Path(sys.executable).parent / "leadscore"
    args = [str(leadscore), "score", "--params", str(project / "params.yaml")]
    args += ["--leads", str(tmp_path / "nope.csv"), "--output", str(tmp_path / "out.parquet")]
    done = subprocess.run(args, capture_output=True, text=True, cwd=project, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"leadscore: error: {tmp_path / 'nope.csv'}: file not found"
    ]


@pytest.mark.parametrize("collapsing", [False, True])
def test_messy_dictionary_encoded_text_scores_like_plain_text(
    champion: LoadedModel, interim: dict[str, Path], tmp_path: Path, collapsing: bool
):
    """Activity types and pages stay categorical in the buckets: padded, blank and missing
    values give what the same plain text gives; so do two categories that strip to one text
    (then read as plain text)."""
    import pyarrow.parquet as pq

    table = pq.read_table(interim["activities"]).slice(0, 20000)
    types = table.column("activity_type").to_pylist()
    pages = table.column("page").to_pylist()
    # padded text (categories that strip to distinct texts); empty and missing types
    types = [f" {value} " if value else None for value in types]
    pages = [f"{value}  " if value else None for value in pages]
    types[5], types[8] = "   ", None
    if collapsing:  # one type unpadded in the second row group: two categories, one text
        types[15000] = types[15000].strip()
    plain = table.set_column(
        table.schema.get_field_index("activity_type"), "activity_type", pa.array(types)
    ).set_column(table.schema.get_field_index("page"), "page", pa.array(pages, pa.string()))
    paths = {"plain": tmp_path / "plain.parquet", "encoded": tmp_path / "encoded.parquet"}
    pq.write_table(plain, paths["plain"])
    encoded_columns = ("activity_type", "page")
    with pq.ParquetWriter(
        paths["encoded"],
        pa.schema(
            [
                pa.field(f.name, pa.dictionary(pa.int32(), pa.string()))
                if f.name in encoded_columns
                else f
                for f in plain.schema
            ]
        ),
    ) as writer:
        for start in (0, 10000):  # a dictionary per row group
            piece = plain.slice(start, 10000)
            writer.write_table(
                pa.Table.from_arrays(
                    [
                        pc.dictionary_encode(piece.column(name))
                        if name in encoded_columns
                        else piece.column(name)
                        for name in piece.column_names
                    ],
                    names=piece.column_names,
                )
            )
    assert pa.types.is_dictionary(pq.read_schema(paths["encoded"]).field("page").type)
    results = {}
    for name, path in paths.items():
        output = tmp_path / f"scores_{name}.parquet"
        summary = score_files(
            champion, leads=interim["leads"], activities=path, output=output, workers=1
        )
        quarantine = pd.read_csv(output.with_name(f"scores_{name}.quarantine.csv"))
        results[name] = (pd.read_parquet(output).drop(columns="scored_at"), summary, quarantine)
    (plain_scores, plain_summary, plain_bad), (scores, summary, bad) = results.values()
    pd.testing.assert_frame_equal(scores, plain_scores)
    assert summary["quarantined_by_reason"] == plain_summary["quarantined_by_reason"]
    assert summary["quarantined_by_reason"]["activities"]  # the blank and missing types
    pd.testing.assert_frame_equal(bad, plain_bad)
    assert sorted(bad["source_row"]) == [6, 9]


def _pool_after_tuning() -> str:
    from pipelines.scoring.partition import tune_worker_allocators

    tune_worker_allocators()
    return pa.default_memory_pool().backend_name


def test_only_worker_processes_tune_their_allocators():
    # the job's own process (here: pytest) keeps its allocators; its workers reuse freed memory
    before = pa.default_memory_pool().backend_name
    assert _pool_after_tuning() == before
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        assert pool.submit(_pool_after_tuning).result() == "system"


def test_every_row_carries_the_lead_age_in_days(champion: LoadedModel, tmp_path: Path):
    created = {"NEW": "2025-12-29T12:00:00Z", "MONTH": "2025-12-01", "YEAR": "2024-12-31"}
    leads = pd.DataFrame({"lead_id": list(created), "created_at": list(created.values())})
    leads.to_csv(tmp_path / "leads.csv", index=False)
    output = tmp_path / "scores.parquet"
    score_files(champion, leads=tmp_path / "leads.csv", output=output)
    ages = pd.read_parquet(output).set_index("lead_id")["lead_age_days"]
    assert ages.to_dict() == {"NEW": 1.5, "MONTH": 30.0, "YEAR": 365.0}
    output = tmp_path / "untimed.csv"  # an export without creation times: no age
    leads[["lead_id"]].to_csv(tmp_path / "untimed_leads.csv", index=False)
    run_score(
        leads=tmp_path / "untimed_leads.csv",
        activities=None,
        outcomes=None,
        output=output,
        as_of=AS_OF,
        model=champion,
        settings=ScoreSettings(),
        source={"renames": {}, "timed": False},
    )
    assert pd.read_csv(output)["lead_age_days"].isna().all()


def edited_previous(scores: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str | None]]:
    """The last run's output with known changes: (edited output, expected previous_stage)."""
    previous = scores[["lead_id", "stage", "probability"]].copy()
    by_stage = {
        stage: previous.loc[previous["stage"] == stage, "lead_id"] for stage in ("IQL", "SQL")
    }
    moved_down, moved_up, absent = (
        by_stage["SQL"].iloc[0],
        by_stage["IQL"].iloc[0],
        by_stage["IQL"].iloc[1],
    )
    previous.loc[previous["lead_id"] == moved_down, "stage"] = "MQL"  # was MQL, now SQL
    previous.loc[previous["lead_id"] == moved_up, "stage"] = "SQL"  # was SQL, now IQL
    previous = previous[previous["lead_id"] != absent]  # new since the last run
    gone = pd.DataFrame({"lead_id": ["GONE1", "GONE2"], "stage": ["SQL", "MQL"]})
    previous = pd.concat([previous, gone], ignore_index=True)  # converted since: not scored now
    expected = dict(zip(previous["lead_id"], previous["stage"], strict=True))
    return previous, {moved_down: "MQL", moved_up: "SQL", absent: None} | expected


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_previous_output_gives_previous_stage_and_stage_changes(
    champion: LoadedModel, interim: dict[str, Path], tmp_path: Path, fmt: str
):
    first = tmp_path / "first.parquet"
    score_files(champion, leads=interim["leads"], activities=interim["activities"], output=first)
    previous, expected = edited_previous(pd.read_parquet(first))
    previous_path = tmp_path / f"previous.{fmt}"
    getattr(previous, f"to_{fmt}")(previous_path, index=False)
    output = tmp_path / "second.parquet"
    summary = run_score(
        leads=interim["leads"],
        activities=interim["activities"],
        outcomes=None,
        output=output,
        as_of=AS_OF,
        model=champion,
        settings=ScoreSettings(max_bad_row_share=1.0, chunk_size=700, workers=2),
        source=SOURCE,
        previous=previous_path,
    )
    scored = pd.read_parquet(output)
    assert list(scored.columns) == [*champion.output_columns, "previous_stage"]
    got = dict(zip(scored["lead_id"], scored["previous_stage"], strict=True))
    for lead, stage in expected.items():
        if lead in got:  # the same output as before, but for the edits
            assert got[lead] == stage or (stage is None and pd.isna(got[lead]))
    assert sum(pd.isna(v) for v in got.values()) == 1
    now = dict(zip(scored["lead_id"], scored["stage"], strict=True))
    before = dict(zip(previous["lead_id"], previous["stage"], strict=True))
    for stage in ("DISQUALIFIED", "IQL", "MQL", "SQL"):
        row = summary["by_stage"][stage]
        entering = sum(now[k] == stage and before.get(k) != stage for k in now)
        leaving = sum(before[k] == stage and now.get(k) != stage for k in before)
        assert (row["entering"], row["leaving"]) == (entering, leaving), stage
        assert row["count"] == summary["stages"][stage] == sum(s == stage for s in now.values())
    sql = summary["by_stage"]["SQL"]
    assert (sql["entering"], sql["leaving"]) == (1, 2)  # MQL -> SQL; SQL -> IQL, GONE1
    assert summary["previous"] | {"path": None} == {
        "path": None,
        "rows": len(previous),
        "scored_again": len(scored) - 1,
        "new": 1,
        "no_longer_scored": 2,
    }


def test_summary_states_what_the_thresholds_promise_per_stage(
    champion: LoadedModel, interim: dict[str, Path], tmp_path: Path
):
    summary = score_files(champion, leads=interim["leads"], output=tmp_path / "scores.csv")
    proposal = champion.scorer.bundle["thresholds"]
    sql = summary["by_stage"]["SQL"]
    assert sql["promised_precision"] == proposal["sql"]["precision"]
    unit = "entering_per_week" if "entering_per_week" in proposal["sql"] else "volume_per_week"
    assert sql["promised_entering_per_week"] == proposal["sql"][unit]
    assert sql["promised_entering_per_week_from"] == f"thresholds.sql.{unit}"
    mql = next(row for row in proposal["expected"] if row["stage"] == "MQL")
    assert summary["by_stage"]["MQL"]["promised_precision"] == mql["precision"]
    assert "entering" not in sql and "previous" not in summary  # without --previous


def test_a_malformed_previous_output_stops_with_one_line_and_no_output(
    project: Path, tmp_path: Path
):
    leads = str(project / "data/interim/leads.parquet")
    output = tmp_path / "out" / "scores.parquet"
    ids = pd.read_parquet(leads)["lead_id"].head(3)
    malformed = {
        "no_stage.csv": (pd.DataFrame({"lead_id": ids}), "required column 'stage' is missing"),
        "hot.parquet": (pd.DataFrame({"lead_id": ids, "stage": "HOT"}), "unknown stage 'HOT'"),
        "twice.csv": (
            pd.DataFrame({"lead_id": [ids[0], ids[0]], "stage": "SQL"}),
            f"lead '{ids[0]}' is there twice",
        ),
    }
    for name, (frame, reason) in malformed.items():
        path = tmp_path / name
        frame.to_csv(path, index=False) if name.endswith(".csv") else frame.to_parquet(path)
        code, err = cli(project, "--leads", leads, "--output", str(output), "--previous", str(path))
        assert code == 2 and reason in err and f"--previous {path}" in err, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert not output.parent.exists() or list(output.parent.iterdir()) == []
    code, err = cli(
        project,
        "--leads",
        leads,
        "--output",
        str(output),
        "--engine",
        "spark",
        "--previous",
        str(path),
    )
    assert code == 2 and err.strip() == (
        "leadscore: error: --previous is not supported with --engine spark yet"
    )
