#!/usr/bin/env bash
# tests/cli/run.sh - the operator surface, with real processes and servers:
# filot-ocr (every subcommand: ocr, enqueue, status, requeue, check,
# config), --version of the four programs, --help of every script, and
# `make run` (scripts/run-local.sh): Ctrl-C drains a slow document in
# flight and exits 0; a taken HEALTH_PORT is shown and leaves no segment.
#
# Real redis-server, PostgreSQL and the BULI2 stand-in come from
# tests/servers.sh (free ports).  Every program runs under `timeout`, so a
# hang fails its check instead of the suite.  Prints "ok NAME" /
# "FAILED NAME" (with the check's output), then "cli: N passed, M failed".
#
# Usage: tests/cli/run.sh [NAME-PATTERN]   (e.g. 'ocr-*'; default all)
set -euo pipefail
# shellcheck source=scripts/help.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/help.sh" "$@"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
PATTERN=${1:-*}
BIN=$ROOT/build/bin
VERSION=$(sed -n 's/^## \[\([0-9][0-9.]*\)\].*/\1/p' CHANGELOG.md | head -n 1)
T=$(mktemp -d "${TMPDIR:-/tmp}/filot-cli.XXXXXX")
chmod 0755 "$T" # PostgreSQL runs as the postgres user below it
SERVERS=$T/servers
passed=0
failed=0
failed_names=()

cleanup() {
    [ ! -f "$SERVERS/env" ] || tests/servers.sh stop "$SERVERS" >/dev/null 2>&1 || true
    rm -rf "$T"
}
trap cleanup EXIT

# check NAME FUNCTION: runs FUNCTION in a subshell with errexit.
check() {
    local name=$1 rc=0 t0=$SECONDS
    shift
    # shellcheck disable=SC2053  # PATTERN is a glob on purpose
    [[ $name == $PATTERN ]] || return 0
    ("$@") >"$T/check.out" 2>&1 &
    wait $! || rc=$?
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok      $name ($((SECONDS - t0)) s)"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        echo "FAILED  $name (rc=$rc, $((SECONDS - t0)) s)"
        sed 's/^/    /' "$T/check.out" | tail -40
    fi
}

fail() {
    echo "$*" >&2
    exit 1
}

