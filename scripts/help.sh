#!/usr/bin/env bash
# help.sh - `-h` / `--help` for every script, answered from the script's own
# header comment, before the script does anything else.
#
# Usage, first thing in a script (after `set`):
#   . "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
# With -h or --help as the first argument it prints the calling script's
# header (the comment lines after the #! line) and exits 0; otherwise it
# does nothing.
help_script=${BASH_SOURCE[1]:-$0}
case "${1:-}" in
-h | --help)
    sed -n '2,${/^#/!q;s/^# \{0,1\}//;p}' "$help_script"
    exit 0
    ;;
esac
unset help_script
