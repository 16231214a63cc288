"""Benchmark of batch scoring: `leadscore score` end to end vs the raw floor, side by side.

    .venv/bin/python benchmarks/score_benchmark.py --leads 1000000 2000000

Run from the repo root after `dvc repro` (it scores with `models:/lead-conversion@champion`
from the local store). For each size it measures, each in its own subprocess so that the
peak RSS (os.wait4) is that command's own:
- `leadscore score` on the Parquet export (wall time, leads/s, peak RSS);
- the floor: reading the same three files with pyarrow plus raw `booster.predict` on the
  same leads' feature matrix (built beforehand, not timed).
Exports are generated once with `pipelines.synthetic.export.generate_export` in parts of at most
1M leads (disjoint ids, so 2M = two 1M exports) and cached under --cache.

With --previous every timed run also gets `--previous` (stage changes since the last run):
the output of one untimed run beforehand, as the nightly job would pass yesterday's output.

Shared machines vary from run to run (CPU steal): with --repeat N (default 3) the scoring
command and the floor run N times each, alternately, and the figures are the medians (peak
memory: the largest of the runs); every run's own figures are kept in the JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PART_SIZE = 1_000_000
START = "2025-01-01"
DAYS = 365
AS_OF = "2026-01-01T00:00:00Z"  # the end of the synthetic data


def ensure_export(n_leads: int, cache: Path) -> Path:
    """Generate (once) a Parquet export of n_leads in parts of at most PART_SIZE leads."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.config import load_params
    from pipelines.synthetic.export import export_from_params

    directory = cache / f"leads_{n_leads}"
    if (directory / "done").exists():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    params = load_params(ROOT / "params.yaml")
    writers: dict[str, pq.ParquetWriter] = {}
    for part, first in enumerate(range(0, n_leads, PART_SIZE)):
        size = min(PART_SIZE, n_leads - first)
        export = export_from_params(params, n_leads=size, start=START, days=DAYS, seed=42 + part)
        prefix = f"P{part}"
        activity_ids = export.activities["lead_id"].cat.categories
        tables = {
            "leads": export.leads.assign(lead_id=prefix + export.leads["lead_id"]),
            "activities": export.activities.assign(
                lead_id=export.activities["lead_id"].cat.rename_categories(
                    prefix + activity_ids.astype(str)
                )
            ),
            "outcomes": export.outcomes.assign(lead_id=prefix + export.outcomes["lead_id"]),
        }
        del export
        for name, frame in tables.items():
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if name not in writers:
                writers[name] = pq.ParquetWriter(directory / f"{name}.parquet", table.schema)
            writers[name].write_table(table.cast(writers[name].schema))
        del tables
    for writer in writers.values():
        writer.close()
    (directory / "done").write_text("")
    return directory


def tree_memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) bytes summed over a process and its descendants (workers, fork server).

    The RSS sum counts pages shared by forked processes once per process; the PSS sum
    (proportional set size) counts them once in all: the tree's real footprint.
    """
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    rss = pss = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            info = process.memory_full_info()
            rss += info.rss
            pss += info.pss
    return rss, pss


def measured(args: list[str]) -> tuple[float, int, str, int]:
    """(wall seconds, peak RSS bytes, stdout, peak PSS bytes) of one command.

    Peak RSS is the larger of the process's own peak (os.wait4) and the peak of the RSS sum
    over its process tree, sampled every 200 ms (the scoring job runs worker processes); peak
    PSS is the peak of the tree's PSS sum.
    """
    env = os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true"}
    start = time.perf_counter()
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            rss, pss = tree_memory(process.pid)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    done.set()
    sampler.join()
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args[:3]} failed with {os.waitstatus_to_exitcode(status)}")
    return wall, max(usage.ru_maxrss * 1024, peak[0]), stdout, peak[1]


def score_figures(command: list[str], summary_path: Path) -> dict[str, Any]:
    """Wall time, leads/s and peak memory of one scoring command, and its summary's counts."""
    wall, rss, _, pss = measured(command)
    summary = json.loads(summary_path.read_text())
    scored = int(summary["counts"]["scored"])
    return {
        "events": int(summary["counts"]["activities_read"]),
        "scored": scored,
        "wall_s": round(wall, 1),
        "leads_per_s": round(scored / wall),
        "peak_rss_mb": round(rss / 2**20),
        "peak_pss_mb": round(pss / 2**20),
        "timings_s": summary["timings_s"],
    }


