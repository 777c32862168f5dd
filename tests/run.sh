#!/usr/bin/env bash
# Runs test suites one after another, keeps going after a failure, and
# ends with one summary line ("N passed, N failed").  A suite is a Check
# binary (its summary must show at least one check) or a script whose last
# line reads "NAME: N passed, 0 failed" with N > 0; a suite that ran
# nothing counts as failed.
set -u
# shellcheck source=scripts/help.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/help.sh" "$@"
passed=0
failed=0
failed_names=()
for t in "$@"; do
    echo "=== ${t##*/}"
    out=$(mktemp)
    start=$(date +%s)
    "$t" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    secs=$(( $(date +%s) - start ))
    if [ "$rc" -eq 0 ] && grep -qE '^[0-9]+%: Checks: [1-9]|^[a-z-]+: [1-9][0-9]* passed, 0 failed' "$out"; then
        passed=$((passed + 1))
        echo "--- ${t##*/}: ok (${secs}s)"
    else
        failed=$((failed + 1))
        failed_names+=("${t##*/}")
        echo "--- ${t##*/}: FAILED (rc=$rc, ${secs}s)"
    fi
    rm -f "$out"
done
echo
[ "$failed" -eq 0 ] || echo "failed suites: ${failed_names[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
