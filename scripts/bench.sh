#!/usr/bin/env bash
# `make bench`: throughput, latency and memory of filot-ocrd against the
# naive Tesseract CLI and against the engine limit, plus the IPC hand-off
# latency, measured inside one run (paired, interleaved rounds; medians and
# ratios, never absolute thresholds).  bench/README.md explains every row.
#   BENCH_CARDS (20)   cards per round      BENCH_ROUNDS (3)  paired rounds
#   BENCH_RSS_CARDS (100) cards for the memory run (0 skips it)
#   BENCH_IPC_ITERS (1000) IPC round trips per size (0 skips the IPC part)
# Needs build/bench/{engine-limit,ipc-bench} (`make bench` builds them and
# runs scripts/deps.sh bench first).  On a machine with a CUDA device it
# also runs the GPU parity/timing check and a GPU-preprocessing pass.
# Results go to stdout, build/bench.txt and bench/results/latest.json; the
# IPC plot to bench/results/ipc-latency.png (needs gnuplot).
set -euo pipefail
# shellcheck source=scripts/help.sh
. "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
cd "$(dirname "$0")/.."
cards_n=${BENCH_CARDS:-20}
rounds=${BENCH_ROUNDS:-3}
rss_n=${BENCH_RSS_CARDS:-100}
ipc_iters=${BENCH_IPC_ITERS:-1000}
work=$(mktemp -d /tmp/filot-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
bin=build/bin
limit=build/bench/engine-limit
ipc=build/bench/ipc-bench
results=bench/results
for p in "$bin/filot-ocr" "$limit" "$ipc"; do
    [ -x "$p" ] || { echo "bench: $p missing: run \`make bench\`" >&2; exit 1; }
done
mkdir -p "$results"
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

engine() { # the engine limit: one process per core, pre-decoded, load not timed
    "$limit" -j "$(nproc)" "${cards[@]}" | sed -n 's/.* seconds=\([0-9.]*\) .*/\1/p'
}

echo "filot-ocrd bench: $cards_n cards/round, $rounds paired rounds, $(nproc) cores"
: >"$work/naive" && : >"$work/w1" && : >"$work/w2" && : >"$work/limit" && : >"$work/ratio"
for r in $(seq 1 "$rounds"); do
    naive 1 "$(nproc)" >>"$work/naive"
    engine >>"$work/limit"
    daemon 2 >>"$work/w2"
    daemon 1 >>"$work/w1"
    # filot-ocr (2 workers) / engine limit, as throughputs, within this round
    echo "$(tail -1 "$work/limit") / $(tail -1 "$work/w2")" | bc -l >>"$work/ratio"
    echo "round $r: naive-tuned $(tail -1 "$work/naive") s, engine limit $(tail -1 "$work/limit") s, 2 workers $(tail -1 "$work/w2") s, 1 worker $(tail -1 "$work/w1") s"
done
shipped=$(naive "" "$(nproc)")
rate() { echo "$cards_n / $1" | bc -l; }
n_med=$(median <"$work/naive")
w1_med=$(median <"$work/w1")
w2_med=$(median <"$work/w2")
l_med=$(median <"$work/limit")
ratio_med=$(median <"$work/ratio")
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
sup_hwm=0
wrk_hwm=0
if [ "$rss_n" -gt 0 ]; then
mapfile -t many < <(for _ in $(seq 1 $(((rss_n + cards_n - 1) / cards_n))); do
    printf '%s\n' "${cards[@]}"; done | head -n "$rss_n")
"$bin/filot-ocr" ocr --type KTP --workers 2 "${many[@]}" >/dev/null &
cli=$!
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
fi

{
    echo
    echo "== results (medians of $rounds rounds; wall time includes start-up)"
    printf 'naive CLI, OMP_THREAD_LIMIT=1, -P%s  %6.2f cards/s\n' "$(nproc)" "$(rate "$n_med")"
    printf 'naive CLI as shipped (OpenMP unset)  %6.2f cards/s (one round)\n' "$(rate "$shipped")"
    printf 'filot-ocr, 1 worker                  %6.2f cards/s\n' "$(rate "$w1_med")"
    printf 'filot-ocr, 2 workers                 %6.2f cards/s\n' "$(rate "$w2_med")"
    printf 'engine limit (%s processes, PSM 3, pre-decoded)  %6.2f cards/s (load not timed)\n' \
        "$(nproc)" "$(rate "$l_med")"
    printf 'filot-ocr 2 workers / engine limit   %6.2fx (median of per-round ratios)\n' "$ratio_med"
    printf '2 workers / 1 worker                 %6.2fx\n' "$(echo "$w1_med / $w2_med" | bc -l)"
    printf '2 workers / naive tuned              %6.2fx\n' "$(echo "$n_med / $w2_med" | bc -l)"
    printf '2 workers / naive as shipped         %6.2fx\n' "$(echo "$shipped / $w2_med" | bc -l)"
    echo "NIK exact (2-worker run)             $nik_ok"
    [ "$rss_n" -eq 0 ] ||
        echo "peak RSS over $rss_n cards: worker $((wrk_hwm / 1024)) MB, supervisor $((sup_hwm / 1024)) MB"
} | tee build/bench.txt

# IPC: the worker -> gpu-server hand-off (shm slot + nng) against a socket copy.
if [ "$ipc_iters" -gt 0 ]; then
    echo
    echo "== IPC round trip (bench/ipc_bench.c; $ipc_iters iterations per size up to 1 MiB)" |
        tee -a build/bench.txt
    "$ipc" -n "$ipc_iters" -o "$work/ipc.json" | tee -a build/bench.txt
else
    echo '{"rows": []}' >"$work/ipc.json"
fi

# bench/results/latest.json: this run's throughput medians and IPC table.
python3 - "$work/ipc.json" "$results/latest.json" <<PY
import json, sys, time
ipc = json.load(open(sys.argv[1]))
rate = lambda s: round($cards_n / float(s), 3)
out = {
    "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "cores": $(nproc),
    "throughput": {
        "cards_per_round": $cards_n, "rounds": $rounds,
        "naive_tuned_cards_per_s": rate("$n_med"),
        "naive_shipped_cards_per_s": rate("$shipped"),
        "filot_ocr_1_worker_cards_per_s": rate("$w1_med"),
        "filot_ocr_2_workers_cards_per_s": rate("$w2_med"),
        "engine_limit_processes": $(nproc),
        "engine_limit_cards_per_s": rate("$l_med"),
        "filot_ocr_2_workers_over_engine_limit": round(float("$ratio_med"), 3),
    },
    "ipc": ipc,
}
json.dump(out, open(sys.argv[2], "w"), indent=2)
open(sys.argv[2], "a").write("\n")
PY
echo "results: $results/latest.json"

if [ "$ipc_iters" -gt 0 ]; then
    if command -v gnuplot >/dev/null 2>&1; then
        python3 -c 'import json, sys
keys = ["shm_nng", "handoff", "shm_sock_handoff", "socket"]
for r in json.load(open(sys.argv[1]))["rows"]:
    print(r["bytes"], *[r[k + q] for k in keys for q in ("_p50_us", "_p99_us")])' \
            "$work/ipc.json" >"$work/ipc.dat"
        gnuplot <<GP
set terminal pngcairo size 1000,650
set output "$results/ipc-latency.png"
set title "Worker hand-off round trip vs payload size ($(nproc) cores; p50 solid, p99 dashed)"
set logscale xy
set xlabel "payload (bytes)"
set ylabel "round trip (us)"
set key top left
set grid
plot "$work/ipc.dat" using 1:2 with linespoints lw 2 lc 1 title "shm+nng, incl. copy into slot", \
     "" using 1:4 with linespoints lw 2 lc 2 title "shm+nng hand-off (data in place)", \
     "" using 1:6 with linespoints lw 2 lc 3 title "shm + Unix-socket control hand-off", \
     "" using 1:8 with linespoints lw 2 lc 4 title "bytes copied over a Unix socket", \
     "" using 1:3 with lines dt 2 lc 1 notitle, "" using 1:5 with lines dt 2 lc 2 notitle, \
     "" using 1:7 with lines dt 2 lc 3 notitle, "" using 1:9 with lines dt 2 lc 4 notitle
GP
        echo "plot: $results/ipc-latency.png"
    else
        echo "bench: gnuplot not found, no plot (scripts/deps.sh bench installs gnuplot-nox)" >&2
    fi
fi

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
