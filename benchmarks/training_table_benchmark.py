"""Benchmark of the snapshot training table and of training on it: wall time and peak RSS.

    .venv/bin/python benchmarks/training_table_benchmark.py --leads 200000 1000000

For each size: the synthetic export of the default params (generated once, cached under
--cache, default /tmp/leadscore_training_bench), then in a child process of its own the
features stage's work (read the Parquet export, snapshot moments, sampling, point-in-time
features per moment, purged cohorts), then in another one `models.train.train_model` on the
table it wrote. Peak RSS is the child's own (ru_maxrss of the process and of its children).
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
    """Generate (once) and write the synthetic export of the default params at n_leads."""
    directory = cache / f"leads_{n_leads}"
    if (directory / "outcomes.parquet").exists():
        return directory
    from pipelines.config import load_params
    from pipelines.synthetic.export import export_from_params

    export = export_from_params(load_params(ROOT / "params.yaml"), n_leads=n_leads)
    directory.mkdir(parents=True, exist_ok=True)
    export.leads.to_parquet(directory / "leads.parquet", index=False)
    export.activities.to_parquet(directory / "activities.parquet", index=False)
    export.outcomes.to_parquet(directory / "outcomes.parquet", index=False)
    return directory


def peak_rss_mb() -> float:
    """Peak resident memory of this process and of its finished children, in MB.

    The process's own peak is the smaller of ru_maxrss and VmHWM: ru_maxrss can carry a
    figure from before the exec that started the child (seen after a large generation in
    the parent), VmHWM is the peak of this program's memory only.
    """
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                own = min(own, int(line.split()[1]))
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def build_table(directory: Path) -> dict:
    """The features stage's work on the export; the table goes beside it for `train`."""
    import pandas as pd

    from pipelines.config import load_config
    from pipelines.stages.featurize import build_training_table, feature_config

    params = load_config(ROOT / "params.yaml")
    start = time.perf_counter()  # after the imports: the stage's own work
    leads = pd.read_parquet(directory / "leads.parquet")
    leads["created_at"] = leads["created_at"].astype("datetime64[ns, UTC]")
    activities = pd.read_parquet(directory / "activities.parquet")
    outcomes = pd.read_parquet(directory / "outcomes.parquet")
    outcomes["converted_at"] = outcomes["converted_at"].astype("datetime64[ns, UTC]")
    read = time.perf_counter() - start
    config = feature_config(params.features, behavioural=True, lead_age=True)
    table, summary = build_training_table(
        leads=leads,
        activities=activities,
        outcomes=outcomes,
        config=config,
        label=params.label,
        split=params.split,
        labelled_source=False,
    )
    wall = time.perf_counter() - start
    table.to_parquet(directory / "training_table.parquet", index=False)
    (directory / "feature_config.json").write_text(json.dumps(config.to_dict()))
    return {
        "leads": len(leads),
        "events": len(activities),
        "read_s": read,
        "wall_s": wall,
        "rows": len(table),
        "columns": table.shape[1],
        "moments": summary["snapshots"]["moments"],
        "eligible_pairs": summary["snapshots"]["eligible_pairs"],
        "sampling_rate": summary["sampling_rate"],
        "purged": summary["purged"],
        "train_rows": summary["cohorts"]["train"]["rows"],
    }


def train(directory: Path) -> dict:
    """`train_model` on the table `build_table` wrote (reading it is not timed)."""
    import pandas as pd

    from features.build import FeatureConfig
    from models.train import train_model
    from pipelines.config import load_config

    params = load_config(ROOT / "params.yaml")
    table = pd.read_parquet(directory / "training_table.parquet")
    config = FeatureConfig.from_dict(json.loads((directory / "feature_config.json").read_text()))
    start = time.perf_counter()
    _, _, metrics = train_model(
        table=table, config=config, options=params.train, purge_days=params.label.horizon_days
    )
    return {
        "wall_s": time.perf_counter() - start,
        "train_rows": metrics["train_rows"],
        "best_iteration": metrics["best_iteration"],
        "early_stopping_roc_auc": metrics["early_stopping_roc_auc"],
    }


STEPS = {"build": build_table, "train": train}


def measure(step: str, directory: Path) -> dict:
    """Run one step in a child process; wall time and peak RSS are the child's."""
    code = (
        f"import json, sys; sys.path.insert(0, {str(ROOT)!r});"
        "from benchmarks.training_table_benchmark import STEPS, peak_rss_mb;"
        "from pathlib import Path;"
        f"out = STEPS[{step!r}](Path({str(directory)!r}));"
        "out['peak_rss_mb'] = peak_rss_mb();"
        "print(json.dumps(out))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/leadscore_training_bench"))
    parser.add_argument("--no-train", action="store_true", help="time the table only")
    args = parser.parse_args()
    print(
        "| leads | events | moments | eligible pairs | q | rows | purged | build s |"
        " build peak RSS MB | train rows | rounds | train s | train peak RSS MB |"
    )
    print("|" + " ---: |" * 6 + " --- |" + " ---: |" * 6)
    for n_leads in args.leads:
        directory = ensure_export(n_leads, args.cache)
        built = measure("build", directory)
        trained = {"wall_s": float("nan"), "peak_rss_mb": float("nan"), "best_iteration": 0}
        if not args.no_train:
            trained = measure("train", directory)
        print(
            f"| {built['leads']:,} | {built['events']:,} | {built['moments']} |"
            f" {built['eligible_pairs']:,} | {built['sampling_rate']:.3f} | {built['rows']:,} |"
            f" {built['purged']} | {built['wall_s']:.1f} | {built['peak_rss_mb']:,.0f} |"
            f" {built['train_rows']:,} | {trained['best_iteration']:.0f} |"
            f" {trained['wall_s']:.1f} | {trained['peak_rss_mb']:,.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
