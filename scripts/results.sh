#!/usr/bin/env bash
# The quality table of docs/results.md, in the scratch folder results-data/ (deleted and recreated).
#
#   veil generate --users 50000 --days 120 --seed 7 --truth --catalog → veil ingest → for purchase,
#   churn and next_category: veil train at ε = 1, ε = 4 (δ = 1e-6) and --non-private, each with
#   --seed 1; the sequence models (--model gru, cnn) at ε = 4 on purchase, churn and next_category (the
#   last with NEXT_CATEGORY_PLAN), and on next_item at ε = 4 and non-private; purchase and churn again at ε = 1 with σ calibrated by RDP
#   instead of PLD (the AUC PLD's smaller σ gains) → one Markdown table row per model and baseline, σ
#   under both accountants for the ε = 1 and ε = 2 runs (veil train --explain), and the generator's
#   truth AUC beside them, the events' ceiling of purchase and churn (scripts/events_ceiling.py: the
#   best any model of the events can reach), its next-item ceiling on the items and users the next_item rows rank and
#   count (scripts/next_item_ceiling.py), and its next-category ceiling beside the favourite category
#   by events and by sessions (scripts/next_category_check.py).
#
# The policy is policies/default.yaml with four changes, written to results-data/policy.yaml:
# training.allow_non_private: true (the non-private rows; those models can never be approved),
# training.exact_holdout_metrics: true (the table reads the exact holdout metrics, which a model file
# keeps only where the policy allows), budget.total_epsilon: 100 (the private runs) and
# catalog.items_file: catalog.csv (the generator's public catalogue, the sequence models' items).
# results-data/policy-rdp.yaml is the same with privacy.accountant: rdp. next_item ranks a vocabulary
# that a full softmax can afford: its ε = 4 run reads results-data/policy-selected.yaml (no catalogue,
# so the deployment's default, DP partition selection of at most RESULTS_ITEMS = 1000 items, 10 % of
# ε), and its non-private run the items that selection released as the catalogue (post-processing of a
# DP release), so both rank the same items for the same holdout users. Runs are seeded for
# reproducibility, which voids their privacy guarantee (the card says so): these are measurements on
# synthetic data, not releases. Needs the release build, jq, and python3 with numpy (for the truth
# AUC). RESULTS_TASKS overrides the task list (of the feature-row models and the sequence models),
# RESULTS_SEQUENCE_MODELS the sequence models ("" for none), RESULTS_USERS the users (50000; fewer only
# to check the script, and at 2,000 the DP item selection releases no item, so next_item stops it:
# RESULTS_TASKS without next_item then), VEIL the binary.
set -euo pipefail
cd "$(dirname "$0")/.."

VEIL="${VEIL:-$(swift build -c release --show-bin-path)/veil}"
OUT=results-data
TASKS="${RESULTS_TASKS:-purchase churn next_category next_item}"
SEQUENCE_MODELS="${RESULTS_SEQUENCE_MODELS-gru cnn}"
# next_category's sequence models: a larger batch and a smaller encoder, starting at the head prior
# (the favourite category by sessions; docs/models.md, "The next_category plan").
NEXT_CATEGORY_PLAN="--batch-size 4096 --epochs 10 --hidden 16 --embedding 8 --head-prior"
ITEMS="${RESULTS_ITEMS:-1000}"
USERS="${RESULTS_USERS:-50000}"
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
sed -e 's/^  items_file: catalog.csv$/  # items_file: catalog.csv/' -e "s/^  max_selected_items: 2000\$/  max_selected_items: $ITEMS/" \
    "$VEIL_POLICY" >"$OUT/policy-selected.yaml"
sed -e 's/^  # items_file: catalog.csv$/  items_file: selected-items.csv/' "$OUT/policy-selected.yaml" >"$OUT/policy-selected-catalog.yaml"
grep -q "^  max_selected_items: $ITEMS\$" "$OUT/policy-selected.yaml" && grep -q '^  items_file: selected-items.csv$' "$OUT/policy-selected-catalog.yaml"

