#!/usr/bin/env python3
"""The best AUC any model of the events can reach on `veil generate` data: the Bayes posterior predictive.

Usage: scripts/events_ceiling.py EVENTS.ndjson TRUTH.csv [--check-reachable N] [--grid A,P,U]
       [--start 2026-01-01] [--days 120]   (needs numpy)

`docs/synthetic-data.md` says how the generator draws a shopper: latent traits (activity z_a, propensity z_p,
the churn hazard's own noise), a churn time, a Gamma multiplier per week, Poisson sessions, and in each session
a funnel of views, adds to cart, a checkout and a payment. Its "reachable" probabilities still know the
traits; a model of the events does not. This script integrates the traits out too. For every user with an
event before the cutoff it computes, from the generative model as documented and from nothing of the
generator's code,

    P(label | events) = Σ_θ P(label | θ, events) · P(events | θ) · prior(θ) / Σ_θ P(events | θ) · prior(θ)

over a grid of θ = (z_a, z_p, log h), with the churn time and the week multipliers integrated out exactly as
the reachable probabilities do. What of the events depends on θ:
- the session start times (through the session rate r(z_a), the churn hazard h and the multipliers):
  r^n · Π_w (1 + r·b_w/k)^−(k + n_w) for the weeks exposed, with the churn time integrated over the weeks
  from the last session's on (b_w the weekday × hour base intensity of week w that was exposed);
- the funnel (through z_p): each view adds to cart with p_add, a session with a non-empty cart checks out
  with p_co, a checkout pays with p_pay;
and nothing else (categories, items, searches, quantities, removals, returns and reviews do not depend on θ).
Given the events, the label depends on the events only through the session times and θ (the reachable
probabilities' argument), so by the Neyman–Pearson lemma thresholding this posterior predictive is the most
powerful test of the label among all functions of the events: its AUC is the events' ceiling, up to the
grid's discretisation and the sample's noise. Three ceilings, then, each above the next: the truth (knows
the traits, whether the user churned and the cutoff week's multiplier), the reachable (knows the traits),
and this one (knows only what a model sees).

--check-reachable N recomputes, for N users, the truth file's p_active_reachable, p_purchase_reachable and
p_no_event_reachable with the traits fixed at the file's values (the same code path as the posterior, at
one point of θ): a check of the session-time and horizon terms against the generator's own numbers. Users
whose last session may have been moved to the end of the one before (docs/synthetic-data.md, "Sessions")
are compared with a looser tolerance, as their observed start is not the drawn one.
"""
import argparse
import datetime
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synth_label_check import auc, behaviour, halves, logistic_regression, read_truth, seconds, window  # noqa: E402

WEEKDAY = np.array([0.92, 0.90, 0.93, 0.97, 1.00, 1.18, 1.10])  # Monday first
HOUR = np.array([0.6, 0.3, 0.2, 0.15, 0.15, 0.3, 0.8, 1.5, 2.2, 2.8, 3.0, 3.2,
                 3.6, 3.4, 3.2, 3.2, 3.4, 3.8, 4.4, 5.2, 5.6, 5.0, 3.2, 0])
K = 1.0  # shape of the weekly multiplier
RHO = 0.35
R0, R_SPREAD, R_MAX = 0.12, 0.75, 6.0
H0, H_ACTIVITY, H_PROPENSITY, H_SPREAD = 1 / 450, -0.45, -0.3, 0.6
ADD, CHECKOUT, PAY = (-2.0, 0.6), (0.0, 0.5), (1.0, 0.5)  # logit = intercept + slope · z_p
CONTINUE = 2 / 3
GAUSS = (np.array([-np.sqrt(0.6), 0.0, np.sqrt(0.6)]) + 1) / 2, np.array([5, 8, 5]) / 18  # 3-point rule on [0, 1]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def funnel(zp):
    """p_add, p_co and p_pay of a user with propensity z_p."""
    return sigmoid(ADD[0] + ADD[1] * zp), sigmoid(CHECKOUT[0] + CHECKOUT[1] * zp), sigmoid(PAY[0] + PAY[1] * zp)


