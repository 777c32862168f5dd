#!/usr/bin/env bash
# run.sh - `make eval`: extraction accuracy of filot-ocrd against the
# original's raw Tesseract call on a realistic set of card photos.
#
# Usage: tests/eval/run.sh [--seed N] [--per-band N] [--pdfs N] [--jobs N] [OUTDIR]
#
# 1. tests/eval/gen-photos.py draws the set (default seed 2026: 100 documents
#    in each band vga / card / phone, 2/3 KTP, 1/3 NPWP, plus 12 PDF scans;
#    see its header).  The set is cached under build/eval-cache/, keyed by
#    the generator's hash, its arguments and the PIL/numpy versions, so a
#    rerun does not redraw it.
# 2. (a) the original: `tesseract FILE stdout -l ind+eng --oem 1 --psm 3` per
#    document (OMP_THREAD_LIMIT=1, $jobs at once), its text through the
#    compat parser (`eval-harness compat`, our port of the original's
#    regexes).  Tesseract's text is cached beside the set, keyed by the
#    Tesseract version and its language data.
# 3. (b) filot-ocrd: `build/bin/filot-ocr ocr --type T --workers $jobs` over
#    every document of each type (the real daemon path: supervisor, workers,
#    preprocessing, extraction, decision).
# 4. tests/eval/score.py prints the per-band, per-field table and writes it
#    as JSON to OUTDIR/latest.json (default OUTDIR build/eval).
#
# Exit status: 0 when both sides produced an answer for every document
# (right or wrong), 1 on a harness error (generator, missing tools, the CLI
# answering fewer lines than it was given files), 2 on bad usage.
set -euo pipefail
cd "$(dirname "$0")/../.."

seed=2026
per_band=100
pdfs=12
jobs=$(nproc)
out=build/eval
usage() {
    echo "usage: $0 [--seed N] [--per-band N] [--pdfs N] [--jobs N] [OUTDIR]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
    --seed) seed=${2:?}; shift 2 ;;
    --per-band) per_band=${2:?}; shift 2 ;;
    --pdfs) pdfs=${2:?}; shift 2 ;;
    --jobs) jobs=${2:?}; shift 2 ;;
    -*) usage ;;
    *) out=$1; shift ;;
    esac
done
[[ $seed =~ ^[0-9]+$ && $per_band =~ ^[0-9]+$ && $pdfs =~ ^[0-9]+$ && $jobs =~ ^[1-9][0-9]*$ ]] ||
    usage
export OMP_THREAD_LIMIT=1
# Debian's interpreter: PIL and numpy come from python3-pil / python3-numpy.
py=/usr/bin/python3
"$py" -c 'import numpy, PIL' 2>/dev/null || {
    echo "eval: $py cannot import numpy/PIL (apt-get install python3-numpy python3-pil)" >&2
    exit 1
}
[ -x build/bin/filot-ocr ] || { echo "eval: build/bin/filot-ocr missing (make all)" >&2; exit 1; }
start=$(date +%s)

# The compat parser, linked from the worker library (the Makefile needs only
# `eval: all`).
pkgs="tesseract lept jansson libmicrohttpd libsystemd libcurl libpq hiredis poppler-glib cairo"
# shellcheck disable=SC2046,SC2086
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -I. $(pkg-config --cflags $pkgs) \
    tests/eval/harness.c build/libfilot-worker.a build/libfilot-common.a \
    $(pkg-config --libs $pkgs) -lnng -lpthread -lm -o build/eval-harness

# 1. The set, drawn once per generator version and arguments.
key=$({
    cat tests/eval/gen-photos.py
    echo "$seed $per_band $pdfs"
    "$py" -c 'import numpy, PIL; print(numpy.__version__, PIL.__version__)'
} | sha256sum | cut -c1-16)
set_dir=build/eval-cache/photos-$key
if [ ! -s "$set_dir/manifest.jsonl" ]; then
    rm -rf "$set_dir" "$set_dir.tmp"
    mkdir -p "$set_dir.tmp"
    t0=$(date +%s)
    "$py" tests/eval/gen-photos.py --seed "$seed" --per-band "$per_band" --pdfs "$pdfs" \
        --jobs "$jobs" "$set_dir.tmp"
    mv "$set_dir.tmp" "$set_dir"
    echo "eval: set drawn in $(($(date +%s) - t0)) s" >&2
