"""`leadscore model list|promote|revert` on a real MLflow sqlite store with a few versions."""

from __future__ import annotations

import json

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.lifecycle import GATE_TAG, HISTORY_PREFIX
from pipelines.tracking import CHAMPION


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty sqlite tracking store in tmp."""
    return f"sqlite:///{tmp_path_factory.mktemp('lifecycle') / 'mlflow.db'}"


@pytest.fixture()
def client(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    """A client of the tmp store, which the commands use too."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store_uri)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    mlflow.set_tracking_uri(store_uri)
    return MlflowClient()


def registered(client: MlflowClient, name: str, *, aucs: list[float], gate: list[bool]) -> None:
    """A registered model with one version per AUC (its run's metric); the versions whose
    `gate` is true passed the evaluate stage's gate, the last of them holds the champion alias
    (as the evaluate stage leaves it)."""
    experiment = mlflow.set_experiment("lifecycle-test")
    client.create_registered_model(name)
    for auc, passed in zip(aucs, gate, strict=True):
        run = client.create_run(experiment.experiment_id)
        client.log_metric(run.info.run_id, "test_roc_auc", auc)
        client.log_metric(run.info.run_id, "test_points_roc_auc", 0.8)
        source = f"{run.info.artifact_uri}/model"  # (no artifacts: the commands read none)
        version = client.create_model_version(name, source=source, run_id=run.info.run_id)
        client.set_model_version_tag(
            name, version.version, GATE_TAG, json.dumps({"promoted": passed})
        )
        if passed:
            client.set_registered_model_alias(name, CHAMPION, version.version)


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def listing(name: str) -> dict:
    result = invoke("model", "list", "--json", "--model-name", name)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def champion(client: MlflowClient, name: str) -> str:
    return str(client.get_model_version_by_alias(name, CHAMPION).version)


def test_list_shows_versions_metrics_approval_and_champion(client: MlflowClient):
    registered(client, "m-list", aucs=[0.90, 0.92, 0.93], gate=[True, True, False])
    shown = listing("m-list")
    assert shown["champion"] == "2"
    assert [v["version"] for v in shown["versions"]] == ["3", "2", "1"]
    assert shown["versions"][0]["metrics"]["test_roc_auc"] == pytest.approx(0.93)
    assert shown["versions"][1]["aliases"] == [CHAMPION]
    assert shown["versions"][0]["gate_passed"] is False
    assert all(v["approval"] is None for v in shown["versions"])
    table = invoke("model", "list", "--model-name", "m-list")
    assert table.exit_code == 0 and "Champion now: version 2" in table.stdout


def test_promote_records_who_when_why_and_revert_walks_back(client: MlflowClient):
    name = "m-promote"
    registered(client, name, aucs=[0.90, 0.91, 0.92], gate=[True, False, False])
    result = invoke(
        "model", "promote", "--model-name", name, "--version", "3", "--reason", "better AUC",
        "--by", "ann",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert champion(client, name) == "3"
    tags = client.get_model_version(name, "3").tags
    assert tags["champion.by"] == "ann" and tags["champion.reason"] == "better AUC"
    assert tags["champion.action"] == "promote" and tags["champion.at"]
    assert "no approved thresholds" in result.stderr  # v3 would score with proposed ones
    invoke("model", "promote", "--model-name", name, "--version", "2", "--by", "bob")
    assert champion(client, name) == "2"
    # revert walks back the chain 1 -> 3 -> 2 (the first champion was set by the gate)
    result = invoke("model", "revert", "--model-name", name, "--reason", "v2 wrong", "--by", "cy")
    assert result.exit_code == 0, result.output
    assert champion(client, name) == "3"
    assert client.get_model_version(name, "2").tags["champion.until"]
    invoke("model", "revert", "--model-name", name, "--by", "cy")
    assert champion(client, name) == "1"
    result = invoke("model", "revert", "--model-name", name, "--by", "cy")
    assert result.exit_code == 5
    assert result.stderr.strip().count("\n") == 0 and "no previous champion" in result.stderr
    # append-only history: four events, oldest first, each with who/when/why
    events = listing(name)["history"]
    assert [(e["action"], e["version"], e["previous"]) for e in events] == [
        ("promote", "3", "1"),
        ("promote", "2", "3"),
        ("revert", "3", "2"),
        ("revert", "1", "3"),
    ]
    assert [e["by"] for e in events] == ["ann", "bob", "cy", "cy"]
    assert events[2]["reason"] == "v2 wrong"
    keys = [k for k in client.get_registered_model(name).tags if k.startswith(HISTORY_PREFIX)]
    assert len(keys) == 4  # one tag per event: nothing overwritten


def test_revert_of_a_gate_champion_goes_to_the_gate_champion_before(client: MlflowClient):
    registered(client, "m-gate", aucs=[0.90, 0.91, 0.92], gate=[True, False, True])
    result = invoke("model", "revert", "--model-name", "m-gate", "--by", "dee")
    assert result.exit_code == 0, result.output
    assert champion(client, "m-gate") == "1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["promote", "--version", "9"], "has no version 9"),
        (["revert"], "no champion to revert"),
    ],
)
def test_bad_lifecycle_commands_stop_with_one_line(
    client: MlflowClient, args: list[str], message: str
):
    registered(client, f"m-bad-{args[0]}", aucs=[0.9], gate=[False])
    result = invoke("model", *args, "--model-name", f"m-bad-{args[0]}")
    assert result.exit_code == 5
    assert message in result.stderr and result.stderr.strip().count("\n") == 0
