#!/usr/bin/env bash
# `make run`: the main job on local defaults.
#
# Starts throwaway redis-server, PostgreSQL and a BULI2 stand-in on loopback
# (data under ./run), applies db/schema.sql, generates sample KTP/NPWP
# documents (one PDF, one unreadable), stores them under a file:// storage
# root, inserts their rows, enqueues them the way the upload API does and
# starts filot-ocrd.  Results are shown as they land.  Ctrl-C stops
# everything this script started, and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
run=$root/run
bin=$root/build/bin
port=${HEALTH_PORT:-8080}
daemon_pid=

cleanup() {
    trap - INT TERM EXIT
    echo
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        echo "run: stopping filot-ocrd (pid $daemon_pid, draining)"
        kill -TERM "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    echo "run: stopping redis-server, PostgreSQL, BULI2 stand-in"
    tests/servers.sh stop "$run/servers" || true
    echo "run: done (data kept in $run; the log is $run/filot-ocrd.log)"
}
trap cleanup INT TERM EXIT

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

echo "run: generating sample documents"
tests/gen-cards.sh --seed 11 --count 3 --type KTP --degrade light "$run/cards/ktp" >/dev/null
tests/gen-cards.sh --seed 12 --count 2 --type NPWP --degrade light "$run/cards/npwp" >/dev/null
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
for f in "$run"/cards/ktp/*.png; do add_doc KTP "$f" png; done
for f in "$run"/cards/npwp/*.png; do add_doc NPWP "$f" png; done
ktp_cards=("$run"/cards/ktp/*.png)
img2pdf "${ktp_cards[0]}" -o "$run/cards/ktp-scan.pdf"
add_doc KTP "$run/cards/ktp-scan.pdf" pdf
convert -size 900x560 xc:'#8a8a8a' +noise Gaussian "$run/cards/unreadable.png"
add_doc KTP "$run/cards/unreadable.png" png

export CF_R2_ENDPOINT="file://$run/storage" HEALTH_PORT=$port OCR_SHM_SIZE=${OCR_SHM_SIZE:-256M}
export OCR_GPU_POLL_INTERVAL=${OCR_GPU_POLL_INTERVAL:-200} OCR_RUNTIME_DIR=$run/sockets
"$bin/filot-ocr" enqueue "${ids[@]}" >"$run/enqueue.log"
echo "run: ${#ids[@]} documents enqueued on $REDIS_URL"
"$bin/filot-ocrd" >"$run/filot-ocrd.log" 2>&1 &
daemon_pid=$!
echo "run: filot-ocrd pid $daemon_pid; health http://127.0.0.1:$port/health, metrics http://127.0.0.1:$port/metrics"
echo "run: results as they land (Ctrl-C to stop):"
printf '%-36s  %-4s  %-9s  %-22s %5s  %-4s  %s\n' document type status outcome score prep "key fields"
shown=""
while kill -0 "$daemon_pid" 2>/dev/null; do
    while IFS='|' read -r id type status outcome score fields err; do
        [ -n "$id" ] || continue
        case " $shown " in *" $id "*) continue ;; esac
        shown="$shown $id"
        prep=$(grep -h "\"documentId\":\"$id\"" "$run/filot-ocrd.log" | grep -o '"preprocess":"[a-z]*"' |
            tail -1 | cut -d'"' -f4)
        printf '%-36s  %-4s  %-9s  %-22s %5s  %-4s  %s\n' "$id" "$type" "$status" "${outcome:--}" \
            "${score:--}" "${prep:--}" "${err:-${fields:-(no fields read)}}"
    done < <(sql "SELECT id, type, status, verification_status, ai_score,
                         concat_ws(' ', 'nik=' || left(result_json->>'nik', 4) || '********'
                                        || right(result_json->>'nik', 4),
                                   'npwp=' || left(result_json->>'npwpNumber', 5) || '...',
                                   'name=' || (result_json->>'name')),
                         result_json->>'error'
                  FROM documents WHERE status IN ('completed', 'failed') ORDER BY processed_at")
    if [ "$(echo "$shown" | wc -w)" -ge "${#ids[@]}" ] && [ -z "${shown_done:-}" ]; then
        shown_done=1
        tickets=$(sql "SELECT count(*) FROM documents WHERE buli2_ticket_id IS NOT NULL")
        echo "run: all ${#ids[@]} documents processed; $tickets escalated to BULI2 so far."
        echo "run: filot-ocrd keeps running (health http://127.0.0.1:$port/health); Ctrl-C stops it."
    fi
    sleep 1
done
echo "run: filot-ocrd exited; see $run/filot-ocrd.log"
