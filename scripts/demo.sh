#!/usr/bin/env bash
# `make demo`: Veil end to end in the scratch folder demo/ (deleted and recreated each run).
#
#   keys → 50,000 synthetic shoppers (NDJSON) → veil serve → an ingest token → veil push over HTTP →
#   SIGTERM → train purchase and churn models at ε = 2 → approve both → predict for 3 users (by
#   pseudonym) → budget → audit verify → a short report.
#
# Needs the release build (`make demo` builds it first). Tunables (environment): DEMO_USERS (50000),
# DEMO_DAYS (120), DEMO_SEED (7). The data ends today (00:00 UTC), so the default training cutoff
# (end of the latest event's day − 14 days) and predictions "now" see recent behaviour.
# Batches of 10,000 events (the default policy's ingest.max_batch_events): each batch is one durable
# commit and one audit record, so fewer, larger batches ingest faster.
# No raw user ID is printed: predictions are asked for by pseudonym, taken from `veil score`'s CSV.
set -euo pipefail
cd "$(dirname "$0")/.."

VEIL="$(swift build -c release --show-bin-path)/veil"
[[ -x "$VEIL" ]] || { echo "demo: $VEIL is missing; run \`swift build -c release\` (or \`make demo\`)" >&2; exit 1; }
USERS="${DEMO_USERS:-50000}"
DAYS="${DEMO_DAYS:-120}"
SEED="${DEMO_SEED:-7}"
DEMO=demo
START="$(date -u -d "-$DAYS days" +%F)"

rm -rf "$DEMO"
mkdir -p "$DEMO"
export VEIL_KEYS="$DEMO/keys" VEIL_DATA_DIR="$DEMO/data" VEIL_POLICY=policies/default.yaml
SERVER_PID=""
trap '[[ -n "$SERVER_PID" ]] && kill -TERM "$SERVER_PID" 2>/dev/null || true' EXIT

T0=$SECONDS
step() { printf '\n== %s  (%ds)\n' "$1" $((SECONDS - T0)); }
row() { printf '   %-22s %s\n' "$1" "$2"; }

step "1. keys"
"$VEIL" keys init --dir "$VEIL_KEYS" --json >"$DEMO/keys.json" 2>/dev/null
row "key directory" "$VEIL_KEYS (master, escrow and audit keys; epoch $(jq -r .epoch "$DEMO/keys.json"))"
row "note" "in production escrow.secret goes offline to the data-protection officer"

step "2. synthetic shoppers"
"$VEIL" generate --users "$USERS" --days "$DAYS" --seed "$SEED" --start "$START" \
    --out "$DEMO/events.ndjson" --json >"$DEMO/generate.json" 2>/dev/null
row "users" "$USERS over $DAYS days from $START (seed $SEED)"
row "events" "$(jq -r .summary.events "$DEMO/generate.json")"

