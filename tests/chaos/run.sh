#!/usr/bin/env bash
# make chaos: the soak of tests/chaos/chaos.py (read its header) in a fresh
# scratch directory.  Arguments go to chaos.py: --docs N (default 1000),
# --no-clean (skip the clean baseline), --clean (only the baseline),
# --faults kills (only worker SIGKILLs), --kill-every MIN-MAX,
# --env VAR=VALUE (both daemons), --seed N.  FILOT_BIN_DIR picks the
# programs (default build/bin; make chaos SANITIZE=... passes build-san/bin).
# Whatever happens, every process it started (pids in the scratch
# directory) is killed and the servers are stopped; the scratch directory
# is kept when the run failed or CHAOS_KEEP=1.
# SC2317: kill_tree and cleanup run from the EXIT trap, which shellcheck cannot see.
# shellcheck disable=SC2317
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
dir=$(mktemp -d /tmp/chaos.XXXXXX)
chmod 0755 "$dir" # PostgreSQL runs as its own user
rc=1

# SIGKILLs a recorded pid and everything below it (never anything by name).
kill_tree() {
    local pid=$1 kid t kids=()
    for t in /proc/"$pid"/task/*/children; do
        [ -r "$t" ] || continue
        read -r -a kids <"$t" || true
        for kid in "${kids[@]}"; do kill_tree "$kid"; done
    done
    kill -9 "$pid" 2>/dev/null || true
}

cleanup() {
    if [ -f "$dir/pids" ]; then
        while read -r pid; do
            [ -n "$pid" ] && [ -d "/proc/$pid" ] && kill_tree "$pid"
        done <"$dir/pids"
    fi
    [ -d "$dir/servers" ] && tests/servers.sh stop "$dir/servers" >/dev/null 2>&1
    if [ "$rc" -eq 0 ] && [ "${CHAOS_KEEP:-0}" != 1 ]; then
        rm -rf "$dir"
    else
        echo "# chaos: scratch kept in $dir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# In the background, so that a SIGINT/SIGTERM of this script is handled at
# once (the EXIT trap then kills chaos.py as well).
python3 tests/chaos/chaos.py --dir "$dir" --bin "${FILOT_BIN_DIR:-build/bin}" "$@" &
echo $! >>"$dir/pids"
wait $!
rc=$?
exit "$rc"
