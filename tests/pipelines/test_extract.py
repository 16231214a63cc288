"""The extract stage against a bad-input corpus: every row clean or quarantined, never lost."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from features.validation import as_text
from pipelines.cli import app
from pipelines.errors import EXIT_DATA_QUALITY, EXIT_INPUT

LEADS_CSV = """lead_id,created_at,industry,email
L1,2025-01-01T10:00:00,software,a@acme.com
L2,2025-01-02 09:30:00+02:00,retail,b@gmail.com
L3,not-a-date,software,c@acme.com
,2025-01-03,software,d@acme.com
L4,2099-01-01,software,e@acme.com
L5,2025-01-05,finance,f@acme.com
L5,2025-01-05,finance,f@acme.com
L6,2025-01-06,finance,g@acme.com
L6,2025-01-07,retail,g@acme.com
L7,2025-01-08,,h@acme.com
"""
# good rows: L1, L2, L5 (first copy), L7  -> 4 clean, 6 quarantined
ACTIVITIES_CSV = """lead_id,occurred_at,activity_type,page
L1,2025-01-02,page_view,/pricing
L1,2025-01-02,page_view,/pricing
L2,2025-01-03T12:00:00Z,demo_request,
L9,2025-01-03,page_view,/
L1,yesterday,page_view,/
L1,2025-01-04,,/
L7,2099-05-01,email_open,
L3,2025-01-04,page_view,/
"""
# good rows: the first three (a repeated event is still an event) -> 3 clean, 5 quarantined
OUTCOMES_CSV = """lead_id,converted_at
L1,2025-02-01
L1,2025-01-20
L2,2024-12-01
L9,2025-02-01
L7,??
"""
# good rows: L1 earliest -> 1 clean, 4 quarantined


def write_export(tmp_path: Path, **overrides: str) -> Path:
    """A CSV export plus params.yaml in tmp_path; returns the params path."""
    files = {"leads": LEADS_CSV, "activities": ACTIVITIES_CSV, "outcomes": OUTCOMES_CSV}
    files |= overrides
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    params = {
        "source": {
            "kind": "files",
            "leads": str(tmp_path / "leads.csv"),
            "activities": str(tmp_path / "activities.csv"),
            "outcomes": str(tmp_path / "outcomes.csv"),
            "id_column": "lead_id",
            "created_at_column": "created_at",
            "label_column": None,
        },
        "extract": {"max_bad_row_share": 0.9, "max_future_skew_hours": 24},
    }
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def run_extract(params: Path, out_dir: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["extract", "--params", str(params), "--out-dir", str(out_dir)]
    )
    return result.exit_code, result.output


@pytest.fixture
def extracted(tmp_path: Path) -> Path:
    out = tmp_path / "interim"
    code, output = run_extract(write_export(tmp_path), out)
    assert code == 0, output
    return out


def test_every_row_lands_in_exactly_one_place(extracted: Path):
    summary = json.loads((extracted / "extract_summary.json").read_text())
    quarantine = pd.read_csv(extracted / "quarantine.csv")
    expected = {"leads": (10, 4), "activities": (8, 3), "outcomes": (5, 1)}
    for table, (read, kept) in expected.items():
        counts = summary[table]
        assert counts["read"] == read
        assert counts["kept"] == kept, table
        assert counts["kept"] + counts["quarantined"] == read
        rows = quarantine[quarantine["table"] == table]
        assert len(rows) == read - kept
        assert rows["source_row"].is_unique  # one line per bad row, all reasons on it
    clean = pd.read_parquet(extracted / "leads.parquet")
    assert sorted(clean["lead_id"]) == ["L1", "L2", "L5", "L7"]
    assert str(clean["created_at"].dtype) == "datetime64[ns, UTC]"
    # +02:00 converted to UTC; naive read as UTC
    l2 = clean.set_index("lead_id").loc["L2", "created_at"]
    assert l2 == pd.Timestamp("2025-01-02 07:30", tz="UTC")


def test_quarantine_reasons_are_readable(extracted: Path):
    quarantine = pd.read_csv(extracted / "quarantine.csv")
    keys = zip(quarantine["table"], quarantine["source_row"], strict=True)
    reasons = dict(zip(keys, quarantine["reason"], strict=True))
    assert reasons[("leads", 3)] == "created_at missing or not an ISO 8601 timestamp"
    assert reasons[("leads", 4)] == "lead_id missing"
    assert reasons[("leads", 5)] == "created_at in the future"
    assert reasons[("leads", 7)] == "exact duplicate of an earlier row"
    assert (
        reasons[("leads", 8)]
        == reasons[("leads", 9)]
        == "duplicate lead_id with conflicting values"
    )
    assert reasons[("activities", 4)] == "lead_id not found in clean leads"
    assert "not an ISO 8601 timestamp" in reasons[("activities", 5)]
    assert reasons[("activities", 6)] == "activity_type missing"
    assert reasons[("activities", 7)] == "occurred_at in the future"
    assert reasons[("activities", 8)] == "lead_id not found in clean leads"  # L3 was rejected
    assert reasons[("outcomes", 1)] == "later duplicate outcome for the lead (earliest kept)"
    assert reasons[("outcomes", 3)] == "converted_at before the lead's created_at"
    record = json.loads(quarantine.loc[0, "record"])
    assert set(record) >= {"lead_id", "created_at"}  # the original values are kept


def test_too_many_bad_rows_stop_with_a_clear_message(tmp_path: Path):
    params = write_export(tmp_path)
    config = yaml.safe_load(params.read_text())
    config["extract"]["max_bad_row_share"] = 0.05
    params.write_text(yaml.safe_dump(config))
    code, output = run_extract(params, tmp_path / "interim")
    assert code == EXIT_DATA_QUALITY
    assert "above extract.max_bad_row_share" in output
    assert (tmp_path / "interim" / "quarantine.csv").exists()  # nothing bad is lost
    assert not (tmp_path / "interim" / "leads.parquet").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"leads": ""}, "file is empty"),
        ({"leads": "lead_id,industry\nL1,software\n"}, "required column 'created_at' is missing"),
        ({"activities": "lead_id,activity_type\nL1,page_view\n"}, "'occurred_at' is missing"),
        ({"outcomes": "lead_id\nL1\n"}, "'converted_at' is missing"),
        ({"leads": "lead_id;created_at\nL1;2025-01-01\n"}, "separated by ';'"),
    ],
)
def test_structural_faults_exit_2_with_one_line(tmp_path: Path, overrides, message):
    code, output = run_extract(write_export(tmp_path, **overrides), tmp_path / "interim")
    assert code == EXIT_INPUT
    assert message in output
    assert len(output.strip().splitlines()) == 1
    assert "Traceback" not in output


def test_missing_file_and_non_utf8_exit_2(tmp_path: Path):
    params = write_export(tmp_path)
    (tmp_path / "leads.csv").write_bytes("lead_id,created_at\nL\xe9,2025-01-01\n".encode("latin-1"))
    code, output = run_extract(params, tmp_path / "interim")
    assert code == EXIT_INPUT and "not UTF-8" in output
    (tmp_path / "leads.csv").unlink()
    code, output = run_extract(params, tmp_path / "interim")
    assert code == EXIT_INPUT and "file not found" in output


def test_single_table_export_with_yes_no_label(tmp_path: Path):
    leads = tmp_path / "leads.csv"
    leads.write_text("id;segment;y\n1;a;yes\n2;b;no\n3;a;maybe\n4;unknown;no\n")
    params = tmp_path / "params.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                "source": {
                    "kind": "files",
                    "leads": str(leads),
                    "activities": None,
                    "outcomes": None,
                    "id_column": "id",
                    "created_at_column": None,
                    "label_column": "y",
                    "csv_separator": ";",
                    "missing_values": ["unknown"],
                },
                "extract": {"max_bad_row_share": 0.5},
            }
        )
    )
    code, output = run_extract(params, tmp_path / "interim")
    assert code == 0, output
    clean = pd.read_parquet(tmp_path / "interim" / "leads.parquet")
    assert clean["label"].tolist() == [1.0, 0.0, 0.0]
    assert clean["segment"].isna().tolist() == [False, False, True]
    quarantine = pd.read_csv(tmp_path / "interim" / "quarantine.csv")
    assert quarantine["reason"].tolist() == ["label missing or not 0/1 (yes/no)"]


def test_help_lists_every_command_with_one_line():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("generate", "extract", "features", "train", "calibrate", "evaluate"):
        assert command in result.output


def test_text_kept_as_categories_is_stripped_once_per_category():
    values = pd.Series(pd.Categorical([" webinar", "demo ", None, " webinar"]))
    kept = as_text(values, keep_categories=True)
    assert isinstance(kept.dtype, pd.CategoricalDtype)
    assert sorted(kept.cat.categories) == ["demo", "webinar"]
    assert kept.astype("str").tolist()[:2] == ["webinar", "demo"] and pd.isna(kept[2])
    assert kept.astype("str")[3] == "webinar"
    # " a" and "a" strip to one text: plain text then, as without keep_categories
    collapsing = pd.Series(pd.Categorical(["a", " a", "b"]))
    text = as_text(collapsing, keep_categories=True)
    assert text.dtype == "str" and text.tolist() == ["a", "a", "b"]
    assert as_text(values).dtype == "str"


def test_na_is_a_value_in_text_columns_of_both_readers(tmp_path: Path) -> None:
    """A region or country "NA" (North America, Namibia) is kept, not read as missing, by
    the extract's reader and the scoring job's streaming reader alike; blanks are missing,
    and `source.missing_values: [NA]` makes it missing on purpose."""
    import pyarrow as pa

    from pipelines.io import read_table
    from pipelines.scoring.partition import TableSource, iter_batches

    path = tmp_path / "leads.csv"
    path.write_text("lead_id,region,employees\nL1,NA,NA\nL2,,12\nL3,EMEA,N/A\n")
    read = read_table(path)
    assert read["region"].tolist()[0] == "NA" and pd.isna(read["region"][1])
    assert pd.to_numeric(read["employees"], errors="coerce").isna().tolist() == [True, False, True]
    source = TableSource(name="leads", path=path, required=("lead_id",))
    streamed = pa.Table.from_batches(list(iter_batches(source))).to_pandas()
    assert streamed["region"].tolist()[:1] == ["NA"] and pd.isna(streamed["region"][1])
    assert read_table(path, missing_values=["NA"])["region"].isna().tolist() == [True, True, False]
