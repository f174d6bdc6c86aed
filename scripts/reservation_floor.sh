#!/usr/bin/env bash
# The floor of a reservation on this machine (issue 13 item 4, docs/deploy.md "Measuring"): the least
# work a group of reservations needs through one PostgreSQL, with no Veil code at all — pgbench (C)
# plays three replicas (three connections on three threads), each one group of GROUP reservations after
# another, as 50 concurrent requests over three replicas make groups of about 17. A group is what a
# Veil group sends, without deciding or sealing: lock the dataset's ledger row, then the chain head, then
# read (a statement of its own, after both locks) the spends committed since this replica's last group;
# store GROUP records (700-byte lines), move the head and insert GROUP spends, in one statement; commit
# (fsync and synchronous_commit on). The tables are the v1 shapes of `budget_ledgers`, `budget_spends`,
# `audit_records` and `audit_head`. A request waits about one group's latency (its replica's group takes
# every request that arrived while the one before ran), so the group latency's p50/p99 here is what no
# Veil code can beat on this machine, at its current load.
#
#   scripts/reservation_floor.sh [SECONDS] [GROUP]        (defaults 20 and 17)
#
# Prints, for each way of sending a group, the p50/p90/p99 of the groups' latency, groups and
# reservations per second, the cluster's CPU-seconds per group (every server process, from /proc) and
# the load average:
#   four_round_trips   BEGIN; lock and read; store; COMMIT — what Veil sends (postgres-nio sends one
#                      statement per round trip), two of them after the locks are held;
#   two_round_trips    BEGIN with the lock and read; the store with the COMMIT (simple-protocol
#                      statements sent together) — one round trip after the locks are held;
#   appending_fsyncs   four_round_trips while three writers (one per replica, as Veil's audit mirrors)
#                      append GROUP × 700 bytes to a file of their own and fsync it, again and again
#                      (as fast as the disk lets them: more often than a mirror, which appends once
#                      per commit — an upper bound on what the mirrors' fsyncs cost the WAL's flushes).
# Needs PostgreSQL (scripts/install-deps.sh) and python3; the cluster is throwaway (scripts/pg-cluster.sh
# start --bench, the settings VeilBench states) and removed at the end.
set -euo pipefail

seconds="${1:-20}"
group="${2:-17}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d /tmp/veil-floor.XXXXXX)"
chmod 0711 "$work" # the cluster inside belongs to veilpg when run as root (pg-cluster.sh)
cluster="$work/pg"
url="$("$here/pg-cluster.sh" start "$cluster" --bench)"
appenders=()
cleanup() {
    for pid in "${appenders[@]}"; do kill "$pid" 2>/dev/null || true; done
    "$here/pg-cluster.sh" stop "$cluster" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

psql "$url" -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE audit_records (seq bigint PRIMARY KEY CHECK (seq >= 1), line text NOT NULL, hash bytea NOT NULL CHECK (length(hash) = 32));
CREATE TABLE audit_head (singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), seq bigint NOT NULL, hash bytea NOT NULL);
INSERT INTO audit_head (seq, hash) VALUES (0, decode(repeat('00', 32), 'hex'));
CREATE TABLE budget_ledgers (dataset text COLLATE "C" PRIMARY KEY);
INSERT INTO budget_ledgers VALUES ('d');
CREATE TABLE budget_spends (
    id bigserial PRIMARY KEY, dataset text COLLATE "C" NOT NULL REFERENCES budget_ledgers (dataset),
    principal text NOT NULL, role text NOT NULL, purpose text NOT NULL, mechanism text NOT NULL,
    epsilon double precision NOT NULL, delta double precision NOT NULL, cumulative_epsilon double precision NOT NULL,
    created_ms bigint NOT NULL, audit_seq bigint UNIQUE REFERENCES audit_records (seq));
