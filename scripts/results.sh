#!/usr/bin/env bash
# The quality table of docs/results.md, in the scratch folder results-data/ (deleted and recreated).
#
#   veil generate --users 50000 --days 120 --seed 7 --truth → veil ingest → for purchase, churn and
#   next_category: veil train at ε = 1, ε = 4 (δ = 1e-6) and --non-private, each with --seed 1 →
#   one Markdown table row per model and baseline, and the generator's truth AUC beside them.
#
# The policy is policies/default.yaml with two changes, written to results-data/policy.yaml:
# training.allow_non_private: true (the non-private rows; those models can never be approved) and
# budget.total_epsilon: 100 (six private runs). Runs are seeded for reproducibility, which voids
# their privacy guarantee (the card says so): these are measurements on synthetic data, not releases.
# Needs the release build, jq, and python3 with numpy (for the truth AUC). RESULTS_TASKS overrides
# the task list.
set -euo pipefail
cd "$(dirname "$0")/.."

VEIL="$(swift build -c release --show-bin-path)/veil"
OUT=results-data
TASKS="${RESULTS_TASKS:-purchase churn next_category}"
rm -rf "$OUT"
mkdir -p "$OUT/cards"
export VEIL_KEYS="$OUT/keys" VEIL_DATA_DIR="$OUT/data" VEIL_POLICY="$OUT/policy.yaml"
sed -e 's/^  allow_non_private: false/  allow_non_private: true/' -e 's/^  total_epsilon: 10$/  total_epsilon: 100/' \
    policies/default.yaml >"$VEIL_POLICY"
grep -q '^  allow_non_private: true' "$VEIL_POLICY" && grep -q '^  total_epsilon: 100$' "$VEIL_POLICY"

"$VEIL" keys init --dir "$VEIL_KEYS" >/dev/null 2>&1
echo "generate: 50000 users, 120 days, seed 7" >&2
"$VEIL" generate --users 50000 --days 120 --seed 7 --out "$OUT/events.ndjson" --truth "$OUT/truth.csv" --json >"$OUT/generate.json"
echo "ingest" >&2
"$VEIL" ingest "$OUT/events.ndjson" --json >"$OUT/ingest.json"

for TASK in $TASKS; do
    for SETTING in "eps1:--epsilon 1" "eps4:--epsilon 4" "nonprivate:--non-private"; do
        NAME="${SETTING%%:*}"
        echo "train $TASK $NAME" >&2
        # shellcheck disable=SC2086  # the setting is two words on purpose
        "$VEIL" train --task "$TASK" ${SETTING#*:} --seed 1 --json >"$OUT/cards/$TASK-$NAME.json"
    done
done

echo "truth AUC (python3 scripts/synth_label_check.py)" >&2
python3 scripts/synth_label_check.py "$OUT/events.ndjson" "$OUT/truth.csv" >"$OUT/truth.txt"

# The table: binary tasks, then next_category. Both tables format numbers and ε the same way.
JQ_FORMAT='
    def f: if . == null then "–" else (. * 1000 | round / 1000 | tostring) end;
    def eps: if .is_private then "ε = \(.target_epsilon) (accountant \(.epsilon * 1000 | round / 1000))" else "non-private (never servable)" end;
'
jq -rn "$JQ_FORMAT"'
    def brow(name; m): "| \(.task) | \(name) | \(m.roc_auc | f) | \(m.average_precision | f) | \(m.log_loss | f) | \(m.expected_calibration_error | f) |";
    "| task | model | ROC AUC | PR AUC | log loss | ECE |",
    "|---|---|---|---|---|---|",
    (inputs | select(.task != "next_category") |
        brow("logistic, " + eps; .metrics.binary),
        (if .is_private | not then
            brow("baseline: base rate"; .baselines.base_rate.binary),
            brow("baseline: recency"; .baselines.recency.binary)
        else empty end))
' "$OUT"/cards/purchase-*.json "$OUT"/cards/churn-*.json 2>/dev/null || true
if [[ " $TASKS " == *" next_category "* ]]; then
    echo
    jq -rn "$JQ_FORMAT"'
        def mrow(name; m): "| \(name) | \(m.top1_accuracy | f) | \(m.top3_accuracy | f) | \(m.cross_entropy | f) | \(m.expected_calibration_error | f) |";
        "| next_category model | top-1 | top-3 | cross-entropy | ECE |",
        "|---|---|---|---|---|",
        (inputs |
            mrow("softmax, " + eps; .metrics.multiclass),
            (if .is_private | not then
                mrow("baseline: base rate"; .baselines.base_rate.multiclass),
                mrow("baseline: favourite category"; .baselines.favourite_category.multiclass)
            else empty end))
    ' "$OUT"/cards/next_category-*.json
fi
echo
jq -r '"cutoff \(.data_window.cutoff), horizon \(.data_window.horizon_days) d; \(.train_count) train / \(.holdout_count) holdout users; population \(.population); σ = \(.noise_multiplier), \(.steps) steps"' \
    "$OUT/cards/purchase-eps1.json"
cat "$OUT/truth.txt"
