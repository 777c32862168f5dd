#!/usr/bin/env bash
# tests/infra/run.sh - checks of the deployment artifacts (issue 5).
#
# Runs every check, prints "ok NAME" / "FAILED NAME" (with the check's
# output) / "skipped: NAME: why", then "infra: N passed, M failed" and
# exits non-zero when any check failed.  Needs: build/bin/filot-ocr and
# build/tests/test_emf (make), shellcheck, jq, python3 with botocore and
# moto (moto_server), the aws CLI, build/npm dockerfile-utils
# (scripts/infra-deps.sh), promtool (prometheus), python3-jsonschema;
# optional: systemd-analyze.  Installs nothing.
# No docker engine is used: docker is replaced by a recording stand-in.
#
# Usage: tests/infra/run.sh [NAME-PATTERN]   (e.g. 'deploy-*'; default all)
set -euo pipefail
# shellcheck source=scripts/help.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/help.sh" "$@"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
PATTERN=${1:-*}

passed=0
failed=0
skipped=0
failed_names=()
T=$(mktemp -d "${TMPDIR:-/tmp}/filot-infra.XXXXXX")
MOTO_PID=""

cleanup() {
    if [ -n "$MOTO_PID" ]; then
        kill "$MOTO_PID" 2>/dev/null || true
        wait "$MOTO_PID" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT

# check NAME FUNCTION [ARGS]: runs FUNCTION in a subshell with errexit
# (started asynchronously so that errexit really applies inside).
check() {
    local name=$1 rc=0 t0 t1
    shift
    # shellcheck disable=SC2053  # PATTERN is a glob on purpose
    [[ $name == $PATTERN ]] || return 0
    t0=$(date +%s%N)
    (
        set -euo pipefail
        "$@"
    ) >"$T/out" 2>&1 &
    wait $! || rc=$?
    t1=$(date +%s%N)
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok      $name (${secs}s)"
    elif [ "$rc" -eq 77 ]; then
        skipped=$((skipped + 1))
        echo "skipped: $name: $(tail -n 1 "$T/out")"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        echo "FAILED  $name (rc=$rc, ${secs}s)"
        tail -n 40 "$T/out" | sed 's/^/    /'
    fi
}

skip() {
    echo "$*"
    exit 77
}

fail() {
    echo "$*" >&2
    exit 1
}

# ---- inputs shared by several checks -----------------------------------------

CONFIG=$T/config.txt
config_table() {
    [ -x build/bin/filot-ocr ] || fail "build/bin/filot-ocr missing: run make first"
    build/bin/filot-ocr config >"$CONFIG"
    [ -s "$CONFIG" ] || fail "filot-ocr config printed nothing"
}

# ---- (a) shellcheck ------------------------------------------------------------

c_shellcheck() {
    command -v shellcheck >/dev/null || fail "shellcheck not installed"
    shellcheck -x scripts/*.sh tests/infra/*.sh
}

# ---- (b) Dockerfile ------------------------------------------------------------

c_dockerfile_lint() {
    local lint=build/npm/node_modules/.bin/dockerfile-utils
    [ -x "$lint" ] || fail "$lint missing: run scripts/infra-deps.sh"
    "$lint" lint infra/docker/Dockerfile.gpu >"$T/lint" 2>&1 || {
        cat "$T/lint"
        exit 1
    }
    # warnings exit 0 but count as failures here
    if [ -s "$T/lint" ]; then
        cat "$T/lint"
        exit 1
    fi
}

c_dockerfile_settings() {
    config_table
    python3 tests/infra/check_consistency.py dockerfile "$CONFIG"
}

c_image_packages() {
    make -s --no-print-directory print-IMAGE_BUILD_PKGS >"$T/build-pkgs"
    make -s --no-print-directory print-IMAGE_RUNTIME_PKGS >"$T/runtime-pkgs"
    python3 tests/infra/check_consistency.py packages "$T/build-pkgs" "$T/runtime-pkgs"
}

# The image ships the OCR stack the tests run (issue 10): its Debian release
# and pinned packages equal this machine's.  No Docker engine exists here,
# so this compares the Dockerfile's declarations, not a built image.
c_image_versions() {
    command -v dpkg-query >/dev/null || skip "dpkg-query not available (not a Debian machine)"
    dpkg-query -W >"$T/versions"
    echo "debian $(cat /etc/debian_version)" >>"$T/versions"
    python3 tests/infra/check_consistency.py image-versions "$T/versions"
    # the comparison must notice a different Tesseract
    sed 's/^tesseract-ocr\t.*/tesseract-ocr\t4.1.1-2.1build1/' "$T/versions" >"$T/versions-4"
    if python3 tests/infra/check_consistency.py image-versions "$T/versions-4" 2>"$T/err"; then
        fail "a tested Tesseract 4.1.1 went unnoticed"
    fi
    grep -q 'tesseract-ocr: image pins 5.3.0-2, the tests run 4.1.1' "$T/err" ||
        fail "unclear: $(cat "$T/err")"
}

# ---- Prometheus rules, Grafana dashboard, JSON Schemas (issue 10) ------------------

c_prometheus_rules() {
    command -v promtool >/dev/null || fail "promtool not installed (Debian package prometheus)"
    promtool check rules alerts/prometheus-rules.yml
    promtool test rules tests/infra/prometheus-rules.test.yml
}

c_metric_refs() {
    python3 tests/infra/check_metric_refs.py supervisor/http_metrics.c \
        alerts/prometheus-rules.yml infra/grafana/filot-ocrd.json
    jq -e '.panels | length > 0' infra/grafana/filot-ocrd.json >/dev/null || fail "dashboard has no panels"
    # a misspelt metric must be caught
    sed 's/filot_ocrd_queue_depth) > 20/filot_ocrd_queue_lenght) > 20/' alerts/prometheus-rules.yml >"$T/rules.yml"
    if python3 tests/infra/check_metric_refs.py supervisor/http_metrics.c "$T/rules.yml" \
        infra/grafana/filot-ocrd.json >"$T/refs"; then
        fail "unknown metric filot_ocrd_queue_lenght accepted"
    fi
}

# The schemas are valid JSON Schema and reject what they must; the pipeline
# process tests validate real messages and rows against them.
c_json_schemas() {
    python3 -c 'import jsonschema' 2>/dev/null || fail "python3-jsonschema not installed"
    local ok=$T/ok.jsonl bad=$T/bad.jsonl broken
    cat >"$ok" <<'EOF'
{"success":true,"documentId":"0b6c1a8e-2f6e-4a55-9b7e-1d2c3b4a5f60","correlationId":"7e0e7b4e-8a43-4f7c-9a51-0d2a1c3b4e5f","ocrText":"NIK : 3174****0001","parsedResult":{"nik":"3174********0001","name":"JOHN DOE","fieldConfidence":{"nik":91}},"score":80,"decision":"auto_approve","outcome":"auto_approved","gpuProcessed":true,"processingTimeMs":1491,"preprocess":"gpu","meanConfidence":88,"pages":1,"attempts":1,"documentType":"KTP"}
{"success":false,"documentId":"0b6c1a8e-2f6e-4a55-9b7e-1d2c3b4a5f60","correlationId":"7e0e7b4e-8a43-4f7c-9a51-0d2a1c3b4e5f","error":"Document not found","gpuProcessed":false,"attempts":1}
EOF
    head -n 1 "$ok" | jq -c '.reviewReasons = ["NIK unreadable"]' >"$T/reasons.jsonl"
    cat "$T/reasons.jsonl" >>"$ok"
    : >"$bad"
    for broken in '.score = "80"' '.decision = "approve"' 'del(.correlationId)' '.extra = 1' \
        '.parsedResult.nik = 3174' '.reviewReasons = [1]' '.processingTimeMs = 1.5'; do
        head -n 1 "$ok" | jq -c "$broken" >>"$bad"
    done
    python3 tests/infra/check_schema.py doc/schema/ocr-message.schema.json "$ok" --invalid "$bad"
    printf '%s\n' '{"nik":"3174051234560001","reviewReasons":["name missing"]}' \
        '{"error":"Document has no file URL","failedAt":"2026-12-02T09:00:00.123Z","maxRetriesExceeded":false}' >"$ok"
    printf '%s\n' '{"error":"x","failedAt":"yesterday","maxRetriesExceeded":false}' \
        '{"nik":3174051234560001}' '{"error":"x"}' >"$bad"
    python3 tests/infra/check_schema.py doc/schema/ocr-result.schema.json "$ok" --invalid "$bad"
}

# ---- (c) AWS API models ----------------------------------------------------------

c_model() {
    python3 tests/infra/check_aws_json.py "$1"
}

# The validator must reject what it claims to reject.
c_validator_selftest() {
    local f=$T/bad.json
    jq '.containerDefinitions[0].memroy = 8192' infra/ecs/task-ocr-gpu.json >"$f"
    if python3 tests/infra/check_aws_json.py task --file "$f" 2>"$T/err"; then
        fail "unknown key memroy accepted"
    fi
    grep -q 'Unknown parameter.*memroy' "$T/err" || fail "no unknown-key message"
    jq '.networkMode = "bridged"' infra/ecs/task-ocr-gpu.json >"$f"
    if python3 tests/infra/check_aws_json.py task --file "$f" 2>"$T/err"; then
        fail "bad networkMode enum accepted"
    fi
    grep -q "networkMode: 'bridged' is not one of" "$T/err" || fail "no enum message"
    jq 'del(.containerDefinitions[0].resourceRequirements)' infra/ecs/task-ocr-gpu.json >"$f"
    if python3 tests/infra/check_aws_json.py task --file "$f" 2>/dev/null; then
        fail "task without GPU accepted"
    fi
    jq '.launchType = "EC3"' infra/ecs/service-ocr-gpu.json >"$f"
    if python3 tests/infra/check_aws_json.py service --file "$f" 2>/dev/null; then
        fail "bad launchType accepted"
    fi
    jq '.Alarms[0].ComparisonOperator = "Bigger"' alerts/cloudwatch-alarms.json >"$f"
    if python3 tests/infra/check_aws_json.py alarms --file "$f" 2>/dev/null; then
        fail "bad ComparisonOperator accepted"
    fi
    jq '.ScalingPolicies[0].PolicyType = "Magic"' infra/ecs/autoscaling-ocr-gpu.json >"$f"
    if python3 tests/infra/check_aws_json.py autoscaling --file "$f" 2>/dev/null; then
        fail "bad PolicyType accepted"
    fi
}

# ---- (d) consistency ---------------------------------------------------------------

c_consistency() {
    config_table
    python3 tests/infra/check_consistency.py "$1" "$CONFIG"
}

c_secrets_guide() {
    python3 tests/infra/check_consistency.py secrets-guide
}

c_commands_guide() {
    scripts/deploy-ocr-gpu.sh help >"$T/help"
    python3 tests/infra/check_consistency.py commands-guide "$T/help"
}

# ---- systemd ------------------------------------------------------------------------

c_systemd_unit() {
    local u=infra/systemd/filot-ocrd.service line
    for line in Type=notify NotifyAccess=main WatchdogSec=30s Restart=on-failure RestartSec=2s \
        RestartPreventExitStatus=2 KillMode=mixed User=filot Group=filot \
        EnvironmentFile=/etc/filot-ocrd/filot-ocrd.env Environment=OMP_THREAD_LIMIT=1 \
        Environment=OCR_RUNTIME_DIR=/run/filot-ocrd RuntimeDirectory=filot-ocrd \
        NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
        LimitMEMLOCK=infinity ExecStart=/usr/local/bin/filot-ocrd \
        SystemCallFilter=@system-service SystemCallArchitectures=native ProtectProc=invisible; do
        grep -qxF "$line" "$u" || fail "$u lacks $line"
    done
    for line in PrivateDevices MemoryDenyWriteExecute PrivateIPC DevicePolicy Type=forking \
        ProcSubset=pid; do
        if grep -q "^$line" "$u"; then
            fail "$u must not set $line (breaks CUDA or /dev/shm)"
        fi
    done
}

c_systemd_verify() {
    command -v systemd-analyze >/dev/null || skip "systemd-analyze not available"
    local dir=$T/unit exe=/bin/true
    mkdir -p "$dir"
    # verify needs an existing ExecStart binary; the real one if built
    if [ -x build/bin/filot-ocrd ]; then
        exe=$ROOT/build/bin/filot-ocrd
    fi
    sed "s|^ExecStart=.*|ExecStart=$exe|" infra/systemd/filot-ocrd.service >"$dir/filot-ocrd.service"
    systemd-analyze verify "$dir/filot-ocrd.service" >"$T/verify" 2>&1 || {
        cat "$T/verify"
        exit 1
    }
    # unknown keys are only warnings (rc 0): any output fails
    if [ -s "$T/verify" ]; then
        cat "$T/verify"
        exit 1
    fi
}

# ---- (f) EMF ----------------------------------------------------------------------

c_emf_lines() {
    if [ ! -x build/tests/test_emf ]; then
        make -s --no-print-directory build/tests/test_emf >&2 || fail "cannot build build/tests/test_emf"
    fi
    build/tests/test_emf >"$T/emf.out" 2>&1 || {
        cat "$T/emf.out"
        fail "test_emf failed"
    }
    python3 tests/infra/check_emf.py --summary "$T/emf-summary.json" <"$T/emf.out"
    # the validator itself must reject a broken line and an input without EMF
    if echo '{"_aws":{"Timestamp":1.5,"CloudWatchMetrics":[]}}' |
        python3 tests/infra/check_emf.py --quiet 2>/dev/null; then
        fail "check_emf.py accepted an invalid line"
    fi
    if echo '{"level":"info"}' | python3 tests/infra/check_emf.py --quiet 2>/dev/null; then
        fail "check_emf.py accepted input without EMF lines"
    fi
}

c_emf_alarm_names() {
    [ -s "$T/emf-summary.json" ] || fail "no EMF summary (emf-lines failed)"
    python3 tests/infra/check_aws_json.py metrics --emf-summary "$T/emf-summary.json"
}

# ---- (e) deploy scripts against moto_server -------------------------------------------

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_moto() {
    command -v moto_server >/dev/null || return 1
    MOTO_PORT=$(free_port)
    moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$T/moto.log" 2>&1 &
    MOTO_PID=$!
    for _ in $(seq 1 100); do
        if curl -fs "http://127.0.0.1:$MOTO_PORT/moto-api/" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Isolated AWS settings: only the local server, fake credentials.
deploy_env() {
    export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
    export AWS_REGION=ap-southeast-2 AWS_DEFAULT_REGION=ap-southeast-2
    export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=""
    unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ACCOUNT_ID ECR_REGISTRY
    export WAIT_STABLE=0
    REGISTRY=123456789012.dkr.ecr.ap-southeast-2.amazonaws.com
    TASKDEF_PREFIX=arn:aws:ecs:ap-southeast-2:123456789012:task-definition/filot-ocr-gpu-worker
}

awsm() {
    aws --endpoint-url "$AWS_ENDPOINT_URL" --region "$AWS_REGION" "$@"
}

service_taskdef() {
    awsm ecs describe-services --cluster filot-ocr-gpu-cluster --services filot-ocr-gpu-service \
        --query 'services[0].taskDefinition' --output text
}

expect_eq() {
    [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}

c_deploy_ecr_setup() {
    deploy_env
    local uri
    uri=$(IMAGE_TAG=t1 scripts/aws-ecr-setup-gpu.sh)
    expect_eq "$uri" "$REGISTRY/filot-ocr-gpu-worker" "aws-ecr-setup-gpu.sh output"
    expect_eq "$(awsm ecr describe-repositories --repository-names filot-ocr-gpu-worker \
        --query 'repositories[0].imageScanningConfiguration.scanOnPush' --output text)" True \
        "scanOnPush"
    # idempotent
    uri=$(IMAGE_TAG=t1 scripts/aws-ecr-setup-gpu.sh)
    expect_eq "$uri" "$REGISTRY/filot-ocr-gpu-worker" "second run"
}

c_deploy_register() {
    deploy_env
    local arn
    arn=$(IMAGE_TAG=t1 scripts/deploy-ocr-gpu.sh register)
    # stdout is exactly the ARN (the original captured its log lines too)
    expect_eq "$arn" "$TASKDEF_PREFIX:1" "register output"
    awsm ecs describe-task-definition --task-definition filot-ocr-gpu-worker:1 >"$T/td.json"
    expect_eq "$(jq -r '.taskDefinition.containerDefinitions[0].image' "$T/td.json")" \
        "$REGISTRY/filot-ocr-gpu-worker:t1" "registered image"
    expect_eq "$(jq -r '.taskDefinition.containerDefinitions[0].resourceRequirements[0].value' "$T/td.json")" \
        1 "GPU requirement"
    expect_eq "$(jq '.taskDefinition.containerDefinitions[0].environment | length' "$T/td.json")" \
        "$(jq '.containerDefinitions[0].environment | length' infra/ecs/task-ocr-gpu.json)" \
        "environment count"
    expect_eq "$(awsm logs describe-log-groups --log-group-name-prefix /ecs/filot-ocr-gpu-worker \
        --query 'logGroups[0].retentionInDays' --output text)" 30 "log group retention"
}

c_deploy_update_placeholders() {
    deploy_env
    local rc=0
    scripts/deploy-ocr-gpu.sh update >/dev/null 2>"$T/err" || rc=$?
    [ "$rc" -ne 0 ] || fail "update with placeholder subnets succeeded"
    grep -q 'REPLACE_WITH placeholders' "$T/err" || fail "no clear placeholder error: $(cat "$T/err")"
    expect_eq "$(awsm ecs describe-clusters --clusters filot-ocr-gpu-cluster \
        --query "clusters[0].settings[?name=='containerInsights'].value | [0]" --output text)" \
        enabled "cluster created with Container Insights"
}

c_deploy_update_create() {
    deploy_env
    local subnet sg out
    subnet=$(awsm ec2 describe-subnets --query 'Subnets[0].SubnetId' --output text)
    sg=$(awsm ec2 describe-security-groups --query 'SecurityGroups[0].GroupId' --output text)
    out=$(ECS_SUBNETS=$subnet ECS_SECURITY_GROUPS=$sg scripts/deploy-ocr-gpu.sh update)
    expect_eq "$out" "$TASKDEF_PREFIX:1" "update output"
    awsm ecs describe-services --cluster filot-ocr-gpu-cluster --services filot-ocr-gpu-service \
        >"$T/svc.json"
    expect_eq "$(jq -r '.services[0].status' "$T/svc.json")" ACTIVE "service status"
    expect_eq "$(jq -r '.services[0].taskDefinition' "$T/svc.json")" "$TASKDEF_PREFIX:1" "service revision"
    expect_eq "$(jq -r '.services[0].launchType' "$T/svc.json")" EC2 "launchType"
    expect_eq "$(jq -r '.services[0].networkConfiguration.awsvpcConfiguration.subnets[0]' "$T/svc.json")" \
        "$subnet" "subnet"
}

c_deploy_update_redeploy() {
    deploy_env
    local arn out
    arn=$(IMAGE_TAG=t2 scripts/deploy-ocr-gpu.sh register)
    expect_eq "$arn" "$TASKDEF_PREFIX:2" "second register"
    out=$(scripts/deploy-ocr-gpu.sh update)
    expect_eq "$out" "$TASKDEF_PREFIX:2" "update picks the latest revision"
    expect_eq "$(service_taskdef)" "$TASKDEF_PREFIX:2" "service on revision 2"
}

c_deploy_rollback() {
    deploy_env
    local out
    out=$(scripts/deploy-ocr-gpu.sh rollback)
    expect_eq "$out" "$TASKDEF_PREFIX:1" "rollback output"
    expect_eq "$(service_taskdef)" "$TASKDEF_PREFIX:1" "service back on revision 1"
    local rc=0
    scripts/deploy-ocr-gpu.sh rollback >/dev/null 2>"$T/err" || rc=$?
    [ "$rc" -ne 0 ] || fail "rollback from revision 1 succeeded"
    grep -q 'no previous revision' "$T/err" || fail "no clear message: $(cat "$T/err")"
}

c_deploy_all() {
    deploy_env
    cat >"$T/docker" <<'EOF'
#!/usr/bin/env bash
# recording stand-in for docker
if [ "${1:-}" = login ]; then
    n=$(wc -c)
    printf '%s stdin=%s\n' "$*" "$([ "$n" -gt 0 ] && echo yes || echo no)" >>"$DOCKER_LOG"
else
    printf '%s\n' "$*" >>"$DOCKER_LOG"
fi
EOF
    chmod +x "$T/docker"
    export DOCKER_LOG=$T/docker.log
    : >"$DOCKER_LOG"
    local out
    out=$(DOCKER=$T/docker IMAGE_TAG=t3 scripts/deploy-ocr-gpu.sh all)
    expect_eq "$out" "$TASKDEF_PREFIX:3" "all output"
    cat >"$T/docker.want" <<EOF
build --platform linux/amd64 -f $ROOT/infra/docker/Dockerfile.gpu -t filot-ocr-gpu-worker:t3 -t filot-ocr-gpu-worker:latest $ROOT
login --username AWS --password-stdin $REGISTRY stdin=yes
tag filot-ocr-gpu-worker:t3 $REGISTRY/filot-ocr-gpu-worker:t3
push $REGISTRY/filot-ocr-gpu-worker:t3
tag filot-ocr-gpu-worker:t3 $REGISTRY/filot-ocr-gpu-worker:latest
push $REGISTRY/filot-ocr-gpu-worker:latest
EOF
    diff -u "$T/docker.want" "$DOCKER_LOG" || fail "docker command lines differ"
    expect_eq "$(service_taskdef)" "$TASKDEF_PREFIX:3" "service on revision 3"
    expect_eq "$(awsm ecs describe-task-definition --task-definition filot-ocr-gpu-worker:3 \
        --query 'taskDefinition.containerDefinitions[0].image' --output text)" \
        "$REGISTRY/filot-ocr-gpu-worker:t3" "image of revision 3"
    # build-gpu-worker.sh: same build line, then `docker images`
    : >"$DOCKER_LOG"
    out=$(DOCKER=$T/docker IMAGE_TAG=t4 scripts/build-gpu-worker.sh)
    expect_eq "$out" "filot-ocr-gpu-worker:t4" "build-gpu-worker.sh output"
    expect_eq "$(tail -n 1 "$DOCKER_LOG")" "images filot-ocr-gpu-worker:t4" "docker images check"
}

c_deploy_scaling() {
    deploy_env
    if ! awsm application-autoscaling put-scaling-policy --generate-cli-skeleton input |
        jq -e '.TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification | has("Metrics")' \
            >/dev/null; then
        # old CLI (e.g. Debian 12's 2.9.19): the script must say so clearly
        local rc=0
        scripts/deploy-ocr-gpu.sh scaling >/dev/null 2>"$T/err" || rc=$?
        [ "$rc" -ne 0 ] || fail "scaling succeeded with a CLI that cannot send Metrics"
        grep -q 'cannot send metric-math target tracking' "$T/err" || fail "unclear: $(cat "$T/err")"
        skip "$(aws --version 2>&1 | cut -d' ' -f1) lacks metric-math target tracking (clear error verified)"
    fi
    scripts/deploy-ocr-gpu.sh scaling >"$T/pol"
    grep -q 'policyName/filot-ocr-gpu-queue-depth-per-task' "$T/pol" || fail "no policy ARN"
    expect_eq "$(awsm application-autoscaling describe-scalable-targets --service-namespace ecs \
        --query 'ScalableTargets[0].[ResourceId,MinCapacity,MaxCapacity]' --output text)" \
        "service/filot-ocr-gpu-cluster/filot-ocr-gpu-service	1	4" "scalable target"
    local target
    target=$(awsm application-autoscaling describe-scaling-policies --service-namespace ecs \
        --query 'ScalingPolicies[0].TargetTrackingScalingPolicyConfiguration.TargetValue' --output text)
    awk -v v="$target" 'BEGIN { exit !(v + 0 == 10) }' || fail "target value: expected 10, got $target"
}

c_deploy_alarms() {
    deploy_env
    scripts/deploy-ocr-gpu.sh alarms >"$T/alarms"
    expect_eq "$(sort "$T/alarms" | tr '\n' ' ')" \
        "$(jq -r '.Alarms[].AlarmName' alerts/cloudwatch-alarms.json | sort | tr '\n' ' ')" \
        "alarms output"
    expect_eq "$(awsm cloudwatch describe-alarms --alarm-names filot-ocr-gpu-queue-depth-high \
        --query 'MetricAlarms[0].[Namespace,MetricName,Dimensions[0].Value]' --output text)" \
        "FiLot/OCR	QueueDepth	filot-ocr-gpu-worker" "queue alarm stored"
}

c_deploy_missing_prereqs() {
    deploy_env
    local bin=$T/nobin t rc
    mkdir -p "$bin"
    # a PATH with the basic tools and jq but without aws
    for t in bash env date mktemp dirname rm cat grep sed jq git; do
        ln -sf "$(command -v "$t")" "$bin/$t"
    done
    rc=0
    PATH=$bin IMAGE_TAG=x "$bin/bash" scripts/deploy-ocr-gpu.sh register >"$T/o" 2>"$T/err" || rc=$?
    [ "$rc" -ne 0 ] || fail "register without aws succeeded"
    grep -q 'required tool not found: aws' "$T/err" || fail "unclear message: $(cat "$T/err")"
    [ ! -s "$T/o" ] || fail "stdout not empty on error"
    rc=0
    TASK_DEF_FILE=$T/none.json IMAGE_TAG=x scripts/deploy-ocr-gpu.sh register >/dev/null 2>"$T/err" || rc=$?
    [ "$rc" -ne 0 ] || fail "register without task file succeeded"
    grep -q "required file not found: $T/none.json" "$T/err" || fail "unclear message: $(cat "$T/err")"
    rc=0
    DOCKER=$T/no-docker IMAGE_TAG=x scripts/deploy-ocr-gpu.sh build >/dev/null 2>"$T/err" || rc=$?
    [ "$rc" -ne 0 ] || fail "build without docker succeeded"
    grep -q "required tool not found: $T/no-docker" "$T/err" || fail "unclear message: $(cat "$T/err")"
    rc=0
    scripts/deploy-ocr-gpu.sh frobnicate >/dev/null 2>"$T/err" || rc=$?
    [ "$rc" -ne 0 ] || fail "unknown command succeeded"
    grep -q 'unknown command: frobnicate' "$T/err" || fail "unclear message"
}

# ---- run -------------------------------------------------------------------------

echo "infra checks ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
check shellcheck c_shellcheck
check dockerfile-lint c_dockerfile_lint
check dockerfile-settings c_dockerfile_settings
check image-packages c_image_packages
check image-versions c_image_versions
check prometheus-rules c_prometheus_rules
check metric-refs c_metric_refs
check json-schemas c_json_schemas
check ecs-task-model c_model task
check ecs-cluster-model c_model cluster
check ecs-service-model c_model service
check autoscaling-model c_model autoscaling
check alarms-model c_model alarms
check validator-selftest c_validator_selftest
check env-task c_consistency env-task
check env-systemd c_consistency env-systemd
check env-guide c_consistency env-guide
check secrets-guide c_secrets_guide
check commands-guide c_commands_guide
check systemd-unit c_systemd_unit
check systemd-verify c_systemd_verify
check emf-lines c_emf_lines
check emf-alarm-names c_emf_alarm_names

# shellcheck disable=SC2053  # PATTERN is a glob on purpose
if [[ deploy-register == $PATTERN || $PATTERN == deploy* ]]; then
    if start_moto; then
        check deploy-ecr-setup c_deploy_ecr_setup
        check deploy-register c_deploy_register
        check deploy-update-placeholders c_deploy_update_placeholders
        check deploy-update-create c_deploy_update_create
        check deploy-update-redeploy c_deploy_update_redeploy
        check deploy-rollback c_deploy_rollback
        check deploy-all c_deploy_all
        check deploy-scaling c_deploy_scaling
        check deploy-alarms c_deploy_alarms
        check deploy-missing-prereqs c_deploy_missing_prereqs
    else
        failed=$((failed + 1))
        failed_names+=("moto_server")
        echo "FAILED  moto_server (cannot start moto_server on loopback)"
        sed 's/^/    /' "$T/moto.log" 2>/dev/null | tail -n 20 || true
    fi
fi

echo
if [ "$failed" -gt 0 ]; then
    echo "failed checks: ${failed_names[*]}"
fi
if [ "$skipped" -gt 0 ]; then
    echo "infra: $passed passed, $failed failed, $skipped skipped"
else
    echo "infra: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
