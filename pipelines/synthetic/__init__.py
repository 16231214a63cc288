"""The synthetic data source: a CRM/marketing export with a checkable ground truth.

Leads live long. Each lead has a latent profile (buyer, researcher, job seeker, student,
competitor), a latent fit (from firmographics) and a latent intent, from which follow its
latents (`interest.Latents`): an engagement style, a buying-signal rate, a conversion scale
c, a decay time tau (2 to 4 weeks), a re-engagement rate lambda and the Gamma distribution of
re-engagement amplitudes. Its latent interest is

    I(t) = sum over episodes e of A_e * exp(-(t - s_e) / tau)   (t >= s_e),

with a first episode at creation and re-engagement episodes arriving as a Poisson process
of rate lambda (most returns are a glance, a few a new buying project). Activity events are
Poisson with rates proportional to the interest, by type; the conversion hazard is
c * (I(t) + INTEREST_FLOOR): a lead converts where its cumulative hazard passes an Exp(1)
draw, at any age (about a fifth of conversions come after day 200, after a re-engagement),
and its pre-sales activity stops there. Everything after the data end (start + days) is
dropped.

The truth (`truth.truth_probability`) is exact for any (lead, T): the probability of
converting in (T, T + H] given the generator's state at T (latents and episodes started by
T), with the future episodes integrated out by Campbell's theorem. It is written beside the
export under data/synthetic_truth/ (never a training input); `truth.parquet` also keeps
`p_true` at T0 = created_at + observation_days (NaN for leads converted by then).

The world reproduces what classic points templates (points per activity, per attribute, a
flat bonus per hand-raise, a hand-raiser in SQL forever) get wrong in real B2B funnels:

- Activity volume is a weak signal. Browsing volume is mostly a personal habit
  (`ENGAGEMENT_STYLE_SD`), not intent. About 13% of leads are researchers (analysts,
  consultants, existing customers' staff) who read the blog and docs, download content,
  register for webinars and come back often, yet have a small c and rarely buy. E-mail opens
  are pure noise: marketing e-mails arrive on a schedule whatever the interest, opened by
  habit, and privacy proxies (Apple Mail Privacy Protection and the like) "open" every one.
  Buying signals (pricing and product pages, chat, e-mail clicks, hand-raises) follow intent
  and come from strong episodes (their rate also scales with the episode's amplitude).
- Hand-raises lift conversion for a few weeks, then go cold: they are emitted while
  interest is high, and interest decays with tau, so a request from the last days converts
  far better than one two months old (speed to lead; a hand-raiser is not hot forever).
- Hand-raisers are heterogeneous. Small shops and private e-mail addresses mostly start free
  trials, and some are tourists who sign up out of curiosity whatever their interest
  (`TOURIST_TRIAL_RATE`); mid-size and large companies ask for demos and for sales.
- Fit multiplies intent. c is scaled by a fit multiplier from company size, seniority and
  e-mail domain (`FIT_MULTIPLIER`), so fit without interest is worth little and the same demo
  request means much more from a director at a large company than from a one-person shop on
  a gmail address. A sum of points can't express this. Competitors never convert (c = 0).
- Old leads are not dead, young leads are not all hot: the youngest leads of the open base
  convert most, dormant ones a little, and some come back months later.

Modules, each importing only modules above it. All draws come from one generator in a fixed
order, so reordering them changes the export:
- `world`: the vocabularies, the population, the fit tables and the behaviour parameters.
- `sampling`: the columnar records (`Leads`, `Events`) and the shared random-draw helpers.
- `leads`: drawing leads (profile, domain type, firmographics, role, source, fit, intent).
- `interest`: per-lead latents, interest episodes, the hazard arithmetic (shared by the
  generator and the truth, so the two cannot drift apart).
- `events`: drawing each lead's activity from its interest, plus opens, tourists and
  unsubscribes.
- `outcomes`: conversion days from the cumulative hazard; activity stops at conversion.
- `truth`: `SyntheticTruth`, `truth_probability` and `load_truth`.
- `export`: `generate_export` / `export_from_params` and the tables they return.
"""
