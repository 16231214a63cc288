"""leadscore on a CRM export it was not built on, set up by params alone (issues 17 and 18).

    .venv/bin/python benchmarks/unseen_export.py [--leads N] [--segments] [--keep DIR]

Writes the export of benchmarks/crm_world.py (Salesforce-like leads, Marketo-like activities,
opportunities) as CSV into a temporary copy of the project (the committed code, `git archive
HEAD`; `--worktree` copies the working tree instead), points params.yaml at it with
`leadscore params apply` (source, features, role lists, monotone lists, and a points template
written from the export's vocabulary as a marketer would, not fitted to the data), runs the
dvc stages one by one and prints: test ROC-AUC of the model, the learned card and the
hand-written points; the card's size and whether its points are whole numbers; wall times.
With --segments, thresholds are set per region (`thresholds.segment_column: Region` and a
precision target per region) and the per-segment thresholds and test precision are printed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml
from crm_world import COMPETITOR_DOMAINS, PERSONAL_DOMAINS, generate_crm_export, write_crm_export

from features.vocabulary import slug

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COPIED = ("features", "models", "pipelines", "dvc.yaml", "params.yaml", "pyproject.toml")
STAGES = ("generate", "extract", "features", "train", "calibrate", "scorecard", "evaluate")
RAW = "data/raw/crm"
# Per-region SQL precision targets (--segments), from each region's rates (a 90-day
# conversion rate of about 3% in NA, 1% in LATAM; hand-raisers convert at 18% and 7%):
# NA, EMEA and APAC ask for what their rates allow, LATAM for more than its best leads
# give (expected infeasible), and MEA (~2.5% of leads) is expected to be below the data
# minimum and fall back to the global thresholds.
SEGMENT_TARGETS = {"NA": 0.18, "EMEA": 0.15, "APAC": 0.10, "LATAM": 0.12, "MEA": 0.12}
TEMPLATE: dict[str, Any] = {
    # Written from the export's vocabulary the way a marketing-ops person fills in a
    # Marketo / HubSpot scoring template, before looking at any conversion data. Profile
    # fields are named as in the export; `template(export_names=False)` writes them as the
    # feature table names them (lower snake case), the only spelling the points baseline reads.
    "attribute_points": {
        "seniority": {
            "c_level": 20,
            "vp": 15,
            "director": 10,
            "manager": 5,
            "individual": 0,
            "student": -25,
        },
        "Industry": {
            "Technology": 10,
            "Financial Services": 10,
            "Healthcare": 5,
            "Education": -5,
            "Government": -5,
        },
        "LeadSource": {
            "Partner Referral": 15,
            "Web": 5,
            "Webinar": 5,
            "Trade Show": 5,
            "Purchased List": -10,
        },
        "Region": {"NA": 10, "EMEA": 5},  # our core markets
    },
    # bigger companies, bigger deals: 5 points per tier reached
    "numeric_points": {"NumberOfEmployees": [[50, 5], [200, 5], [1000, 5], [5000, 5]]},
    "flag_points": {
        "is_competitor_domain": -100,
        "is_student_domain": -25,
        "is_personal_email": -10,
        "has_unsubscribed": -15,
    },
    "activity_points": {
        "Request Demo": 30,
        "Start Trial": 30,
        "Chat with Sales": 20,
        "Attend Event": 15,
        "Register for Event": 5,
        "Fill Out Form": 10,
        "Watch Video": 3,
        "Click Email": 3,
        "Open Email": 1,
        "Visit Web Page": 1,
    },
    "page_points": {"pricing": 10, "product": 3, "customers": 3, "careers": -10},
    "page_window_days": 30,
    "mql_points": 50,
    "sql_points": 100,
    "hand_raiser_to_sql": True,
    "disqualify_when": {
        "is_competitor_domain": 1,
        "is_student_domain": 1,
        "n_page_careers_total": 3,
    },
}


def template(*, export_names: bool) -> dict[str, Any]:
    """The points template, its profile fields named as in the export or as features."""
    if export_names:
        return TEMPLATE
    return {
        **TEMPLATE,
        "attribute_points": {slug(k): v for k, v in TEMPLATE["attribute_points"].items()},
        "numeric_points": {slug(k): v for k, v in TEMPLATE["numeric_points"].items()},
    }


def export_params(*, segments: bool, export_names: bool, fmt: str) -> dict[str, Any]:
    """The params.yaml keys that point the pipeline at this export (and nothing else)."""
    params: dict[str, Any] = {
        "source": {
            "kind": "files",
            "leads": f"{RAW}/leads.{fmt}",
            "activities": f"{RAW}/activities.{fmt}",
            "outcomes": f"{RAW}/outcomes.{fmt}",
            "id_column": "LeadId",
            "created_at_column": "CreatedDate",
            "label_column": None,
            "activity_type_map": {},  # its own names; the roles below name them
        },
        "features": {
            "categorical": ["Region", "LeadSource", "Industry"],
            "numeric": ["NumberOfEmployees"],
            "email_column": "Email",
            "job_title_column": "Title",
            "competitor_domains": list(COMPETITOR_DOMAINS),
            "personal_domains": [*PERSONAL_DOMAINS, "aol.com", "gmx.net", "proton.me"],
            "hand_raiser_types": ["Request Demo", "Start Trial", "Chat with Sales"],
            "form_types": ["Fill Out Form", "Register for Event", "Request Demo", "Start Trial"],
            "unsubscribe_types": ["Unsubscribe Email"],
            "page_view_types": ["Visit Web Page"],
            "page_categories": {
                "pricing": ["pricing", "plans"],
                "product": ["product", "features", "integrations"],
                "customers": ["customers", "case-studies", "security"],
                "careers": ["careers", "jobs"],
                "docs": ["docs", "api"],
                "blog": ["blog", "resources", "ebook"],
            },
        },
        "train": {
            "monotone_increasing": [
                "n_*_*d",
                "n_request_demo_total",
                "n_start_trial_total",
                "n_chat_with_sales_total",
                "decayed_*",
                "engagement_score",
                "active_days_*",
                "is_hand_raiser",
                "n_form_conversions",
            ],
            "monotone_decreasing": [
                "n_page_careers_*",
                "n_unsubscribe_email_*",
                "decayed_unsubscribe_email",
                "has_unsubscribed",
                "is_competitor_domain",
                "is_student_domain",
                "days_since_last_activity",
                "days_since_first_hand_raise",
                "days_since_last_hand_raise",
                "days_since_first_activity",
            ],
        },
        "scorecard": {"exclude": ["Title", "engagement_score"]},
        "rules": template(export_names=export_names),
    }
    if segments:
        params["thresholds"] = {
            "segment_column": "Region",
            "segments": {k: {"sql_precision": v} for k, v in SEGMENT_TARGETS.items()},
        }
    return params


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A command in the workspace with its own MLflow store; stops with its output on failure."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(cwd),
        "MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlflow.db'}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(args)} failed (exit {result.returncode}):\n"
            f"{result.stdout[-3000:]}{result.stderr[-6000:]}"
        )
    return result


def workspace(project: Path, *, worktree: bool) -> None:
    """The project's code and params in `project` (committed by default), with dvc initialised."""
    project.mkdir(parents=True, exist_ok=True)
    if worktree:
        for item in COPIED:
            source = ROOT / item
            if source.is_dir():
                ignore = shutil.ignore_patterns("__pycache__")
                shutil.copytree(source, project / item, ignore=ignore)
            else:
                shutil.copy2(source, project / item)
    else:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", "HEAD", *COPIED],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(project, filter="data")
    run([str(BIN / "dvc"), "init", "--no-scm", "-q"], project)
    run([str(BIN / "dvc"), "config", "core.analytics", "false"], project)


