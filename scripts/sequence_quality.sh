#!/usr/bin/env bash
# Sequence models against their targets on synthetic data (issue 14; docs/models.md, "Measured
# quality"), in the scratch folder sequence-data/ (deleted and recreated):
#
#   veil generate --users 50000 (SEQ_USERS) --days 120 --seed 7 (SEQ_SEED) --truth --catalog → veil ingest → veil train:
#   purchase, churn and next_category with a GRU at ε = 4 (each card shows today's logistic model on
#   the same split and σ, and the task's baselines) and today's logistic model at ε = 4 with its own
#   defaults; next_item with a GRU at ε = 4 whose vocabulary is chosen by DP partition selection
#   (capped at SEQ_ITEMS items), then non-private and at ε = 4 with that selected vocabulary as the
#   catalogue, so the three rank the same items for the same holdout users.
#
# The policy is policies/default.yaml with allow_non_private: true and total_epsilon: 100. Runs are
# seeded (--seed 1): measurements on synthetic data, not releases. Needs the release build, jq and
# python3 with numpy (the truth AUC).
# SEQ_MODEL (gru), SEQ_ITEMS (1000), SEQ_TASKS (purchase churn next_category next_item),
# SEQ_TRAIN_FLAGS (extra `veil train` flags for the sequence runs, e.g. "--epochs 10"),
# SEQ_NEXT_ITEM_FLAGS (the next_item runs' plan, before SEQ_TRAIN_FLAGS; default "": the policy's
# training.task_defaults.next_item, batch 2048, 20 epochs, Adam 0.04, docs/models.md, "The next_item
# plan"; "--batch-size 512 --epochs 5 --learning-rate 0.02" for the other tasks' defaults), SEQ_USERS
# (50000: the targets' shape; fewer for a quicker first look) and SEQ_SEED (7, the users the targets
# are reported on; 8 for the validation users that choices are tried on, so that nothing is tuned on
# seed 7's holdout) override.
set -euo pipefail
cd "$(dirname "$0")/.."
VEIL="${VEIL:-$(swift build -c release --show-bin-path)/veil}"
OUT=sequence-data
MODEL="${SEQ_MODEL:-gru}"
ITEMS="${SEQ_ITEMS:-1000}"
TASKS="${SEQ_TASKS:-purchase churn next_category next_item}"
FLAGS="${SEQ_TRAIN_FLAGS:-}"
NEXT_ITEM_FLAGS="${SEQ_NEXT_ITEM_FLAGS-}"
USERS="${SEQ_USERS:-50000}"
SEED="${SEQ_SEED:-7}"
# shellcheck source=scripts/scratch_installation.sh
. scripts/scratch_installation.sh
scratch_installation "$OUT" -e "s/^  max_selected_items: 2000$/  max_selected_items: $ITEMS/"
grep -q "^  max_selected_items: $ITEMS\$" "$VEIL_POLICY"
echo "generate: $USERS users, 120 days, seed $SEED" >&2
"$VEIL" generate --users "$USERS" --days 120 --seed "$SEED" --out "$OUT/events.ndjson" --truth "$OUT/truth.csv" \
    --catalog "$OUT/generator-catalog.csv" --json >"$OUT/generate.json"
echo "ingest" >&2
"$VEIL" ingest "$OUT/events.ndjson" --json >"$OUT/ingest.json"

train() {  # name, then `veil train` arguments
    local name="$1"
    shift
    echo "train $name" >&2
    "$VEIL" train "$@" --seed 1 --json >"$OUT/cards/$name.json"
}
for TASK in $TASKS; do
    if [[ "$TASK" == next_item ]]; then
        # shellcheck disable=SC2086  # extra flags are words on purpose
        train "next_item-$MODEL-eps4-selected" --task next_item --model "$MODEL" --epsilon 4 $NEXT_ITEM_FLAGS $FLAGS
        # The selected items, as a catalogue (post-processing of the DP selection).
        ID=$(jq -r .model_id "$OUT/cards/next_item-$MODEL-eps4-selected.json")
        { echo item_id; jq -r '.model.schema.vocabulary.items[]' "$VEIL_DATA_DIR/models/$ID.json"; } >"$OUT/catalog.csv"
        sed -i 's/^  # items_file: catalog.csv/  items_file: catalog.csv/' "$VEIL_POLICY"
        # shellcheck disable=SC2086
        train "next_item-$MODEL-nonprivate" --task next_item --model "$MODEL" --non-private $NEXT_ITEM_FLAGS $FLAGS
        # shellcheck disable=SC2086
        train "next_item-$MODEL-eps4" --task next_item --model "$MODEL" --epsilon 4 $NEXT_ITEM_FLAGS $FLAGS
        sed -i 's/^  items_file: catalog.csv/  # items_file: catalog.csv/' "$VEIL_POLICY"
    else
        # shellcheck disable=SC2086
        train "$TASK-$MODEL-eps4" --task "$TASK" --model "$MODEL" --epsilon 4 $FLAGS
        train "$TASK-logistic-eps4" --task "$TASK" --epsilon 4
    fi
done

jq -rn '
    def f: if . == null then "–" else (. * 1000 | round / 1000 | tostring) end;
    def name: "\(.model.kind), " + (if .is_private then "ε = \(.target_epsilon)" else "non-private" end);
    "| task | model | exact metric | private metric [95% interval] | baselines on the same holdout |",
    "|---|---|---|---|---|",
    (inputs |
        if .metrics.binary then
            "| \(.task) | \(name) | ROC AUC \(.metrics.binary.roc_auc | f) | \(.private_metrics.metrics.roc_auc as $m | "\($m.value | f) [\($m.low | f), \($m.high | f)]") | " +
            ([.baselines | to_entries[] | "\(.key) \(.value.binary.roc_auc | f)"] | join(", ")) + " |"
        elif .metrics.multiclass then
            "| \(.task) | \(name) | top-1 \(.metrics.multiclass.top1_accuracy | f) | \(.private_metrics.metrics.top1_accuracy as $m | "\($m.value | f) [\($m.low | f), \($m.high | f)]") | " +
            ([.baselines | to_entries[] | "\(.key) \(.value.multiclass.top1_accuracy | f)"] | join(", ")) + " |"
        else
            "| \(.task) | \(name), \(.sequence.vocabulary.items) items (\(.sequence.vocabulary.source)) | Recall@10 \(.metrics.ranking.recall | f), NDCG@10 \(.metrics.ranking.ndcg | f) | " +
            (if .private_metrics then (.private_metrics.metrics.recall_at_10 as $m | "\($m.value | f) [\($m.low | f), \($m.high | f)]") else "–" end) + " | " +
            ([.baselines | to_entries[] | "\(.key) \(.value.ranking.recall | f)"] | join(", ")) + " |"
        end)
' "$OUT"/cards/*.json
echo
echo "truth (veil generate --json): $(jq -c '{mean_p_purchase: .truth.mean_p_purchase, next_item: .truth.next_item}' "$OUT/generate.json")"
echo "truth AUC (python3 scripts/synth_label_check.py):"
python3 scripts/synth_label_check.py "$OUT/events.ndjson" "$OUT/truth.csv"
