"""The synthetic world: who the leads are and how they behave, as named constants.

Tables "by profile" have one row (or entry) per PROFILES entry, in that order; "by domain
type" follow DOMAIN_TYPES. The ground truth's coefficients live in `truth.py`.
"""

from __future__ import annotations

import numpy as np

from features.build import STANDARD_ACTIVITY_TYPES

SECONDS_PER_DAY = 86_400

# ---------------------------------------------------------------------------------------
# Vocabularies and the population
# ---------------------------------------------------------------------------------------
# The canonical activity types, in the feature builder's order (one list for both).
ACTIVITY_TYPES = STANDARD_ACTIVITY_TYPES
ACTIVITY_CODE = {name: code for code, name in enumerate(ACTIVITY_TYPES)}  # type -> int8 code
HAND_RAISER_TYPES = ("trial_request", "demo_request", "contact_sales")
EMAIL_ENGAGEMENT_TYPES = ("email_open", "email_click")

# Page paths by category; each path matches only its own category under the
# first-substring-wins rule of params `features.page_categories`.
PAGE_PATHS: dict[str, tuple[str, ...]] = {
    "home": ("/",),
    "pricing": ("/pricing", "/pricing/enterprise", "/pricing/compare", "/plans"),
    "product": (
        "/product",
        "/product/integrations",
        "/product/analytics",
        "/features",
        "/solutions/sales-teams",
        "/solutions/marketing",
    ),
    "blog": (
        "/blog/lead-scoring-101",
        "/blog/mql-vs-sql",
        "/blog/crm-hygiene",
        "/blog/sales-playbook",
        "/resources/ebook-pipeline-benchmarks",
    ),
    "docs": ("/docs/getting-started", "/docs/api/rest", "/docs/connectors/salesforce"),
    "careers": ("/careers", "/careers/engineering", "/careers/sales", "/jobs/open-positions"),
    "company": ("/about", "/customers/case-studies", "/contact"),
}
PAGE_CATEGORIES = tuple(PAGE_PATHS)
PAGE_CATEGORY_CODE = {name: code for code, name in enumerate(PAGE_CATEGORIES)}
# Page codes index ALL_PAGE_PATHS; a category's paths are a contiguous run of codes.
ALL_PAGE_PATHS = tuple(path for paths in PAGE_PATHS.values() for path in paths)
FIRST_PATH_OF_CATEGORY = np.cumsum([0, *(len(p) for p in PAGE_PATHS.values())])[:-1]
PATHS_PER_CATEGORY = np.array([len(p) for p in PAGE_PATHS.values()])

# A lead's latent profile: who they are, which the export never says.
PROFILES = ("buyer", "researcher", "job_seeker", "student", "competitor")
BUYER, RESEARCHER, JOB_SEEKER, STUDENT, COMPETITOR = range(len(PROFILES))  # profile codes
# Researchers: analysts, consultants, existing customers' staff, content consumers.
PROFILE_SHARES = {
    "buyer": 0.73,
    "researcher": 0.13,
    "job_seeker": 0.06,
    "student": 0.05,
    "competitor": 0.03,
}

# The kind of e-mail domain a lead signs up with.
DOMAIN_TYPES = ("business", "personal", "student", "competitor")
BUSINESS_DOMAIN, PERSONAL_DOMAIN, STUDENT_DOMAIN, COMPETITOR_DOMAIN = range(len(DOMAIN_TYPES))
# P(domain type | profile); rows follow PROFILES, columns DOMAIN_TYPES.
DOMAIN_TYPE_GIVEN_PROFILE = np.array(
    [
        [0.80, 0.20, 0.00, 0.00],
        [0.70, 0.30, 0.00, 0.00],
        [0.15, 0.85, 0.00, 0.00],
        [0.00, 0.20, 0.80, 0.00],
        [0.00, 0.00, 0.00, 1.00],
    ]
)