def purchase_per_session(p_add, p_co, p_pay):
    """π = (1 − E[(1 − p_add)^V]) · p_co · p_pay, V ~ 1 + Geometric with continuation CONTINUE."""
    x = 1 - p_add
    return (1 - x * (1 - CONTINUE) / (1 - CONTINUE * x)) * p_co * p_pay


class Calendar:
    """The base intensity (without r and the multiplier) hour by hour, and its integral b(x), x in days."""

    def __init__(self, start, days):
        weekday = WEEKDAY / WEEKDAY.mean()
        hour = HOUR / HOUR.sum()
        self.per_hour = np.concatenate([weekday[(start + datetime.timedelta(days=d)).weekday()] * hour for d in range(days)])
        self.cumulative = np.concatenate([[0.0], np.cumsum(self.per_hour)])

    def b(self, x):
        x = np.asarray(x, float)
        hour = np.minimum(np.floor(x * 24).astype(int), len(self.per_hour) - 1)
        return self.cumulative[hour] + (x * 24 - hour) * self.per_hour[hour]

    def week(self, w):
        """b over week w (days 7w to 7w + 7)."""
        return self.b(7.0 * w + 7) - self.b(7.0 * w)


def nodes(a, b):
    """3-point Gauss–Legendre nodes and weights (days) on [a, b), piece by piece at hour boundaries."""
    edges = np.concatenate([[a], np.arange(np.floor(a * 24) + 1, np.ceil(b * 24)) / 24, [b]])
    edges = edges[np.concatenate([[True], np.diff(edges) > 0])]
    lo, width = edges[:-1], np.diff(edges)
    return (lo[:, None] + width[:, None] * GAUSS[0]).ravel(), (width[:, None] * GAUSS[1]).ravel()


