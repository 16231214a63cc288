"""Feature names in words a marketer reads (used for reasons and the report)."""

from __future__ import annotations

import re

ACTIVITY_WORDS = {
    "page_view": "Page views",
    "form_submit": "Form submissions",
    "content_download": "Content downloads",
    "webinar_registered": "Webinar registrations",
    "webinar_attended": "Webinars attended",
    "email_open": "E-mail opens",
    "email_click": "E-mail clicks",
    "email_unsubscribe": "Unsubscribes",
    "chat": "Chats",
    "trial_request": "Trial requests",
    "demo_request": "Demo requests",
    "contact_sales": "Contact-sales requests",
    "other": "Other activities",
    "events": "All activities",
}
FIXED_WORDS = {
    "engagement_score": "Recent engagement (decayed)",
    "active_days_total": "Days with activity",
    "is_returning_visitor": "Returning visitor",
    "n_form_conversions": "Form conversions",
    "days_since_first_activity": "Days since first activity",
    "days_since_last_activity": "Days since last activity",
    "is_hand_raiser": "Asked for a demo, trial or sales contact",
    "days_since_first_hand_raise": "Days since first hand-raise",
    "days_since_last_hand_raise": "Days since last hand-raise",
    "lead_age_days": "Age of the lead (days since created)",
    "has_unsubscribed": "Unsubscribed from e-mails",
    "has_email": "Gave an e-mail address",
    "is_personal_email": "Personal e-mail address",
    "is_competitor_domain": "Competitor e-mail domain",
    "is_student_domain": "Student e-mail domain",
    "seniority": "Seniority",
}


def _span_words(span: str) -> str:
    return "all time" if span == "total" else f"last {span[:-1]} days"


def describe_feature(name: str) -> str:
    """Readable words for a feature column name."""
    if name in FIXED_WORDS:
        return FIXED_WORDS[name]
    if match := re.fullmatch(r"n_page_(\w+?)_(\d+d|total)", name):
        return f"{match[1].capitalize()} page visits ({_span_words(match[2])})"
    if match := re.fullmatch(r"n_(\w+?)_(\d+d|total)", name):
        words = ACTIVITY_WORDS.get(match[1], match[1].replace("_", " ").capitalize())
        return f"{words} ({_span_words(match[2])})"
    if match := re.fullmatch(r"decayed_(\w+)", name):
        words = ACTIVITY_WORDS.get(match[1], match[1].replace("_", " "))
        return f"Recent {words.lower()}"
    if match := re.fullmatch(r"active_days_(\d+)d", name):
        return f"Days with activity (last {match[1]} days)"
    if match := re.fullmatch(r"is_missing_(\w+)", name):
        return f"{match[1].replace('_', ' ').capitalize()}: not given"
    return name.replace("_", " ").capitalize()
