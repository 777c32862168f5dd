#!/usr/bin/env bash
# Throwaway servers for tests and `make run`, on loopback only:
#   tests/servers.sh start DIR [redis] [postgres] [moto] [buli2]
#   tests/servers.sh stop DIR
# start writes DIR/env (sourceable: REDIS_URL, DATABASE_URL, R2 variables,
# BULI2_API_URL, ...) and one DIR/<name>.pid per server.  stop kills only
# the pids it recorded.  Ports are picked free at start.
set -Eeuo pipefail
# shellcheck source=scripts/help.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/help.sh" "$@"

here=$(cd "$(dirname "$0")" && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # seconds, command...
    local secs=$1
    shift
    for _ in $(seq 1 $((secs * 20))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.05
    done
    echo "servers.sh: timed out waiting for: $*" >&2
    return 1
}

start_redis() {
    local port
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
        --pidfile "$dir/redis.pid" --dir "$dir" --logfile "$dir/redis.log"
    wait_for 10 sh -c "redis-cli -p $port ping | grep -q PONG"
    echo "REDIS_PORT=$port" >>"$dir/env"
    echo "REDIS_URL=redis://127.0.0.1:$port" >>"$dir/env"
}

start_postgres() {
    local port
    port=$(free_port)
    mkdir -p "$dir/pg"
    chown postgres:postgres "$dir/pg"
    chmod 0755 "$dir"
    runuser -u postgres -- "$PGBIN/initdb" -D "$dir/pg/data" -A trust -U postgres -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$dir/pg-initdb.log" 2>&1
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/pg.log" -w -t 30 \
        -o "-p $port -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null
    head -1 "$dir/pg/data/postmaster.pid" >"$dir/postgres.pid"
    {
        echo "PG_PORT=$port"
        echo "PGDATA_DIR=$dir/pg/data"
        echo "DATABASE_URL=postgresql://postgres@127.0.0.1:$port/postgres"
    } >>"$dir/env"
}

start_moto() {
    local port e b out key secret
    port=$(free_port)
    moto_server -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
    echo $! >"$dir/moto.pid"
    e=http://127.0.0.1:$port
    wait_for 20 curl -sf "$e/moto-api/"
    b=(--aws-sigv4 aws:amz:us-east-1:iam --user bootstrap:bootstrap -s)
    curl "${b[@]}" -d 'Action=CreateUser&UserName=ocr&Version=2010-05-08' "$e/" >/dev/null
    curl "${b[@]}" --data-urlencode 'PolicyDocument={"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}' \
        -d 'Action=PutUserPolicy&UserName=ocr&PolicyName=s3all&Version=2010-05-08' "$e/" >/dev/null
    out=$(curl "${b[@]}" -d 'Action=CreateAccessKey&UserName=ocr&Version=2010-05-08' "$e/")
    key=$(sed -n 's:.*<AccessKeyId>\(.*\)</AccessKeyId>.*:\1:p' <<<"$out")
    secret=$(sed -n 's:.*<SecretAccessKey>\(.*\)</SecretAccessKey>.*:\1:p' <<<"$out")
    curl -s --aws-sigv4 aws:amz:us-east-1:s3 --user bootstrap:bootstrap -X PUT "$e/ocr-test" >/dev/null
    curl -s -X POST -H 'Content-Type: text/plain' --data-binary 0 "$e/moto-api/reset-auth" >/dev/null
    {
        echo "MOTO_PORT=$port"
        echo "CF_R2_ENDPOINT=$e"
        echo "CF_R2_ACCESS_KEY_ID=$key"
        echo "CF_R2_SECRET_ACCESS_KEY=$secret"
        echo "CF_R2_BUCKET_NAME=ocr-test"
    } >>"$dir/env"
}

start_buli2() {
    local port
    port=$(free_port)
    python3 "$here/buli2_server.py" --port "$port" --state "$dir/buli2" >"$dir/buli2.log" 2>&1 &
    echo $! >"$dir/buli2.pid"
    wait_for 10 curl -sf "http://127.0.0.1:$port/_stats"
    echo "BULI2_API_URL=http://127.0.0.1:$port" >>"$dir/env"
    echo "BULI2_STATE_DIR=$dir/buli2" >>"$dir/env"
}

stop_all() {
    if [ -f "$dir/postgres.pid" ] && [ -d "$dir/pg/data" ]; then
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$dir/pg/data" -m immediate -w -t 20 stop \
            >/dev/null 2>&1 || true
        rm -f "$dir/postgres.pid"
    fi
    for f in "$dir"/*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$f"
    done
}

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
    echo "usage: $0 start|stop DIR [servers...]" >&2
    exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
shift 2
case "$cmd" in
start)
    : >"$dir/env"
    [ $# -gt 0 ] || set -- redis postgres moto buli2
    trap 'stop_all' ERR
    for s in "$@"; do "start_$s"; done
    ;;
stop) stop_all ;;
*) echo "usage: $0 start|stop DIR [servers...]" >&2; exit 2 ;;
esac
