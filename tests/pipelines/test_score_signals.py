"""A scoring job stopped by its scheduler: the real `leadscore score`, sent SIGTERM or SIGKILL.

Within 10 s of the signal no process of the job is left (the job runs in its own session, so
every process it started is found by session id, wherever it was reparented) and no output
exists; its temporary files are gone at once after SIGTERM, and after SIGKILL once the next
run in the same directory has started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pytest

from pipelines.scoring.lifecycle import (
    EXIT_STOPPED,
    RUN_PREFIX,
    RunFiles,
    remove_stale_run_directories,
)
from pipelines.scoring.settings import TABLES

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")

LEADSCORE = Path(sys.executable).parent / "leadscore"
AS_OF = "2025-12-31T00:00:00Z"
COPIES = 20  # the project's export 20 times over (new lead ids): a run of several seconds
GRACE_S = 10.0  # what a scheduler waits after a signal before it gives up on a job


@pytest.fixture(scope="module")
def big_export(project: Path, interim: dict[str, Path]) -> dict[str, Path]:
    """The project's clean tables repeated with distinct lead ids."""
    directory = project / "big_export"
    directory.mkdir(exist_ok=True)
    paths = {}
    for name in TABLES:
        frame = pd.read_parquet(interim[name])
        ids = frame["lead_id"].astype(str)
        copies = [frame.assign(lead_id=f"C{copy:02d}-" + ids) for copy in range(COPIES)]
        paths[name] = directory / f"{name}.parquet"
        pd.concat(copies, ignore_index=True).to_parquet(paths[name], index=False)
    return paths


def start_job(project: Path, inputs: dict[str, Path], output: Path) -> subprocess.Popen:
    """`leadscore score` in its own session, as a scheduler starts it (stderr to a file)."""
    args = [str(LEADSCORE), "score", "--params", str(project / "params.yaml")]
    for name, path in inputs.items():
        args += [f"--{name}", str(path)]
    args += ["--output", str(output), "--as-of", AS_OF, "--chunk-size", "10000", "--workers", "2"]
    stderr = (output.parent.parent / f"{output.parent.name}.stderr").open("w")
    return subprocess.Popen(
        args, cwd=project, stderr=stderr, stdout=subprocess.DEVNULL, start_new_session=True
    )


def session_processes(session: int) -> list[int]:
    """Live (not zombie) processes of a session, from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat.rpartition(")")[2].split()  # after "pid (name)": state, ppid, pgrp, sid
        if fields[0] != "Z" and int(fields[3]) == session:
            pids.append(int(entry.name))
    return pids


def wait_until(job: subprocess.Popen, directory: Path, pattern: str, *, processes: int) -> int:
    """Wait until the job has written a file matching `pattern` in `directory` and runs at least
    `processes` processes (with one core: one); how many it runs then."""
    wanted = processes if (os.cpu_count() or 1) > 1 else 1
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert job.poll() is None, "the job ended before it could be stopped"
        running = len(session_processes(job.pid))
        if any(directory.glob(pattern)) and running >= wanted:
            return running
        time.sleep(0.05)
    raise AssertionError(f"the job never wrote {pattern} in {directory} with {wanted} processes")


def seconds_until_gone(session: int) -> float:
    """Seconds until no process of the session is left (at most GRACE_S, then a failure)."""
    start = time.monotonic()
    while session_processes(session):
        elapsed = time.monotonic() - start
        assert elapsed < GRACE_S, f"still running {elapsed:.1f} s after the signal"
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.mark.parametrize(
    ("busy_with", "busy_count"),
    [("*.arrow", 3), ("job.pickle", 4)],
    ids=["while partitioning", "while scoring"],
)
def test_sigterm_stops_workers_removes_temporary_files_writes_nothing(
    project: Path, big_export: dict[str, Path], tmp_path: Path, busy_with: str, busy_count: int
):
    output = tmp_path / "scores" / "scores.parquet"
    job = start_job(project, big_export, output)
    # partitioning: the job and two partitioners; scoring: the job, the fork server, 2 workers
    busy = wait_until(job, output.parent, f"{RUN_PREFIX}*/{busy_with}", processes=busy_count)
    signalled = time.monotonic()
    job.send_signal(signal.SIGTERM)
    assert job.wait(timeout=GRACE_S) == EXIT_STOPPED
    exited = time.monotonic() - signalled
    seconds_until_gone(job.pid)
    gone = time.monotonic() - signalled
    stderr = (tmp_path / "scores.stderr").read_text()
    errors = [line for line in stderr.splitlines() if "error" in line.lower()]
    assert errors == [
        "leadscore: error: stopped by SIGTERM: workers stopped, temporary files removed,"
        " no output written"
    ]
    assert "Traceback" not in stderr
    assert list(output.parent.iterdir()) == []  # no output, no temporary file
    print(f"SIGTERM {busy_with}: {busy} processes; exit {exited:.2f} s, all gone {gone:.2f} s")


def test_sigkill_workers_exit_and_the_next_run_removes_the_temporary_files(
    project: Path, big_export: dict[str, Path], interim: dict[str, Path], tmp_path: Path
):
    output = tmp_path / "scores" / "scores.parquet"
    job = start_job(project, big_export, output)
    # scoring: the job, the fork server, its two workers
    busy = wait_until(job, output.parent, f"{RUN_PREFIX}*/job.pickle", processes=4)
    killed = time.monotonic()
    job.kill()
    job.wait()
    gone = seconds_until_gone(job.pid)
    print(f"SIGKILL: {busy} processes, all gone {time.monotonic() - killed:.2f} s after it")
    left = [path.name for path in output.parent.iterdir()]
    assert not output.exists() and all(name.startswith(RUN_PREFIX) for name in left), left
    next_run = start_job(project, interim, output)
    assert next_run.wait(timeout=120) == 0
    assert sorted(path.name for path in output.parent.iterdir()) == [
        "scores.parquet",
        "scores.quarantine.csv",
        "scores.summary.json",
    ]
    assert gone < GRACE_S


def test_only_dead_runs_directories_are_removed(tmp_path: Path):
    host = socket.gethostname()
    probe = [sys.executable, "-c", "import os; print(os.getpid())"]
    dead_pid = int(subprocess.run(probe, check=True, capture_output=True, text=True).stdout)
    names = {
        "dead": f"{RUN_PREFIX}{dead_pid}-{host}-abcd1234",
        "reused_pid": f"{RUN_PREFIX}{os.getpid()}-{host}-abcd1234",  # ours, but not in progress
        "alive": f"{RUN_PREFIX}{os.getppid()}-{host}-abcd1234",
        "other_host": f"{RUN_PREFIX}{dead_pid}-elsewhere.example-abcd1234",
        "unnamed": f"{RUN_PREFIX}abcd1234",  # an older version's: owner unknown
    }
    for name in names.values():
        (tmp_path / name).mkdir()
        (tmp_path / name / "leads-00000-00000.arrow").write_bytes(b"x")
    with ExitStack() as stack:
        in_progress = RunFiles(stack).directory(tmp_path)  # removes the dead runs' first
        assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
            [in_progress.name, *(names[k] for k in ("alive", "other_host", "unnamed"))]
        )
        assert remove_stale_run_directories(tmp_path) == []  # a run in progress stays
    assert not in_progress.exists()
