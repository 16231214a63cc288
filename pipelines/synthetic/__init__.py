"""The synthetic data source: a CRM/marketing export with a checkable ground truth.

Each lead has a latent profile (buyer, researcher, job seeker, student, competitor), a latent
fit (from firmographics) and a latent intent. They drive an activity stream that decays after
creation, with intent bursts. At the as-of moment T = created_at + observation_days the
conversion probability `p_true` is an explicit function of what is observable at T (attributes
and events with occurred_at <= T): a logistic function capped at MAX_CONVERSION, defined by
the named constants of `truth`; the label is drawn from it. Events after T depend on the
outcome, so a feature builder that reads the future is detectably wrong. Everything after
the data end (start + days) is dropped.

The world reproduces what classic points templates (points per activity, per attribute, a
flat bonus per hand-raise) are known to get wrong in real B2B funnels:

- Activity volume is a weak signal. Browsing volume is mostly a personal habit
  (`ENGAGEMENT_STYLE_SD`), not intent. About 13% of leads are researchers (analysts,
  consultants, existing customers' staff) who read the blog and docs, download content,
  register for webinars and open e-mails heavily, yet rarely buy. E-mail opens are pure
  noise: privacy proxies (Apple Mail Privacy Protection and the like) "open" every e-mail.
  In the truth, page views, downloads and active days enter as log1p with small
  coefficients and opens with zero, so piling up low-intent activity does not make a buyer.
  Buying signals are pricing views (mainly whether there is one), chat, e-mail clicks and
  hand-raises.
- Hand-raisers are heterogeneous. Small shops and private e-mail addresses mostly start free
  trials, and some are tourists who sign up out of curiosity whatever their intent
  (`TOURIST_TRIAL_RATE`); mid-size and large companies ask for demos and for sales. A demo
  or contact-sales request weighs far more than a trial (`HAND_RAISE_COEF`). Speed to lead:
  the weight decays with `days_since_first_hand_raise` towards `SPEED_FLOOR`, so a request
  from the last couple of days converts far better than one 10+ days old.
- Fit multiplies intent. Every intent term (hand-raises included) is scaled by a fit
  multiplier from company size, seniority and e-mail domain (`FIT_MULTIPLIER`), so fit without
  intent is worth little and the same demo request means much more from a director at a
  large company than from a one-person shop on a gmail address. A sum of points can't
  express this.

Overall about 9% of the eligible leads convert. Every term of the truth is something the
feature table can express (counts per type and page category, windows, hand-raise recency,
days since last activity, firmographics, domain flags), so a model can learn it.

`truth.p_true` is NaN for early converters (converted at or before T). For leads whose T
falls after the data end it is computed on the uncensored stream, so it cannot be checked
against the export; those leads are censored anyway.

Modules, each importing only modules above it. All draws come from one generator in a fixed
order, so reordering them changes the export:
- `world`: the vocabularies, the population and the behaviour parameters, as named constants.
- `sampling`: the columnar records (`Leads`, `Events`) and the shared random-draw helpers.
- `truth`: the truth's coefficients, the observables at T and `conversion_probability`.
- `leads`: drawing leads (profile, domain type, firmographics, role, source, latents).
- `events`: drawing each lead's activity stream and unsubscribes.
- `outcomes`: early conversions, labels from p_true, and the events that depend on them.
- `export`: `generate_export` / `export_from_params` and the four tables they return.
"""
