#!/usr/bin/env python3
"""What an import of a docs/examples file must store, computed independently with pandas.

Usage: import_totals.py transactions|clickstream|ga4 FILE

Prints one JSON object: per Veil event type the number of events, of distinct users and the revenue in
cents (price x quantity, a missing quantity counting 1, each event rounded to the cent, then summed),
the records dropped by value, and the first and last event time (Unix ms and as Veil prints it). Tests/VeilCLITests/MappedImportCLITests compares it with what a real
`veil ingest FILE --mapping docs/examples/KIND.yaml` stored. The event names below are the mapping
files' `types:` and docs/ingest.md's GA4 alias table, written out again here on purpose.
"""
import datetime
import json
import sys

import pandas as pd


def transactions(path):
    frame = pd.read_csv(path, sep=r"\s+", header=None, names=["customer", "date", "quantity", "amount"],
                        dtype={"customer": str, "date": str})
    frame["type"] = "purchase"
    local = pd.to_datetime(frame["date"], format="%Y%m%d").dt.tz_localize("America/New_York")
    frame["ms"] = (local - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    frame["cents"] = (frame["amount"] * 100).round().astype("int64")
    return frame.rename(columns={"customer": "user"}), {}


def clickstream(path):
    frame = pd.read_csv(path, dtype={"visitor": str, "page": str})
    names = {"product": "view", "cart": "add_to_cart", "buy": "purchase", "search": "search"}
    skipped = frame[frame["page"] == "home"]
    frame = frame[frame["page"] != "home"].copy()
    frame["type"] = frame["page"].map(names)
    frame["ms"] = frame["ts"]
    frame["cents"] = (frame["price"].fillna(0) * 100).round().astype("int64")
    return frame.rename(columns={"visitor": "user"}), skipped["page"].value_counts().to_dict()


def ga4(path):
    frame = pd.read_csv(path, dtype={"user_pseudo_id": str, "event_name": str})
    skip = ["session_start", "page_view", "first_visit", "scroll"]
    aliases = {"view_item": "view", "view_item_list": "view", "begin_checkout": "checkout", "refund": "return",
               "add_to_cart": "add_to_cart", "purchase": "purchase"}
    skipped = frame[frame["event_name"].isin(skip)]
    frame = frame[~frame["event_name"].isin(skip)].copy()
    frame["type"] = frame["event_name"].map(aliases)
    frame["ms"] = frame["event_timestamp"] // 1000
    frame["cents"] = (frame["price"].fillna(0) * frame["quantity"].fillna(1) * 100).round().astype("int64")
    return frame.rename(columns={"user_pseudo_id": "user"}), skipped["event_name"].value_counts().to_dict()


def rfc3339(ms):
    text = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (".%03d" % (ms % 1000) if ms % 1000 else "") + "Z"


def main():
    kind, path = sys.argv[1], sys.argv[2]
    frame, skipped = {"transactions": transactions, "clickstream": clickstream, "ga4": ga4}[kind](path)
    if frame["type"].isna().any():
        sys.exit("an event name without a Veil type")
    types = {}
    for name, group in frame.groupby("type"):
        types[name] = {"events": int(len(group)), "users": int(group["user"].nunique()),
                       "revenue_cents": int(group["cents"].sum())}
    first, last = int(frame["ms"].min()), int(frame["ms"].max())
    print(json.dumps({"types": types, "skipped": {k: int(v) for k, v in skipped.items()},
                      "first_ms": first, "last_ms": last, "first_event": rfc3339(first), "last_event": rfc3339(last)},
                     sort_keys=True))


if __name__ == "__main__":
    main()
