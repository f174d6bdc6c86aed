#!/usr/bin/env bash
# Installs what Veil needs on a Debian machine that already has Swift, skipping what is present:
# libsodium-dev (the crypto library), curl (the HTTP client the end-to-end CLI tests drive the server
# with), jq (the demo's report reads the CLI's --json output), sqlite3 (an independent reader the dry-run
# test dumps the database with), PostgreSQL's server binaries (the PostgreSQL backend's tests start a
# throwaway cluster with initdb and pg_ctl: scripts/pg-cluster.sh), and the Python packages the independent
# checks use (PyNaCl, a second libsodium binding; dp-accounting, Google's privacy accountant; schemathesis,
# which checks a live `veil serve` against docs/openapi.yaml; pandas, which recomputes what an import of
# docs/examples must store), and Debian's chromium and chromium-driver with Selenium (the console's browser
# test drives them: scripts/console_browser_check.py).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

apt_packages=()
pkg-config --exists libsodium 2>/dev/null || apt_packages+=(libsodium-dev pkg-config)
command -v curl >/dev/null 2>&1 || apt_packages+=(curl)
command -v jq >/dev/null 2>&1 || apt_packages+=(jq)
command -v sqlite3 >/dev/null 2>&1 || apt_packages+=(sqlite3)
command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
command -v chromedriver >/dev/null 2>&1 || apt_packages+=(chromium-driver)
# Debian keeps initdb and pg_ctl off PATH, in /usr/lib/postgresql/<major>/bin; pg-cluster.sh finds them there.
scripts_dir="$(cd "$(dirname "$0")" && pwd)"
"$scripts_dir/pg-cluster.sh" bindir >/dev/null 2>&1 || apt_packages+=(postgresql)
if [ "${#apt_packages[@]}" -gt 0 ]; then
    echo "installing ${apt_packages[*]} ..." >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

python_packages=()
python3 -c "import nacl" 2>/dev/null || python_packages+=(pynacl)
python3 -c "import dp_accounting" 2>/dev/null || python_packages+=(dp-accounting)
python3 -c "import schemathesis" 2>/dev/null || python_packages+=(schemathesis)
python3 -c "import pandas" 2>/dev/null || python_packages+=(pandas)
python3 -c "import selenium" 2>/dev/null || python_packages+=(selenium)
if [ "${#python_packages[@]}" -gt 0 ]; then
    echo "installing Python checkers ${python_packages[*]} ..." >&2
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "${python_packages[@]}" >&2
fi
