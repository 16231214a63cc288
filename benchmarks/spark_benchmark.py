"""Benchmark of the Spark engine in local mode beside the single-machine job, on the same files.

    .venv/bin/python benchmarks/spark_benchmark.py --leads 1000000

Run from the repo root after `dvc repro` (it scores with `models:/lead-conversion@champion`
from the local store, or --model). The Parquet export (~30 events per lead) is the one of
`score_benchmark.py` (`ensure_export`, cached under --cache). Each job runs in its own
subprocess, timed end to end with peak memory summed over its process tree (`measured`):
`leadscore score` (the local engine) and `leadscore score --engine spark` on a `local[N]`
master. Prints a markdown table: wall seconds, leads/s and the Spark job's overhead ratio.
A model registered before the Spark engine existed has no `reasons_method` param: the Spark
job then computes SHAP reasons (~25x the cost of path reasons), so time a current one.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from score_benchmark import AS_OF, ROOT, ensure_export, score_figures


def main() -> None:
    """Generate (once), score with both engines and print the table (also written as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/leadscore_score_bench"))
    parser.add_argument("--model", default="models:/lead-conversion@champion")
    parser.add_argument("--master", default="local[2]", help="Spark master of the Spark job.")
    parser.add_argument("--driver-memory", default="4g", help="JVM heap of the Spark job.")
    args = parser.parse_args()
    directory = ensure_export(args.leads, args.cache)
    leadscore = str(ROOT / ".venv/bin/leadscore")
    inputs = [f"--{name}={directory / f'{name}.parquet'}" for name in ("leads", "activities")]
    inputs += [f"--outcomes={directory / 'outcomes.parquet'}", f"--as-of={AS_OF}"]
    inputs += [f"--model={args.model}"]
    # the Spark job's master and heap, as `spark-submit` options for the session it starts
    submit_args = f"--master {args.master} --driver-memory {args.driver_memory} pyspark-shell"
    rows = []
    for engine, output in (("local", "scores.parquet"), ("spark", "scores_spark.parquet")):
        command = [leadscore, "score", *inputs, f"--output={directory / output}"]
        if engine == "spark":
            command.append("--engine=spark")
            os.environ["PYSPARK_SUBMIT_ARGS"] = submit_args
        figures = score_figures(command, (directory / output).with_suffix(".summary.json"))
        engine_name = engine if engine == "local" else f"spark {args.master}"
        rows.append({"engine": engine_name, "leads": args.leads, **figures})
        print(json.dumps(rows[-1]), flush=True)
    local_wall = rows[0]["wall_s"]
    print("\n| engine | leads (events) | wall s | leads/s | peak RSS (PSS) MB | vs local |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['engine']} | {row['leads']:,} ({row['events']:,}) | {row['wall_s']}"
            f" | {row['leads_per_s']:,} | {row['peak_rss_mb']:,} ({row['peak_pss_mb']:,})"
            f" | {row['wall_s'] / local_wall:.2f}x |"
        )
    (args.cache / "spark_benchmark.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
