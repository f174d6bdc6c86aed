#!/usr/bin/env bash
# The end-to-end demo in a scratch folder: keys, then pseudonymisation.
set -euo pipefail
cd "$(dirname "$0")/.."
VEIL="$(swift build -c release --show-bin-path)/veil"
DEMO=demo
rm -rf "$DEMO"
mkdir -p "$DEMO"

echo "== 1. keys"
"$VEIL" keys init --dir "$DEMO/keys"
echo
echo "== 2. pseudonymisation (the raw IDs never leave this process)"
"$VEIL" pseudonymize --keys "$DEMO/keys" alice@example.com bob@example.com alice@example.com
