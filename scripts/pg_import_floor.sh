#!/usr/bin/env bash
# What PostgreSQL itself does on this machine for the rows a Veil import writes (docs/deploy.md,
# "The import's floor"): the bar Veil's PostgreSQL import cannot pass here, and how far below it Veil is.
#
#   scripts/pg_import_floor.sh [FILE.ndjson]
#
# In a throwaway cluster of scripts/pg-cluster.sh --bench (the VeilBench cluster: fsync, synchronous_commit
# and full_page_writes on), in the folder floor-data/ (deleted and recreated):
#  1. `veil ingest FILE` (default: `veil generate --users 50000 --days 24 --seed 7`, about 1 M events) in
#     one transaction, then again into a fresh database in transactions of 50,000 on three connections
#     (`--batch-size 50000 --write-connections 3`): wall time, the client's CPU (/usr/bin/time) and the
#     server's (every backend's CPU, summed from /proc: the postmaster's reaped children plus the live
#     ones), as `import_until_durable` measures them;
#  2. the rows the first import stored, dumped as Veil sends them — units of 50,000 events in arrival
#     order, each sorted by pseudonym, and each unit's event_ids in byte order — replayed with psql into
#     a fresh schema (`veil db migrate`, the day partitions made beforehand), each unit one transaction
#     (its ids by COPY under a savepoint, then its events by COPY, as PostgresBatchWriter does): on one
#     session, on three at once, in COPY's binary format, in one transaction, and with the secondary
#     indexes dropped (the days' (pid, ts_ms, seq) index, then also event_ids' key) to show what they cost.
# No client work at all is in step 2 (psql sends prepared files): its rate is the server's alone.
#
# Needs the release build (VEIL, default .build/release/veil), psql, python3 and /usr/bin/time.
# Prints one line per run; report them with `uptime` (the machine's load changes every figure).
set -euo pipefail
cd "$(dirname "$0")/.."
VEIL="${VEIL:-$(swift build -c release --show-bin-path)/veil}"
OUT="$PWD/floor-data"
[ -x "$VEIL" ] || { echo "pg_import_floor.sh: $VEIL not found; swift build -c release --product veil" >&2; exit 1; }
command -v psql >/dev/null || { echo "pg_import_floor.sh: psql not found (apt-get install postgresql-client)" >&2; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT/units"
CLUSTER=/tmp/veil-floor-$$
URL="$(scripts/pg-cluster.sh start "$CLUSTER" --bench)"
trap 'scripts/pg-cluster.sh stop "$CLUSTER" >/dev/null 2>&1 || true' EXIT
PORT="$(cat "$CLUSTER/port")"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "$CLUSTER" -p "$PORT" -U veil)
url() { echo "postgresql://veil@/$1?host=$CLUSTER&port=$PORT"; }
COLUMNS="event_id, pid, epoch, type, ts_ms, session_pid, item_id, category, price, quantity, rating, query, properties"
UNIT=50000

# Every backend's CPU-seconds so far: the postmaster's reaped children and its live ones.
server_cpu() {
    python3 - "$(head -1 "$CLUSTER/data/postmaster.pid")" <<'EOF'
import os, sys
postmaster, tick = sys.argv[1], os.sysconf("SC_CLK_TCK")
def stat(pid):
    text = open(f"/proc/{pid}/stat").read()
    return text[text.rindex(")") + 2:].split()
total = sum(int(v) for v in stat(postmaster)[13:15])
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        fields = stat(pid)
        if fields[1] == postmaster: total += int(fields[11]) + int(fields[12])
    except (OSError, IndexError):
        pass
print(total / tick)
EOF
}

fresh_database() {
    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null 2>&1
    VEIL_DATABASE_URL="$(url "$1")" "$VEIL" db migrate >/dev/null
}

# report NAME EVENTS SECONDS SERVER_CPU CLIENT_CPU
report() {
    python3 -c "import sys; n, w, s, c = int(sys.argv[2]), *map(float, sys.argv[3:]); print(f'{sys.argv[1]}: {n} events, {w:.2f} s, {n / w:,.0f} events/s; server {s:.2f} CPU-s ({s / n * 1e6:.2f} µs/event), client {c:.2f} CPU-s ({c / n * 1e6:.2f} µs/event)')" "$@"
}

FILE="${1:-}"
if [ -z "$FILE" ]; then
    FILE="$OUT/events.ndjson"
    "$VEIL" generate --users 50000 --days 24 --seed 7 >"$FILE"
fi

