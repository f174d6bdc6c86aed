# Sourced by the measurement scripts: a fresh Veil installation in the scratch folder $1 (deleted and
# recreated, with $1/cards for the model cards) whose policy is policies/default.yaml with
# allow_non_private: true, total_epsilon: 100, exact_holdout_metrics: true (the scripts' tables compare
# exact holdout metrics with the baselines' on the same users; a model file keeps them only under
# that setting) and the further sed expressions given after $1; exports
# VEIL_KEYS, VEIL_DATA_DIR and VEIL_POLICY and creates the keys with $VEIL.
scratch_installation() {
    local out="$1"
    shift
    rm -rf "$out"
    mkdir -p "$out/cards"
    export VEIL_KEYS="$out/keys" VEIL_DATA_DIR="$out/data" VEIL_POLICY="$out/policy.yaml"
    sed -e 's/^  allow_non_private: false/  allow_non_private: true/' -e 's/^  total_epsilon: 10$/  total_epsilon: 100/' \
        -e 's/^  exact_holdout_metrics: false/  exact_holdout_metrics: true/' "$@" policies/default.yaml >"$VEIL_POLICY"
    grep -q '^  allow_non_private: true' "$VEIL_POLICY" && grep -q '^  total_epsilon: 100$' "$VEIL_POLICY" &&
        grep -q '^  exact_holdout_metrics: true$' "$VEIL_POLICY"
    "$VEIL" keys init --dir "$VEIL_KEYS" >/dev/null 2>&1
}
