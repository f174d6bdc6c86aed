#!/usr/bin/env bash
# The quality table of docs/results.md, in the scratch folder results-data/ (deleted and recreated).
#
#   veil generate --users 50000 --days 120 --seed 7 --truth --catalog → veil ingest → for purchase,
#   churn and next_category: veil train at ε = 1, ε = 4 (δ = 1e-6) and --non-private, each with
#   --seed 1; purchase and churn again at ε = 1 with σ calibrated by RDP instead of PLD (the AUC PLD's
#   smaller σ gains); the sequence models (--model gru, cnn) on purchase at ε = 1 and ε = 4 → one
#   Markdown table row per model and baseline, σ under both accountants for the ε = 1 and ε = 2 runs
#   (veil train --explain), and the generator's truth AUC beside them.
#
# The policy is policies/default.yaml with four changes, written to results-data/policy.yaml:
# training.allow_non_private: true (the non-private rows; those models can never be approved),
# training.exact_holdout_metrics: true (the table reads the exact holdout metrics, which a model file
# keeps only where the policy allows), budget.total_epsilon: 100 (the private runs) and
# catalog.items_file: catalog.csv (the generator's public catalogue, the sequence models' items).
# results-data/policy-rdp.yaml is the same with privacy.accountant: rdp. Runs are seeded for
# reproducibility, which voids their privacy guarantee (the card says so): these are measurements on
# synthetic data, not releases. Needs the release build, jq, and python3 with numpy (for the truth
# AUC). RESULTS_TASKS overrides the task list, RESULTS_SEQUENCE_MODELS the sequence models ("" for none).
set -euo pipefail
cd "$(dirname "$0")/.."

VEIL="$(swift build -c release --show-bin-path)/veil"
OUT=results-data
TASKS="${RESULTS_TASKS:-purchase churn next_category}"
SEQUENCE_MODELS="${RESULTS_SEQUENCE_MODELS-gru cnn}"
rm -rf "$OUT"
mkdir -p "$OUT/cards"
export VEIL_KEYS="$OUT/keys" VEIL_DATA_DIR="$OUT/data" VEIL_POLICY="$OUT/policy.yaml"
sed -e 's/^  allow_non_private: false/  allow_non_private: true/' -e 's/^  exact_holdout_metrics: false/  exact_holdout_metrics: true/' \
    -e 's/^  total_epsilon: 10$/  total_epsilon: 100/' -e 's/^  # items_file: catalog.csv$/  items_file: catalog.csv/' \
    policies/default.yaml >"$VEIL_POLICY"
grep -q '^  allow_non_private: true' "$VEIL_POLICY" && grep -q '^  total_epsilon: 100$' "$VEIL_POLICY"
grep -q '^  exact_holdout_metrics: true' "$VEIL_POLICY" && grep -q '^  items_file: catalog.csv$' "$VEIL_POLICY"
sed -e 's/^  accountant: pld$/  accountant: rdp/' "$VEIL_POLICY" >"$OUT/policy-rdp.yaml"
grep -q '^  accountant: rdp$' "$OUT/policy-rdp.yaml"

"$VEIL" keys init --dir "$VEIL_KEYS" >/dev/null 2>&1
echo "generate: 50000 users, 120 days, seed 7" >&2
"$VEIL" generate --users 50000 --days 120 --seed 7 --out "$OUT/events.ndjson" --truth "$OUT/truth.csv" \
    --catalog "$OUT/catalog.csv" --json >"$OUT/generate.json"
echo "ingest" >&2
"$VEIL" ingest "$OUT/events.ndjson" --json >"$OUT/ingest.json"

# σ, q, steps and ε under both accountants for the ε = 1 and ε = 2 runs (reads nothing, spends nothing).
for EPSILON in 1 2; do
    "$VEIL" train --task purchase --epsilon "$EPSILON" --explain --json >"$OUT/explain-eps$EPSILON.json"
done

