#!/usr/bin/env bash
# The chaos soak's short variant inside `make test`: 150 documents, the
# chaos phase only (no clean baseline), ending with the suite line
# "chaos: N passed, M failed" that tests/run.sh reads.
exec "$(dirname "$0")/run.sh" --docs 150 --cards 12 --no-clean --suite "$@"
