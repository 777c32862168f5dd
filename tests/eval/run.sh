#!/usr/bin/env bash
# run.sh - `make eval`: extraction accuracy of filot-ocrd against the
# original's raw Tesseract call, side by side on the same degraded cards.
#
# Usage: tests/eval/run.sh [--count N] [--seed N] [--cli] [OUTDIR]
#
# 1. tests/gen-cards.sh renders a fixed seed set (default 120 cards, seed 2024,
#    KTP and NPWP, half of the NPWPs in the 16-digit form) as phone photos
#    (--degrade photo --layout columns); ground truth JSON beside each image.
# 2. (a) the original: `OMP_THREAD_LIMIT=1 tesseract IMG stdout -l ind+eng
#    --oem 1 --psm 3` per card, its text through the compat parser
#    (doc_parse, `eval-harness compat`).
# 3. (b) filot-ocrd: decode -> CPU preprocessing (OCR_PREPROCESS=auto) ->
#    one reused engine -> extract_document(), via build/eval-harness (the
#    worker pipeline's functions); with --cli through
#    `build/bin/filot-ocr ocr --workers 2` instead (needs pipeline.c to call
#    extract_document()).  A second harness pass with OCR_PREPROCESS=none
#    gives the recognition time without preprocessing.
# 4. tests/eval/score.py prints per-field exact-match rates and timings.
#
# Two processes run at a time (nproc capped at 2); 120 cards take about
# 3-4 minutes on 2 cores.  Same seed, same bash/ImageMagick/Tesseract ->
# same images and numbers.
set -euo pipefail
# shellcheck source=scripts/help.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/help.sh" "$@"
cd "$(dirname "$0")/../.."

count=120
seed=2024
cli=0
out=build/eval
while [ $# -gt 0 ]; do
    case $1 in
    --count) count=${2:?}; shift 2 ;;
    --seed) seed=${2:?}; shift 2 ;;
    --cli) cli=1; shift ;;
    -*) echo "usage: $0 [--count N] [--seed N] [--cli] [OUTDIR]" >&2; exit 2 ;;
    *) out=$1; shift ;;
    esac
done
jobs=2
export OMP_THREAD_LIMIT=1

# The harness links the worker library; built here so the Makefile needs
# only `eval: all`.
pkgs="tesseract lept jansson libmicrohttpd libsystemd libcurl libpq hiredis poppler-glib cairo"
# shellcheck disable=SC2046,SC2086
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -I. $(pkg-config --cflags $pkgs) \
    tests/eval/harness.c build/libfilot-worker.a build/libfilot-common.a \
    $(pkg-config --libs $pkgs) -lnng -lpthread -lm -o build/eval-harness

cards=$out/cards
rm -rf "$cards"
mkdir -p "$cards"
echo "eval: rendering $count cards (seed $seed) into $cards" >&2
tests/gen-cards.sh --seed "$seed" --count "$count" --type mixed --degrade photo \
    --layout columns --npwp15 50 --jobs "$jobs" "$cards" >/dev/null

# (a) the original's raw call, one process per card as node-tesseract-ocr did.
echo "eval: (a) raw tesseract call + compat parser" >&2
raw_one() {
    local name=$1 type=$2 t0 t1 text parsed
    t0=$(date +%s%N)
    text=$(tesseract "$cards/$name" stdout -l ind+eng --oem 1 --psm 3 2>/dev/null || true)
    t1=$(date +%s%N)
    parsed=$(printf '%s' "$text" | build/eval-harness compat "$type")
    printf '{"file":"%s","ms":%d,"parsed":%s}\n' "$name" $(((t1 - t0) / 1000000)) "$parsed"
}
export -f raw_one
export cards
: >"$out/raw.jsonl"
# The single-quoted script below is expanded by the inner bash, not here.
# shellcheck disable=SC2016
while IFS=$'\t' read -r name type; do
    printf '%s\0%s\0' "$name" "$type"
done <"$cards/manifest.tsv" |
    xargs -0 -n2 -P"$jobs" bash -c 'raw_one "$1" "$2" >"$cards/$1.raw"' _
for f in "$cards"/*.raw; do cat "$f"; done >"$out/raw.jsonl"
rm -f "$cards"/*.raw

# (b) filot-ocrd, split over $jobs processes like two workers.
harness_pass() { # STEPS OUTFILE
    local i pids=()
    split -n "r/$jobs" -d "$cards/manifest.tsv" "$out/part."
    for i in $(seq 0 $((jobs - 1))); do
        build/eval-harness ocr "$1" "$cards" <"$out/part.0$i" >"$out/part.0$i.out" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || true; done
    cat "$out"/part.0*.out >"$2"
    rm -f "$out"/part.0*
}
echo "eval: (b) filot-ocrd" >&2
if ((cli)); then
    : >"$out/ours.jsonl"
    for type in KTP NPWP; do
        mapfile -t sub < <(awk -F'\t' -v t="$type" -v d="$cards" '$2 == t { print d "/" $1 }' \
            "$cards/manifest.tsv")
        ((${#sub[@]})) || continue
        build/bin/filot-ocr ocr --type "$type" --workers "$jobs" "${sub[@]}" |
            paste -d'\t' <(printf '%s\n' "${sub[@]}") - |
            python3 -c '
import json, sys
for line in sys.stdin:
    f, r = line.rstrip("\n").split("\t", 1)
    r = json.loads(r)
    pre = r.get("preprocessMs", 0) * 1000
    print(json.dumps({"file": f, "parsed": r.get("parsedResult", {}), "preUs": pre,
                      "ocrUs": r.get("processingTimeMs", 0) * 1000 - pre, "extractUs": 0}))
' >>"$out/ours.jsonl"
    done
else
    harness_pass auto "$out/ours.jsonl"
fi
echo "eval: (b') recognition without preprocessing (timing)" >&2
harness_pass none "$out/nopre.jsonl"

python3 tests/eval/score.py "$cards" "$out/raw.jsonl" "$out/ours.jsonl" "$out/nopre.jsonl" |
    tee "$out/report.txt"
