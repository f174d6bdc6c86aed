#!/usr/bin/env bash
# Runs a command with a time limit, for `make test`: a test process that hangs fails the run within the
# limit, with every thread's stack of the process that hung, instead of running on until CI gives up.
#
#   scripts/watchdog.sh MINUTES COMMAND [ARGUMENT ...]
#
# The command runs in a process group of its own, its standard output and error line-buffered (stdbuf),
# so what it printed last is printed before a kill, not lost in a buffer. Past MINUTES minutes, every
# process of the group that runs a Swift test bundle (`*.xctest`) has its threads' stacks printed by gdb
# (where gdb is installed), the group is killed, and the script exits 124 naming the limit. Otherwise it
# exits with the command's status.
set -uo pipefail

[ $# -ge 2 ] || { echo "usage: scripts/watchdog.sh MINUTES COMMAND [ARGUMENT ...]" >&2; exit 2; }
minutes="$1"; shift
case "$minutes" in ''|*[!0-9]*) echo "watchdog: MINUTES must be a whole number of minutes" >&2; exit 2 ;; esac

buffering=()
command -v stdbuf >/dev/null 2>&1 && buffering=(stdbuf -oL -eL)
setsid "${buffering[@]}" "$@" &
child=$!
# The group has a session of its own, out of reach of the terminal's Ctrl-C: pass it on.
trap 'kill -TERM -- "-$child" 2>/dev/null; exit 130' INT TERM

# The group's processes that run a test bundle.
test_bundles() {
    local pid
    for pid in $(pgrep -g "$child" 2>/dev/null); do
        tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q '\.xctest' && echo "$pid"
    done
}

deadline=$(( $(date +%s) + minutes * 60 ))
while kill -0 "$child" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "watchdog: '$*' ran past its limit of $minutes minutes; the stacks of its test processes follow" >&2
        for pid in $(test_bundles); do
            if command -v gdb >/dev/null 2>&1; then
                gdb -p "$pid" -batch -ex "thread apply all bt" 2>&1 | grep -E '^(Thread|#)' >&2
            else
                echo "watchdog: gdb is not installed; no stacks for process $pid" >&2
            fi
        done
        kill -KILL -- "-$child" 2>/dev/null
        wait "$child" 2>/dev/null
        exit 124
    fi
    sleep 5
done
wait "$child"
