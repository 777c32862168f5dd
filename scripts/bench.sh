#!/usr/bin/env bash
# `make bench`: throughput, latency and memory of filot-ocrd against the
# naive Tesseract CLI, measured inside one run (paired, interleaved rounds;
# medians and ratios, never absolute thresholds).
#   BENCH_CARDS (20)   cards per round      BENCH_ROUNDS (3)  paired rounds
#   BENCH_RSS_CARDS (100) cards for the memory run
# On a machine with a CUDA device it also runs the GPU parity/timing check
# and a GPU-preprocessing pass.  Results go to stdout and build/bench.txt.
set -euo pipefail
# shellcheck source=scripts/help.sh
. "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
cd "$(dirname "$0")/.."
cards_n=${BENCH_CARDS:-20}
rounds=${BENCH_ROUNDS:-3}
rss_n=${BENCH_RSS_CARDS:-100}
work=$(mktemp -d /tmp/filot-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
bin=build/bin
export OCR_SHM_SIZE=${OCR_SHM_SIZE:-256M}

tests/gen-cards.sh --seed 21 --count "$cards_n" --type KTP --degrade light "$work/cards" >/dev/null
cards=("$work"/cards/*.png)

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

naive() { # OMP_THREAD_LIMIT value ("" = unset, as the original ran), parallelism
    local t0
    t0=$(now)
    if [ -n "$1" ]; then
        printf '%s\n' "${cards[@]}" | OMP_THREAD_LIMIT=$1 xargs -P "$2" -I{} \
            tesseract {} stdout -l ind+eng --oem 1 --psm 3 >/dev/null 2>&1
    else
        printf '%s\n' "${cards[@]}" | env -u OMP_THREAD_LIMIT xargs -P "$2" -I{} \
            tesseract {} stdout -l ind+eng --oem 1 --psm 3 >/dev/null 2>&1
    fi
    elapsed "$t0"
}

daemon() { # workers -> wall seconds for all cards (includes worker start-up)
    local t0
    t0=$(now)
    "$bin/filot-ocr" ocr --type KTP --workers "$1" "${cards[@]}" >"$work/out.$1.jsonl" || true
    elapsed "$t0"
}

echo "filot-ocrd bench: $cards_n cards/round, $rounds paired rounds, $(nproc) cores"
: >"$work/naive" && : >"$work/w1" && : >"$work/w2"
for r in $(seq 1 "$rounds"); do
    naive 1 "$(nproc)" >>"$work/naive"
    daemon 2 >>"$work/w2"
    daemon 1 >>"$work/w1"
    echo "round $r: naive-tuned $(tail -1 "$work/naive") s, 2 workers $(tail -1 "$work/w2") s, 1 worker $(tail -1 "$work/w1") s"
done
shipped=$(naive "" "$(nproc)")
rate() { echo "$cards_n / $1" | bc -l; }
n_med=$(median <"$work/naive")
w1_med=$(median <"$work/w1")
w2_med=$(median <"$work/w2")
nik_ok=$(python3 - "$work" <<'PY'
import json, os, sys
w = sys.argv[1]
ok = total = 0
ms = []
for line in open(os.path.join(w, "out.2.jsonl")):
    r = json.loads(line)
    truth = json.load(open(r["file"][:-4] + ".json"))
    total += 1
    ok += (r.get("parsedResult") or {}).get("nik") == truth["nik"]
    ms.append(r.get("processingTimeMs", 0))
ms.sort()
print(f"{ok}/{total}; per-card processing median {ms[len(ms) // 2]} ms "
      f"(warm-worker ceiling {2000 / max(ms[len(ms) // 2], 1):.2f} cards/s with 2 workers)")
PY
)

# Memory: a long run, sampling peak RSS of the supervisor and the workers.
mapfile -t many < <(for _ in $(seq 1 $(((rss_n + cards_n - 1) / cards_n))); do
    printf '%s\n' "${cards[@]}"; done | head -n "$rss_n")
"$bin/filot-ocr" ocr --type KTP --workers 2 "${many[@]}" >/dev/null &
cli=$!
sup_hwm=0
wrk_hwm=0
while kill -0 "$cli" 2>/dev/null; do
    for p in $(pgrep -x filot-ocrd) $(pgrep -x filot-ocr-worke); do
        kb=$(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = filot-ocrd ]; then
            [ "${kb:-0}" -gt "$sup_hwm" ] && sup_hwm=$kb
        else
            [ "${kb:-0}" -gt "$wrk_hwm" ] && wrk_hwm=$kb
        fi
    done
    sleep 0.2
done
wait "$cli" || true

{
    echo
    echo "== results (medians of $rounds rounds; wall time includes start-up)"
    printf 'naive CLI, OMP_THREAD_LIMIT=1, -P%s  %6.2f cards/s\n' "$(nproc)" "$(rate "$n_med")"
    printf 'naive CLI as shipped (OpenMP unset)  %6.2f cards/s (one round)\n' "$(rate "$shipped")"
    printf 'filot-ocr, 1 worker                  %6.2f cards/s\n' "$(rate "$w1_med")"
    printf 'filot-ocr, 2 workers                 %6.2f cards/s\n' "$(rate "$w2_med")"
    printf '2 workers / 1 worker                 %6.2fx\n' "$(echo "$w1_med / $w2_med" | bc -l)"
    printf '2 workers / naive tuned              %6.2fx\n' "$(echo "$n_med / $w2_med" | bc -l)"
    printf '2 workers / naive as shipped         %6.2fx\n' "$(echo "$shipped / $w2_med" | bc -l)"
    echo "NIK exact (2-worker run)             $nik_ok"
    echo "peak RSS over $rss_n cards: worker $((wrk_hwm / 1024)) MB, supervisor $((sup_hwm / 1024)) MB"
} | tee build/bench.txt

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo
    echo "== GPU (device present)"
    tests/gpu/run.sh | tail -20 | tee -a build/bench.txt || true
    t0=$(now)
    OCR_GPU_ENABLED=true "$bin/filot-ocr" ocr --type KTP --workers 2 "${cards[@]}" >"$work/gpu.jsonl" || true
    g=$(elapsed "$t0")
    printf 'filot-ocr, 2 workers, GPU preprocessing %6.2f cards/s; preprocess=gpu on %s/%s\n' \
        "$(rate "$g")" "$(grep -c '"preprocess":"gpu"' "$work/gpu.jsonl")" "$cards_n" |
        tee -a build/bench.txt
fi
