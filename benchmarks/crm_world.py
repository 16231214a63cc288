"""A CRM / marketing-automation export the pipeline was not built on (Salesforce-like leads,
Marketo-like activities), for benchmarks/unseen_export.py.

Written independently of `pipelines/synthetic` (which only fixed the output format): its own
column names, activity vocabulary with page URLs, and its own dynamics:
- who the lead is sets a latent fit (lead source, industry, a mid-market peak in employee
  count, seniority read from a free-text title, personal e-mail, unobserved noise);
- interest comes in bursts (research or buying) whose rate fades with the lead's age;
  buying bursts bring pricing pages and sometimes a demo or trial request;
- every burst may turn into an opportunity a few weeks after it ends, with a probability
  from fit, region (base rates differ about 3x between NA and LATAM), the burst's kind,
  intensity and hand-raise; a small background hazard (outbound deals) needs no burst;
- a nurture e-mail every 14 days (opens, clicks, unsubscribes) to everyone still subscribed;
- students, competitors and job seekers (careers pages) never convert.
Nothing in the leads table is derived from the outcome. Deterministic by seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REGIONS = ("NA", "EMEA", "APAC", "LATAM", "MEA")
REGION_SHARE = (0.42, 0.29, 0.17, 0.095, 0.025)
REGION_LOGIT = (0.0, -0.45, -0.8, -1.3, -1.0)  # conversion offset: NA about 3x LATAM
REGION_PERSONAL_EMAIL = (0.10, 0.12, 0.20, 0.30, 0.22)
COUNTRIES = {
    "NA": (("US", "com"), ("CA", "ca")),
    "EMEA": (("GB", "co.uk"), ("DE", "de"), ("FR", "fr"), ("NL", "nl"), ("SE", "se")),
    "APAC": (("AU", "com.au"), ("IN", "in"), ("JP", "jp"), ("SG", "sg")),
    "LATAM": (("BR", "com.br"), ("MX", "mx"), ("AR", "com.ar"), ("CO", "co")),
    "MEA": (("AE", "ae"), ("SA", "sa"), ("ZA", "co.za")),
}
# name: (share, fit effect, inbound: the lead was created by a form on our site)
SOURCES = {
    "Web": (0.22, 0.2, True),
    "Organic Search": (0.15, 0.1, True),
    "Paid Search": (0.14, -0.1, True),
    "Webinar": (0.09, 0.2, True),
    "Trade Show": (0.08, 0.0, False),
    "Partner Referral": (0.05, 0.8, False),
    "Content Syndication": (0.10, -0.4, False),
    "Purchased List": (0.10, -0.9, False),
    "Social Media": (0.07, -0.3, True),
}
INDUSTRIES = {  # name: (share, fit effect); "" is a blank picklist
    "Technology": (0.23, 0.4),
    "Financial Services": (0.13, 0.3),
    "Healthcare": (0.10, 0.1),
    "Manufacturing": (0.12, 0.0),
    "Retail": (0.09, -0.1),
    "Professional Services": (0.10, 0.1),
    "Education": (0.07, -0.5),
    "Government": (0.05, -0.3),
    "Media": (0.05, -0.2),
    "": (0.06, -0.1),
}
# log10(employees) -> fit: small firms rarely buy, the mid-market most, giants a little less
SIZE_CURVE = ((0.0, -0.9), (1.0, -0.6), (2.0, 0.1), (2.7, 0.5), (3.7, 0.5), (4.5, 0.1), (5.3, 0.0))
TITLES = {  # seniority (true effect): titles as typed into forms
    "c_level": (
        0.07,
        0.2,
        ("CEO", "Chief Marketing Officer", "CTO", "Founder", "Owner", "COO", "President"),
    ),
    "vp": (0.08, 0.5, ("VP Sales", "VP of Marketing", "Vice President, Operations", "SVP Growth")),
    "director": (
        0.15,
        0.5,
        ("Director of Marketing", "Head of Growth", "IT Director", "Director, Revenue Ops"),
    ),
    "manager": (
        0.28,
        0.2,
        ("Marketing Manager", "Sales Ops Manager", "Demand Gen Lead", "Product Manager"),
    ),
    "individual": (
        0.33,
        -0.2,
        ("Marketing Specialist", "Analyst", "Software Engineer", "Consultant", "Coordinator"),
    ),
    "student": (0.03, 0.0, ("Student", "MBA Student", "Marketing Intern", "Graduate Trainee")),
    "": (0.06, -0.1, ("",)),
}
PERSONAL_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com")
STUDENT_DOMAINS = ("state.edu", "tech.edu", "uni-london.ac.uk", "campus.edu.au")
COMPETITOR_DOMAINS = ("marketbeam.io", "funnelcraft.com")
FIRST = ("alex", "maria", "li", "sam", "priya", "jonas", "fatima", "diego", "emma", "kenji")
LAST = ("smith", "garcia", "chen", "mueller", "kumar", "silva", "haddad", "tanaka", "olsen")
WORDS = ("north", "blue", "apex", "terra", "nova", "iron", "bright", "delta", "green", "peak")
WORDS2 = ("labs", "systems", "group", "works", "logic", "data", "health", "bank", "retail")

SITE = "https://www.orbitly.com"
PAGES = {  # page group: paths (a page of the group is drawn uniformly)
    "pricing": ("/pricing", "/pricing/enterprise", "/plans/compare"),
    "product": ("/product/analytics", "/product/integrations", "/features/automation"),
    "proof": ("/customers/case-studies", "/security", "/docs/api/getting-started"),
    "content": ("/blog/lead-nurturing-101", "/blog/attribution-models", "/resources/ebook-roi"),
    "home": ("/", "/about", "/contact"),
    "careers": ("/careers", "/careers/open-roles/sdr", "/careers/life-at-orbitly"),
}
PAGE_GROUPS = tuple(PAGES)
PAGE_URLS = np.array([[SITE + p for p in PAGES[g]] for g in PAGE_GROUPS], dtype=object)
# burst kinds: research, buying, careers (job seeker), snooping (competitor)
RESEARCH, BUYING, CAREERS, SNOOP = range(4)
ACTIVITIES = (
    "Visit Web Page",
    "Fill Out Form",
    "Open Email",
    "Click Email",
    "Register for Event",
    "Attend Event",
    "Watch Video",
    "Chat with Sales",
)
# activity mix of a burst (rows: kinds, columns: ACTIVITIES)
ACTIVITY_MIX = np.array(
    [
        [0.62, 0.10, 0.08, 0.06, 0.05, 0.03, 0.06, 0.00],
        [0.66, 0.08, 0.06, 0.05, 0.02, 0.04, 0.05, 0.04],
        [0.95, 0.05, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00],
        [0.90, 0.05, 0.00, 0.00, 0.00, 0.00, 0.05, 0.00],
    ]
)
# page groups of web visits (rows: kinds, columns: PAGE_GROUPS)
PAGE_MIX = np.array(
    [
        [0.06, 0.24, 0.10, 0.40, 0.18, 0.02],
        [0.30, 0.32, 0.18, 0.08, 0.12, 0.00],
        [0.00, 0.05, 0.00, 0.05, 0.15, 0.75],
        [0.45, 0.35, 0.15, 0.00, 0.05, 0.00],
    ]
)
FORMS = ("/lp/ebook-roi", "/lp/webinar-signup", "/lp/benchmark-report", "/contact")
EMAIL_LINKS = ("/blog/lead-nurturing-101", "/resources/ebook-roi", "/pricing", "/product/analytics")
HAND_RAISES = (("Request Demo", "/demo"), ("Start Trial", "/trial/signup"))
NURTURE_EVERY_DAYS = 14


@dataclass(frozen=True)
class CrmExport:
    """The three tables as a CRM would export them (column names its own)."""

    leads: pd.DataFrame
    activities: pd.DataFrame
    outcomes: pd.DataFrame


@dataclass(frozen=True)
class Leads:
    """Per-lead latent state behind the export (days count from the start of the data)."""

    created: np.ndarray
    region: np.ndarray
    fit: np.ndarray
    engagement: np.ndarray
    inbound: np.ndarray
    no_buy: np.ndarray  # student, competitor or job seeker: never converts
    kind: np.ndarray  # the burst kind every burst of the lead has when not research/buying
    size: np.ndarray  # employees (NaN: blank)


def _pick(rng: np.random.Generator, table: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw keys of `table` by their share: (keys, effects)."""
    names = np.array(list(table), dtype=object)
    shares = np.array([v[0] for v in table.values()])
    codes = rng.choice(len(names), size=n, p=shares / shares.sum())
    return names[codes], np.array([v[1] for v in table.values()])[codes]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _creation_days(
    rng: np.random.Generator, *, n: int, days: int, start: pd.Timestamp
) -> np.ndarray:
    """Creation moments (days): volume grows 60% over the period, weekends are quiet."""
    weekday = (start + pd.to_timedelta(np.arange(days), unit="D")).dayofweek.to_numpy()
    weight = (1.0 + 0.6 * np.arange(days) / days) * np.where(weekday >= 5, 0.3, 1.0)
    day = rng.choice(days, size=n, p=weight / weight.sum())
    hour = np.clip(rng.normal(14.0, 3.5, size=n), 0.0, 23.99) / 24.0  # UTC business hours
    return day + hour