for TASK in $TASKS; do
    for SETTING in "eps1:--epsilon 1" "eps4:--epsilon 4" "nonprivate:--non-private"; do
        NAME="${SETTING%%:*}"
        echo "train $TASK $NAME" >&2
        # shellcheck disable=SC2086  # the setting is two words on purpose
        "$VEIL" train --task "$TASK" ${SETTING#*:} --seed 1 --json >"$OUT/cards/$TASK-$NAME.json"
    done
done
for MODEL in $SEQUENCE_MODELS; do
    for EPSILON in 1 4; do
        echo "train purchase $MODEL eps$EPSILON" >&2
        "$VEIL" train --task purchase --model "$MODEL" --epsilon "$EPSILON" --seed 1 --json >"$OUT/cards/purchase-$MODEL-eps$EPSILON.json"
    done
done
# Last, so the PLD runs above are charged by PLD: the same ε = 1 runs with σ calibrated by RDP.
for TASK in $TASKS; do
    [[ "$TASK" == next_category ]] && continue
    echo "train $TASK eps1 (RDP)" >&2
    VEIL_POLICY="$OUT/policy-rdp.yaml" "$VEIL" train --task "$TASK" --epsilon 1 --seed 1 --json >"$OUT/cards/$TASK-eps1rdp.json"
done

echo "truth AUC (python3 scripts/synth_label_check.py)" >&2
python3 scripts/synth_label_check.py "$OUT/events.ndjson" "$OUT/truth.csv" >"$OUT/truth.txt"

# The table: binary tasks, then next_category. Both tables format numbers and ε the same way.
JQ_FORMAT='
    def f: if . == null then "–" else (. * 1000 | round / 1000 | tostring) end;
    def model: {"logistic_regression": "logistic", "softmax_regression": "softmax", "mlp": "MLP",
        "gru_sequence": "GRU (sequence)", "cnn_sequence": "CNN (sequence)"}[.model.kind] // .model.kind;
    def eps: if .is_private then
        "ε = \(.target_epsilon), σ = \(.noise_multiplier * 1000 | round / 1000) by \(.accountant | split(" ")[0]) (charged \(.epsilon * 1000 | round / 1000))"
        else "non-private (never servable)" end;
'
jq -rn "$JQ_FORMAT"'
    def brow(name; m): "| \(.task) | \(name) | \(m.roc_auc | f) | \(m.average_precision | f) | \(m.log_loss | f) | \(m.expected_calibration_error | f) |";
    "| task | model | ROC AUC | PR AUC | log loss | ECE |",
    "|---|---|---|---|---|---|",
    (inputs | select(.task != "next_category") |
        brow(model + ", " + eps; .metrics.binary),
        (if .is_private | not then
            brow("baseline: base rate"; .baselines.base_rate.binary),
            brow("baseline: recency"; .baselines.recency.binary)
        else empty end))
' $(ls "$OUT"/cards/purchase-*.json "$OUT"/cards/churn-*.json 2>/dev/null) </dev/null || true
if [[ " $TASKS " == *" next_category "* ]]; then
    echo
    jq -rn "$JQ_FORMAT"'
        def mrow(name; m): "| \(name) | \(m.top1_accuracy | f) | \(m.top3_accuracy | f) | \(m.cross_entropy | f) | \(m.expected_calibration_error | f) |";
        "| next_category model | top-1 | top-3 | cross-entropy | ECE |",
        "|---|---|---|---|---|",
        (inputs |
            mrow(model + ", " + eps; .metrics.multiclass),
            (if .is_private | not then
                mrow("baseline: base rate"; .baselines.base_rate.multiclass),
                mrow("baseline: favourite category"; .baselines.favourite_category.multiclass)
            else empty end))
    ' "$OUT"/cards/next_category-*.json
fi
echo
jq -r '"cutoff \(.data_window.cutoff), horizon \(.data_window.horizon_days) d; \(.train_count) train / \(.holdout_count) holdout users; population \(.population); q = \(.sampling_rate), \(.steps) steps; evaluation share \(.privacy_split.evaluation_share)"' \
    "$OUT/cards/purchase-eps1.json"
for EPSILON in 1 2; do
    jq -r --arg eps "$EPSILON" '"ε = \($eps) (δ = \(.delta), q = \(.sampling_rate), \(.steps) steps, with the private evaluation): σ by PLD \([.calibrations[] | select(.accountant.accountant == "pld") | .noise_multiplier][0]), by RDP \([.calibrations[] | select(.accountant.accountant == "rdp") | .noise_multiplier][0])"' \
        "$OUT/explain-eps$EPSILON.json"
done
cat "$OUT/truth.txt"
