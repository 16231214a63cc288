"""The unseen CRM export of benchmarks/crm_world.py: its shape, its dynamics, and that the
extract stage reads it by params alone (benchmarks/unseen_export.py runs the whole pipeline)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from crm_world import REGIONS, generate_crm_export, write_crm_export

from pipelines.stages.extract import SourceSpec, read_export


@pytest.fixture(scope="module")
def export():
    return generate_crm_export(n_leads=6000, seed=3)


def test_deterministic_by_seed(export) -> None:
    again = generate_crm_export(n_leads=6000, seed=3)
    pd.testing.assert_frame_equal(export.leads, again.leads)
    pd.testing.assert_frame_equal(export.activities, again.activities)
    pd.testing.assert_frame_equal(export.outcomes, again.outcomes)


def test_own_columns_and_vocabulary(export) -> None:
    assert export.leads["LeadId"].is_unique
    assert {"LeadId", "CreatedDate", "Region", "NumberOfEmployees", "Title", "Email"} <= set(
        export.leads
    )
    # nothing in the leads table comes from the outcome
    assert not {"Status", "IsConverted", "ConvertedDate"} & set(export.leads)
    types = set(export.activities["activity_type"])
    assert {"Visit Web Page", "Fill Out Form", "Request Demo", "Unsubscribe Email"} <= types
    assert not types & {"page_view", "demo_request"}  # not the canonical names


def test_regional_base_rates_and_a_thin_region(export) -> None:
    leads = export.leads.assign(converted=export.leads["LeadId"].isin(export.outcomes["LeadId"]))
    share = leads["Region"].value_counts(normalize=True)
    assert 0.01 < share["MEA"] < 0.04
    rate = leads.groupby("Region")["converted"].mean()
    assert set(REGIONS) <= set(rate.index)
    assert 2.0 < rate["NA"] / rate["LATAM"] < 4.5


def test_conversions_follow_creation(export) -> None:
    created = pd.to_datetime(export.leads.set_index("LeadId")["CreatedDate"], format="ISO8601")
    converted = pd.to_datetime(export.outcomes.set_index("LeadId")["converted_at"])
    assert (converted > created.reindex(converted.index)).all()


def test_extract_reads_it_by_params(export, tmp_path: Path) -> None:
    paths = write_crm_export(export, tmp_path)
    spec = SourceSpec(
        leads=paths["leads"],
        activities=paths["activities"],
        outcomes=paths["outcomes"],
        id_column="LeadId",
        created_at_column="CreatedDate",
    )
    leads, activities, outcomes = read_export(spec)
    assert {"lead_id", "created_at", "Region"} <= set(leads)
    assert len(activities) == len(export.activities)
    assert len(outcomes) == len(export.outcomes)


def test_north_america_survives_a_csv_read(export, tmp_path: Path) -> None:
    paths = write_crm_export(export, tmp_path)
    spec = SourceSpec(
        leads=paths["leads"],
        outcomes=paths["outcomes"],
        id_column="LeadId",
        created_at_column="CreatedDate",
    )
    leads, _, _ = read_export(spec)
    assert (leads["Region"] == "NA").sum() == (export.leads["Region"] == "NA").sum()
