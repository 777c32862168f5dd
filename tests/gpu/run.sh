#!/usr/bin/env bash
# run.sh - `make test-gpu`: CPU twin vs CUDA parity on card and page images.
#
# Builds tests/gpu/parity with nvcc + gcc into build/gpu-parity/ (only this
# module's sources, so it does not depend on the rest of the tree building),
# renders a few cards (tests/gen-cards.sh) and an A4 page with ImageMagick as
# PPM, and runs the comparison.  On a machine without nvcc or ImageMagick it
# reuses a binary and images already in build/gpu-parity/.
#
# Exit: 0 pass, 1 mismatch or build failure, 77 skipped (no CUDA toolkit or
# device).
set -euo pipefail
# shellcheck source=scripts/help.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/help.sh" "$@"
cd "$(dirname "$0")/../.."

out=build/gpu-parity
cuda=${CUDA_HOME:-/usr/local/cuda}
nvcc=$cuda/bin/nvcc
mkdir -p "$out/cards"

if [ -x "$nvcc" ]; then
    cflags=(-std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -I.)
    "$nvcc" -O2 -std=c++17 -I. -Xcompiler -Wall,-Wextra,-Werror \
        -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
        -gencode arch=compute_90,code=compute_90 \
        -c gpu-server/preproc_cuda.cu -o "$out/preproc_cuda.o"
    for src in common/preproc_cpu.c common/clock.c common/status.c tests/gpu/parity.c; do
        cc "${cflags[@]}" -c "$src" -o "$out/$(basename "$src" .c).o"
    done
    cc -o "$out/parity" "$out/parity.o" "$out/preproc_cuda.o" "$out/preproc_cpu.o" \
        "$out/clock.o" "$out/status.o" -L"$cuda/lib64" -lcudart_static -ldl -lrt -lstdc++ \
        -lpthread -lm
elif [ ! -x "$out/parity" ]; then
    echo "SKIP: no nvcc at $nvcc and no prebuilt $out/parity"
    exit 77
fi

if command -v convert >/dev/null; then
    tests/gen-cards.sh --seed 7 --count 3 --type mixed --degrade light "$out/cards" >/dev/null
    for png in "$out"/cards/*.png; do
        convert "$png" -depth 8 "${png%.png}.ppm"
    done
    # A4 page at 300 dpi, grey, slightly rotated, uneven light.
    convert -size 2480x3508 gradient:'#f4f4f4-#b0b0b0' -fill black -font DejaVu-Sans \
        -pointsize 40 -annotate +200+400 'PERJANJIAN KERJA SAMA 3171234567890001' \
        -annotate +200+520 'Pasal 1 Ruang lingkup pekerjaan dan jangka waktu' \
        -annotate +200+640 'Pihak pertama dan pihak kedua sepakat sebagai berikut' \
        -background white -rotate 1.5 -depth 8 "$out/cards/a4.pgm"
fi

shopt -s nullglob
images=("$out"/cards/*.ppm "$out"/cards/*.pgm)
set +e
"$out/parity" "${images[@]}"
rc=$?
set -e
exit $rc
