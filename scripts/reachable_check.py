#!/usr/bin/env python3
"""Monte Carlo check of the reachable probabilities of `veil generate --truth` (docs/synthetic-data.md,
"Reachable probabilities"), independent of the generator's code.

Usage: scripts/reachable_check.py EVENTS.ndjson TRUTH.csv [--users 8] [--sims 20000000] [--start 2026-01-01]
(needs numpy)

For a few users it re-simulates the generator's week process from the documented model only — churn time
C ~ Exponential(h) (memoryless from the start of the week of the user's last session before the cutoff),
a Gamma(1, 1) multiplier per week, Poisson session counts with intensity r·m_w·weekday·24·hour — with the
user's traits from the truth file (sessions_per_day, churn_hazard_per_day, purchase_per_session), and keeps
the simulations that reproduce what the events show: the sessions of that week up to the last one, the
last one within DELTA of its observed start, none after it before the cutoff (approximate Bayesian
computation with a window of ±30 minutes). Over those it estimates P(active at the cutoff),
P(no event in the horizon) and P(≥ 1 purchase in the horizon) — the horizon ones Rao-Blackwellised,
exp(−mass) and 1 − exp(−π·mass) given C and the multipliers — and compares them with the truth file's
p_active_reachable, p_no_event_reachable and p_purchase_reachable.

Tolerance per number: 4 Monte Carlo standard errors + 0.005 (the window's bias and the file's 6 decimals).
Users whose last session might have been moved to the end of the session before it (it started less than
an hour after that one's last event) are not picked: their observed start is not the drawn one.
Exit status 1 if any number is outside its tolerance.
"""
import argparse
import datetime
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from synth_label_check import read_truth, seconds, window  # noqa: E402

WEEKDAY = np.array([0.92, 0.90, 0.93, 0.97, 1.00, 1.18, 1.10])  # Monday first
HOUR = np.array([0.6, 0.3, 0.2, 0.15, 0.15, 0.3, 0.8, 1.5, 2.2, 2.8, 3.0, 3.2,
                 3.6, 3.4, 3.2, 3.2, 3.4, 3.8, 4.4, 5.2, 5.6, 5.0, 3.2, 0])
SHAPE = 1.0  # k of the weekly multiplier
DELTA = 0.5 / 24  # days


def read_sessions(path, wanted, start, cutoff_seconds):
    """Per wanted user: {session_id: [first second, last second]} of the sessions before the cutoff."""
    sessions = {u: {} for u in wanted}
    with open(path) as f:
        for line in f:
            at = line.index('"user_id":"') + 11
            user = line[at:line.index('"', at)]
            if user not in sessions:
                continue
            event = json.loads(line)
            t = seconds(event["timestamp"], start)
            if t >= cutoff_seconds:
                continue
            span = sessions[user].setdefault(event["session_id"], [t, t])
            span[0], span[1] = min(span[0], t), max(span[1], t)
    return sessions