INDUSTRIES = {  # name: share among companies
    "software": 0.20,
    "financial_services": 0.12,
    "professional_services": 0.12,
    "healthcare": 0.10,
    "manufacturing": 0.12,
    "retail": 0.10,
    "media": 0.06,
    "education": 0.06,
    "government": 0.04,
    "other": 0.08,
}
# name: share among companies (employees)
COMPANY_SIZES = {"1-10": 0.22, "11-50": 0.26, "51-200": 0.24, "201-1000": 0.17, "1000+": 0.11}
# ISO code: share among companies
COUNTRIES = {
    "US": 0.38, "GB": 0.10, "DE": 0.09, "FR": 0.06, "CA": 0.06, "AU": 0.04, "NL": 0.04,
    "IN": 0.08, "BR": 0.05, "ES": 0.04, "SE": 0.03, "JP": 0.03,
}  # fmt: skip
# Marketing channel that brought the lead in.
SOURCES = (
    "organic_search", "paid_search", "social", "referral", "email", "event", "direct", "partner",
)  # fmt: skip
# P(source | profile); rows follow PROFILES, columns SOURCES.
SOURCE_GIVEN_PROFILE = np.array(
    [
        [0.26, 0.18, 0.10, 0.10, 0.12, 0.08, 0.10, 0.06],
        [0.35, 0.05, 0.12, 0.05, 0.20, 0.15, 0.06, 0.02],
        [0.40, 0.05, 0.35, 0.05, 0.02, 0.03, 0.10, 0.00],
        [0.40, 0.05, 0.30, 0.05, 0.05, 0.10, 0.05, 0.00],
        [0.35, 0.05, 0.10, 0.00, 0.10, 0.10, 0.30, 0.00],
    ]
)

# Job titles by seniority level; a lead's title is drawn within its level.
SENIORITY_TITLES: dict[str, tuple[str, ...]] = {
    "executive": ("CEO", "CTO", "CFO", "COO", "CMO", "Founder"),
    "vp": ("VP Sales", "VP Marketing", "VP Engineering", "VP Operations", "VP Revenue"),
    "director": (
        "Director of Sales",
        "Director of Marketing",
        "Director of IT",
        "Director of Operations",
    ),
    "manager": (
        "Marketing Manager",
        "Sales Manager",
        "IT Manager",
        "Product Manager",
        "Operations Manager",
    ),
    "individual": (
        "Software Engineer",
        "Data Analyst",
        "Marketing Specialist",
        "Sales Representative",
        "Business Analyst",
        "Consultant",
    ),
    "student": ("Student", "Intern", "Graduate Student", "PhD Candidate"),
}
SENIORITIES = (*SENIORITY_TITLES, "unknown")  # unknown: job title missing
UNKNOWN_SENIORITY = len(SENIORITIES) - 1  # its code
TITLE_SENIORITY = {title: level for level, titles in SENIORITY_TITLES.items() for title in titles}
# P(seniority | profile) over the titled levels; rows follow PROFILES.
SENIORITY_GIVEN_PROFILE = np.array(
    [
        [0.08, 0.08, 0.14, 0.30, 0.40, 0.00],
        [0.02, 0.02, 0.08, 0.28, 0.60, 0.00],
        [0.00, 0.00, 0.02, 0.18, 0.75, 0.05],
        [0.00, 0.00, 0.00, 0.00, 0.05, 0.95],
        [0.00, 0.02, 0.08, 0.45, 0.45, 0.00],
    ]
)

# Name parts of the fake e-mail addresses and company domains.
FIRST_NAMES = (
    "anna", "ben", "carla", "david", "elena", "farid", "grace", "hugo", "ines", "jonas",
    "kemal", "lena", "marco", "nadia", "oscar", "priya", "quentin", "rosa", "sami", "tara",
    "umar", "vera", "wei", "ximena", "yusuf", "zoe", "liam", "emma", "noah", "mia",
)  # fmt: skip
LAST_NAMES = (
    "smith", "mueller", "garcia", "rossi", "novak", "kim", "patel", "silva", "jensen", "dubois",
    "tanaka", "kowalski", "ahmed", "nguyen", "olsen", "fischer", "moreau", "costa", "berg",
    "walsh", "ibrahim", "larsen", "romero", "schmidt", "chen", "lopez", "hansen", "ward",
)  # fmt: skip
COMPANY_WORDS = (
    "acme", "globex", "initech", "umbrella", "stark", "wayne", "hooli", "vandelay", "soylent",
    "tyrell", "wonka", "cyberdyne", "aperture", "gringotts", "monarch", "oscorp", "nakatomi",
    "duff", "zenith", "apex", "nimbus", "vertex", "quantum", "silverline", "bluepeak", "redwood",
    "ironclad", "northwind", "brightpath", "clearwater",
)  # fmt: skip
COMPANY_SUFFIXES = ("-corp", "-labs", "-group", "-tech", "-systems", "-solutions", "-inc", "")
BUSINESS_TLDS = (".com", ".io", ".co", ".de", ".co.uk", ".net")
# The e-mail domains of students (schools and universities).
STUDENT_DOMAINS = (
    "northfield.edu", "lakeside.edu", "stateuniversity.edu", "riverdale.edu",
    "kingsbridge.ac.uk", "southcoast.edu.au",
)  # fmt: skip