class Model:
    """The session-time and horizon terms for arrays of r (rows) and h (columns), one user at a time."""

    def __init__(self, calendar, cutoff, horizon):
        self.calendar, self.cutoff, self.horizon = calendar, cutoff, horizon
        self.cutoff_week = cutoff // 7
        self.full_weeks = np.array([calendar.week(w) for w in range(self.cutoff_week)])
        self.week_start = np.array([calendar.b(7.0 * w) for w in range(self.cutoff_week + 1)])
        # Horizon nodes s (days after the cutoff) and the base intensity of each week from the cutoff on.
        self.h_nodes, self.h_weights = nodes(0.0, float(horizon))
        ends = np.concatenate([self.h_nodes, [float(horizon)]])
        self.horizon_weeks = []
        for w in range(self.cutoff_week, (cutoff + horizon - 1) // 7 + 1):
            lo = max(float(cutoff), 7.0 * w)
            self.horizon_weeks.append(calendar.b(np.clip(cutoff + ends, lo, 7.0 * w + 7)) - calendar.b(lo))
        # Exposure of the cutoff week before the cutoff.
        self.cutoff_exposure = float(calendar.b(float(cutoff)) - self.week_start[self.cutoff_week])

    def log_sessions(self, r, h, t, week_counts):
        """log P(session times, churned after the cutoff | r, h) and log P(session times, churned before it),
        up to a constant, for r (shape [A]) × h (shape [U]); t is the last session's start (days; 0 for none),
        week_counts the sessions per week before the cutoff (length cutoff_week + 1)."""
        n = week_counts.sum()
        first = int(t // 7)
        rk = r[:, None] / K
        # Weeks before the last session's are exposed in full whatever the churn time.
        before = -((K + week_counts[:first]) * np.log1p(rk * self.full_weeks[:first])).sum(1)
        prefix = n * np.log(r) + before
        # From the last session's week on: the constant part of each week's factor once it is over.
        over = np.zeros((len(r), self.cutoff_week + 2 - first))
        for index, w in enumerate(range(first, self.cutoff_week)):
            over[:, index + 1] = over[:, index] - (K + week_counts[w]) * np.log1p(rk[:, 0] * self.full_weeks[w])

        def log_g(x):  # x: churn times (days), t <= x <= cutoff
            w = np.minimum((x // 7).astype(int), self.cutoff_week)
            part = self.calendar.b(x) - self.week_start[w]
            return over[:, w - first] - (K + week_counts[w]) * np.log1p(rk * part)

        active = prefix[:, None] + log_g(np.array([float(self.cutoff)]))[:, :1] - h[None, :] * self.cutoff
        churn_at, churn_weight = nodes(t, float(self.cutoff))
        g = log_g(churn_at)
        top = g.max(1)
        density = churn_weight[:, None] * h[None, :] * np.exp(-churn_at[:, None] * h[None, :])
        with np.errstate(divide="ignore"):
            churned = prefix[:, None] + top[:, None] + np.log(np.exp(g - top[:, None]) @ density)
        return active, churned

    def p_quiet(self, x, r, h, n_cutoff_week):
        """P(no event of intensity x·r̃·m in the horizon | active at the cutoff) for x (shape [X]) with the
        user's r of each x (shape [X]) and h (shape [U]): the cutoff week's multiplier is
        Gamma(k + n, k + r·B) given its n sessions in B of base intensity before the cutoff."""
        log_g = -(K + n_cutoff_week) * np.log1p(x[:, None] * self.horizon_weeks[0][None, :] / (K + r[:, None] * self.cutoff_exposure))
        for later in self.horizon_weeks[1:]:
            log_g -= K * np.log1p(x[:, None] * later[None, :] / K)
        g = np.exp(log_g)
        density = self.h_weights[:, None] * h[None, :] * np.exp(-self.h_nodes[:, None] * h[None, :])
        return g[:, :-1] @ density + g[:, -1:] * np.exp(-h[None, :] * self.horizon)


def read_events(path, start, cutoff, horizon):
    """Per user: session starts (seconds) and funnel counts before the cutoff, and the two labels."""
    users = {}
    cut, end = cutoff * 86400, (cutoff + horizon) * 86400
    for line in open(path):
        at = line.index('"user_id":"') + 11
        user = line[at:line.index('"', at)]
        at = line.index('"type":"') + 8
        kind = line[at:line.index('"', at)]
        at = line.index('"timestamp":"') + 13
        second = seconds(line[at:at + 19], start)
        u = users.get(user)
        if u is None:
            u = users[user] = dict(sessions={}, views=0, adds=0, carts=set(), checkouts=0, paid=set(), y_purchase=0, y_event=0)
        if second < cut:
            at = line.index('"session_id":"') + 14
            session = line[at:line.index('"', at)]
            first = u["sessions"].get(session)
            u["sessions"][session] = second if first is None else min(first, second)
            if kind == "view":
                u["views"] += 1
            elif kind == "add_to_cart":
                u["adds"] += 1
                u["carts"].add(session)
            elif kind == "checkout":
                u["checkouts"] += 1
            elif kind == "purchase":
                u["paid"].add(session)
        elif second < end:
            u["y_event"] = 1
            if kind == "purchase":
                u["y_purchase"] = 1
    return users


def history(u, cutoff_week):
    """The last session's start (days; 0 for none), the sessions per week before the cutoff, and the
    sessions' starts (seconds, in order)."""
    starts = sorted(u["sessions"].values())
    counts = np.zeros(cutoff_week + 1)
    for s in starts:
        counts[s // (7 * 86400)] += 1
    t = starts[-1] / 86400 if starts else 0.0
    return t, counts, starts


def check_reachable(model, users, truth, count, rng):
    print(f"reachable probabilities recomputed with the truth file's traits ({count} users):")
    names = [u for u in sorted(users) if users[u]["sessions"]]
    worst = {"p_active_reachable": 0.0, "p_purchase_reachable": 0.0, "p_no_event_reachable": 0.0}
    failures = 0
    for user in rng.choice(names, size=min(count, len(names)), replace=False):
        row = truth[user]
        t, counts, starts = history(users[user], model.cutoff_week)
        r = np.array([float(row["sessions_per_day"])])
        h = np.array([float(row["churn_hazard_per_day"])])
        pi = float(row["purchase_per_session"])
        active, churned = model.log_sessions(r, h, t, counts)
        p_active = float(1 / (1 + np.exp(churned - active))[0, 0])
        n = counts[model.cutoff_week]
        quiet = float(model.p_quiet(r, r, h, n)[0, 0])
        no_purchase = float(model.p_quiet(r * pi, r, h, n)[0, 0])
        ours = {"p_active_reachable": p_active, "p_purchase_reachable": p_active * (1 - no_purchase),
                "p_no_event_reachable": 1 - p_active + p_active * quiet}
        # A session that starts within the previous one's span is moved to its end: then t is not the drawn start.
        moved = len(starts) >= 2 and starts[-1] - starts[-2] < 2 * 3600
        for key, value in ours.items():
            gap = abs(value - float(row[key]))
            if not moved:
                worst[key] = max(worst[key], gap)
            failures += gap > (0.05 if moved else 5e-4)
    for key, gap in worst.items():
        print(f"  {key}: largest difference {gap:.2e} (users whose last session was not moved)")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("events")
    parser.add_argument("truth")
    parser.add_argument("--start", default="2026-01-01")
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--check-reachable", type=int, default=0, metavar="N")
    parser.add_argument("--grid", default="41,41,48", help="grid points for z_a, z_p and log h")
    parser.add_argument("--users", type=int, default=0, help="a random sample of this many users (0: all)")
    args = parser.parse_args()
    start = datetime.date.fromisoformat(args.start)
    _, truth = read_truth(args.truth)
    cutoff, horizon = window(truth, start)
    model = Model(Calendar(start, args.days), cutoff, horizon)
    users = read_events(args.events, start, cutoff, horizon)
    rng = np.random.default_rng(1)
    if args.check_reachable:
        failures = check_reachable(model, users, truth, args.check_reachable, rng)
        print("  all within tolerance" if failures == 0 else f"  {failures} outside tolerance")
        if failures:
            sys.exit(1)

    # The grid over θ and its prior (each conditional normalised on its grid).
    na, nprop, nu = (int(v) for v in args.grid.split(","))
    za = np.linspace(-5, 5, na)
    zp = np.linspace(-5, 5, nprop)
    log_h = np.linspace(np.log(H0) - 6.5, np.log(H0) + 6.5, nu)
    log_prior_a = -za ** 2 / 2
    log_prior_a -= np.log(np.exp(log_prior_a).sum())
    log_prior_p = -(zp[None, :] - RHO * za[:, None]) ** 2 / (2 * (1 - RHO ** 2))
    log_prior_p -= np.log(np.exp(log_prior_p).sum(1, keepdims=True))
    mean_h = np.log(H0) + H_ACTIVITY * za[:, None, None] + H_PROPENSITY * zp[None, :, None]
    log_prior_h = -(log_h[None, None, :] - mean_h) ** 2 / (2 * H_SPREAD ** 2)
    log_prior_h -= np.log(np.exp(log_prior_h).sum(2, keepdims=True))
    log_prior = log_prior_a[:, None, None] + log_prior_p[:, :, None] + log_prior_h
    r = np.minimum(R_MAX, R0 * np.exp(R_SPREAD * za))
    h = np.exp(log_h)
    p_add, p_co, p_pay = funnel(zp)
    pi = purchase_per_session(p_add, p_co, p_pay)
    quiet_tables, silent_tables = {}, {}

    def tables(n):
        if n not in quiet_tables:
            quiet_tables[n] = model.p_quiet(r, r, h, n)  # [a, u]
            x = (r[:, None] * pi[None, :]).ravel()
            silent_tables[n] = model.p_quiet(x, np.repeat(r, len(zp)), h, n).reshape(len(r), len(zp), len(h))
        return quiet_tables[n], silent_tables[n]

    seen = sorted(u for u, s in users.items() if s["sessions"])
    if args.users:
        seen = sorted(rng.choice(seen, size=min(args.users, len(seen)), replace=False))
    score_purchase, score_churn, effective = [], [], []
    for index, user in enumerate(seen):
        u = users[user]
        t, counts, _ = history(u, model.cutoff_week)
        active, churned = model.log_sessions(r, h, t, counts)  # [a, u]
        log_funnel = (u["adds"] * np.log(p_add) + (u["views"] - u["adds"]) * np.log1p(-p_add)
                  + u["checkouts"] * np.log(p_co) + (len(u["carts"]) - u["checkouts"]) * np.log1p(-p_co)
                  + len(u["paid"]) * np.log(p_pay) + (u["checkouts"] - len(u["paid"])) * np.log1p(-p_pay))
        base = log_prior + log_funnel[None, :, None]
        log_active = base + active[:, None, :]
        log_churned = base + churned[:, None, :]
        top = max(log_active.max(), log_churned.max())
        w_active, w_churned = np.exp(log_active - top), np.exp(log_churned - top)
        total = w_active.sum() + w_churned.sum()
        quiet, silent = tables(counts[model.cutoff_week])
        score_purchase.append((w_active * (1 - silent)).sum() / total)
        score_churn.append((w_churned.sum() + (w_active * quiet[:, None, :]).sum()) / total)
        weights = np.concatenate([w_active.ravel(), w_churned.ravel()]) / total
        effective.append(1 / (weights ** 2).sum())
        if (index + 1) % 5000 == 0:
            print(f"  {index + 1} of {len(seen)} users", file=sys.stderr)
    y_purchase = np.array([users[s]["y_purchase"] for s in seen])
    y_churn = np.array([1 - users[s]["y_event"] for s in seen])
    print(f"cutoff day {cutoff}, horizon {horizon} d, {len(seen)} users with an event before the cutoff; "
          f"grid {na} × {nprop} × {nu} (z_a, z_p, log h); grid points carrying the posterior: median "
          f"{np.median(effective):.0f}, 1st percentile {np.percentile(effective, 1):.0f}")
    for name, score, y, column in [("purchase", score_purchase, y_purchase, "p_purchase"),
                                   ("churn", score_churn, y_churn, "p_no_event")]:
        score = np.array(score)
        line = (f"{name:8} label rate {y.mean():.4f}  truth AUC {auc([float(truth[s][column]) for s in seen], y):.4f}  "
                f"reachable AUC {auc([float(truth[s][column + '_reachable']) for s in seen], y):.4f}  "
                f"events' ceiling AUC {auc(score, y):.4f}")
        print(line)
        order = np.argsort(score)
        bins = np.array_split(order, 10)
        print("  calibration by decile of the ceiling's probability (mean predicted / observed): " +
              ", ".join(f"{score[b].mean():.3f}/{y[b].mean():.3f}" for b in bins))
    if not args.users:
        paired(args.events, start + datetime.timedelta(days=cutoff), horizon, seen,
               {"purchase": score_purchase, "churn": score_churn})


def paired(events_path, cutoff, horizon, seen, scores):
    """The ceiling beside `synth_label_check.py`'s plain logistic regression on the same test half, with a
    paired bootstrap of the difference (1,000 resamples of the test users)."""
    users, behaviour_seen, x = behaviour(events_path, cutoff, horizon)
    train, test = halves(len(behaviour_seen))
    position = {user: index for index, user in enumerate(seen)}
    at = np.array([position[behaviour_seen[i]] for i in test])
    rng = np.random.default_rng(7)
    draws = [rng.integers(0, len(test), len(test)) for _ in range(1000)]
    print(f"on the test half of synth_label_check.py ({len(test)} users), against its logistic regression on seven "
          "behaviour features fitted on the other half:")
    for name, label in [("purchase", lambda u: u["y_purchase"]), ("churn", lambda u: 1 - u["y_event"])]:
        y = np.array([label(users[u]) for u in behaviour_seen])
        logistic = logistic_regression(x[train], y[train])(x[test])
        ceiling = np.array(scores[name])[at]
        gaps = [auc(ceiling[d], y[test][d]) - auc(logistic[d], y[test][d]) for d in draws]
        print(f"  {name:8} logistic AUC {auc(logistic, y[test]):.4f}  events' ceiling AUC {auc(ceiling, y[test]):.4f}  "
              f"ceiling − logistic {auc(ceiling, y[test]) - auc(logistic, y[test]):+.4f} "
              f"(95 % bootstrap interval {np.percentile(gaps, 2.5):+.4f} to {np.percentile(gaps, 97.5):+.4f})")


if __name__ == "__main__":
    main()