step "3. gateway"
"$VEIL" serve --port 0 2>"$DEMO/serve.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 300); do
    URL="$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$DEMO/serve.log" | head -n 1)"
    [[ -n "$URL" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DEMO/serve.log" >&2; exit 1; }
    sleep 0.1
done
[[ -n "$URL" ]] || { echo "demo: the gateway did not start; see $DEMO/serve.log" >&2; exit 1; }
row "listening on" "$URL (pid $SERVER_PID)"
"$VEIL" tokens issue --role ingest --name demo-storefront --json | jq -r .token >"$DEMO/ingest.token"
row "ingest token" "demo-storefront (role ingest)"

step "4. ingest over HTTP (POST /v1/events)"
"$VEIL" push "$DEMO/events.ndjson" --url "$URL" --token-file "$DEMO/ingest.token" \
    --batch-size 10000 --concurrency 4 --json >"$DEMO/push.json"
jq -r '"   events accepted        \(.accepted) of \(.events) (\(.duplicates) duplicates) in \(.batches) batches\n   throughput             \(.events_per_second | floor) events/s, batch latency p50 \(.batch_latency_p50_ms | floor) ms, p99 \(.batch_latency_p99_ms | floor) ms"' "$DEMO/push.json"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || { echo "demo: the gateway exited with status $?; see $DEMO/serve.log" >&2; exit 1; }
SERVER_PID=""
row "gateway" "stopped on SIGTERM"

MODELS=()
for TASK in purchase churn; do
    step "5. train $TASK (DP-SGD, ε = 2)"
    "$VEIL" train --task "$TASK" --epsilon 2 --as demo-trainer --json >"$DEMO/train-$TASK.json"
    jq -r '
        def f: . * 1000 | round / 1000;
        "   model                  \(.model_id) (\(.model.kind), candidate)",
        "   data window            features before \(.data_window.cutoff[0:10]), labels to \(.data_window.horizon_end[0:10])",
        "   users                  \(.population) registered (n in q = B / n; the exact train and holdout counts are not kept under this policy)",
        "   privacy                ε = \(.epsilon | f) at δ = \(.delta), σ = \(.noise_multiplier | f), q = \(.sampling_rate * 100000 | round / 100000), C = \(.clipping_norm), \(.steps) steps",
        "   split                  training ε = \(.privacy_split.training_epsilon | f), evaluation ε = \(.privacy_split.evaluation_epsilon | f) (σ = \(.privacy_split.evaluation_noise_sigma | f)), one spend",
        "   DP ROC AUC (95%)       \(.private_metrics.metrics.roc_auc | "\(.value | f) [\(.low | f), \(.high | f)]"), PR AUC \(.private_metrics.metrics.average_precision | "\(.value | f) [\(.low | f), \(.high | f)]")",
        "   quality gate           the model \(if .quality_gate.passes then "beats" else "does not beat" end) its baselines (exact holdout metrics, not kept in the model file: policy training.exact_holdout_metrics is false)"
    ' "$DEMO/train-$TASK.json"
    MODELS+=("$(jq -r .model_id "$DEMO/train-$TASK.json")")
done

step "6. review (by a second principal: who trained a model cannot approve it)"
for MODEL in "${MODELS[@]}"; do
    "$VEIL" models approve "$MODEL" --note "demo: card checked, AUC above the baselines" --as demo-reviewer --json >/dev/null
done
"$VEIL" models list --json | jq -r '.[] | "   \(.id)  \(.task)  \(.state)  ε = \(.epsilon * 1000 | round / 1000)"'

step "7. predictions (by pseudonym; no raw ID leaves the service)"
"$VEIL" score --task purchase --out "$DEMO/purchase-scores.csv" --json >"$DEMO/score.json"
row "scored" "$(jq -r .scored "$DEMO/score.json") users → $DEMO/purchase-scores.csv"
# Three users: the highest, a middle and the lowest purchase score.
PSEUDONYMS=$(tail -n +2 "$DEMO/purchase-scores.csv" | sort -t, -k2,2gr | awk -F, '{ p[NR] = $1 } END { print p[1]; print p[int((NR + 1) / 2)]; print p[NR] }')
printf '   %-34s %-10s %-10s\n' "pseudonym" "purchase" "churn"
for PID in $PSEUDONYMS; do
    PURCHASE=$("$VEIL" predict --pseudonym "$PID" --task purchase --json | jq -r '.score * 1000 | round / 1000')
    CHURN=$("$VEIL" predict --pseudonym "$PID" --task churn --json | jq -r '.score * 1000 | round / 1000')
    printf '   %-34s %-10s %-10s\n' "$PID" "$PURCHASE" "$CHURN"
done

step "8. privacy budget"
"$VEIL" budget --json | jq -r '
    def f: . * 1000 | round / 1000;
    "   dataset                \(.dataset) (δ = \(.delta))",
    "   ε spent / remaining    \(.spent_epsilon | f) / \(.remaining_epsilon | f) of \(.total_epsilon) (\(.accountant.accountant | ascii_upcase) composition: less than the sum)",
    (.spends[] | "   spend #\(.id)               \(.purpose): ε = \(.epsilon | f)")'

step "9. audit log"
"$VEIL" audit verify --json >"$DEMO/audit.json" || true
jq -r '"   verified               \(if .valid then "OK" else "FAILED: \(.failure.reason)" end): \(.records_checked) records (hash chain, Ed25519 signatures), head seq \(.head_seq)",
       "   ε recomputed           \(.epsilon.note)"' "$DEMO/audit.json"
jq -e '.valid' "$DEMO/audit.json" >/dev/null

step "done"
echo "   total $((SECONDS - T0)) s; everything is in $DEMO/"
