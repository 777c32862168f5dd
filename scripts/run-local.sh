#!/usr/bin/env bash
# `make run`: the main job on local defaults.
#
# Starts throwaway redis-server, PostgreSQL and a BULI2 stand-in on loopback
# (data under RUN_DIR), applies db/schema.sql, generates sample KTP/NPWP
# documents (one PDF, one unreadable), stores them under a file:// storage
# root, inserts their rows, enqueues them the way the upload API does and
# starts filot-ocrd.  Results are shown as they land.
#
# Ctrl-C drains: filot-ocrd gets exactly one stop signal, the jobs in
# flight finish (their results are shown), then everything this script
# started stops, and nothing else; exit 0 after a clean drain.  A second
# Ctrl-C stops filot-ocrd at once.  If filot-ocrd cannot start (e.g.
# HEALTH_PORT taken) its reason is shown and the exit code is 1.
#
# Environment: HEALTH_PORT (8080); RUN_DIR (./run); RUN_DOCS: your own
# documents (space-separated paths, type RUN_DOCS_TYPE, default KTP)
# instead of the generated samples; OCR_* variables pass through.
set -euo pipefail
# shellcheck source=scripts/help.sh
. "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
cd "$(dirname "$0")/.."
root=$PWD
run=${RUN_DIR:-$root/run}
bin=$root/build/bin
port=${HEALTH_PORT:-8080}
daemon_pid=
stopping=0

# Ctrl-C / SIGTERM: one SIGTERM to filot-ocrd (its own session, so the
# terminal's SIGINT never reaches it), then keep showing results while it
# drains.  A second signal is passed on: filot-ocrd then kills at once.
on_stop() {
    stopping=$((stopping + 1))
    [ -n "$daemon_pid" ] || exit 130
    if [ "$stopping" -eq 1 ]; then
        echo
        echo "run: stopping filot-ocrd (pid $daemon_pid): draining the jobs in flight (Ctrl-C again kills them)"
    fi
    kill -TERM "$daemon_pid" 2>/dev/null || true
}

# Stops the servers whatever happened; the daemon is gone by now.
cleanup() {
    trap - EXIT
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    echo "run: stopping redis-server, PostgreSQL, BULI2 stand-in"
    tests/servers.sh stop "$run/servers" >/dev/null || true
    echo "run: done (data kept in $run; the log is $run/filot-ocrd.log)"
}
trap on_stop INT TERM
trap cleanup EXIT

rm -rf "$run"
mkdir -p "$run/storage"
echo "run: starting redis-server, PostgreSQL and the BULI2 stand-in on 127.0.0.1"
tests/servers.sh start "$run/servers" redis postgres buli2
set -a
# shellcheck disable=SC1091
. "$run/servers/env"
set +a
psql -q "$DATABASE_URL" -v ON_ERROR_STOP=1 -f db/schema.sql >/dev/null
sql() { psql -qtA -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }

user=$(sql "INSERT INTO users (email) VALUES ('demo@filot.local') RETURNING id")
ids=()
add_doc() { # type file ext
    local id key
    id=$(sql "SELECT gen_random_uuid()")
    key="$user/${1}_$id.$3"
    mkdir -p "$run/storage/$user"
    cp "$2" "$run/storage/$key"
    sql "INSERT INTO documents (id, user_id, type, file_url, status)
         VALUES ('$id', '$user', '$1', '$key', 'processing')" >/dev/null
    ids+=("$id")
}
if [ -n "${RUN_DOCS:-}" ]; then
    read -r -a docs <<<"$RUN_DOCS"
    for f in "${docs[@]}"; do add_doc "${RUN_DOCS_TYPE:-KTP}" "$f" "${f##*.}"; done