CREATE INDEX budget_spends_dataset ON budget_spends (dataset, id);
CREATE FUNCTION floor_lock_and_read(p_last bigint) RETURNS TABLE (id bigint, mechanism text, hash bytea)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM 1 FROM budget_ledgers WHERE dataset = 'd' FOR UPDATE;
    PERFORM 1 FROM audit_head FOR UPDATE;
    RETURN QUERY SELECT s.id, s.mechanism, r.hash FROM budget_spends s LEFT JOIN audit_records r ON r.seq = s.audit_seq
        WHERE s.dataset = 'd' AND s.id > p_last ORDER BY s.id;
END $$;
SQL

# One pgbench client is one replica; `last` (the newest spend it has read) is its kept ledger.
read_sql='SELECT coalesce(max(id), :last) AS last FROM floor_lock_and_read(:last) \gset'
store_sql="WITH h AS (SELECT seq FROM audit_head), g AS (SELECT h.seq + i AS seq FROM h, generate_series(1, $group) i),
rec AS (INSERT INTO audit_records (seq, line, hash)
    SELECT seq, repeat('x', 700), decode(md5(seq::text) || md5(seq::text), 'hex') FROM g),
hd AS (UPDATE audit_head SET seq = (SELECT max(seq) FROM g), hash = decode(repeat('11', 32), 'hex'))
INSERT INTO budget_spends (dataset, principal, role, purpose, mechanism, epsilon, delta, cumulative_epsilon, created_ms, audit_seq)
SELECT 'd', 'bench', 'analyst', 'bench', '{\"epsilon\":0.0001,\"kind\":\"pure_epsilon\"}', 1e-4, 1e-6, 0.1, 0, seq FROM g"
printf 'BEGIN;\n%s\n%s;\nCOMMIT;\n' "$read_sql" "$store_sql" >"$work/four_round_trips.sql"
printf 'BEGIN \\;\n%s\n%s \\;\nCOMMIT;\n' "$read_sql" "$store_sql" >"$work/two_round_trips.sql"

# The CPU-seconds of every process of the cluster: the postmaster with its reaped children, and the live ones.
cluster_cpu() {
    local pm total=0 ticks
    pm="$(head -n 1 "$cluster/data/postmaster.pid")"
    for pid in "$pm" $(pgrep -P "$pm"); do
        ticks="$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat" 2>/dev/null || echo 0)"
        total=$((total + ticks))
    done
    python3 -c "print($total / $(getconf CLK_TCK))"
}

run() {
    local name="$1" script="$2"
    rm -f "$work/$name".log.*
    local before after out
    before="$(cluster_cpu)"
    out="$(pgbench -n -c 3 -j 3 -T "$seconds" -D last=0 -f "$script" --log --log-prefix="$work/$name.log" "$url" 2>&1)" \
        || { echo "$out" >&2; exit 1; }
    sleep 0.5
    after="$(cluster_cpu)"
    python3 - "$name" "$group" "$seconds" "$before" "$after" "$(cut -d' ' -f1-3 /proc/loadavg)" "$work/$name".log.* <<'PY'
import sys
name, group, seconds, before, after, load = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
latencies = sorted(int(line.split()[2]) / 1000 for path in sys.argv[7:] for line in open(path))
n = len(latencies)
pick = lambda q: latencies[min(n - 1, int(q * n))]
print(f"{name}: {n} groups of {group}, group latency p50/p90/p99 {pick(0.5):.1f}/{pick(0.9):.1f}/{pick(0.99):.1f} ms, "
      f"{n / seconds:.0f} groups/s = {n * group / seconds:.0f} reservations/s, "
      f"server CPU {1000 * (after - before) / n:.2f} ms per group, load {load}")
PY
}

run four_round_trips "$work/four_round_trips.sql"
run two_round_trips "$work/two_round_trips.sql"
for replica in 1 2 3; do
    python3 - "$work/mirror$replica" "$group" <<'PY' &
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
chunk = b"x" * (700 * int(sys.argv[2]))
while True:
    os.write(fd, chunk)
    os.fsync(fd)
PY
    appenders+=($!)
done
run appending_fsyncs "$work/four_round_trips.sql"