def simulate(row, history, days_total, start, cutoff, horizon, sims, rng):
    r = float(row["sessions_per_day"])
    h = float(row["churn_hazard_per_day"])
    pi = float(row["purchase_per_session"])
    weekday = WEEKDAY / WEEKDAY.mean()
    hour = HOUR / HOUR.sum()
    # Base intensity (without m) per hour of the dataset, and its cumulative sum at hour boundaries.
    per_hour = np.array([r * weekday[(start + datetime.timedelta(days=d)).weekday()] * hour[j]
                         for d in range(days_total) for j in range(24)])
    grid = np.arange(len(per_hour) + 1) / 24.0
    cumulative = np.concatenate([[0.0], np.cumsum(per_hour)])

    def base(x):
        return np.interp(x, grid, cumulative)

    t, n = history  # last session (days), sessions of its week up to it
    first_week = int(t // 7)
    last_week = int((cutoff + horizon - 1) // 7)
    weeks = range(first_week, last_week + 1)
    s0 = 7.0 * first_week
    day_start = np.floor(t)
    window = (max(t - DELTA, day_start), min(t + DELTA, day_start + 1))

    def mass(a, b, churn, multipliers):
        """Σ_w m_w · base intensity of week w in [a, min(b, C))."""
        end = np.minimum(b, churn)
        total = np.zeros_like(churn)
        for index, w in enumerate(weeks):
            lo = np.clip(a, 7 * w, 7 * w + 7)
            hi = np.clip(end, 7 * w, 7 * w + 7)
            total += multipliers[index] * np.maximum(base(hi) - base(lo), 0)
        return total

    kept = {"active": [], "no_event": [], "purchase": []}
    chunk = 1_000_000
    for _ in range(sims // chunk):
        churn = s0 + rng.exponential(1 / h, chunk)
        multipliers = rng.gamma(SHAPE, 1 / SHAPE, (len(weeks), chunk))
        before = rng.poisson(mass(s0, window[0], churn, multipliers))
        inside = rng.poisson(mass(window[0], window[1], churn, multipliers))
        after = rng.poisson(mass(window[1], cutoff, churn, multipliers))
        keep = (inside >= 1) & (before + inside == n) & (after == 0)
        horizon_mass = mass(cutoff, cutoff + horizon, churn[keep], multipliers[:, keep])
        kept["active"].append((churn[keep] > cutoff).astype(float))
        kept["no_event"].append(np.exp(-horizon_mass))
        kept["purchase"].append(-np.expm1(-pi * horizon_mass))
    return {key: np.concatenate(values) for key, values in kept.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("events")
    parser.add_argument("truth")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--sims", type=int, default=20_000_000)
    parser.add_argument("--start", default="2026-01-01")
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    start = datetime.date.fromisoformat(args.start)
    _, rows = read_truth(args.truth)
    cutoff, horizon = window(rows, start)
    rng = np.random.default_rng(args.seed)
    # Candidates: a random sample, read from the events; then users spread over p_active_reachable and over
    # "last session in the cutoff's week" or not.
    candidates = list(rng.choice(sorted(rows), size=min(len(rows), 40 * args.users), replace=False))
    sessions = read_sessions(args.events, set(candidates), start, cutoff * 86400)
    usable = []
    for user in candidates:
        spans = sorted(sessions[user].values())
        if not spans:
            continue
        if len(spans) >= 2 and spans[-1][0] - spans[-2][1] < 3600:
            continue  # the last session may have been moved to the end of the one before
        t = spans[-1][0] / 86400
        n = sum(1 for s in spans if s[0] // (7 * 86400) == spans[-1][0] // (7 * 86400))
        usable.append((user, t, n))
    def group(entry):
        user, t, _ = entry
        p = float(rows[user]["p_active_reachable"])
        return (int(t // 7) == cutoff // 7 and cutoff % 7 != 0, 0 if p < 0.5 else 1 if p < 0.9 else 2)
    picked, groups = [], {}
    for entry in usable:
        groups.setdefault(group(entry), []).append(entry)
    while len(picked) < args.users and any(groups.values()):
        for key in sorted(groups):
            if groups[key] and len(picked) < args.users:
                picked.append(groups[key].pop(0))
    failures = 0
    print(f"cutoff day {cutoff}, horizon {horizon} d, {args.sims:,} simulations per user, window ±{DELTA * 24 * 60:.0f} min")
    for user, t, n in picked:
        row = rows[user]
        result = simulate(row, (t, n), args.days, start, cutoff, horizon, args.sims, rng)
        accepted = len(result["active"])
        line = [f"{user}: last session day {t:.3f} ({n} in its week), {accepted:,} accepted"]
        for key, column in [("active", "p_active_reachable"), ("no_event", "p_no_event_reachable"),
                            ("purchase", "p_purchase_reachable")]:
            values = result[key]
            estimate = values.mean()
            error = values.std() / np.sqrt(max(1, accepted))
            expected = float(row[column])
            ok = accepted >= 1000 and abs(estimate - expected) <= 4 * error + 0.005
            failures += not ok
            line.append(f"  {column} {expected:.4f} vs Monte Carlo {estimate:.4f} ± {error:.4f} {'ok' if ok else 'FAIL'}")
        print("\n".join(line))
    print("all within tolerance" if failures == 0 else f"{failures} outside tolerance")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
