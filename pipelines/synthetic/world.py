"""The synthetic world: who the leads are and how they behave, as named constants.

Tables "by profile" have one row (or entry) per PROFILES entry, in that order; "by domain
type" follow DOMAIN_TYPES. Time is in days after the lead's creation unless a name says
otherwise; "interest" is the latent I(t) of `interest.py` (1 is a typical first episode).
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
# Fit: who the lead is (firmographics, role, address, channel)
# ---------------------------------------------------------------------------------------
# Additive fit, on the log scale of the conversion scale c: who the lead is matters little
# on its own (no interest, no deal).
INDUSTRY_COEF = {
    "software": 0.30,
    "financial_services": 0.20,
    "professional_services": 0.00,
    "healthcare": 0.00,
    "manufacturing": 0.00,
    "retail": 0.00,
    "media": 0.00,
    "education": -0.30,
    "government": -0.30,
    "other": 0.00,
    None: 0.00,  # missing
}
COMPANY_SIZE_COEF = {
    "1-10": -0.30,
    "11-50": 0.00,
    "51-200": 0.10,
    "201-1000": 0.15,
    "1000+": 0.10,
    None: -0.10,
}
SENIORITY_COEF = {
    "executive": 0.10,
    "vp": 0.15,
    "director": 0.15,
    "manager": 0.05,
    "individual": 0.00,
    "student": -1.00,
    "unknown": -0.10,
}
DOMAIN_TYPE_COEF = {"business": 0.00, "personal": -0.40, "student": -1.00, "competitor": -10.0}
SOURCE_COEF = {
    "organic_search": 0.00,
    "paid_search": 0.00,
    "social": -0.20,
    "referral": 0.20,
    "email": 0.00,
    "event": 0.00,
    "direct": 0.00,
    "partner": 0.20,
}
# Fit x intent: the conversion scale c is multiplied by the product of these multipliers, so
# the same demo request (the same interest) means far more from a VP at a 500-person company
# than from a one-person shop on a gmail address. A sum of points can't express this.
FIT_MULTIPLIER = {
    "company_size": {
        "1-10": 0.25,
        "11-50": 0.80,
        "51-200": 1.00,
        "201-1000": 1.20,
        "1000+": 1.20,
        None: 0.80,
    },
    "seniority": {
        "executive": 1.30,
        "vp": 1.30,
        "director": 1.30,
        "manager": 1.00,
        "individual": 0.80,
        "student": 0.50,
        "unknown": 0.80,
    },
    # A competitor's "interest" is research on us, not buying: it counts for nothing.
    "domain_type": {"business": 1.00, "personal": 0.40, "student": 0.40, "competitor": 0.00},
}
FIT_NOISE_SD = 0.4  # latent fit: the firmographic part plus noise no table shows
# Latent intent shift by source (columns follow SOURCES): referrals and partners come warm.
SOURCE_INTENT = np.array([0.0, 0.1, -0.2, 0.3, 0.0, 0.2, 0.1, 0.2])
PROFILE_INTENT = np.array([0.0, -1.2, 0.0, 0.0, 0.0])  # researchers rarely mean to buy

# ---------------------------------------------------------------------------------------
# Interest: I(t) = sum over episodes e of A_e * exp(-(t - s_e) / tau), t >= s_e
# ---------------------------------------------------------------------------------------
# Per-lead decay time constant, uniform in this range: a hand-raise (emitted while interest
# is high) lifts conversion for a few weeks, then the lead goes cold.
TAU_DAYS = (14.0, 28.0)
# The first episode starts at creation; its amplitude is Gamma(shape, mean / shape).
FIRST_AMPLITUDE_SHAPE = 0.4
FIRST_AMPLITUDE_MEAN = 1.5
# Re-engagement episodes: a Poisson process at a per-lead rate; Gamma amplitudes with a
# small shape (most returns are a glance, a few are a new buying project).
REENGAGE_PER_YEAR = 1.2  # at average intent, for a buyer
REENGAGE_SD = 0.5  # log-sd of a lead's rate around its profile's
REENGAGE_INTENT = 0.3  # the rate rises with intent like exp(this * intent)
PROFILE_REENGAGE = np.array([1.0, 2.5, 0.5, 0.7, 1.5])  # researchers keep coming back
REENGAGE_AMPLITUDE_SHAPE = 0.4
REENGAGE_AMPLITUDE_MEAN = 0.6
# A dormant lead's residual interest: a trickle of activity and a tiny base hazard.
INTEREST_FLOOR = 0.01

# ---------------------------------------------------------------------------------------
# Conversion: hazard h(t) = c * (I(t) + INTEREST_FLOOR)
# ---------------------------------------------------------------------------------------
# c = CONVERSION_SCALE * profile * fit multiplier * exp(additive fit + intent term)
CONVERSION_SCALE = 0.01  # per day at interest 1, for an average buyer
CONVERSION_INTENT = 0.7  # c rises with intent like exp(this * intent)
PROFILE_CONVERSION = np.array([1.0, 0.12, 0.02, 0.15, 0.0])  # researchers rarely buy

# ---------------------------------------------------------------------------------------
# Activity: Poisson events at rates proportional to I(t) + INTEREST_FLOOR, by type
# ---------------------------------------------------------------------------------------
# Browsing: volume is mostly a personal habit (engagement style), not intent.
BROWSE_RATE = 0.35  # browsing events per day at interest 1, average style, buyer
ENGAGEMENT_STYLE_SD = 0.8  # log-sd of a lead's activity volume that says nothing of intent
PROFILE_ACTIVITY = np.array([1.0, 4.0, 0.7, 0.8, 0.9])  # by profile
BROWSE_TYPES = (
    "page_view",
    "form_submit",
    "content_download",
    "webinar_registered",
    "email_click",
    "chat",
)
BROWSE_MIX = np.array(  # rows: PROFILES; columns: BROWSE_TYPES
    [
        [0.80, 0.05, 0.06, 0.03, 0.05, 0.01],
        [0.70, 0.05, 0.15, 0.07, 0.025, 0.005],
        [0.90, 0.06, 0.02, 0.005, 0.01, 0.005],
        [0.72, 0.07, 0.14, 0.035, 0.03, 0.005],
        [0.82, 0.03, 0.09, 0.04, 0.01, 0.01],
    ]
)
# Buying signals (pricing and product pages, chat, e-mail clicks, hand-raises) follow intent
# and fit, not the lead's browsing volume.
BUYING_RATE = 0.035  # buying events per day at interest 1, average intent and fit, buyer
# An episode of amplitude A emits buying signals at BUYING_RATE * A / BUYING_AMPLITUDE times
# its interest: quadratic in A, so they mark strong episodes (a new buying project).
BUYING_AMPLITUDE = 1.5
BUYING_INTENT = 0.6
BUYING_FIT = 0.5
PROFILE_BUYING = np.array([1.0, 0.2, 0.0, 0.4, 0.6])  # job seekers never ask to buy
BUYING_TYPES = {  # "hand_raise": a hand-raiser type drawn by the lead's segment
    "page_view": 0.60,
    "email_click": 0.18,
    "chat": 0.08,
    "hand_raise": 0.14,
}
BUYING_PAGES = {"pricing": 0.60, "product": 0.30, "docs": 0.10}
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
# Baseline page mix of browsing without pricing (columns: PAGE_CATEGORIES minus pricing).
PAGE_MIX = np.array(
    [
        [0.20, 0.25, 0.27, 0.11, 0.03, 0.14],
        [0.06, 0.08, 0.50, 0.32, 0.01, 0.03],
        [0.15, 0.08, 0.10, 0.02, 0.55, 0.10],
        [0.20, 0.15, 0.35, 0.20, 0.05, 0.05],
        [0.10, 0.45, 0.10, 0.28, 0.02, 0.05],
    ]
)
PRICING_SHARE = np.array([0.04, 0.005, 0.02, 0.04, 0.30])  # browsing views on pricing
# E-mail opens are a habit: marketing e-mails arrive on a schedule whatever the interest.
OPENS_PER_DAY = 0.02  # at average style
# Privacy proxies (e.g. Apple Mail Privacy Protection) "open" every marketing e-mail.
PRIVACY_PROXY_SHARE = np.array([0.25, 0.45, 0.30, 0.20])  # by DOMAIN_TYPES
PRIVACY_PROXY_OPENS_PER_DAY = 0.04  # marketing e-mails per day a proxy opens
# Tourists: free-trial sign-ups out of curiosity, independent of intent, in the small
# segment; by profile. They happen soon after creation and come with a few docs views.
TOURIST_TRIAL_RATE = np.array([0.06, 0.04, 0.02, 0.12, 0.0])
TOURIST_DAYS = 7.0  # mean days from creation to the tourist's sign-up
TOURIST_FOLLOW_UP_VIEWS = 2.0  # expected getting-started page views after it
# Added to a registrant's chance of attending (0.4 at average intent), by profile.
WEBINAR_ATTENDANCE_SHIFT = np.array([0.0, 0.2, 0.0, 0.0, 0.0])
UNSUBSCRIBE_RATE = np.array([0.07, 0.05, 0.10, 0.08, 0.03])  # by profile
UNSUBSCRIBE_DAYS = 30.0  # mean days from creation to unsubscribe
# Share of leads whose attribute is blank in the export.
MISSING_SHARE = {"industry": 0.04, "company_size": 0.06, "country": 0.02, "job_title": 0.03}
