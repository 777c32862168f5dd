#!/usr/bin/env bash
# One prepared run on a machine with a CUDA device: kernel parity (make
# test-gpu), then, when the runtime libraries are present, the real GPU
# server preprocessing filot-ocr jobs, and a kill of the GPU server mid-run.
# Cards come from build/devcards (generated beforehand by tests/gen-cards.sh);
# card photos (a card on a table, e.g. the phone band of the eval set) from
# build/devphotos when present: with them the GPU server runs the card warp
# (area pre-shrink + projective map) on real requests, and its OCR text must
# equal the CPU twin's.
# Where the runtime libraries are not installed, LD_LIBRARY_PATH and
# TESSDATA_PREFIX may point at copies carried along.
set -uo pipefail
# shellcheck source=scripts/help.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/help.sh" "$@"
cd "$(dirname "$0")/../.." || exit 1
out=${OUT:-/tmp}
echo "== device"
nvidia-smi -L 2>&1 | head -3
if [ -z "${SKIP_PARITY:-}" ]; then
    echo "== make test-gpu (parity)"
    tests/gpu/run.sh 2>&1 | tail -45
    echo "parity rc=${PIPESTATUS[0]}"
fi
echo "== runtime libraries"
missing=$(ldd build/bin/filot-ocr-worker build/bin/filot-gpu-server 2>&1 | grep -c "not found")
ldd build/bin/filot-ocr-worker build/bin/filot-gpu-server 2>&1 | grep "not found" | sort -u | head
tessdata=${TESSDATA_PREFIX:-/usr/share/tesseract-ocr/5/tessdata}
if [ "$missing" -ne 0 ] || [ ! -f "$tessdata/ind.traineddata" ]; then
    echo "SKIP pipeline: runtime libraries or tessdata missing on this machine"
    exit 0
fi
cards=(build/devcards/*.png)
export OCR_SHM_SIZE=256M OCR_GPU_ENABLED=true
echo "== filot-ocr with the CUDA GPU server (2 workers, ${#cards[@]} cards)"
t0=$(date +%s.%N)
build/bin/filot-ocr ocr --type KTP --workers 2 --log "$out/gpu-run.log" "${cards[@]}" >"$out/gpu.jsonl"
echo "rc=$? wall=$(python3 -c "import sys; print(round($(date +%s.%N) - $t0, 2))")"
echo "preprocess=gpu: $(grep -c '"preprocess":"gpu"' "$out/gpu.jsonl")/${#cards[@]}"
grep -o '"nik":"[0-9]*"' "$out/gpu.jsonl" | head -3
grep -h '"GPU server ready"' "$out/gpu-run.log" | head -2
echo "== CPU twin only, same cards"
t0=$(date +%s.%N)
OCR_GPU_ENABLED=false build/bin/filot-ocr ocr --type KTP --workers 2 "${cards[@]}" >"$out/cpu.jsonl"
echo "rc=$? wall=$(python3 -c "import sys; print(round($(date +%s.%N) - $t0, 2))")"
python3 - "$out" <<'PY' || true
import json, sys
o = sys.argv[1]
g = [json.loads(l) for l in open(o + "/gpu.jsonl")]
c = [json.loads(l) for l in open(o + "/cpu.jsonl")]
same = sum(a.get("ocrText") == b.get("ocrText") for a, b in zip(g, c))
print(f"identical OCR text gpu vs cpu: {same}/{len(g)}")
PY
shopt -s nullglob
photos=(build/devphotos/*.jpg)
if [ ${#photos[@]} -gt 0 ]; then
    echo "== card photos: warp on the GPU vs the CPU twin (${#photos[@]} photos)"
    build/bin/filot-ocr ocr --type KTP --workers 2 "${photos[@]}" >"$out/gpu-photos.jsonl"
    OCR_GPU_ENABLED=false build/bin/filot-ocr ocr --type KTP --workers 2 "${photos[@]}" \
        >"$out/cpu-photos.jsonl"
    echo "preprocess=gpu: $(grep -c '"preprocess":"gpu"' "$out/gpu-photos.jsonl")/${#photos[@]}"
    python3 - "$out" <<'PY' || true
import json, sys
o = sys.argv[1]
g = [json.loads(l) for l in open(o + "/gpu-photos.jsonl")]
c = [json.loads(l) for l in open(o + "/cpu-photos.jsonl")]
same = sum(a.get("ocrText") == b.get("ocrText") for a, b in zip(g, c))
print(f"identical OCR text gpu vs cpu (photos): {same}/{len(g)}")
PY
fi
echo "== kill the GPU server mid-run (restart delayed 60 s)"
OCR_RESTART_BACKOFF_MIN_MS=60000 OCR_RESTART_BACKOFF_MAX_MS=60000 build/bin/filot-ocr ocr \
    --type KTP --workers 1 --health-port 18181 "${cards[@]}" >"$out/kill.jsonl" &
cli=$!
for _ in $(seq 1 100); do
    grep -q . "$out/kill.jsonl" 2>/dev/null && break
    sleep 0.1
done
pkill -9 -x filot-gpu-serve && echo "gpu server killed after first result"
wait "$cli"
echo "rc=$? results=$(grep -c . "$out/kill.jsonl") gpu=$(grep -c '"preprocess":"gpu"' "$out/kill.jsonl") cpu=$(grep -c '"preprocess":"cpu"' "$out/kill.jsonl") ok=$(grep -c '"success":true' "$out/kill.jsonl")"