"$VEIL" keys init --dir "$VEIL_KEYS" >/dev/null 2>&1
echo "generate: $USERS users, 120 days, seed 7" >&2
"$VEIL" generate --users "$USERS" --days 120 --seed 7 --out "$OUT/events.ndjson" --truth "$OUT/truth.csv" \
    --truth-top-k 100 --catalog "$OUT/catalog.csv" --json >"$OUT/generate.json"
# The events' ceiling of purchase and churn (the Bayes posterior predictive, scripts/events_ceiling.py)
# takes minutes on one core: it runs beside the ingest and the trainings, and is waited for below.
CEILING=""
if [[ " $TASKS " == *" purchase "* || " $TASKS " == *" churn "* ]]; then
    python3 scripts/events_ceiling.py "$OUT/events.ndjson" "$OUT/truth.csv" --check-reachable 500 \
        >"$OUT/ceiling.txt" 2>"$OUT/ceiling.err" &
    CEILING=$!
    # Stopped with the script if anything below fails first (a no-op once it has been waited for).
    trap 'kill "$CEILING" 2>/dev/null || true' EXIT
fi
echo "ingest" >&2
"$VEIL" ingest "$OUT/events.ndjson" --json >"$OUT/ingest.json"

# σ, q, steps and ε under both accountants for the ε = 1 and ε = 2 runs (reads nothing, spends nothing).
for EPSILON in 1 2; do
    "$VEIL" train --task purchase --epsilon "$EPSILON" --explain --json >"$OUT/explain-eps$EPSILON.json"
done

for TASK in $TASKS; do
    [[ "$TASK" == next_item ]] && continue  # sequence models only
    for SETTING in "eps1:--epsilon 1" "eps4:--epsilon 4" "nonprivate:--non-private"; do
        NAME="${SETTING%%:*}"
        echo "train $TASK $NAME" >&2
        # shellcheck disable=SC2086  # the setting is two words on purpose
        "$VEIL" train --task "$TASK" ${SETTING#*:} --seed 1 --json >"$OUT/cards/$TASK-$NAME.json"
    done
done
for MODEL in $SEQUENCE_MODELS; do
    for TASK in $TASKS; do
        echo "train $TASK $MODEL eps4" >&2
        START=$SECONDS
        if [[ "$TASK" == next_item ]]; then
            VEIL_POLICY="$OUT/policy-selected.yaml" "$VEIL" train --task next_item --model "$MODEL" --epsilon 4 --seed 1 --json \
                >"$OUT/cards/next_item-$MODEL-eps4.json"
            ID=$(jq -r .model_id "$OUT/cards/next_item-$MODEL-eps4.json")
            { echo item_id; jq -r '.model.schema.vocabulary.items[]' "$VEIL_DATA_DIR/models/$ID.json"; } >"$OUT/selected-items.csv"
            echo "train next_item $MODEL nonprivate, on the $(($(wc -l <"$OUT/selected-items.csv") - 1)) selected items" >&2
            VEIL_POLICY="$OUT/policy-selected-catalog.yaml" "$VEIL" train --task next_item --model "$MODEL" --non-private --seed 1 --json \
                >"$OUT/cards/next_item-$MODEL-nonprivate.json"
        elif [[ "$TASK" == next_category ]]; then
            # shellcheck disable=SC2086  # the plan is several words on purpose
            "$VEIL" train --task next_category --model "$MODEL" --epsilon 4 $NEXT_CATEGORY_PLAN --seed 1 --json \
                >"$OUT/cards/next_category-$MODEL-eps4.json"
        else
            "$VEIL" train --task "$TASK" --model "$MODEL" --epsilon 4 --seed 1 --json >"$OUT/cards/$TASK-$MODEL-eps4.json"
        fi
        echo "train $TASK $MODEL: $((SECONDS - START)) s" >&2
    done
done
# Last, so the PLD runs above are charged by PLD: the same ε = 1 runs with σ calibrated by RDP.
for TASK in $TASKS; do
    [[ "$TASK" == next_category || "$TASK" == next_item ]] && continue
    echo "train $TASK eps1 (RDP)" >&2
    VEIL_POLICY="$OUT/policy-rdp.yaml" "$VEIL" train --task "$TASK" --epsilon 1 --seed 1 --json >"$OUT/cards/$TASK-eps1rdp.json"
done

echo "truth AUC (python3 scripts/synth_label_check.py)" >&2
python3 scripts/synth_label_check.py "$OUT/events.ndjson" "$OUT/truth.csv" >"$OUT/truth.txt"
if [[ -n "$CEILING" ]]; then
    echo "events' ceiling (python3 scripts/events_ceiling.py)" >&2
    wait "$CEILING"
    cat "$OUT/ceiling.txt" >>"$OUT/truth.txt"
fi
if [[ " $TASKS " == *" next_category "* ]]; then
    python3 scripts/next_category_check.py "$OUT/events.ndjson" "$OUT/truth.csv" >>"$OUT/truth.txt"
fi
if [[ -f "$OUT/selected-items.csv" ]]; then
    # The ceiling of the next_item rows: the truth restricted to the items they rank, on the users they count.
    python3 scripts/next_item_ceiling.py "$OUT/events.ndjson" "$OUT/truth.csv" "$OUT/selected-items.csv" >>"$OUT/truth.txt"
fi

# The cards of task $1 in the tables' order: the feature-row model at ε = 1 (PLD, then RDP) and ε = 4,
# each sequence model at ε = 4, then the non-private runs, each followed by its baselines in the table.
ordered_cards() {
    local MODEL NAME NAMES=(eps1 eps1rdp eps4)
    for MODEL in $SEQUENCE_MODELS; do NAMES+=("$MODEL-eps4"); done
    NAMES+=(nonprivate)
    for MODEL in $SEQUENCE_MODELS; do NAMES+=("$MODEL-nonprivate"); done
    for NAME in "${NAMES[@]}"; do
        if [[ -f "$OUT/cards/$1-$NAME.json" ]]; then echo "$OUT/cards/$1-$NAME.json"; fi
    done
}

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
' $(ordered_cards purchase) $(ordered_cards churn) </dev/null
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
                mrow("baseline: favourite category"; .baselines.favourite_category.multiclass),
                (if .baselines.session_favourite_category then
                    mrow("baseline: favourite category by sessions"; .baselines.session_favourite_category.multiclass)
                else empty end)
            else empty end))
    ' $(ordered_cards next_category)