else
    echo "eval: set cached in $set_dir" >&2
fi
mapfile -t files < <("$py" -c 'import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    print(d["file"] + "\t" + d["type"])' "$set_dir/manifest.jsonl")

# 2. The original's raw call; its text cached per Tesseract version + data.
tkey=$({
    tesseract --version 2>&1 | head -n 1
    for l in ind eng; do
        md5sum "$(tesseract --list-langs 2>&1 | head -n 1 | sed 's/.*"\(.*\)".*/\1/')/$l.traineddata"
    done
} | sha256sum | cut -c1-16)
raw_dir=$set_dir/raw-$tkey
mkdir -p "$raw_dir"
raw_one() { # FILE: text and milliseconds of one raw call, unless cached
    local f=$1 t0 t1
    [ -e "$raw_dir/$f.ms" ] && return 0
    t0=$(date +%s%N)
    tesseract "$set_dir/$f" stdout -l ind+eng --oem 1 --psm 3 >"$raw_dir/$f.txt" 2>/dev/null ||
        : >"$raw_dir/$f.txt" # the original: "Failed to perform OCR" (e.g. a PDF)
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000)) >"$raw_dir/$f.ms"
}
export -f raw_one
export set_dir raw_dir
t0=$(date +%s)
# The single-quoted script is expanded by the inner bash.
# shellcheck disable=SC2016
printf '%s\n' "${files[@]}" | cut -f1 | xargs -P "$jobs" -I{} bash -c 'raw_one "$1"' _ {}
raw_wall=$(($(date +%s) - t0))
echo "eval: (a) raw tesseract calls: ${raw_wall} s" >&2
mkdir -p "$out"
for line in "${files[@]}"; do
    f=${line%%$'\t'*}
    parsed=$(build/eval-harness compat "${line##*$'\t'}" <"$raw_dir/$f.txt")
    printf '{"file":"%s","ms":%d,"parsed":%s}\n' "$f" "$(cat "$raw_dir/$f.ms")" "$parsed"
done >"$out/raw.jsonl"

# 3. filot-ocrd through its CLI, one private instance per document type.
t0=$(date +%s)
: >"$out/ours.jsonl"
for type in KTP NPWP; do
    sub=()
    for line in "${files[@]}"; do
        [ "${line##*$'\t'}" = "$type" ] && sub+=("$set_dir/${line%%$'\t'*}")
    done
    ((${#sub[@]})) || continue
    rc=0
    build/bin/filot-ocr ocr --type "$type" --workers "$jobs" "${sub[@]}" >"$out/ours-$type.jsonl" ||
        rc=$?
    got=$(wc -l <"$out/ours-$type.jsonl")
    if [ "$rc" -gt 1 ] || [ "$got" -ne ${#sub[@]} ]; then
        echo "eval: filot-ocr ocr --type $type exited $rc with $got of ${#sub[@]} results" >&2
        exit 1
    fi
    cat "$out/ours-$type.jsonl" >>"$out/ours.jsonl"
done
ours_wall=$(($(date +%s) - t0))
echo "eval: (b) filot-ocr ocr: ${ours_wall} s" >&2

# 4. The table.
"$py" tests/eval/score.py --raw-wall "$raw_wall" --ours-wall "$ours_wall" --jobs "$jobs" \
    --total-wall $(($(date +%s) - start)) "$set_dir/manifest.jsonl" "$out/raw.jsonl" \
    "$out/ours.jsonl" "$out/latest.json" | tee "$out/report.txt"
