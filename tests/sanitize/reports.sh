#!/usr/bin/env bash
# The last suite of the instrumented pass (make test, make test SANITIZE=...):
# fails when any process of build-san/ wrote a sanitizer report.  Every
# instrumented program writes its reports to build-san/san-reports/report.<pid>
# (tests/sanitize/options.c), also the children that the supervisor
# restarted after one, whose abort would not fail a test by itself.
set -u
cd "$(dirname "$0")/../.."
dir=build-san/san-reports
if [ ! -d "$dir" ]; then
    echo "$dir missing: build with make SANITIZE=address,undefined first" >&2
    echo "sanitizer-reports: 0 passed, 1 failed"
    exit 1
fi
shopt -s nullglob
reports=("$dir"/report.*)
for f in "${reports[@]}"; do
    echo "--- $f"
    head -n 60 "$f"
done
if [ ${#reports[@]} -gt 0 ]; then
    echo "sanitizer-reports: 0 passed, 1 failed (${#reports[@]} report(s) in $dir)"
    exit 1
fi
echo "no sanitizer report in $dir"
echo "sanitizer-reports: 1 passed, 0 failed"