fi
if [[ " $TASKS " == *" next_item "* && -n "$SEQUENCE_MODELS" ]]; then
    echo
    jq -rn "$JQ_FORMAT"'
        def rrow(name; r): "| \(name) | \(r.recall | f) | \(r.ndcg | f) | \(r.mrr | f) | \(r.coverage | f) |";
        "| next_item model | Recall@10 | NDCG@10 | MRR@10 | coverage@10 |",
        "|---|---|---|---|---|",
        # A row equal to one above is left out: where the selections of both models released the same items,
        # their non-private runs rank the same items for the same users, and the baselines repeat.
        (reduce (inputs |
            rrow(model + ", " + eps + ", \(.sequence.vocabulary.items) items (\(.sequence.vocabulary.source))"; .metrics.ranking),
            (if .is_private | not then
                rrow("baseline: popularity"; .baselines.popularity.ranking),
                rrow("baseline: transition"; .baselines.transition.ranking),
                rrow("baseline: repeat (own items first)"; .baselines.repeat.ranking)
            else empty end)) as $row ([]; if any(.[]; . == $row) then . else . + [$row] end) | .[])
    ' $(ordered_cards next_item)
fi
echo
jq -r '"cutoff \(.data_window.cutoff), horizon \(.data_window.horizon_days) d; \(.train_count) train / \(.holdout_count) holdout users; population \(.population); q = \(.sampling_rate), \(.steps) steps; evaluation share \(.privacy_split.evaluation_share)"' \
    "$OUT/cards/purchase-eps1.json"
for EPSILON in 1 2; do
    jq -r --arg eps "$EPSILON" '"ε = \($eps) (δ = \(.delta), q = \(.sampling_rate), \(.steps) steps, with the private evaluation): σ by PLD \([.calibrations[] | select(.accountant.accountant == "pld") | .noise_multiplier][0]), by RDP \([.calibrations[] | select(.accountant.accountant == "rdp") | .noise_multiplier][0])"' \
        "$OUT/explain-eps$EPSILON.json"
done
cat "$OUT/truth.txt"
