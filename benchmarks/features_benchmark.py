"""Benchmark of the features stage: wall time, events/s and peak RSS, pandas vs DuckDB / polars.

    .venv/bin/python benchmarks/features_benchmark.py --leads 1000000 2000000 --compare

Each measurement runs in its own subprocess so its peak RSS is its own. The synthetic export
is generated once per size and cached under --cache (default /tmp/leadscore_bench).
The comparison engines compute the core of the work (counts per activity type over the
windows, decayed counts, recency) from the same Parquet files, so the figures are like for
like for the aggregation; pandas runs the complete feature builder, one row per lead as of
created_at + observation_days (the snapshot training table has its own benchmark).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def ensure_export(n_leads: int, cache: Path) -> Path:
    """Generate (once) and write a synthetic export of n_leads as Parquet."""
    directory = cache / f"leads_{n_leads}"
    if (directory / "activities.parquet").exists():
        return directory
    from pipelines.config import load_params
    from pipelines.synthetic.export import export_from_params

    params = load_params(ROOT / "params.yaml")
    export = export_from_params(params, n_leads=n_leads, start="2025-01-01", days=365, seed=42)
    directory.mkdir(parents=True, exist_ok=True)
    export.leads.to_parquet(directory / "leads.parquet", index=False)
    export.activities.to_parquet(directory / "activities.parquet", index=False)
    export.outcomes.to_parquet(directory / "outcomes.parquet", index=False)
    return directory


def run_pandas(directory: Path) -> dict:
    """The feature function at one as-of moment per lead (created_at + observation_days).

    The per-event work that the snapshot training table (benchmarks/
    training_table_benchmark.py) and batch scoring repeat; like for like with the engines.
    """
    import pandas as pd

    from features.build import build_feature_table
    from pipelines.config import load_config
    from pipelines.stages.featurize import feature_config

    params = load_config(ROOT / "params.yaml")
    start = time.perf_counter()  # after the imports: the stage's own work
    leads = pd.read_parquet(directory / "leads.parquet")
    leads["created_at"] = leads["created_at"].astype("datetime64[ns, UTC]")
    activities = pd.read_parquet(directory / "activities.parquet")
    read = time.perf_counter() - start
    table = build_feature_table(
        leads=leads,
        activities=activities,
        as_of=leads["created_at"] + pd.Timedelta(days=params.label.observation_days),
        config=feature_config(params.features, behavioural=True, lead_age=True),
    )
    return {
        "read_s": read,
        "wall_s": time.perf_counter() - start,
        "rows": len(table),
        "columns": table.shape[1],
    }


AGGREGATION_SQL = """
WITH leads AS (
    SELECT lead_id, created_at + INTERVAL 14 DAY AS as_of FROM read_parquet('{leads}')
), ev AS (
    SELECT a.lead_id, a.activity_type,
           epoch(l.as_of) - epoch(a.occurred_at) AS age_s
    FROM read_parquet('{activities}') a JOIN leads l USING (lead_id)
    WHERE a.occurred_at <= l.as_of
)
SELECT lead_id, activity_type,
       count(*) FILTER (WHERE age_s <= 7 * 86400) AS n7,
       count(*) FILTER (WHERE age_s <= 30 * 86400) AS n30,
       count(*) FILTER (WHERE age_s <= 90 * 86400) AS n90,
       count(*) AS n_total,
       sum(pow(2, -age_s / 86400.0 / 14)) AS decayed,
       min(age_s) / 86400.0 AS days_since_last
FROM ev GROUP BY lead_id, activity_type
"""


def run_duckdb(directory: Path) -> dict:
    """The core aggregation in DuckDB, pivoted to one row per lead."""
    import duckdb

    start = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute("SET enable_progress_bar = false")
    query = AGGREGATION_SQL.format(
        leads=directory / "leads.parquet", activities=directory / "activities.parquet"
    )
    long = con.execute(query).df()
    wide = long.pivot(index="lead_id", columns="activity_type")
    return {"wall_s": time.perf_counter() - start, "rows": len(wide), "columns": wide.shape[1]}


def run_polars(directory: Path) -> dict:
    """The core aggregation in polars (lazy, streaming), pivoted to one row per lead."""
    import polars as pl

    start = time.perf_counter()
    leads = pl.scan_parquet(directory / "leads.parquet").select(
        "lead_id", (pl.col("created_at") + pl.duration(days=14)).alias("as_of")
    )
    events = (
        pl.scan_parquet(directory / "activities.parquet")
        .with_columns(pl.col("lead_id").cast(pl.String), pl.col("activity_type").cast(pl.String))
        .join(leads.with_columns(pl.col("lead_id").cast(pl.String)), on="lead_id")
        .with_columns(
            ((pl.col("as_of") - pl.col("occurred_at")).dt.total_seconds() / 86400).alias("age")
        )
        .filter(pl.col("age") >= 0)
    )
    long = (
        events.group_by("lead_id", "activity_type")
        .agg(
            (pl.col("age") <= 7).sum().alias("n7"),
            (pl.col("age") <= 30).sum().alias("n30"),
            (pl.col("age") <= 90).sum().alias("n90"),
            pl.len().alias("n_total"),
            (2.0 ** (-pl.col("age") / 14)).sum().alias("decayed"),
            pl.col("age").min().alias("days_since_last"),
        )
        .collect()
    )
    wide = long.pivot(on="activity_type", index="lead_id")
    return {"wall_s": time.perf_counter() - start, "rows": wide.height, "columns": wide.width}


ENGINES = {"pandas": run_pandas, "duckdb": run_duckdb, "polars": run_polars}


def measure(engine: str, directory: Path) -> dict:
    """Run one engine in a child process; wall time and peak RSS are the child's."""
    code = (
        f"import json, resource, sys; sys.path.insert(0, {str(ROOT)!r});"
        "from benchmarks.features_benchmark import ENGINES; from pathlib import Path;"
        f"out = ENGINES[{engine!r}](Path({str(directory)!r}));"
        "out['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024;"
        "print(json.dumps(out))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--compare", action="store_true", help="also time DuckDB and polars")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/leadscore_bench"))
    args = parser.parse_args()
    engines = list(ENGINES) if args.compare else ["pandas"]
    print("| leads | events | engine | wall s | events/s | peak RSS MB |")
    print("| ---: | ---: | --- | ---: | ---: | ---: |")
    for n_leads in args.leads:
        directory = ensure_export(n_leads, args.cache)
        import pyarrow.parquet as pq

        events = pq.ParquetFile(directory / "activities.parquet").metadata.num_rows
        for engine in engines:
            out = measure(engine, directory)
            rate = events / out["wall_s"]
            rss = f"{out['peak_rss_mb']:,.0f}"
            print(
                f"| {n_leads:,} | {events:,} | {engine} | {out['wall_s']:.1f} |"
                f" {rate:,.0f} | {rss} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
