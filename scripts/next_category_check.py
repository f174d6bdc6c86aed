#!/usr/bin/env python3
"""What the next_category rows of `docs/results.md` are measured against, from the generated files alone.

Usage: scripts/next_category_check.py EVENTS.ndjson TRUTH.csv [CUTOFF [HORIZON_DAYS]]

Over every user with a categorised event before the cutoff whose first purchase in [cutoff, cutoff +
horizon) is in a category (the users `veil train --task next_category` labels), the top-1 accuracy of:
- the favourite category by events: the category of most of the user's categorised events (Veil's
  `favourite_category` baseline);
- the favourite category by sessions: each session with categorised events weighs 1, split among its
  categories as its events are, an event without a session weighs 1 alone (Veil's
  `session_share_category_*` features; a shopper's session mostly browses one category, so this counts
  visits where the first counts clicks);
- the ceiling: the user's true category affinity (`affinity_*` in `veil generate --truth`), from which
  the generator draws the category of a purchase's session: no model of the events can expect more.
Ties go to the first category in the truth file's column order. All users, not only a model's keyed
20 % holdout (a random subset of them): the same quantities up to sampling. Independent of Veil's code.
"""
import csv
import datetime
import json
import sys
from collections import defaultdict


def top(scores):
    """The index of the largest score, the first on ties."""
    return max(range(len(scores)), key=lambda index: (scores[index], -index))


def main():
    if len(sys.argv) not in (3, 4, 5):
        sys.exit(__doc__.split("\n\n")[1])
    events, truth = sys.argv[1:3]
    start = datetime.date.fromisoformat(sys.argv[3] if len(sys.argv) > 3 else "2026-04-17")
    horizon_days = int(sys.argv[4]) if len(sys.argv) > 4 else 14
    cutoff = f"{start.isoformat()}T00:00:00Z"
    horizon_end = f"{(start + datetime.timedelta(days=horizon_days)).isoformat()}T00:00:00Z"

    with open(truth) as file:
        reader = csv.DictReader(file)
        columns = [name for name in reader.fieldnames if name.startswith("affinity_")]
        categories = [name.removeprefix("affinity_") for name in columns]
        affinity = {row["user_id"]: [float(row[name]) for name in columns] for row in reader}
    index = {category: position for position, category in enumerate(categories)}

    by_events = defaultdict(lambda: [0.0] * len(categories))
    by_session = defaultdict(lambda: defaultdict(lambda: [0.0] * len(categories)))
    first_purchase = {}
    with open(events) as file:
        for line in file:
            event = json.loads(line)
            category = index.get(event.get("category"))
            if category is None:
                continue
            user, time = event["user_id"], event["timestamp"]
            if time < cutoff:
                by_events[user][category] += 1
                # An event without a session is a session of its own.
                session = event.get("session_id") or ("event", event["event_id"])
                by_session[user][session][category] += 1
            elif time < horizon_end and event["type"] == "purchase":
                if user not in first_purchase or time < first_purchase[user][0]:
                    first_purchase[user] = (time, category)

    users = hits_events = hits_sessions = hits_truth = 0
    for user, (_, label) in first_purchase.items():
        if user not in by_events:
            continue
        users += 1
        hits_events += top(by_events[user]) == label
        visits = [0.0] * len(categories)
        for counts in by_session[user].values():
            total = sum(counts)
            for category, count in enumerate(counts):
                visits[category] += count / total
        hits_sessions += top(visits) == label
        hits_truth += top(affinity[user]) == label
    print(f"next_category: {users} users with a label (all users, cutoff {start.isoformat()}, horizon {horizon_days} days)")
    print(f"  favourite category by events   top-1 {hits_events / users:.4f}")
    print(f"  favourite category by sessions top-1 {hits_sessions / users:.4f}")
    print(f"  ceiling (true affinity)        top-1 {hits_truth / users:.4f}")


if __name__ == "__main__":
    main()