def card_summary(path: Path) -> dict[str, Any]:
    """The learned card's variables and whether every point in it is a whole number."""
    rules = yaml.safe_load(path.read_text())["rules"]
    variables: list[str] = []
    points: list[float] = [rules["mql_points"], rules["sql_points"]]
    for key in ("attribute_points", "flag_points", "activity_points", "page_points"):
        for name, value in (rules.get(key) or {}).items():
            variables.append(f"{key}:{name}")
            points += list(value.values()) if isinstance(value, dict) else [value]
    for name, tiers in (rules.get("numeric_points") or {}).items():
        variables.append(f"numeric_points:{name}")
        points += [tier[1] for tier in tiers]
    whole = all(float(p).is_integer() for p in points)
    return {"variables": variables, "whole_points": whole, "n_points": len(points)}


def show_ignored_rules(rules: dict[str, Any], features_path: Path) -> None:
    """Name the template's profile fields the feature table has no column for (0 points)."""
    columns = set(pq.read_schema(features_path).names)
    named = [*rules["attribute_points"], *rules["numeric_points"], *rules["flag_points"]]
    # as models.rules reads them: the name as written, else as the builder names the column
    ignored = [name for name in named if name not in columns and slug(name) not in columns]
    if ignored:
        print(f"hand-written template: fields with no feature column, scored 0 points: {ignored}")