# expect_rc WANT GOT WHAT
expect_rc() {
    [ "$2" -eq "$1" ] || fail "$3: exit code $2, expected $1"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# The servers and the environment the pipeline checks share.
servers_env() {
    set -a
    # shellcheck disable=SC1091
    . "$SERVERS/env"
    set +a
    export CF_R2_ENDPOINT="file://$T/storage"
}
sql() { psql -qtA -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }

# ---- fixtures -------------------------------------------------------------
mkdir -p "$T/storage" "$T/cards"
tests/gen-cards.sh --seed 5 --count 1 --type KTP --degrade light "$T/cards" >/dev/null
CARD=$(ls "$T"/cards/*.png)
img2pdf "$CARD" "$CARD" "$CARD" "$CARD" "$CARD" -o "$T/slow.pdf" # five pages: seconds of OCR

# ---- --version and --help ---------------------------------------------------
version_all() {
    local p out
    for p in filot-ocrd filot-gpu-server filot-ocr-worker filot-ocr; do
        out=$(timeout 10 "$BIN/$p" --version)
        [ "$out" = "$p $VERSION" ] || fail "$p --version said \"$out\", expected \"$p $VERSION\""
    done
}
check version-all version_all

cli_help() {
    local c rc
    for c in ocr enqueue status requeue check config; do
        rc=0
        timeout 10 "$BIN/filot-ocr" "$c" --help >"$T/help.out" 2>"$T/help.err" || rc=$?
        expect_rc 0 "$rc" "filot-ocr $c --help"
        grep -q '^usage: filot-ocr' "$T/help.out" || fail "filot-ocr $c --help: no usage on stdout"
        [ ! -s "$T/help.err" ] || fail "filot-ocr $c --help wrote to stderr: $(cat "$T/help.err")"
    done
}
check cli-help cli_help

# Every script answers --help with its usage and exit 0, touching nothing:
# tools with side effects are tripwires on PATH and no file may change.
scripts_help() {
    local stub=$T/tripwire f rc
    mkdir -p "$stub"
    for f in apt-get apt dpkg npm docker aws make tesseract redis-server redis-cli psql \
        runuser moto_server convert img2pdf clang-format shellcheck cppcheck clang-tidy nvcc \
        setsid curl gen-cards.sh; do
        printf '#!/bin/sh\necho "%s $*" >>"%s/tripped"\nexit 1\n' "$f" "$T" >"$stub/$f"
        chmod +x "$stub/$f"
    done
    touch "$T/marker"
    sleep 1 # mtime resolution
    for f in scripts/*.sh tests/run.sh tests/servers.sh tests/gen-cards.sh tests/infra/run.sh \
        tests/cli/run.sh tests/eval/run.sh tests/eval/gen-ocra-templates.sh tests/gpu/run.sh \
        tests/gpu/device-check.sh; do
        [ -f "$f" ] || continue
        rc=0
        PATH=$stub:$PATH timeout 20 bash "$f" --help >"$T/help.out" 2>&1 || rc=$?
        expect_rc 0 "$rc" "$f --help"
        [ -s "$T/help.out" ] || fail "$f --help printed nothing"
        [ ! -f "$T/tripped" ] || fail "$f --help ran: $(cat "$T/tripped")"
    done
    changed=$(find . -path ./.git -prune -o -newer "$T/marker" -print | grep -v '^\.$' || true)
    [ -z "$changed" ] || fail "--help changed files: $changed"
}
check scripts-help scripts_help

# ---- configuration ----------------------------------------------------------
config_bad() {
    local rc=0
    OCR_GPU_CONCURRENCY=abc timeout 10 "$BIN/filot-ocr" config >"$T/c.out" 2>"$T/c.err" || rc=$?
    expect_rc 2 "$rc" "OCR_GPU_CONCURRENCY=abc filot-ocr config"
    grep -q '^filot-ocr: OCR_GPU_CONCURRENCY must be an integer' "$T/c.err" || fail "no reason: $(cat "$T/c.err")"
    [ ! -s "$T/c.out" ] || fail "stdout not empty"
}
check config-bad config_bad

# check names every bad variable at once and never shows a secret.
check_all_errors() {
    local rc=0
    env -u DATABASE_URL -u CF_R2_ENDPOINT OCR_GPU_CONCURRENCY=abc OCR_SHM_SIZE=1T \
        REDIS_URL=redis://ops:hunter2-url@127.0.0.1:1 BULI2_API_KEY=hunter2-key \
        CF_R2_SECRET_ACCESS_KEY=hunter2-r2 \
        timeout 10 "$BIN/filot-ocr" check >"$T/c.out" 2>"$T/c.err" || rc=$?
    expect_rc 2 "$rc" "filot-ocr check"
    for v in OCR_GPU_CONCURRENCY OCR_SHM_SIZE DATABASE_URL CF_R2_ENDPOINT; do
        grep -q "^filot-ocr: $v " "$T/c.err" || fail "$v not reported: $(cat "$T/c.err")"
    done
    grep -q '^filot-ocr: 4 bad settings' "$T/c.err" || fail "no summary: $(cat "$T/c.err")"
    ! grep -q hunter2 "$T/c.out" "$T/c.err" || fail "a secret was shown: $(grep hunter2 "$T/c.out")"
    grep -q 'REDIS_URL *redis://ops:\*\*\*\*\*\*\*\*@127.0.0.1:1' "$T/c.out" || fail "REDIS_URL not masked"
    grep -q 'BULI2_API_KEY *\*\*\*\*\*\*\*\*' "$T/c.out" || fail "BULI2_API_KEY not masked"
}
check check-all-errors check_all_errors

ocrd_all_errors() {
    local rc=0
    OCR_GPU_CONCURRENCY=abc HEALTH_PORT=x OCR_JOB_SOURCE=ipc:///nonexistent \
        timeout 10 "$BIN/filot-ocrd" >"$T/d.out" 2>&1 || rc=$?
    expect_rc 2 "$rc" "filot-ocrd with two bad variables"
    [ "$(grep -c '"message":"Invalid configuration"' "$T/d.out")" -eq 2 ] ||
        fail "expected two Invalid configuration lines: $(cat "$T/d.out")"
    grep -q OCR_GPU_CONCURRENCY "$T/d.out" && grep -q HEALTH_PORT "$T/d.out"
}
check ocrd-all-errors ocrd_all_errors

# ---- against real servers ---------------------------------------------------
tests/servers.sh start "$SERVERS" redis postgres buli2 >/dev/null
(servers_env && psql -q "$DATABASE_URL" -v ON_ERROR_STOP=1 -f db/schema.sql >/dev/null)

check_connect() {
    servers_env
    local rc=0
    timeout 60 "$BIN/filot-ocr" check --connect >"$T/c.out" 2>"$T/c.err" || rc=$?
    expect_rc 0 "$rc" "check --connect: $(cat "$T/c.out" "$T/c.err")"
    for s in Redis PostgreSQL R2 BULI2; do
        grep -q "^$s *OK" "$T/c.out" || fail "$s not OK: $(cat "$T/c.out")"
    done
    rc=0
    REDIS_URL=redis://127.0.0.1:1 DATABASE_URL=postgresql://postgres@127.0.0.1:1/x \
        CF_R2_ENDPOINT=file:///nonexistent BULI2_API_URL=http://127.0.0.1:1 \
        timeout 60 "$BIN/filot-ocr" check --connect >"$T/c.out" 2>"$T/c.err" || rc=$?
    expect_rc 1 "$rc" "check --connect against dead services"
    for s in Redis PostgreSQL R2 BULI2; do
        grep -q "^$s *FAIL" "$T/c.out" || fail "$s not FAIL: $(cat "$T/c.out")"
    done
    grep -q 'Connection refused' "$T/c.out" || fail "no reason: $(cat "$T/c.out")"
}
check check-connect check_connect

# redis://user:pass@ is an ACL user (AUTH user pass); redis://:pass@ the default user.
redis_acl() {
    servers_env
    local rc=0 r="redis-cli -p $REDIS_PORT"
    $r ACL SETUSER ocr on '>acl-pw' '~*' '&*' '+@all' >/dev/null
    REDIS_URL=redis://ocr:acl-pw@127.0.0.1:$REDIS_PORT timeout 30 "$BIN/filot-ocr" check --connect \
        >"$T/c.out" 2>&1 || true
    grep -q '^Redis *OK' "$T/c.out" || fail "ACL user refused: $(grep Redis "$T/c.out")"
    REDIS_URL=redis://ocr:wrong@127.0.0.1:$REDIS_PORT timeout 30 "$BIN/filot-ocr" check --connect \
        >"$T/c.out" 2>&1 || rc=$?
    grep -q '^Redis *FAIL.*WRONGPASS' "$T/c.out" || fail "wrong password not refused: $(grep Redis "$T/c.out")"
    $r CONFIG SET requirepass default-pw >/dev/null
    REDIS_URL=redis://:default-pw@127.0.0.1:$REDIS_PORT timeout 30 "$BIN/filot-ocr" check --connect \
        >"$T/c.out" 2>&1 || true
    $r -a default-pw --no-auth-warning CONFIG SET requirepass "" >/dev/null
    grep -q '^Redis *OK' "$T/c.out" || fail "default-user password refused: $(grep Redis "$T/c.out")"
    $r ACL DELUSER ocr >/dev/null
}
check redis-acl redis_acl

# enqueue: results on stdout, nothing else; --help is help, not an id.
enqueue_stdout() {
    servers_env
    local id=11111111-2222-3333-4444-555555555555 out
    out=$(timeout 10 "$BIN/filot-ocr" enqueue "$id" "$id")
    [ "$out" = "$(printf '%s\tenqueued\n%s\talready queued or processing' "$id" "$id")" ] ||
        fail "enqueue stdout: $out"
    redis-cli -p "$REDIS_PORT" DEL filot:ocr:gpu:queue filot:ocr:gpu:attempts filot:ocr:gpu:correlation >/dev/null
}
check enqueue-stdout enqueue_stdout

# status shows what the queue and the table hold; requeue resets and enqueues.
status_requeue() {
    servers_env
    local r="redis-cli -p $REDIS_PORT" u failed complete up rc js
    u=$(sql "INSERT INTO users (email) VALUES ('status@test') RETURNING id")
    failed=$(sql "INSERT INTO documents (user_id, type, file_url, status, result_json) VALUES
        ('$u', 'KTP', 'k', 'failed', '{\"error\":\"Failed to perform OCR\",\"failedAt\":\"2026-12-01T10:00:00.000Z\"}')
        RETURNING id")
    complete=$(sql "INSERT INTO documents (user_id, type, file_url, status) VALUES ('$u', 'NPWP', 'k', 'completed') RETURNING id")
    up=$(sql "INSERT INTO documents (user_id, type, file_url, status) VALUES ('$u', 'KTP', 'k', 'uploaded') RETURNING id")
    $r SADD filot:ocr:gpu:processing stuck-doc live-doc >/dev/null
    $r HSET filot:ocr:gpu:owners stuck-doc 'gone-host-1-0#0' live-doc 'live-host-2-0#1' >/dev/null
    $r HSET filot:ocr:gpu:processing:timestamps stuck-doc 1000 live-doc "$(($(date +%s) * 1000))" >/dev/null
    $r SET filot:ocr:gpu:instance:live-host-2-0 1 EX 60 >/dev/null
    $r SET filot:ocr:gpu:lock:live-doc c EX 60 >/dev/null
    $r ZADD filot:ocr:gpu:delayed "$((($(date +%s) + 60) * 1000))" later-doc >/dev/null
    $r HSET filot:ocr:gpu:buli2:outbox esc-doc '{}' >/dev/null
    $r RPUSH filot:ocr:gpu:queue q1 q2 q3 >/dev/null
    js=$(timeout 20 "$BIN/filot-ocr" status --json)
    jq -e '.queued == 3 and .claimed == 2 and .stuck == 1 and .delayedRetries.count == 1
           and .buli2Outbox == 1 and .failed.total == 1
           and .failed.recent[0].error == "Failed to perform OCR"
           and ([.claimedJobs[] | select(.stuck) | .documentId] == ["stuck-doc"])
           and ([.claimedJobs[] | select(.documentId == "live-doc") | .owner] == ["live-host-2-0#1"])' \
        <<<"$js" >/dev/null || fail "status --json: $js"
    timeout 20 "$BIN/filot-ocr" status >"$T/s.out"
    grep -q 'stuck-doc.*STUCK' "$T/s.out" || fail "status text: $(cat "$T/s.out")"
    grep -q "$failed.*Failed to perform OCR" "$T/s.out" || fail "status text: $(cat "$T/s.out")"
    rc=0
    timeout 20 "$BIN/filot-ocr" requeue "$failed" "$complete" "$up" >"$T/r.out" 2>"$T/r.err" || rc=$?
    expect_rc 1 "$rc" "requeue with a completed and an uploaded id"
    grep -q "^$failed	failed -> processing, enqueued" "$T/r.out" || fail "requeue said: $(cat "$T/r.out")"
    grep -q "^filot-ocr: requeue $complete: refused: status is completed" "$T/r.err" || fail "$(cat "$T/r.err")"
    grep -q "^filot-ocr: requeue $up: refused: status is uploaded" "$T/r.err" || fail "$(cat "$T/r.err")"
    [ "$(sql "SELECT status FROM documents WHERE id = '$failed'")" = processing ] || fail "row not reset"
    [ "$(sql "SELECT status FROM documents WHERE id = '$complete'")" = completed ] || fail "completed row touched"
    [ "$($r LPOS filot:ocr:gpu:queue "$failed")" = 3 ] || fail "failed id not at the queue's tail"
    [ "$($r HGET filot:ocr:gpu:attempts "$failed")" = 0 ] || fail "attempts not reset"
    timeout 20 "$BIN/filot-ocr" requeue --force "$up" >"$T/r.out"
    grep -q "^$up	uploaded -> processing, enqueued" "$T/r.out" || fail "requeue --force said: $(cat "$T/r.out")"
    $r FLUSHALL >/dev/null
}
check status-requeue status_requeue

# Found 8: a failed fetch names the document, its correlation id and key,
# in file wording for file://; an escalation line carries the correlation id.
daemon_logs() {
    servers_env
    local u id esc corr pid port rc=0
    u=$(sql "INSERT INTO users (email) VALUES ('logs@test') RETURNING id")
    id=$(sql "INSERT INTO documents (user_id, type, file_url, status)
              VALUES ('$u', 'KTP', '$u/KTP_missing.png', 'processing') RETURNING id")
    esc=$(sql "INSERT INTO documents (user_id, type, file_url, status, verification_status, ai_score)
               VALUES ('$u', 'KTP', 'k', 'completed', 'pending_manual_review', 60) RETURNING id")
    redis-cli -p "$REDIS_PORT" HSET filot:ocr:gpu:buli2:outbox "$esc" \
        "{\"body\":{\"documentId\":\"$esc\"},\"attempts\":0,\"correlationId\":\"corr-esc-1\"}" >/dev/null
    redis-cli -p "$REDIS_PORT" ZADD filot:ocr:gpu:buli2:due 0 "$esc" >/dev/null
    timeout 10 "$BIN/filot-ocr" enqueue "$id" >/dev/null
    corr=$(redis-cli -p "$REDIS_PORT" HGET filot:ocr:gpu:correlation "$id")
    port=$(free_port)
    HEALTH_PORT=$port OCR_GPU_CONCURRENCY=1 OCR_SHM_SIZE=64M OCR_GPU_POLL_INTERVAL=100 \
        OCR_RUNTIME_DIR=$T/logs-sockets "$BIN/filot-ocrd" >"$T/daemon.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
        grep -q '"Document file read failed"' "$T/daemon.log" &&
            grep -q '"Document escalated to BULI2' "$T/daemon.log" && break
        sleep 0.2
    done
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    expect_rc 0 "$rc" "filot-ocrd after SIGTERM"
    jq -e -s --arg id "$id" --arg corr "$corr" --arg key "$u/KTP_missing.png" \
        'map(select(.message == "Document file read failed")) | length == 1 and .[0].documentId == $id
         and .[0].correlationId == $corr and .[0].key == $key
         and .[0].reason == "The specified key does not exist."' "$T/daemon.log" >/dev/null ||
        fail "fetch failure line: $(grep -i 'fetch\|read failed' "$T/daemon.log")"
    ! grep -q '"Object fetch failed"' "$T/daemon.log" || fail "S3 wording for a file:// root"
    jq -e -s --arg id "$esc" 'map(select((.message // "") | startswith("Document escalated to BULI2")))
        | length == 1 and .[0].documentId == $id and .[0].correlationId == "corr-esc-1"' \
        "$T/daemon.log" >/dev/null || fail "escalation line: $(grep -i buli2 "$T/daemon.log")"
    redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
}
check daemon-logs daemon_logs

# ---- filot-ocr ocr ----------------------------------------------------------
# Issue 9 item 4: a name that is not UTF-8 got no line and hung the run.
ocr_names() {
    local bad rc=0
    bad=$T/$'card\xff\xfe.png'
    cp "$CARD" "$bad"
    printf 'not an image\n' >"$T/junk.txt"
    (cd "$T" && OCR_SHM_SIZE=64M timeout 180 "$BIN/filot-ocr" ocr --type ktp --workers 1 \
        "$bad" missing.png junk.txt >"$T/o.out" 2>"$T/o.err") || rc=$?
    [ "$rc" -ne 124 ] || fail "filot-ocr ocr hung (killed by timeout after 180 s)"
    expect_rc 1 "$rc" "ocr with a missing and a junk file"
    [ "$(wc -l <"$T/o.out")" -eq 3 ] || fail "expected 3 result lines: $(cat "$T/o.out")"
    jq -e -s --arg bad "$T/card\\xFF\\xFE.png" '.[0].file == $bad and .[0].success == true
        and .[0].parsedResult.nik != null and .[1].file == "missing.png" and .[1].success == false
        and (.[1].error | test("No such file")) and .[2].file == "junk.txt" and .[2].success == false' \
        "$T/o.out" >/dev/null || fail "results: $(cat "$T/o.out")"
    grep -q '^filot-ocr: cannot open missing.png: No such file or directory$' "$T/o.err" ||
        fail "missing file not said on stderr: $(cat "$T/o.err")"
    grep -q '^filot-ocr: junk.txt: ' "$T/o.err" || fail "failure not echoed on stderr: $(cat "$T/o.err")"
    [ "$(grep -vc '^filot-ocr: ' "$T/o.err")" -eq 0 ] || fail "stderr lines without the prefix: $(cat "$T/o.err")"
}
check ocr-names ocr_names

ocr_stdin() {
    local out
    out=$(OCR_SHM_SIZE=64M timeout 180 "$BIN/filot-ocr" ocr --type Ktp --workers 1 - <"$CARD")
    jq -e '.file == "-" and .success == true and .parsedResult.nik != null' <<<"$out" >/dev/null ||
        fail "stdin result: $out"
}
check ocr-stdin ocr_stdin

# On a terminal the progress line is erased before a result is printed.
ocr_terminal() {
    OCR_SHM_SIZE=64M timeout 180 script -qec "'$BIN/filot-ocr' ocr --type KTP --workers 1 '$CARD'" \
        /dev/null >"$T/tty.out"
    grep -q '"success":true' "$T/tty.out" || fail "no result: $(cat -v "$T/tty.out")"
    ! grep -q 'failed{' "$T/tty.out" || fail "progress and result share a line: $(cat -v "$T/tty.out")"
    grep -q $'\e\\[K{"file"' "$T/tty.out" || fail "progress not erased before the result: $(cat -v "$T/tty.out")"
}
check ocr-terminal ocr_terminal

ocr_sigint() {
    local pid rc=0
    OCR_SHM_SIZE=64M "$BIN/filot-ocr" ocr --workers 1 --log "$T/i.log" "$T/slow.pdf" "$CARD" \
        >"$T/i.out" 2>"$T/i.err" &
    pid=$!
    for _ in $(seq 1 600); do grep -q '"Worker ready"' "$T/i.log" 2>/dev/null && break; sleep 0.1; done
    kill -INT "$pid"
    wait "$pid" || rc=$?
    expect_rc 130 "$rc" "filot-ocr ocr after SIGINT"
    [ "$(wc -l <"$T/i.out")" -eq 2 ] || fail "every file needs its line: $(cat "$T/i.out")"
}
check ocr-sigint ocr_sigint

# ---- make run (scripts/run-local.sh) ----------------------------------------
# Found 1: Ctrl-C (SIGINT to the whole process group, as a terminal sends
# it) with a slow document in flight: the job finishes, the exit is 0.
run_local_drain() {
    local port pid pgid rc=0 run=$T/run-drain
    port=$(free_port)
    # job control: its own process group, and SIGINT not ignored as for a plain `&` job
    set -m
    RUN_DIR=$run RUN_DOCS=$T/slow.pdf HEALTH_PORT=$port OCR_SHM_SIZE=64M OCR_GPU_CONCURRENCY=1 \
        scripts/run-local.sh >"$T/rl.out" 2>&1 &
    pid=$!
    set +m
    for _ in $(seq 1 600); do
        grep -q '"Starting GPU OCR for document"' "$run/filot-ocrd.log" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || fail "run-local.sh ended early: $(cat "$T/rl.out")"
        sleep 0.2
    done
    pgid=$(ps -o pgid= -p "$pid" | tr -d ' ')
    [ "$pgid" = "$pid" ] || fail "run-local.sh is not its own process group"
    kill -INT -- "-$pgid"
    # guard: a hang fails the check instead of blocking (a finished child is a zombie until waited)
    for _ in $(seq 1 1200); do
        case "$(ps -o stat= -p "$pid")" in "" | Z*) break ;; esac
        sleep 0.1
    done
    case "$(ps -o stat= -p "$pid")" in
    "" | Z*) ;;
    *)
        kill -KILL -- "-$pgid"
        fail "run-local.sh still running 120 s after SIGINT: $(cat "$T/rl.out")"
        ;;
    esac
    wait "$pid" || rc=$?
    expect_rc 0 "$rc" "run-local.sh after Ctrl-C: $(cat "$T/rl.out")"
    grep -q ' completed ' "$T/rl.out" || fail "the job in flight did not finish: $(cat "$T/rl.out")"
    ! grep -q 'Second stop signal' "$run/filot-ocrd.log" || fail "filot-ocrd got a second stop signal"
    ! grep -q 'integer expression expected' "$T/rl.out" || fail "$(cat "$T/rl.out")"
    grep -n 'drained and exited\|run: done' "$T/rl.out" | cut -d: -f1 | sort -nc ||
        fail "\"run: done\" before \"filot-ocrd exited\": $(cat "$T/rl.out")"
}
check run-local-drain run_local_drain

# Found 2: HEALTH_PORT taken: the reason and the hint on the terminal,
# exit non-zero, and the dead instance's segment gone.
run_local_port_taken() {
    local port holder rc=0 dpid run=$T/run-port
    python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("0.0.0.0",0)); s.listen()
print(s.getsockname()[1], flush=True); time.sleep(300)' >"$T/port" &
    holder=$!
    for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
    port=$(cat "$T/port")
    RUN_DIR=$run RUN_DOCS=$CARD HEALTH_PORT=$port OCR_SHM_SIZE=64M \
        timeout 120 scripts/run-local.sh >"$T/rl.out" 2>&1 || rc=$?
    kill "$holder"
    [ "$rc" -ne 124 ] || fail "run-local.sh did not end"
    [ "$rc" -ne 0 ] || fail "run-local.sh exited 0 although filot-ocrd could not start"
    grep -q 'Address already in use' "$T/rl.out" || fail "no reason shown: $(cat "$T/rl.out")"
    grep -q 'HEALTH_PORT' "$T/rl.out" || fail "no HEALTH_PORT hint: $(cat "$T/rl.out")"
    dpid=$(sed -n 's/^run: filot-ocrd pid \([0-9]*\);.*/\1/p' "$T/rl.out")
    [ -n "$dpid" ] || fail "no daemon pid in: $(cat "$T/rl.out")"
    [ ! -e "/dev/shm/filot-ocrd.$dpid" ] || fail "the dead instance left /dev/shm/filot-ocrd.$dpid"
}
check run-local-port-taken run_local_port_taken

echo
[ "$failed" -eq 0 ] || echo "failed: ${failed_names[*]}"
echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
