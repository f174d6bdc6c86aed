#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks: initdb in a folder, a server listening on a
# unix socket in that folder (and, with --tcp, on a free loopback port), removed by `stop`.
#
#   scripts/pg-cluster.sh start DIR [--tcp] [--bench]   prints the cluster's database URL on stdout
#   scripts/pg-cluster.sh stop DIR                       stops the server and deletes DIR
#   scripts/pg-cluster.sh bindir                         prints the folder holding initdb and pg_ctl
#
# DIR must not exist yet (start creates it). The URL names the superuser `veil` and the database `veil`;
# local connections are trusted (the socket lives in DIR, mode 0700, and a --tcp server accepts only
# 127.0.0.1), so it holds no password. The server runs with fsync=on and synchronous_commit=on (a commit
# that returned is durable) and full_page_writes=on; --bench adds the settings VeilBench states in its
# output (larger shared_buffers and WAL, wal_level=minimal), none of which weakens durability.
#
# PostgreSQL refuses to run as root. Run as root (CI, this machine), the cluster belongs to the
# unprivileged user `veilpg` (created on first use, no login shell) and every server command runs as
# that user through setpriv; DIR is handed to it.
set -euo pipefail

die() { echo "pg-cluster.sh: $*" >&2; exit 1; }

# The folder with initdb and pg_ctl: PG_BINDIR if set, else PATH, else Debian's
# /usr/lib/postgresql/<major>/bin (the newest major installed).
bindir() {
    if [ -n "${PG_BINDIR:-}" ] && [ -x "$PG_BINDIR/initdb" ]; then echo "$PG_BINDIR"; return 0; fi
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"; return 0
    fi
    local candidate
    candidate="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4n | tail -n 1)"
    if [ -n "$candidate" ] && [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then echo "$candidate"; return 0; fi
    return 1
}

# Runs a command as the cluster's owner: ourselves, or `veilpg` when we are root.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid=veilpg --regid=veilpg --init-groups -- "$@"
    else
        "$@"
    fi
}

ensure_owner_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    id veilpg >/dev/null 2>&1 && return 0
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin veilpg 2>/dev/null \
        || id veilpg >/dev/null 2>&1 || die "cannot create the unprivileged user veilpg that PostgreSQL runs as"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
    local dir="$1"; shift
    local tcp=0 bench=0
    while [ $# -gt 0 ]; do
        case "$1" in
            --tcp) tcp=1 ;;
            --bench) bench=1 ;;
            *) die "unknown option $1 (expected --tcp or --bench)" ;;
        esac
        shift
    done
    [ -e "$dir" ] && die "$dir exists; start makes a new cluster in a folder that does not exist yet"
    local bin
    bin="$(bindir)" || die "initdb and pg_ctl not found (PATH, /usr/lib/postgresql/*/bin); run scripts/install-deps.sh"
    ensure_owner_user
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    chmod 0700 "$dir"
    [ "$(id -u)" -eq 0 ] && chown veilpg:veilpg "$dir"
    # The socket folder's path must fit a sockaddr_un (107 bytes with the socket's own name).
    [ "${#dir}" -le 80 ] || die "$dir is too long for a unix socket path; use a shorter folder"

    as_owner "$bin/initdb" -D "$dir/data" -U veil --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }

    local port listen=""
    if [ "$tcp" -eq 1 ]; then port="$(free_port)"; listen="127.0.0.1"; else port=5432; fi
    {
        echo "listen_addresses = '$listen'"
        echo "port = $port"
        echo "unix_socket_directories = '$dir'"
        echo "fsync = on"
        echo "synchronous_commit = on"
        echo "full_page_writes = on"
        echo "max_connections = 200"
        if [ "$bench" -eq 1 ]; then
            echo "shared_buffers = 1GB"
            echo "max_wal_size = 8GB"
            echo "checkpoint_timeout = 30min"
            echo "wal_buffers = 64MB"
            echo "wal_level = minimal"
            echo "max_wal_senders = 0"
            echo "work_mem = 64MB"
            echo "maintenance_work_mem = 512MB"
        fi
    } >>"$dir/data/postgresql.conf"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start </dev/null >/dev/null 2>>"$dir/pg_ctl.log" \
        || { cat "$dir/server.log" >&2; die "the server did not start"; }
    # The port is the socket's name (.s.PGSQL.<port>) as well as the TCP port.
    echo "$port" >"$dir/port"
    [ "$tcp" -eq 1 ] && echo "postgresql://veil@127.0.0.1:$port/postgres" && return 0
    echo "postgresql://veil@/postgres?host=$dir&port=$port"
}

stop() {
    local dir="$1"
    [ -d "$dir/data" ] || die "$dir holds no cluster"
    local bin
    bin="$(bindir)" || die "pg_ctl not found"
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}

case "${1:-}" in
    start) [ $# -ge 2 ] || die "usage: pg-cluster.sh start DIR [--tcp] [--bench]"; shift; start "$@" ;;
    stop) [ $# -eq 2 ] || die "usage: pg-cluster.sh stop DIR"; stop "$2" ;;
    bindir) bindir || die "initdb and pg_ctl not found" ;;
    *) die "usage: pg-cluster.sh start DIR [--tcp] [--bench] | stop DIR | bindir" ;;
esac
