"""An export with its own activity names and only role lists in params, against the canonical
names (same synthetic export, same seed): test ROC-AUC, and hand-raisers (last 30 days) in SQL.

Run from the repo root:
`.venv/bin/python benchmarks/activity_vocabulary_benchmark.py [N_LEADS] [MAX_ROWS]`.
"""

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from features.split import TEST, cohort_rows
from models.rules import PointsBaseline
from models.stages import SQL, assign_stages, disqualified_mask, hand_raiser_mask
from models.train import predict_raw, prepare_matrix, train_model
from pipelines.config import load_params, parse_params
from pipelines.stages.featurize import build_training_table, check_activity_names, feature_config
from pipelines.synthetic.export import export_from_params

RENAMED = {
    "page_view": "Page View",
    "form_submit": "Form Submission",
    "content_download": "Content Download",
    "webinar_registered": "Webinar Registration",
    "webinar_attended": "Webinar Attended",
    "email_open": "Email Opened",
    "email_click": "Email Clicked",
    "email_unsubscribe": "Unsubscribed",
    "chat": "Chat Started",
    "trial_request": "Free Trial Signup",
    "demo_request": "Meeting Booked",
    "contact_sales": "Quote Request",
}
N_LEADS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
params = load_params(Path("params.yaml"))
typed = parse_params(params)
export = export_from_params(params, n_leads=N_LEADS, seed=7)
leads = export.leads.assign(created_at=export.leads["created_at"].astype("datetime64[ns, UTC]"))
label = replace(typed.label, max_training_rows=int(sys.argv[2]) if len(sys.argv) > 2 else 40_000)


def run(activities, features):
    config = feature_config(features, behavioural=True, lead_age=True)
    config = config.with_activity_types(activities["activity_type"])
    unknown = check_activity_names(config, activities, rules=typed.rules, train=typed.train)
    table, _ = build_training_table(
        leads=leads,
        activities=activities,
        outcomes=export.outcomes,
        config=config,
        label=label,
        split=typed.split,
        labelled_source=False,
    )
    booster, spec, _ = train_model(
        table=table, config=config, options=typed.train, purge_days=typed.label.horizon_days
    )
    test = cohort_rows(table, TEST)
    score = predict_raw(booster, prepare_matrix(test, spec))
    auc = roc_auc_score(test["label"], score)
    recent = (test["days_since_last_hand_raise"] <= 30).to_numpy()
    stages = assign_stages(
        scores=score,
        mql_threshold=np.inf,
        sql_threshold=np.inf,
        hand_raiser=hand_raiser_mask(test, window_days=30.0),
        disqualified=disqualified_mask(test, params["rules"]["disqualify_when"]),
        hand_raiser_to_sql=True,
    )
    allowed = ~disqualified_mask(test, params["rules"]["disqualify_when"])
    points = PointsBaseline.from_params({**params["rules"], "hand_raiser_window_days": 30.0})
    points_stages = points.predict_stage(test)
    recent = recent & allowed
    return (
        auc,
        recent.sum(),
        (stages[recent] == SQL).mean(),
        (points_stages[recent] == SQL).mean(),
        unknown,
        config.vocabulary(),
    )


theirs = export.activities.assign(
    activity_type=export.activities["activity_type"].astype(str).map(RENAMED)
)
roles_only = replace(
    typed.features,
    **{
        k: tuple(RENAMED[n] for n in getattr(typed.features, k))
        for k in ("hand_raiser_types", "form_types", "unsubscribe_types", "page_view_types")
    },
)
for name, acts, feats in (
    ("canonical", export.activities, typed.features),
    ("own names, role lists only", theirs, roles_only),
):
    auc, n_recent, sql_share, points_sql, unknown, vocab = run(acts, feats)
    print(
        f"{name}: test ROC-AUC {auc:.4f}; hand-raise in last 30 days (not disqualified):"
        f" {n_recent} rows, "
        f"in SQL {sql_share:.1%} (model rule), {points_sql:.1%} (points baseline)"
    )
    print(f"  vocabulary {vocab}\n  unknown names in params: {unknown}")