# Companies give leads consistent firmographics: about LEADS_PER_COMPANY leads per
# company on average (at least MIN_COMPANIES companies), a few companies sending many.
LEADS_PER_COMPANY = 3
MIN_COMPANIES = 20
# Students leave most firmographics blank: some name education as their industry and a
# large (1000+) institution as their size.
STUDENT_EDUCATION_SHARE = 0.6
STUDENT_LARGE_ORG_SHARE = 0.3
COMPETITOR_SIZES = ("51-200", "201-1000")  # competitors are mid-size software companies
RESEARCHER_CONSULTANT_SHARE = 0.35  # researchers working in professional services
LARGE_SIZES = ("201-1000", "1000+")  # the large segment (see SEGMENTS)
SMALL_SIZE = "1-10"  # with personal and student addresses, the small segment

# ---------------------------------------------------------------------------------------
# Behaviour (latent) parameters
# ---------------------------------------------------------------------------------------
# Latent fit: the firmographic part of the truth plus noise the truth cannot see.
FIT_NOISE_SD = 0.4
# Latent intent shift by source (columns follow SOURCES): referrals and partners come warm.
SOURCE_INTENT = np.array([0.0, 0.1, -0.2, 0.3, 0.0, 0.2, 0.1, 0.2])
MEAN_BASE_EVENTS = 26.0  # expected base events over a lead's lifetime (before bursts)
LIFETIME_EXTRA_DAYS = 60  # events run to T + horizon + this, then stop
ENGAGEMENT_STYLE_SD = 0.8  # log-sd of a lead's activity volume that says nothing of intent
DECAY_SHARE = 0.6  # share of base events in the decaying (post-creation) component
DECAY_DAYS = (4.0, 14.0)  # per-lead decay time constant range
# Per profile (rows/keys follow PROFILES): activity volume, intent shift, burst multiplier.
PROFILE_ACTIVITY = {
    "buyer": 1.0,
    "researcher": 4.0,
    "job_seeker": 0.7,
    "student": 0.8,
    "competitor": 0.9,
}
PROFILE_INTENT = np.array([0.0, -1.2, 0.0, 0.0, 0.0])  # researchers rarely mean to buy
PROFILE_BURSTS = np.array([1.0, 0.3, 0.0, 1.0, 1.0])  # job seekers never burst
# Relative base-stream mix per profile (columns: BASE_TYPES); hand-raisers are added below.
BASE_TYPES = (
    "page_view",
    "form_submit",
    "content_download",
    "webinar_registered",
    "email_open",
    "email_click",
    "chat",
)
BASE_MIX = np.array(
    [
        [0.56, 0.04, 0.05, 0.025, 0.22, 0.07, 0.015],
        [0.50, 0.04, 0.12, 0.060, 0.24, 0.035, 0.005],
        [0.80, 0.05, 0.02, 0.005, 0.10, 0.02, 0.005],
        [0.60, 0.06, 0.12, 0.030, 0.15, 0.04, 0.005],
        [0.75, 0.03, 0.08, 0.040, 0.07, 0.02, 0.010],
    ]
)
HAND_RAISE_DAYS = 25.0  # mean days from creation to a (non-tourist) hand-raise
HAND_RAISE_RATE = np.array([0.16, 0.06, 0.002, 0.017, 0.035])  # per lifetime, by profile
# Which hand-raise a lead makes depends on its segment (rows: SEGMENTS; columns:
# HAND_RAISER_TYPES): small shops and private addresses try the product, larger
# companies ask for a demo or for sales.
SEGMENTS = ("small", "mid", "large")  # small: 1-10 or a personal / student address
SMALL_SEGMENT, MID_SEGMENT, LARGE_SEGMENT = range(len(SEGMENTS))  # segment codes
HAND_RAISER_SPLIT = np.array(
    [
        [0.70, 0.22, 0.08],
        [0.40, 0.42, 0.18],
        [0.20, 0.50, 0.30],
    ]
)
# Tourists: free-trial sign-ups out of curiosity, independent of intent, in the small
# segment; by profile. They happen soon after creation and come with a few docs views.
TOURIST_TRIAL_RATE = np.array([0.06, 0.04, 0.02, 0.12, 0.0])
TOURIST_DAYS = 7.0  # mean days from creation to the tourist's sign-up
TOURIST_FOLLOW_UP_VIEWS = 2.0  # expected getting-started page views after it
# Baseline page mix without pricing (columns: PAGE_CATEGORIES minus pricing), by profile.
PAGE_MIX = np.array(
    [
        [0.20, 0.25, 0.27, 0.11, 0.03, 0.14],
        [0.06, 0.08, 0.50, 0.32, 0.01, 0.03],
        [0.15, 0.08, 0.10, 0.02, 0.55, 0.10],
        [0.20, 0.15, 0.35, 0.20, 0.05, 0.05],
        [0.10, 0.45, 0.10, 0.28, 0.02, 0.05],
    ]
)
PRICING_SHARE = np.array([0.08, 0.005, 0.02, 0.04, 0.30])  # baseline share of page views
BURST_RATE = 0.35  # expected intent bursts per lead at average intent (none for job seekers)
BURST_SIZE = 5.0  # expected extra events per burst
BURST_TYPES = {  # "hand_raise": a hand-raiser type drawn by the lead's segment
    "page_view": 0.56,
    "content_download": 0.08,
    "webinar_registered": 0.05,
    "email_click": 0.10,
    "email_open": 0.10,
    "form_submit": 0.04,
    "chat": 0.02,
    "hand_raise": 0.05,
}
BURST_PAGES = {"pricing": 0.40, "product": 0.40, "docs": 0.20}
# Privacy proxies (e.g. Apple Mail Privacy Protection) "open" every marketing e-mail.
PRIVACY_PROXY_SHARE = np.array([0.25, 0.45, 0.30, 0.20])  # by DOMAIN_TYPES
PRIVACY_PROXY_OPENS_PER_DAY = 0.15  # marketing e-mails per day a proxy opens
# Added to a registrant's chance of attending (0.4 at average intent), by profile.
WEBINAR_ATTENDANCE_SHIFT = np.array([0.0, 0.2, 0.0, 0.0, 0.0])
CONVERTER_EVENTS = 4.0  # expected buying events between T and conversion
CONVERTER_TYPES = {  # their type mix; CONVERTER_PAGES their page categories
    "page_view": 0.55,
    "demo_request": 0.20,
    "contact_sales": 0.10,
    "trial_request": 0.05,
    "chat": 0.10,
}
CONVERTER_PAGES = {"pricing": 0.60, "product": 0.25, "docs": 0.15}
AFTER_CONVERSION_KEEP = 0.3  # share of base events kept after a lead converts
EARLY_CONVERSION_HAND_RAISER = 0.30  # P(convert before T | hand-raised before T)
EARLY_CONVERSION_OTHER = 0.003  # P(convert before T | no hand-raise before T)
UNSUBSCRIBE_RATE = np.array([0.07, 0.05, 0.10, 0.08, 0.03])  # by profile
UNSUBSCRIBE_DAYS = 30.0  # mean days from creation to unsubscribe
# Share of leads whose attribute is blank in the export.
MISSING_SHARE = {"industry": 0.04, "company_size": 0.06, "country": 0.02, "job_title": 0.03}