def floor(directory: Path, model_uri: str) -> None:
    """Child mode: time reading the files plus raw booster.predict on the feature matrix."""
    import mlflow
    import pandas as pd
    import pyarrow.parquet as pq

    from features.build import build_feature_table
    from models.train import prepare_matrix
    from pipelines.tracking import configure_tracking

    configure_tracking()
    scorer = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
    scorer = scorer.scorer
    as_of = pd.Timestamp(AS_OF)
    leads = pd.read_parquet(directory / "leads.parquet")
    outcomes = pd.read_parquet(directory / "outcomes.parquet")
    converted = outcomes.loc[outcomes["converted_at"] <= as_of, "lead_id"]
    leads = leads[(leads["created_at"] <= as_of) & ~leads["lead_id"].isin(converted)]
    activities = pd.read_parquet(directory / "activities.parquet")
    activities["lead_id"] = activities["lead_id"].astype(str)
    table = build_feature_table(
        leads=leads,
        activities=activities,
        as_of=pd.Series(as_of, index=leads.index),
        config=scorer.feature_config,
    )
    X = prepare_matrix(table, scorer.spec)
    del activities, table, leads
    start = time.perf_counter()
    for name in ("leads", "activities", "outcomes"):
        pq.read_table(directory / f"{name}.parquet")
    read = time.perf_counter() - start
    start = time.perf_counter()
    scorer.booster.predict(X, num_iteration=scorer.booster.best_iteration or None)
    predict = time.perf_counter() - start
    print(json.dumps({"read_s": read, "predict_s": predict, "rows": len(X)}))


def main() -> None:
    """Generate, measure and print a table of figures (also written as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, nargs="+", default=[1_000_000, 2_000_000])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/leadscore_score_bench"))
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument(
        "--previous", action="store_true", help="score with --previous (a run's output before)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command (medians)")
    parser.add_argument("--model", default="models:/lead-conversion@champion")
    parser.add_argument("--floor-of", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_of:
        floor(args.floor_of, args.model)
        return
    python = sys.executable
    leadscore = str(Path(python).parent / "leadscore")
    results = []
    for n_leads in args.leads:
        directory = ensure_export(n_leads, args.cache)
        output = directory / "scores.parquet"
        command = [leadscore, "score", "--leads", str(directory / "leads.parquet")]
        command += ["--activities", str(directory / "activities.parquet")]
        command += ["--outcomes", str(directory / "outcomes.parquet")]
        command += ["--output", str(output), "--as-of", AS_OF, "--model", args.model]
        if args.chunk_size:
            command += ["--chunk-size", str(args.chunk_size)]
        if args.workers:
            command += ["--workers", str(args.workers)]
        if args.previous:  # yesterday's output: one untimed run first
            measured(command)
            previous = output.replace(directory / "previous.parquet")
            command += ["--previous", str(previous)]
        runs, floors = [], []
        floor_command = [python, __file__, "--floor-of", str(directory), "--model", args.model]
        for _ in range(args.repeat):  # alternately, so that both see the same machine
            runs.append(score_figures(command, output.with_suffix(".summary.json")))
            if not args.skip_floor:
                _, _, stdout, _ = measured(floor_command)
                floors.append(json.loads(stdout.strip().splitlines()[-1]))
        typical = sorted(runs, key=lambda run: run["wall_s"])[len(runs) // 2]  # the median
        row = {
            "leads": n_leads,
            "events": typical["events"],
            "scored": typical["scored"],
            "runs": len(runs),
            "score_wall_s": typical["wall_s"],
            "score_leads_per_s": typical["leads_per_s"],
            "score_peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
            "score_peak_pss_mb": max(run["peak_pss_mb"] for run in runs),
            "score_timings_s": typical["timings_s"],
            "score_wall_runs_s": [run["wall_s"] for run in runs],
            "previous": args.previous,
        }
        if floors:
            totals = sorted(f["read_s"] + f["predict_s"] for f in floors)
            floor_s = totals[len(totals) // 2]
            middle = next(f for f in floors if f["read_s"] + f["predict_s"] == floor_s)
            row |= {
                "floor_read_s": round(middle["read_s"], 1),
                "floor_predict_s": round(middle["predict_s"], 1),
                "floor_s": round(floor_s, 1),
                "floor_runs_s": [round(f["read_s"] + f["predict_s"], 1) for f in floors],
                "ratio_to_floor": round(row["score_wall_s"] / floor_s, 2),
                "ratio_runs": [
                    round(run["wall_s"] / (f["read_s"] + f["predict_s"]), 2)
                    for run, f in zip(runs, floors, strict=True)
                ],
            }
        results.append(row)
        print(json.dumps(row), flush=True)
    if len(results) > 1:
        base = results[0]["score_peak_rss_mb"]
        for row in results[1:]:
            print(
                f"peak RSS at {row['leads']} vs {results[0]['leads']}: "
                f"{row['score_peak_rss_mb'] / base - 1:+.1%}"
            )
    (args.cache / "score_benchmark.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
