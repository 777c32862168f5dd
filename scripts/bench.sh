#!/usr/bin/env bash
# `make bench`: throughput, latency and memory of filot-ocrd against the
# naive Tesseract CLI and against the engine limit, plus the IPC hand-off
# latency, measured inside one run (paired, interleaved rounds; medians and
# ratios, never absolute thresholds).  bench/README.md explains every row.
#   BENCH_CARDS (20)   cards per round      BENCH_ROUNDS (3)  paired rounds
#   BENCH_RSS_CARDS (100) cards for the memory run (0 skips it)
#   BENCH_IPC_ITERS (1000) IPC round trips per size (0 skips the IPC part)
#   BENCH_E2E (1)      filot-ocrd end to end on private redis-server and
#                      PostgreSQL each round, with per-stage times and one
#                      worker SIGKILL per round for the recovery time (0 skips)
#   BENCH_SCALE (cores, at least 2)  filot-ocr rows for 1..N workers
#   BENCH_PHOTOS (BENCH_CARDS) cards also drawn as 12 MP phone photos for the
#                      photo-vs-card row (0 skips it)
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
e2e_on=${BENCH_E2E:-1}
scale_n=${BENCH_SCALE:-$(nproc)}
[ "$scale_n" -ge 2 ] || scale_n=2
photo_n=${BENCH_PHOTOS:-$cards_n}
[ "$photo_n" -le "$cards_n" ] || photo_n=$cards_n
daemon_pid= # the end-to-end round's filot-ocrd while it runs
cli=         # the memory run's filot-ocr while it runs
cleanup() {
    # a failed or interrupted run must not leave a daemon (it drains its workers)
    for p in $daemon_pid $cli; do
        kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    if [ -f "$work/srv/env" ]; then tests/servers.sh stop "$work/srv" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
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

# Phone-photo versions of the first BENCH_PHOTOS cards: the card at about
# half the width of a 4000 x 3000 frame, turned 3 degrees, on a noisy
# background, JPEG (truth files copied, so NIK exact can be checked).
photos=()
if [ "$photo_n" -gt 0 ]; then
    mkdir -p "$work/photos"
    for c in "${cards[@]:0:$photo_n}"; do
        b=$(basename "$c" .png)
        convert -size 4000x3000 xc:'#4a3b2c' -attenuate 0.4 +noise Gaussian \
            \( "$c" -resize 2000x -background none -rotate 3 \) -gravity center -composite \
            -quality 90 "$work/photos/$b.jpg"
        cp "$work/cards/$b.json" "$work/photos/$b.json"
        photos+=("$work/photos/$b.jpg")
    done
fi

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

photo() { # filot-ocr, 2 workers, over the phone photos -> wall seconds
    local t0
    t0=$(now)
    "$bin/filot-ocr" ocr --type KTP --workers 2 "${photos[@]}" >"$work/photo.jsonl" || true
    elapsed "$t0"
}

# filot-ocrd end to end: tests/servers.sh's throwaway redis-server and
# PostgreSQL, file:// storage, one daemon per round with OCR_GPU_CONCURRENCY
# = cores, rows inserted and enqueued as the upload API does.
sql() { psql -qtA -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
e2e_setup() {
    chmod 0755 "$work" # PostgreSQL runs as the postgres user under it
    tests/servers.sh start "$work/srv" redis postgres >/dev/null || return 1
    set -a
    # shellcheck disable=SC1091
    . "$work/srv/env"
    set +a
    psql -q "$DATABASE_URL" -v ON_ERROR_STOP=1 -f db/schema.sql >/dev/null
    user=$(sql "INSERT INTO users (email) VALUES ('bench@filot.local') RETURNING id")
    mkdir -p "$work/storage/$user"
    cp "${cards[@]}" "$work/storage/$user/"
    values=$(for c in "${cards[@]}"; do
        printf "(gen_random_uuid(), '%s', 'KTP', '%s/%s', 'processing')," "$user" "$user" "$(basename "$c")"
    done)
    values=${values%,}
}
health() { curl -sf "http://127.0.0.1:$1/health"; }
worker_field() { # health JSON on stdin, worker index, fields... (one a line)
    python3 -c 'import json, sys
for c in json.load(sys.stdin).get("children", []):
    if c.get("program") == "filot-ocr-worker" and c.get("index") == int(sys.argv[1]):
        print(*[c.get(f, "") for f in sys.argv[2:]], sep="\n")' "$@"
}
e2e() { # round -> wall seconds from the first enqueue to the last row completed
    local port pid ids t0 secs n victim idx k
    port=$(free_port)
    mapfile -t ids < <(sql "INSERT INTO documents (id, user_id, type, file_url, status)
                            VALUES $values RETURNING id")
    t0=$(now)
    CF_R2_ENDPOINT="file://$work/storage" HEALTH_PORT=$port OCR_GPU_CONCURRENCY=$(nproc) \
        OCR_GPU_POLL_INTERVAL=100 setsid "$bin/filot-ocrd" >"$work/e2e.$1.log" 2>&1 &
    pid=$!
    daemon_pid=$pid
    # start-up: exec to /ready 200 (workers loaded, Redis and PostgreSQL reachable)
    for _ in $(seq 1 1500); do
        curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break
        sleep 0.02
    done
    elapsed "$t0" >>"$work/startup"
    t0=$(now)
    "$bin/filot-ocr" enqueue "${ids[@]}" >/dev/null
    # Wait on the daemon's own job-done lines: tail -f sleeps until the log
    # grows, where a poll loop (a psql, or a grep, per tick) takes CPU from
    # the cores being measured.  Then confirm in PostgreSQL once.
    local done_re='"message":"(GPU Document OCR processed successfully|GPU OCR processing failed)"'
    local fd tailpid
    exec {fd}< <(exec tail -n +1 -f "$work/e2e.$1.log")
    tailpid=$!
    n=$(timeout 900 grep -m "${#ids[@]}" -cE "$done_re" <&"$fd") || true
    [ "${n:-0}" -ge "${#ids[@]}" ] ||
        echo "bench: round $1: ${n:-0} of ${#ids[@]} documents finished within 900 s" >&2
    kill "$tailpid" 2>/dev/null || true
    exec {fd}<&-
    secs=$(elapsed "$t0")
    n=0
    for _ in $(seq 1 100); do
        n=$(sql "SELECT count(*) FROM documents WHERE status IN ('completed', 'failed')
                 AND id IN ($(printf "'%s'," "${ids[@]}" | sed 's/,$//'))")
        [ "$n" -ge "${#ids[@]}" ] && break
        sleep 0.05
    done
    [ "$n" -ge "${#ids[@]}" ] || echo "bench: round $1: only $n of ${#ids[@]} rows terminal" >&2
    # recovery: SIGKILL one worker (it has done jobs, so the supervisor's
    # first backoff step applies) until its replacement reports ready
    idx=$((($1 - 1) % $(nproc)))
    victim=$(health "$port" | worker_field "$idx" pid)
    if [ -n "$victim" ] && kill -9 "$victim" 2>/dev/null; then
        t0=$(now)
        for _ in $(seq 1 300); do
            k=$(health "$port" | worker_field "$idx" pid state | tr '\n' ' ') || k=
            if [ -n "${k% *}" ] && [ "${k%% *}" != "$victim" ] && [ "$k" = "${k%% *} ready " ]; then
                elapsed "$t0" >>"$work/recovery"
                break
            fi
            sleep 0.02
        done
    fi
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || true
    daemon_pid=
    echo "$secs"
}

engine() { # the engine limit: one process per core, pre-decoded, load not timed
    "$limit" -j "$(nproc)" "${cards[@]}" | sed -n 's/.* seconds=\([0-9.]*\) .*/\1/p'
}

echo "filot-ocrd bench: $cards_n cards/round, $rounds paired rounds, $(nproc) cores"
if [ "$e2e_on" -ne 0 ] && ! e2e_setup; then
    echo "bench: cannot start redis-server / PostgreSQL (tests/servers.sh, needs root): no end-to-end rows" >&2
    e2e_on=0
fi
: >"$work/naive" && : >"$work/limit" && : >"$work/ratio" && : >"$work/photo" && : >"$work/e2e"
: >"$work/recovery"
: >"$work/startup"
for k in $(seq 1 "$scale_n"); do : >"$work/w$k"; done
for r in $(seq 1 "$rounds"); do
    naive 1 "$(nproc)" >>"$work/naive"
    engine >>"$work/limit"
    daemon 2 >>"$work/w2"
    daemon 1 >>"$work/w1"
    for k in $(seq 3 "$scale_n"); do daemon "$k" >>"$work/w$k"; done
    [ "$e2e_on" -eq 0 ] || e2e "$r" >>"$work/e2e"
    [ "$photo_n" -eq 0 ] || photo >>"$work/photo"
    # filot-ocr (2 workers) / engine limit, as throughputs, within this round
    echo "$(tail -1 "$work/limit") / $(tail -1 "$work/w2")" | bc -l >>"$work/ratio"
    echo "round $r: naive-tuned $(tail -1 "$work/naive") s, engine limit $(tail -1 "$work/limit") s, 2 workers $(tail -1 "$work/w2") s, 1 worker $(tail -1 "$work/w1") s$([ "$e2e_on" -eq 0 ] || echo ", filot-ocrd $(tail -1 "$work/e2e") s")"
done
shipped=$(naive "" "$(nproc)")
rate() { echo "$cards_n / $1" | bc -l; }
n_med=$(median <"$work/naive")
w1_med=$(median <"$work/w1")
w2_med=$(median <"$work/w2")
l_med=$(median <"$work/limit")
ratio_med=$(median <"$work/ratio")
e2e_med=0
[ "$e2e_on" -eq 0 ] || e2e_med=$(median <"$work/e2e")
rec_med=$(median <"$work/recovery")
start_med=$(median <"$work/startup")
photo_med=0
[ "$photo_n" -eq 0 ] || photo_med=$(median <"$work/photo")
# Per-stage p50 / p99 over the job-done lines of the end-to-end runs.
python3 - "$work" >"$work/stages.json" <<'PY'
import glob, json, os, sys
st = {}
for f in glob.glob(os.path.join(sys.argv[1], "e2e.*.log")):
    for line in open(f):
        if '"stagesMs"' not in line:
            continue
        j = json.loads(line)
        for k, v in j["stagesMs"].items():
            st.setdefault(k, []).append(v)
        st.setdefault("total", []).append(j.get("processingTimeMs", 0))
rank = lambda a, q: sorted(a)[min(len(a) - 1, max(0, -(-len(a) * q // 100) - 1))]
print(json.dumps({k: {"jobs": len(v), "p50_ms": rank(v, 50), "p99_ms": rank(v, 99)}
                  for k, v in st.items()}))
PY
# Photo vs card: per-document processing time (warm workers) of the last round.
photo_cmp=$(python3 - "$work" "$photo_n" <<'PY'
import json, os, sys
w, n = sys.argv[1], int(sys.argv[2])
def ms(name):
    p = os.path.join(w, name)
    out, ok = [], 0
    for line in open(p) if os.path.exists(p) else []:
        r = json.loads(line)
        out.append(r.get("processingTimeMs", 0))
        truth = json.load(open(r["file"].rsplit(".", 1)[0] + ".json"))
        ok += (r.get("parsedResult") or {}).get("nik") == truth["nik"]
    out.sort()
    return (out[len(out) // 2] if out else 0), ok, len(out)
c, _, _ = ms("out.2.jsonl")
p, ok, total = ms("photo.jsonl") if n else (0, 0, 0)
print(c, p, round(p / c, 3) if c and p else 0, ok, total)
PY
)
read -r card_ms photo_ms photo_ratio photo_ok photo_total <<<"$photo_cmp"
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
cli=
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
    echo
    echo "== scaling: filot-ocr with 1..$scale_n workers (whole batch, start-up included)"
    for k in $(seq 1 "$scale_n"); do
        wk=$(median <"$work/w$k")
        printf 'filot-ocr, %2s workers                %6.2f cards/s  (%5.2fx 1 worker)\n' "$k" \
            "$(rate "$wk")" "$(echo "$w1_med / $wk" | bc -l)"
    done
    if [ "$e2e_on" -ne 0 ]; then
        echo
        echo "== filot-ocrd end to end (redis-server + PostgreSQL + file:// storage, $(nproc) workers; first enqueue to last row)"
        printf 'filot-ocrd end to end                %6.2f cards/s\n' "$(rate "$e2e_med")"
        printf 'filot-ocrd / filot-ocr 2 workers     %6.2fx\n' "$(echo "$w2_med / $e2e_med" | bc -l)"
        printf 'filot-ocrd / naive as shipped        %6.2fx\n' "$(echo "$shipped / $e2e_med" | bc -l)"
        [ ! -s "$work/recovery" ] ||
            printf 'worker recovery after SIGKILL         %6.0f ms (median of %s kills, to replacement ready)\n' \
                "$(echo "$rec_med * 1000" | bc -l)" "$(wc -l <"$work/recovery")"
        [ ! -s "$work/startup" ] ||
            printf 'start-up to /ready                    %6.0f ms (median of %s starts)\n' \
                "$(echo "$start_med * 1000" | bc -l)" "$(wc -l <"$work/startup")"
        echo "per-stage times (stagesMs of the job-done log lines):"
        python3 -c 'import json, sys
for k, v in json.load(open(sys.argv[1])).items():
    print("  %-11s p50 %9.2f ms   p99 %9.2f ms   (%d jobs)" % (k, v["p50_ms"], v["p99_ms"], v["jobs"]))' \
            "$work/stages.json"
    fi
    if [ "$photo_n" -gt 0 ]; then
        echo
        echo "== photo vs card (filot-ocr 2 workers; per-document processingTimeMs median, last round)"
        printf 'card (%s px wide PNG)                %6s ms\n' "$(identify -format %w "${cards[0]}")" "$card_ms"
        printf '12 MP phone photo (JPEG)             %6s ms  (NIK exact %s/%s)\n' "$photo_ms" "$photo_ok" "$photo_total"
        printf 'photo / card                         %6.2fx  (target <= 1.3)\n' "$photo_ratio"
        printf 'photos whole batch                   %6.2f docs/s\n' "$(echo "$photo_n / $photo_med" | bc -l)"
    fi
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
python3 - "$work/ipc.json" "$results/latest.json" "$work/stages.json" <<PY
import json, sys, time
ipc = json.load(open(sys.argv[1]))
stages = json.load(open(sys.argv[3]))
rate = lambda s: round($cards_n / float(s), 3)
scale = {$(for k in $(seq 1 "$scale_n"); do printf '"%s": rate("%s"), ' "$k" "$(median <"$work/w$k")"; done)}
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
    "scaling": {"filot_ocr_cards_per_s_by_workers": scale},
    "end_to_end": None if not $e2e_on else {
        "workers": $(nproc),
        "filot_ocrd_cards_per_s": rate("$e2e_med"),
        "over_filot_ocr_2_workers": round(float("$w2_med") / float("$e2e_med"), 3),
        "over_naive_shipped": round(float("$shipped") / float("$e2e_med"), 3),
        "worker_recovery_ms_median": round(float("${rec_med:-0}") * 1000, 1),
        "startup_to_ready_ms_median": round(float("${start_med:-0}") * 1000, 1),
        "recovery_kills": $(wc -l <"$work/recovery"),
    },
    "stages": stages,
    "photo_vs_card": None if not $photo_n else {
        "documents": $photo_n,
        "card_ms_median": $card_ms, "photo_ms_median": $photo_ms,
        "photo_over_card": $photo_ratio, "photo_nik_exact": $photo_ok,
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