# 1. Veil's import, both ways.
veil_import() {  # NAME DATABASE FLAGS...
    local name="$1" database="$2"; shift 2
    fresh_database "$database"
    # A key set and data directory of its own: `keys init` binds them to the database.
    VEIL_DATABASE_URL="$(url "$database")" "$VEIL" keys init --dir "$OUT/keys-$database" --data-dir "$OUT/data-$database" >/dev/null 2>&1
    local before started ended after
    before="$(server_cpu)"; started="$(date +%s.%N)"
    VEIL_DATABASE_URL="$(url "$database")" /usr/bin/time -f "%U %S" -o "$OUT/time" "$VEIL" ingest "$FILE" --keys "$OUT/keys-$database" \
        --data-dir "$OUT/data-$database" --policy policies/default.yaml --json "$@" >"$OUT/$name.json"
    ended="$(date +%s.%N)"; after="$(server_cpu)"
    local events
    events="$("${PSQL[@]}" -d "$database" -At -c "SELECT count(*) FROM events")"
    report "veil ingest, $name" "$events" "$(echo "$ended - $started" | bc)" "$(echo "$after - $before" | bc)" \
        "$(awk '{print $1 + $2}' "$OUT/time")"
}
veil_import "one transaction" veil_one
veil_import "--batch-size $UNIT --write-connections 3" veil_units --batch-size "$UNIT" --write-connections 3

# 2. The same rows, as Veil sends them, replayed by psql.
EVENTS="$("${PSQL[@]}" -d veil_one -At -c "SELECT count(*) FROM events")"
UNITS=$(( (EVENTS + UNIT - 1) / UNIT ))
DAYS="$("${PSQL[@]}" -d veil_one -At -c "SELECT DISTINCT floor(ts_ms / 86400000)::bigint FROM events ORDER BY 1")"
"${PSQL[@]}" -d veil_one -c "CREATE TABLE units AS SELECT *, (row_number() OVER (ORDER BY seq) - 1) / $UNIT AS unit FROM events" \
    -c "CREATE INDEX ON units (unit)"
for unit in $(seq 0 $((UNITS - 1))); do
    rows="SELECT $COLUMNS FROM units WHERE unit = $unit"
    "${PSQL[@]}" -d veil_one -c "\\copy ($rows ORDER BY pid, seq) TO '$OUT/units/events$unit.text'" \
        -c "\\copy ($rows ORDER BY pid, seq) TO '$OUT/units/events$unit.binary' (FORMAT binary)" \
        -c "\\copy (SELECT event_id FROM ($rows) r ORDER BY event_id COLLATE \"C\") TO '$OUT/units/ids$unit.text'"
done

# replay NAME FORMAT(text|binary) SESSIONS INDEXES(all|no-day-index|no-indexes) [one-transaction]
replay() {
    local name="$1" format="$2" sessions="$3" indexes="$4" whole="${5:-}"
    fresh_database floor
    for day in $DAYS; do
        "${PSQL[@]}" -d floor -c "CREATE TABLE events_d$day PARTITION OF events FOR VALUES FROM ($((day * 86400000))) TO ($(((day + 1) * 86400000)))"
    done
    case "$indexes" in
        no-day-index) "${PSQL[@]}" -d floor -c "DROP INDEX events_pid_ts" ;;
        no-indexes) "${PSQL[@]}" -d floor -c "DROP INDEX events_pid_ts" -c "ALTER TABLE event_ids DROP CONSTRAINT event_ids_pkey" ;;
    esac
    "${PSQL[@]}" -d floor -c "CHECKPOINT"
    local option=""
    [ "$format" = binary ] && option="(FORMAT binary)"
    rm -f "$OUT"/session*.sql "$OUT"/psql-time*
    for unit in $(seq 0 $((UNITS - 1))); do
        local script="$OUT/session$((unit % sessions)).sql"
        if [ -z "$whole" ] || [ "$unit" -eq 0 ]; then echo "BEGIN;" >>"$script"; fi
        echo "SAVEPOINT claim; \\copy event_ids FROM '$OUT/units/ids$unit.text'" >>"$script"
        echo "RELEASE claim; \\copy events ($COLUMNS) FROM '$OUT/units/events$unit.$format' $option" >>"$script"
        [ -z "$whole" ] && echo "COMMIT;" >>"$script"
    done
    [ -n "$whole" ] && echo "COMMIT;" >>"$OUT/session0.sql"
    local before started ended after
    before="$(server_cpu)"; started="$(date +%s.%N)"
    for session in $(seq 0 $((sessions - 1))); do
        /usr/bin/time -f "%U %S" -o "$OUT/psql-time$session" "${PSQL[@]}" -d floor -f "$OUT/session$session.sql" &
    done
    wait
    ended="$(date +%s.%N)"; after="$(server_cpu)"
    report "psql, $name" "$("${PSQL[@]}" -d floor -At -c "SELECT count(*) FROM events")" "$(echo "$ended - $started" | bc)" \
        "$(echo "$after - $before" | bc)" "$(cat "$OUT"/psql-time* | awk '{c += $1 + $2} END {print c}')"
}
replay "units of $UNIT, 1 session" text 1 all
replay "units of $UNIT, 3 sessions" text 3 all
replay "units of $UNIT, 3 sessions, binary COPY" binary 3 all
replay "one transaction, 1 session" text 1 all one-transaction
replay "units of $UNIT, 3 sessions, without the day index" text 3 no-day-index
replay "units of $UNIT, 3 sessions, without any secondary index" text 3 no-indexes
uptime
