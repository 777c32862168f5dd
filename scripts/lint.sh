#!/usr/bin/env bash
# Style and static checks of our own sources.
#   scripts/lint.sh          clang-format conformance (every .c/.h/.cu),
#                            plus a shellcheck run over every script, and cppcheck
#   scripts/lint.sh --full   the same plus clang-tidy (slow: minutes)
# Prints "lint: N passed, M failed" last; exit 1 on any failure.
set -uo pipefail
# shellcheck source=scripts/help.sh
. "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
cd "$(dirname "$0")/.." || exit 2
passed=0
failed=0
check() { # name command...
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok      $name"
    else
        failed=$((failed + 1))
        echo "FAILED  $name"
    fi
}
mapfile -t c_files < <(git ls-files '*.c' '*.h' '*.cu')
mapfile -t sh_files < <(git ls-files '*.sh' .ci/run)
# clang-tidy covers the programs' sources (tests are compiled with -Werror)
tidy_files=()
for f in "${c_files[@]}"; do [[ $f == *.c && $f != tests/* ]] && tidy_files+=("$f"); done

# Lists the files that need formatting (run `make format` to fix them).
format_check() {
    local bad=()
    for f in "${c_files[@]}"; do
        clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
    done
    [ ${#bad[@]} -eq 0 ] || echo "not clang-formatted: ${bad[*]}"
    [ ${#bad[@]} -eq 0 ]
}
check clang-format format_check
check shellcheck shellcheck "${sh_files[@]}"
check cppcheck cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
    --inline-suppr --std=c11 -D_GNU_SOURCE -I. --suppress=missingIncludeSystem \
    common ipc supervisor gpu-server/server.c gpu-server/main.c ocr-workers cli bench
# The README's configuration table is the code's (filot-ocr config).
readme_config() {
    [ -x build/bin/filot-ocr ] || make -s build/bin/filot-ocr || return 1
    # backquotes in the sed script are markdown, not shell
    # shellcheck disable=SC2016
    diff <(build/bin/filot-ocr config | cut -f1,2) \
        <(sed -n 's/^| `\([A-Z0-9_]*\)` | \(`\(.*\)`\|(unset)\) | .*/\1\t\3/p' README.md)
}
check readme-config readme_config
if [ "${1:-}" = "--full" ]; then
    read -r -a pc < <(pkg-config --cflags tesseract lept jansson libmicrohttpd libcurl libpq \
        hiredis poppler-glib cairo uuid check)
    # the version string the Makefile passes; its value does not matter here
    flags=(-std=c11 -D_GNU_SOURCE '-DFILOT_VERSION="lint"' -I. "${pc[@]}")
    check clang-tidy clang-tidy --quiet "${tidy_files[@]}" -- "${flags[@]}" # checks: .clang-tidy
fi
echo "lint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
