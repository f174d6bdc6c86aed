#!/usr/bin/env python3
"""The next-item ceiling that a next_item model's Recall@10 in `docs/results.md` is measured against.

Usage: scripts/next_item_ceiling.py EVENTS.ndjson TRUTH.csv VOCABULARY.csv [CUTOFF [HORIZON_DAYS]]

A next_item model ranks only its vocabulary's items (VOCABULARY.csv: an `item_id` column, e.g. the
items a DP selection released) and is scored on the users whose next item is one of them. The ceiling
for that is the generator's own next-item distribution (`veil generate --truth`, best with
`--truth-top-k 100` so that ten vocabulary items remain after restricting) restricted to the
vocabulary, on the same users: its top ten vocabulary items, against the user's actual next item —
the item of the user's first event with one in [cutoff, cutoff + horizon), as `veil train` labels it.
Printed beside it: the unrestricted truth's top ten on those users (what `veil generate` reports, over
every user with an event before the cutoff, as `recall_ceiling`).

All users, not only a model's keyed 20 % holdout: the holdout is a random subset of them, so this is
the same quantity up to sampling. Independent of Veil's code: reads only the generated files.
"""
import csv
import datetime
import json
import sys


def main():
    if len(sys.argv) not in (4, 5, 6):
        sys.exit(__doc__.split("\n\n")[1])
    events, truth, vocabulary_file = sys.argv[1:4]
    cutoff_day = sys.argv[4] if len(sys.argv) > 4 else "2026-04-17"
    horizon_days = int(sys.argv[5]) if len(sys.argv) > 5 else 14
    start = datetime.date.fromisoformat(cutoff_day)
    cutoff = f"{start.isoformat()}T00:00:00Z"
    horizon_end = f"{(start + datetime.timedelta(days=horizon_days)).isoformat()}T00:00:00Z"
    with open(vocabulary_file) as file:
        vocabulary = {row["item_id"] for row in csv.DictReader(file)}

    seen_before, next_item = set(), {}
    with open(events) as file:
        for line in file:
            event = json.loads(line)
            user, time = event["user_id"], event["timestamp"]
            if time < cutoff:
                seen_before.add(user)
            elif time < horizon_end and event.get("item_id") and user not in next_item:
                next_item[user] = event["item_id"]

    users = restricted_hits = hits = short = 0
    with open(truth) as file:
        for row in csv.DictReader(file):
            user = row["user_id"]
            if user not in seen_before or next_item.get(user) not in vocabulary:
                continue
            ranked, rank = [], 1
            while row.get(f"next_item_{rank}"):
                ranked.append((-float(row[f"p_next_item_{rank}"]), rank, row[f"next_item_{rank}"]))
                rank += 1
            ranked.sort()
            in_vocabulary = [item for _, _, item in ranked if item in vocabulary][:10]
            short += len(in_vocabulary) < 10
            users += 1
            restricted_hits += next_item[user] in in_vocabulary
            hits += next_item[user] in [item for _, _, item in ranked[:10]]
    if users == 0:
        sys.exit("no user's next item is in the vocabulary")
    print(
        f"next item ceiling at K = 10 on the {users} users whose next item is one of the {len(vocabulary)} vocabulary items: "
        f"Recall {restricted_hits / users:.4f} for the truth restricted to the vocabulary, {hits / users:.4f} unrestricted "
        f"({short} users with fewer than 10 vocabulary items in their truth row)")


if __name__ == "__main__":
    main()