def _draw_leads(
    rng: np.random.Generator,
    *,
    n: int,
    days: int,
    start: pd.Timestamp,
    blank_region_share: float,
) -> tuple[Leads, pd.DataFrame]:
    """Latent state and the leads table (columns: the CRM's own)."""
    created = _creation_days(rng, n=n, days=days, start=start)
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARE)
    source, source_fit = _pick(rng, SOURCES, n)
    inbound = np.array([SOURCES[s][2] for s in SOURCES], dtype=bool)[
        pd.Categorical(source, categories=list(SOURCES)).codes
    ]
    # trade-show leads arrive in batches: one import per show, all with the same timestamp
    shows = np.sort(rng.choice(days - 1, size=8, replace=False)) + 1 + 9.0 / 24
    trade = source == "Trade Show"
    created[trade] = rng.choice(shows, size=int(trade.sum()))
    industry, industry_fit = _pick(rng, INDUSTRIES, n)
    log_size = np.clip(rng.normal(2.3, 0.95, size=n), 0.0, 5.3)
    size = np.round(10**log_size)
    size_fit = np.interp(log_size, *zip(*SIZE_CURVE, strict=True))
    blank_size = rng.random(n) < 0.12
    size[blank_size], size_fit[blank_size] = np.nan, -0.2
    level, level_fit = _pick(rng, TITLES, n)
    titles = np.empty(n, dtype=object)
    for name, (_, _, options) in TITLES.items():
        rows = np.flatnonzero(level == name)
        titles[rows] = np.asarray(options, dtype=object)[rng.integers(len(options), size=len(rows))]
    titles[level == "c_level"] = np.where(
        size[level == "c_level"] < 30, "Owner", titles[level == "c_level"]
    )
    student = level == "student"
    competitor = rng.random(n) < 0.006
    job_seeker = ~student & ~competitor & (rng.random(n) < 0.03)
    personal_share = np.asarray(REGION_PERSONAL_EMAIL)[region] * np.where(size < 20, 2.5, 1.0)
    personal = ~student & ~competitor & (rng.random(n) < personal_share)
    email, country = _emails(
        rng, region=region, personal=personal, student=student, competitor=competitor
    )
    noise = rng.normal(0.0, 0.7, size=n)
    fit = source_fit + industry_fit + size_fit + level_fit - 0.5 * personal + noise
    kind = np.select([job_seeker, competitor], [CAREERS, SNOOP], default=RESEARCH)
    latent = Leads(
        created=created,
        region=region,
        fit=fit,
        engagement=rng.normal(0.0, 0.8, size=n) + 0.25 * fit,
        inbound=inbound,
        no_buy=student | competitor | job_seeker,
        kind=kind,
        size=size,
    )
    ids = _lead_ids(rng, n)
    table = pd.DataFrame(
        {
            "LeadId": ids,
            "CreatedDate": _salesforce_time(start, created),
            "Region": np.asarray(REGIONS, dtype=object)[region],
            "Country": country,
            "LeadSource": source,
            "Industry": industry,
            "NumberOfEmployees": pd.array(size, dtype="Int64"),
            "Title": titles,
            "Email": email,
        }
    )
    blank = rng.random(n) < blank_region_share  # a region the form never asked for
    table.loc[blank, "Region"] = ""
    return latent, table


