#!/usr/bin/env bash
# Runs libFuzzer targets (build/fuzz/fuzz_<name>) over their committed
# corpus (tests/fuzz/corpus/<name>/: seeds plus every crash input found so
# far, replayed first) and then fuzzes each for SECONDS.
#   tests/fuzz/run.sh                      smoke run of every built target
#                                          (FUZZ_SMOKE_SECONDS each, default 15)
#   tests/fuzz/run.sh SECONDS [BINARY...]  `make fuzz`: longer runs
# New inputs go to build/fuzz/corpus/<name>/ (not committed); a crash input
# is written to build/fuzz/crashes/.  Prints one line per target with its
# executions/s and coverage, then "fuzz: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
seconds=${1:-${FUZZ_SMOKE_SECONDS:-15}}
shift $(($# > 0 ? 1 : 0))
bins=("$@")
if [ ${#bins[@]} -eq 0 ]; then # every target the sources define must have been built
    for src in tests/fuzz/fuzz_*.c; do
        bins+=("build/fuzz/$(basename "$src" .c)")
    done
fi
passed=0
failed=0
mkdir -p build/fuzz/crashes
for bin in "${bins[@]}"; do
    name=${bin##*/fuzz_}
    seeds=tests/fuzz/corpus/$name
    work=build/fuzz/corpus/$name
    log=build/fuzz/$name.log
    mkdir -p "$work"
    if [ ! -x "$bin" ]; then
        echo "FAILED  $name: $bin not built (make $bin)"
        failed=$((failed + 1))
        continue
    fi
    if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
        echo "FAILED  $name: no seed corpus in $seeds"
        failed=$((failed + 1))
        continue
    fi
    # Limits: our parsers refuse big inputs before allocating (the fuzz
    # decode target allows 1 Mpx), so one allocation over 256 MB, a process
    # over 2 GB or an input taking 10 s is itself a finding.
    if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 \
        -print_final_stats=1 -artifact_prefix=build/fuzz/crashes/"$name"- "$work" "$seeds" >"$log" 2>&1; then
        stats=$(grep -E '^#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec' \
            "$log" | tr -s ' \n' ' ')
        echo "ok      $name ($seconds s): $stats"
        passed=$((passed + 1))
    else
        echo "FAILED  $name: see $log; crash inputs in build/fuzz/crashes/"
        grep -E 'ERROR|property violated|SUMMARY' "$log" | head -5
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