else
    echo "run: generating sample documents"
    tests/gen-cards.sh --seed 11 --count 3 --type KTP --degrade light "$run/cards/ktp" >/dev/null
    tests/gen-cards.sh --seed 12 --count 2 --type NPWP --degrade light "$run/cards/npwp" >/dev/null
    for f in "$run"/cards/ktp/*.png; do add_doc KTP "$f" png; done
    for f in "$run"/cards/npwp/*.png; do add_doc NPWP "$f" png; done
    ktp_cards=("$run"/cards/ktp/*.png)
    img2pdf "${ktp_cards[0]}" -o "$run/cards/ktp-scan.pdf"
    add_doc KTP "$run/cards/ktp-scan.pdf" pdf
    convert -size 900x560 xc:'#8a8a8a' +noise Gaussian "$run/cards/unreadable.png"
    add_doc KTP "$run/cards/unreadable.png" png
fi

export CF_R2_ENDPOINT="file://$run/storage" HEALTH_PORT=$port OCR_SHM_SIZE=${OCR_SHM_SIZE:-256M}
export OCR_GPU_POLL_INTERVAL=${OCR_GPU_POLL_INTERVAL:-200} OCR_RUNTIME_DIR=$run/sockets
"$bin/filot-ocr" enqueue "${ids[@]}" >"$run/enqueue.log"
echo "run: ${#ids[@]} documents enqueued on $REDIS_URL"
setsid "$bin/filot-ocrd" >"$run/filot-ocrd.log" 2>&1 &
daemon_pid=$!
echo "run: filot-ocrd pid $daemon_pid; health http://127.0.0.1:$port/health, metrics http://127.0.0.1:$port/metrics"
echo "run: results as they land (Ctrl-C to stop):"
printf '%-36s  %-4s  %-9s  %-22s %5s  %-4s  %s\n' document type status outcome score prep "key fields"
shown=""
shown_all=0
# Prints the rows that reached a final status since the last call.
show_results() {
    local id type status outcome score fields err prep rows
    rows=$(sql "SELECT id, type, status, verification_status, ai_score,
                       concat_ws(' ', 'nik=' || left(result_json->>'nik', 4) || '********'
                                      || right(result_json->>'nik', 4),
                                 'npwp=' || left(result_json->>'npwpNumber', 5) || '...',
                                 'name=' || (result_json->>'name')),
                       result_json->>'error'
                FROM documents WHERE status IN ('completed', 'failed') ORDER BY processed_at") || return 0
    while IFS='|' read -r id type status outcome score fields err; do
        [ -n "$id" ] || continue
        case " $shown " in *" $id "*) continue ;; esac
        shown="$shown $id"
        prep=$(grep -h "\"documentId\":\"$id\"" "$run/filot-ocrd.log" | grep -o '"preprocess":"[a-z]*"' |
            tail -1 | cut -d'"' -f4) || true
        printf '%-36s  %-4s  %-9s  %-22s %5s  %-4s  %s\n' "$id" "$type" "$status" "${outcome:--}" \
            "${score:--}" "${prep:--}" "${err:-${fields:-(no fields read)}}"
    done <<<"$rows"
    local n
    n=$(echo "$shown" | wc -w)
    if [ "${n:-0}" -ge "${#ids[@]}" ] && [ "$shown_all" -eq 0 ]; then
        shown_all=1
        tickets=$(sql "SELECT count(*) FROM documents WHERE buli2_ticket_id IS NOT NULL") || tickets="?"
        echo "run: all ${#ids[@]} documents processed; $tickets escalated to BULI2 so far."
        [ "$stopping" -gt 0 ] ||
            echo "run: filot-ocrd keeps running (health http://127.0.0.1:$port/health); Ctrl-C stops it."
    fi
}
while kill -0 "$daemon_pid" 2>/dev/null; do
    show_results
    sleep 1 || true
done
code=0
wait "$daemon_pid" || code=$?
show_results
if [ "$stopping" -eq 0 ]; then
    echo "run: filot-ocrd exited on its own (code $code); what it said:" >&2
    jq -r 'select(.level == "error") | "  " + .message
           + (if .error then ": " + .error else "" end)
           + (if .detail then ": " + .detail else "" end)
           + (if .hint then " (" + .hint + ")" else "" end)' "$run/filot-ocrd.log" >&2 || true
    exit 1
fi
echo "run: filot-ocrd drained and exited (code $code)"
[ "$code" -eq 0 ] # the script's exit code: 0 after a clean drain