def _emails(
    rng: np.random.Generator,
    *,
    region: np.ndarray,
    personal: np.ndarray,
    student: np.ndarray,
    competitor: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """first.last@domain by the lead's kind, and the country (the TLD of a work domain)."""
    n = len(region)
    country = np.empty(n, dtype=object)
    tld = np.empty(n, dtype=object)
    for code, name in enumerate(REGIONS):
        rows = np.flatnonzero(region == code)
        options = COUNTRIES[name]
        weights = np.array([4.0] + [1.0] * (len(options) - 1))
        picked = rng.choice(len(options), size=len(rows), p=weights / weights.sum())
        country[rows] = np.array([c for c, _ in options], dtype=object)[picked]
        tld[rows] = np.array([t for _, t in options], dtype=object)[picked]
    company = (
        np.asarray(WORDS, dtype=object)[rng.integers(len(WORDS), size=n)]
        + np.asarray(WORDS2, dtype=object)[rng.integers(len(WORDS2), size=n)]
        + "."
        + tld
    )
    domain = np.select(
        [personal, student, competitor],
        [
            np.asarray(PERSONAL_DOMAINS, dtype=object)[rng.integers(len(PERSONAL_DOMAINS), size=n)],
            np.asarray(STUDENT_DOMAINS, dtype=object)[rng.integers(len(STUDENT_DOMAINS), size=n)],
            np.asarray(COMPETITOR_DOMAINS, dtype=object)[
                rng.integers(len(COMPETITOR_DOMAINS), size=n)
            ],
        ],
        default=company,
    )
    local = (
        np.asarray(FIRST, dtype=object)[rng.integers(len(FIRST), size=n)]
        + "."
        + np.asarray(LAST, dtype=object)[rng.integers(len(LAST), size=n)]
        + rng.integers(1, 99, size=n).astype(str).astype(object)
    )
    email = (local + "@" + domain).astype(object)
    email[rng.random(n) < 0.02] = ""  # leads from lists without an address
    return email, country


def _lead_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Salesforce-like 15-character Lead ids ("00Q..."), unique, roughly increasing."""
    values = np.arange(n, dtype=np.int64) * 7_919 + rng.integers(0, 7_919, size=n) + 36**10
    return np.array(["00Q" + np.base_repr(int(v), 36).rjust(12, "0") for v in values])


def _salesforce_time(start: pd.Timestamp, days: np.ndarray) -> np.ndarray:
    """Salesforce's export format: 2024-03-05T14:22:10.000+0000."""
    moments = start + pd.to_timedelta(np.round(days * 86_400), unit="s")
    return moments.strftime("%Y-%m-%dT%H:%M:%S.000+0000").to_numpy()


def _bursts(rng: np.random.Generator, leads: Leads, *, days: int) -> pd.DataFrame:
    """Interest bursts per lead: a creation burst for inbound leads, then a fading Poisson
    process (thinned): rate x (0.25 + 0.75 exp(-age / 180))."""
    span = days - leads.created
    rate = 0.016 * np.exp(0.5 * leads.engagement + 0.25 * leads.fit)
    proposed = rng.poisson(rate * span)
    lead = np.repeat(np.arange(len(span)), proposed)
    age = rng.uniform(0.0, span[lead])
    keep = rng.random(len(age)) < 0.25 + 0.75 * np.exp(-age / 180.0)
    first = np.flatnonzero(leads.inbound & (rng.random(len(span)) < 0.75))
    lead = np.concatenate([first, lead[keep]])
    age = np.concatenate([np.zeros(len(first)), age[keep]])
    fit = leads.fit[lead]
    buying = rng.random(len(lead)) < _sigmoid(-2.0 + 0.9 * fit + 0.4 * (age > 0))
    kind = np.where(
        leads.kind[lead] == RESEARCH, np.where(buying, BUYING, RESEARCH), leads.kind[lead]
    )
    intensity = rng.lognormal(np.log(0.8), 0.6, size=len(lead)) * np.where(kind == BUYING, 1.6, 1.0)
    hand_raise = (kind == BUYING) & (rng.random(len(lead)) < 0.12 + 0.2 * _sigmoid(fit))
    return pd.DataFrame(
        {
            "lead": lead,
            "start": leads.created[lead] + age,
            "duration": 1.0 + rng.gamma(2.0, 3.0, size=len(lead)),
            "kind": kind,
            "intensity": intensity,
            "hand_raise": hand_raise,
        }
    )


def _burst_events(rng: np.random.Generator, bursts: pd.DataFrame) -> pd.DataFrame:
    """The events of every burst: types and pages by the burst's kind, plus its hand-raise."""
    count = 1 + rng.poisson(bursts["intensity"] * bursts["duration"])
    row = np.repeat(np.arange(len(bursts)), count)
    kind = bursts["kind"].to_numpy()[row]
    at = bursts["start"].to_numpy()[row] + rng.random(len(row)) * bursts["duration"].to_numpy()[row]
    activity = _draw_rows(rng, ACTIVITY_MIX, kind)
    group = _draw_rows(rng, PAGE_MIX, kind)
    page = PAGE_URLS[group, rng.integers(PAGE_URLS.shape[1], size=len(row))]
    names = np.asarray(ACTIVITIES, dtype=object)[activity]
    forms = np.asarray([SITE + f for f in FORMS], dtype=object)
    page = np.where(names == "Fill Out Form", forms[rng.integers(len(forms), size=len(row))], page)
    page = np.where(np.isin(names, ["Visit Web Page", "Fill Out Form"]), page, None)
    raised = bursts.index[bursts["hand_raise"]].to_numpy()
    which = rng.integers(len(HAND_RAISES), size=len(raised))
    raise_at = (
        bursts["start"].to_numpy()[raised]
        + rng.random(len(raised)) * bursts["duration"].to_numpy()[raised]
    )
    return pd.concat(
        [
            pd.DataFrame(
                {"lead": bursts["lead"].to_numpy()[row], "at": at, "type": names, "page": page}
            ),
            pd.DataFrame(
                {
                    "lead": bursts["lead"].to_numpy()[raised],
                    "at": raise_at,
                    "type": np.array([h[0] for h in HAND_RAISES], dtype=object)[which],
                    "page": np.array([SITE + h[1] for h in HAND_RAISES], dtype=object)[which],
                }
            ),
        ],
        ignore_index=True,
    )


def _draw_rows(rng: np.random.Generator, mix: np.ndarray, group: np.ndarray) -> np.ndarray:
    """A column index per row, drawn from the row of `mix` its group names."""
    cumulative = np.cumsum(mix / mix.sum(axis=1, keepdims=True), axis=1)[group]
    return (rng.random((len(group), 1)) > cumulative).sum(axis=1).clip(max=mix.shape[1] - 1)


def _creation_events(rng: np.random.Generator, leads: Leads, source: np.ndarray) -> pd.DataFrame:
    """What created the lead (a form, an event badge scan) and anonymous visits merged into it."""
    n = len(leads.created)
    form = leads.inbound & (source != "Webinar")
    kinds = np.select(
        [form, source == "Webinar", source == "Trade Show"],
        ["Fill Out Form", "Register for Event", "Attend Event"],
        default="",
    )
    made = np.flatnonzero(kinds != "")
    pages = np.asarray([SITE + f for f in FORMS], dtype=object)[rng.integers(len(FORMS), size=n)]
    creation = pd.DataFrame(
        {
            "lead": made,
            "at": leads.created[made],
            "type": kinds[made],
            "page": np.where(form[made], pages[made], None),
        }
    )
    visits = rng.poisson(np.where(leads.inbound, 1.5, 0.0))  # known once the cookie is merged
    lead = np.repeat(np.arange(n), visits)
    group = _draw_rows(rng, PAGE_MIX, np.full(len(lead), RESEARCH))
    anonymous = pd.DataFrame(
        {
            "lead": lead,
            "at": leads.created[lead] - rng.exponential(6.0, size=len(lead)),
            "type": "Visit Web Page",
            "page": PAGE_URLS[group, rng.integers(PAGE_URLS.shape[1], size=len(lead))],
        }
    )
    return pd.concat([creation, anonymous], ignore_index=True)


def _nurture_events(rng: np.random.Generator, leads: Leads, *, days: int) -> pd.DataFrame:
    """A nurture e-mail every 14 days: opens, clicks and (once) an unsubscribe."""
    first = np.floor(leads.created / NURTURE_EVERY_DAYS).astype(int) + 1
    last = int((days - 1) // NURTURE_EVERY_DAYS)
    sends = np.clip(last - first + 1, 0, None)
    unsubscribe_p = 0.004 * np.exp(-0.5 * leads.fit - 0.3 * leads.engagement)
    until = rng.geometric(np.clip(unsubscribe_p, 1e-4, 0.5))  # the send that unsubscribes
    sends_kept = np.minimum(sends, until)
    lead = np.repeat(np.arange(len(sends)), sends_kept)
    index = np.arange(len(lead)) - np.repeat(np.cumsum(sends_kept) - sends_kept, sends_kept)
    sent = (first[lead] + index) * NURTURE_EVERY_DAYS + 15.0 / 24
    age = sent - leads.created[lead]
    p_open = _sigmoid(-1.6 + 0.8 * leads.engagement[lead]) * (0.4 + 0.6 * np.exp(-age / 365))
    opened = rng.random(len(lead)) < p_open
    clicked = opened & (rng.random(len(lead)) < 0.18)
    unsubscribed = (index + 1 == until[lead]) & (rng.random(len(lead)) < 0.9)
    open_at = sent + rng.exponential(0.6, size=len(lead))
    links = np.asarray([SITE + p for p in EMAIL_LINKS], dtype=object)
    parts = [
        pd.DataFrame({"lead": lead[opened], "at": open_at[opened], "type": "Open Email"}),
        pd.DataFrame(
            {
                "lead": lead[clicked],
                "at": open_at[clicked] + 0.002,
                "type": "Click Email",
                "page": links[rng.integers(len(links), size=int(clicked.sum()))],
            }
        ),
        pd.DataFrame(
            {"lead": lead[unsubscribed], "at": open_at[unsubscribed], "type": "Unsubscribe Email"}
        ),
    ]
    return pd.concat(parts, ignore_index=True)


def _conversions(
    rng: np.random.Generator, leads: Leads, bursts: pd.DataFrame, *, days: int
) -> np.ndarray:
    """The day each lead became an opportunity (NaN: never, or after the data ends)."""
    lead = bursts["lead"].to_numpy()
    logit = (
        -4.9
        + np.asarray(REGION_LOGIT)[leads.region[lead]]
        + 0.9 * leads.fit[lead]
        + 1.2 * (bursts["kind"].to_numpy() == BUYING)
        + 0.5 * np.log(bursts["intensity"].to_numpy())
        + 1.8 * bursts["hand_raise"].to_numpy()
    )
    converts = (rng.random(len(lead)) < _sigmoid(logit)) & ~leads.no_buy[lead]
    end = (bursts["start"] + bursts["duration"]).to_numpy()
    at = end + 2.0 + rng.exponential(12.0, size=len(lead))
    day = np.full(len(leads.created), np.inf)
    np.minimum.at(day, lead[converts], at[converts])
    # outbound deals: a small hazard that needs no burst (not visible in the activities)
    hazard = 4e-5 * np.exp(np.asarray(REGION_LOGIT)[leads.region] + leads.fit)
    span = days - leads.created
    outbound = leads.created + rng.exponential(1.0 / hazard)
    day = np.where(
        ~leads.no_buy & (outbound < leads.created + span), np.minimum(day, outbound), day
    )
    return np.where(day < days, day, np.nan)


def generate_crm_export(
    *,
    n_leads: int = 40_000,
    start: str = "2024-01-01",
    days: int = 730,
    seed: int = 7,
    blank_region_share: float = 0.01,
) -> CrmExport:
    """The export: leads, activities (with page URLs) and opportunities, deterministic by seed.

    `blank_region_share`: leads whose Region is blank (the rest of the export does not change).
    """
    rng = np.random.default_rng(seed)
    origin = pd.Timestamp(start, tz="UTC")
    leads, lead_table = _draw_leads(
        rng, n=n_leads, days=days, start=origin, blank_region_share=blank_region_share
    )
    bursts = _bursts(rng, leads, days=days)
    events = pd.concat(
        [
            _creation_events(rng, leads, lead_table["LeadSource"].to_numpy()),
            _burst_events(rng, bursts),
            _nurture_events(rng, leads, days=days),
            _data_changes(rng, leads),
        ],
        ignore_index=True,
    )
    converted = _conversions(rng, leads, bursts, days=days)
    # marketing stops tracking a lead once sales owns the opportunity
    stop = np.where(np.isnan(converted), days, converted)
    events = events[(events["at"] < stop[events["lead"]]) & (events["at"] < days)]
    events = events.sort_values(["at", "lead"], kind="stable")
    ids = lead_table["LeadId"].to_numpy()
    activities = pd.DataFrame(
        {
            "LeadId": ids[events["lead"].to_numpy()],
            "activity_type": events["type"].to_numpy(),
            "occurred_at": _marketo_time(origin, events["at"].to_numpy()),
            "page": events["page"].to_numpy(),
        }
    )
    activities = pd.concat([activities, _stray_rows(rng, activities, origin=origin)])
    won = np.flatnonzero(~np.isnan(converted))
    outcomes = pd.DataFrame(
        {
            "LeadId": ids[won],
            "OpportunityId": ["006" + i[3:] for i in ids[won]],
            "converted_at": _marketo_time(origin, converted[won]),
            "Amount": np.round(rng.lognormal(np.log(18_000), 0.8, size=len(won)), -2),
        }
    ).sort_values("converted_at", kind="stable")
    return CrmExport(
        leads=lead_table, activities=activities.reset_index(drop=True), outcomes=outcomes
    )


def _data_changes(rng: np.random.Generator, leads: Leads) -> pd.DataFrame:
    """ "Change Data Value": CRM housekeeping, no signal (an activity type no role names)."""
    lead = np.repeat(np.arange(len(leads.created)), rng.poisson(0.6, size=len(leads.created)))
    return pd.DataFrame(
        {
            "lead": lead,
            "at": leads.created[lead] + rng.exponential(60.0, size=len(lead)),
            "type": "Change Data Value",
        }
    )


def _stray_rows(
    rng: np.random.Generator, activities: pd.DataFrame, *, origin: pd.Timestamp
) -> pd.DataFrame:
    """A few rows every real export has: anonymous visitors' ids and unreadable timestamps."""
    n = max(1, len(activities) // 1000)
    stray = activities.sample(n=n, random_state=int(rng.integers(2**31))).copy()
    stray.loc[stray.index[: n // 2], "LeadId"] = "anon-" + pd.Series(
        rng.integers(10**8, size=n // 2).astype(str), index=stray.index[: n // 2]
    )
    stray.loc[stray.index[n // 2 :], "occurred_at"] = "0000-00-00 00:00:00"
    return stray


def _marketo_time(origin: pd.Timestamp, days: np.ndarray) -> np.ndarray:
    """Marketo's export format: 2024-03-05T14:22:10Z."""
    moments = origin + pd.to_timedelta(np.round(days * 86_400), unit="s")
    return moments.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy()


def write_crm_export(export: CrmExport, directory: Path, *, fmt: str = "csv") -> dict[str, Path]:
    """Write the three tables as CSV (or Parquet) files; returns their paths by table."""
    directory.mkdir(parents=True, exist_ok=True)
    tables = {"leads": export.leads, "activities": export.activities, "outcomes": export.outcomes}
    paths = {name: directory / f"{name}.{fmt}" for name in tables}
    for name, table in tables.items():
        if fmt == "parquet":
            table.to_parquet(paths[name], index=False)
        else:
            table.to_csv(paths[name], index=False)
    return paths