def show_card_check(metrics: dict[str, Any], card: dict[str, Any]) -> bool:
    """Print issue 17's must-show figures; True when all hold."""
    model = metrics["model"]["roc_auc"]
    points = metrics["points"]["roc_auc"]
    learned = metrics["learned_points"]["roc_auc"]
    checks = {
        f"card {learned:.4f} >= points + 0.03 ({points + 0.03:.4f})": learned >= points + 0.03,
        f"card {learned:.4f} >= model - 0.03 ({model - 0.03:.4f})": learned >= model - 0.03,
        f"card variables {len(card['variables'])} <= 12": len(card["variables"]) <= 12,
        "card points all whole numbers": card["whole_points"],
    }
    print(
        f"test ROC-AUC: model {model:.4f}, learned card {learned:.4f},"
        f" hand-written points {points:.4f}"
    )
    print(f"card variables ({len(card['variables'])}): {', '.join(card['variables'])}")
    for text, ok in checks.items():
        print(f"  [{'ok' if ok else 'FAIL'}] {text}")
    return all(checks.values())


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def show_segments(thresholds: dict[str, Any], metrics: dict[str, Any]) -> bool:
    """Print issue 18's per-segment figures; True when every segment passes its check."""
    proposed = thresholds.get("segments") or {}
    tested = (metrics.get("segments") or {}).get("values") or {}
    if not proposed:
        print("thresholds.json has no `segments`: the pipeline ignored thresholds.segment_column")
        return False
    print(
        f"{'segment':8} {'rows':>6} {'pos':>5} {'fallback':8} {'target':>6} {'feasible':8}"
        f" {'promised':>8} {'SQL test':>8} {'precision [95% CI]':>22} {'>=80%':>5}"
        "  check: reason / message"
    )
    all_ok = True
    for value in sorted(set(proposed) | set(tested)):
        entry, test = proposed.get(value, {}), tested.get(value, {})
        sql, test_sql = entry.get("sql", {}), test.get("sql", {})
        target = test_sql.get("target", sql.get("target"))
        feasible = test_sql.get("feasible", sql.get("feasible"))
        precision = test_sql.get("precision")
        fallback = bool(entry.get("fallback", test.get("fallback")))
        reaches = precision is not None and target is not None and precision >= 0.8 * float(target)
        # a fallback must say why; otherwise SQLs convert at >= 80% of target or it is flagged
        ok = bool(entry.get("reason")) if fallback else (reaches or feasible is False)
        all_ok &= ok
        interval = (
            f"{precision:.3f} [{test_sql.get('precision_low', float('nan')):.3f},"
            f" {test_sql.get('precision_high', float('nan')):.3f}]"
            if precision is not None
            else "-"
        )
        note = entry.get("reason") or sql.get("message") or ""
        print(
            f"{value:8} {entry.get('rows', '-'):>6} {entry.get('positives', '-'):>5}"
            f" {fallback!s:8} {target if target is not None else '-':>6}"
            f" {feasible!s:8} {_rate(sql.get('precision')):>8}"
            f" {test_sql.get('in_stage', '-'):>8} {interval:>22}"
            f" {'yes' if reaches else 'no':>5}  {'ok' if ok else 'FAIL'}: {note}"
        )
    return all_ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=40_000, help="leads in the export")
    parser.add_argument("--seed", type=int, default=7, help="seed of the export")
    parser.add_argument("--segments", action="store_true", help="thresholds per Region")
    parser.add_argument("--report", action="store_true", help="also run the report stage")
    parser.add_argument(
        "--format", choices=("csv", "parquet"), default="csv", help="file format of the export"
    )
    parser.add_argument(
        "--export-names",
        action="store_true",
        help="name the template's profile fields as in the export (Industry, not industry)",
    )
    parser.add_argument(
        "--blank-region-share",
        type=float,
        default=0.01,
        help="share of leads with a blank Region (0: every lead has one)",
    )
    parser.add_argument("--worktree", action="store_true", help="copy the working tree")
    parser.add_argument("--keep", type=Path, default=None, help="workspace to keep (new dir)")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        project = args.keep or Path(tmp) / "leadscore"
        workspace(project, worktree=args.worktree)
        export = generate_crm_export(
            n_leads=args.leads, seed=args.seed, blank_region_share=args.blank_region_share
        )
        write_crm_export(export, project / RAW, fmt=args.format)
        print(
            f"export: {len(export.leads)} leads, {len(export.activities)} activities,"
            f" {len(export.outcomes)} opportunities ({time.perf_counter() - started:.0f} s)"
        )
        override = project / "unseen_export.yaml"
        params = export_params(
            segments=args.segments, export_names=args.export_names, fmt=args.format
        )
        override.write_text(yaml.safe_dump(params))
        run([str(BIN / "leadscore"), "params", "apply", str(override)], project)
        times = {}
        for stage in (*STAGES, "report") if args.report else STAGES:
            begin = time.perf_counter()
            run([str(BIN / "dvc"), "repro", "--single-item", stage], project)
            times[stage] = time.perf_counter() - begin
        print("stage seconds: " + ", ".join(f"{s} {t:.0f}" for s, t in times.items()))
        metrics = json.loads((project / "data/reports/metrics.json").read_text())
        card = card_summary(project / "data/model/learned_rules.yaml")
        show_ignored_rules(params["rules"], project / "data/features/features.parquet")
        ok = show_card_check(metrics, card)
        if args.segments:
            thresholds = json.loads((project / "data/model/thresholds.json").read_text())
            ok &= show_segments(thresholds, metrics)
        print(f"wall time {time.perf_counter() - started:.0f} s; workspace {project}")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
