#!/usr/bin/env python3
"""Informal predictability check for `veil generate` output (docs/synthetic-data.md, "Typical numbers").

Usage: scripts/synth_label_check.py EVENTS.ndjson TRUTH.csv   (needs numpy)

Builds seven behaviour features per user from the events before the truth file's cutoff, fits a plain
logistic regression (Newton's method) on half of the users and prints ROC AUC on the other half for the
purchase label (>= 1 purchase in the horizon) and the churn label (no event in the horizon), next to the
AUC of the truth probabilities and of the reachable probabilities (traits known, churn and the cutoff week's
multiplier inferred from the events; docs/synthetic-data.md), the truth calibration for users active at the cutoff, and how often the
most frequent past purchase category is the first category bought in the horizon.
"""
import collections
import datetime
import json
import sys

import numpy as np


def seconds(ts, start):
    """Seconds from `start` (a date, 00:00 UTC) to the RFC 3339 UTC timestamp `ts` ("…T12:34:56Z")."""
    d = datetime.date(int(ts[0:4]), int(ts[5:7]), int(ts[8:10]))
    return (d - start).days * 86400 + int(ts[11:13]) * 3600 + int(ts[14:16]) * 60 + int(ts[17:19])


def day_number(ts, start):
    """`seconds` in days."""
    return seconds(ts, start) / 86400


def auc(score, y):
    score = np.asarray(score, float)
    y = np.asarray(y, int)
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    ranks = (np.bincount(inverse, weights=ranks) / counts)[inverse]  # average ranks for ties
    n1 = y.sum()
    n0 = len(y) - n1
    return (ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


def logistic_regression(x, y, iterations=30):
    mean, sd = x.mean(0), x.std(0) + 1e-12
    xb = np.c_[np.ones(len(x)), (x - mean) / sd]
    w = np.zeros(xb.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-xb @ w))
        hessian = (xb.T * (p * (1 - p))) @ xb / len(y) + 1e-6 * np.eye(len(w))
        w -= np.linalg.solve(hessian, xb.T @ (p - y) / len(y))
    return lambda z: np.c_[np.ones(len(z)), (z - mean) / sd] @ w


def behaviour(events_path, cutoff, horizon):
    """Per user the tallies of the events, the users with an event before the cutoff (in file order), and
    their seven behaviour features."""
    start = cutoff  # day numbers relative to the cutoff: negative = before
    users = {}
    for line in open(events_path):
        e = json.loads(line)
        t = day_number(e["timestamp"], start)
        s = users.setdefault(e["user_id"], dict(last=None, events=0, sessions=set(), purchases=0, last_purchase=-1e4,
                                                 sessions28=set(), purchases28=0, carts=0, y_purchase=0, y_event=0,
                                                 categories=collections.Counter(), next_category=None))
        if t < 0:
            s["last"] = t
            s["events"] += 1
            s["sessions"].add(e["session_id"])
            if t >= -28:
                s["sessions28"].add(e["session_id"])
            if e["type"] == "purchase":
                s["purchases"] += 1
                s["last_purchase"] = t
                s["categories"][e["category"]] += 1
                if t >= -28:
                    s["purchases28"] += 1
            if e["type"] == "add_to_cart":
                s["carts"] += 1
        elif t < horizon:
            s["y_event"] = 1
            if e["type"] == "purchase":
                s["y_purchase"] = 1
                s["next_category"] = s["next_category"] or e["category"]
    seen = [u for u, s in users.items() if s["events"] > 0]
    x = np.array([[np.log1p(-users[u]["last"]), np.log1p(len(users[u]["sessions"])), np.log1p(users[u]["purchases"]),
                   np.log1p(len(users[u]["sessions28"])), np.log1p(users[u]["purchases28"]), np.log1p(users[u]["carts"]),
                   np.log1p(-users[u]["last_purchase"])] for u in seen])
    return users, seen, x


def halves(count):
    """The training and test halves of `count` users (a fixed permutation)."""
    permutation = np.random.RandomState(0).permutation(count)
    return permutation[: count // 2], permutation[count // 2:]


def read_truth(path):
    """The truth file's columns and its rows by user ID (each row a dict of column → text)."""
    truth = {}
    with open(path) as f:
        header = f.readline().strip().split(",")
        for line in f:
            row = dict(zip(header, line.strip().split(",")))
            truth[row["user_id"]] = row
    return header, truth


def window(truth, start):
    """The cutoff (days after `start`) and the horizon (days) the truth file's rows name."""
    first = next(iter(truth.values()))
    return (datetime.date.fromisoformat(first["cutoff"]) - start).days, int(first["horizon_days"])


def main(events_path, truth_path):
    header, truth = read_truth(truth_path)
    first = next(iter(truth.values()))
    cutoff = datetime.date.fromisoformat(first["cutoff"])
    horizon = int(first["horizon_days"])
    users, seen, x = behaviour(events_path, cutoff, horizon)
    labels = {"purchase": (np.array([users[u]["y_purchase"] for u in seen]), "p_purchase"),
              "churn": (np.array([1 - users[u]["y_event"] for u in seen]), "p_no_event")}
    train, test = halves(len(seen))
    print(f"cutoff {cutoff}, horizon {horizon} d, users with an event before the cutoff: {len(seen)}")
    for name, (y, column) in labels.items():
        model = logistic_regression(x[train], y[train])
        line = f"{name:8} label rate {y.mean():.4f}  behaviour AUC {auc(model(x[test]), y[test]):.4f}  "
        line += f"truth AUC {auc([float(truth[u][column]) for u in seen], y):.4f}"
        if column + "_reachable" in header:  # truth files of builds with the reachable probabilities
            line += f"  reachable AUC {auc([float(truth[u][column + '_reachable']) for u in seen], y):.4f}"
        print(line)
    active = [u for u, r in truth.items() if r["active_at_cutoff"] == "1"]
    for column, observed in [("p_purchase", lambda s: s["y_purchase"]), ("p_no_event", lambda s: 1 - s["y_event"])]:
        mean = np.mean([float(truth[u][column]) for u in active])
        empirical = np.mean([observed(users[u]) if u in users else (0 if column == "p_purchase" else 1) for u in active])
        print(f"active at cutoff ({len(active)}): mean {column} {mean:.4f}, simulated {empirical:.4f}")
    buyers = [s for s in users.values() if s["next_category"] and s["categories"]]
    hits = sum(s["categories"].most_common(1)[0][0] == s["next_category"] for s in buyers)
    print(f"next category = most frequent past purchase category: {hits / len(buyers):.4f} of {len(buyers)} buyers")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
