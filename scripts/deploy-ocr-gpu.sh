#!/usr/bin/env bash
# deploy-ocr-gpu.sh - build, push and deploy filot-ocrd to ECS (T7-C).
#
# Usage: scripts/deploy-ocr-gpu.sh COMMAND   (see `help`; default: help)
#
# Every setting comes from the environment (defaults in brackets):
#   AWS_REGION [ap-southeast-2]  AWS_ACCOUNT_ID [aws sts get-caller-identity]
#   AWS_ENDPOINT_URL [unset]: passed to every aws call as --endpoint-url
#   ECR_REPOSITORY [filot-ocr-gpu-worker]  ECR_REGISTRY [<account>.dkr.ecr.<region>.amazonaws.com]
#   ECS_CLUSTER [filot-ocr-gpu-cluster]    ECS_SERVICE [filot-ocr-gpu-service]
#   IMAGE_TAG [git short sha, else latest] PLATFORM [linux/amd64]
#   TASK_DEF_FILE [infra/ecs/task-ocr-gpu.json]  SERVICE_FILE [infra/ecs/service-ocr-gpu.json]
#   CLUSTER_FILE [infra/ecs/cluster.json]  AUTOSCALING_FILE [infra/ecs/autoscaling-ocr-gpu.json]
#   ALARMS_FILE [alerts/cloudwatch-alarms.json]  DOCKERFILE [infra/docker/Dockerfile.gpu]
#   DOCKER [docker]  WAIT_STABLE [1]: 0 skips `aws ecs wait services-stable`
#   ECS_SUBNETS, ECS_SECURITY_GROUPS [unset]: comma lists that replace the
#     placeholders of SERVICE_FILE when the service is created
#   LOG_RETENTION_DAYS [30]
#
# Log lines go to stderr; stdout carries only results (an ARN, a URI), so
# ARN=$(scripts/deploy-ocr-gpu.sh register) captures exactly the ARN.
# The file can be sourced (by build-gpu-worker.sh, aws-ecr-setup-gpu.sh):
# then it only defines the functions.
set -euo pipefail
shopt -s inherit_errexit # $(...) stops at the first failure too

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

AWS_REGION=${AWS_REGION:-ap-southeast-2}
AWS_ACCOUNT_ID=${AWS_ACCOUNT_ID:-}
ECR_REPOSITORY=${ECR_REPOSITORY:-filot-ocr-gpu-worker}
ECR_REGISTRY=${ECR_REGISTRY:-}
ECS_CLUSTER=${ECS_CLUSTER:-filot-ocr-gpu-cluster}
ECS_SERVICE=${ECS_SERVICE:-filot-ocr-gpu-service}
IMAGE_TAG=${IMAGE_TAG:-$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo latest)}
PLATFORM=${PLATFORM:-linux/amd64}
TASK_DEF_FILE=${TASK_DEF_FILE:-$REPO_ROOT/infra/ecs/task-ocr-gpu.json}
SERVICE_FILE=${SERVICE_FILE:-$REPO_ROOT/infra/ecs/service-ocr-gpu.json}
CLUSTER_FILE=${CLUSTER_FILE:-$REPO_ROOT/infra/ecs/cluster.json}
AUTOSCALING_FILE=${AUTOSCALING_FILE:-$REPO_ROOT/infra/ecs/autoscaling-ocr-gpu.json}
ALARMS_FILE=${ALARMS_FILE:-$REPO_ROOT/alerts/cloudwatch-alarms.json}
DOCKERFILE=${DOCKERFILE:-$REPO_ROOT/infra/docker/Dockerfile.gpu}
DOCKER=${DOCKER:-docker}
WAIT_STABLE=${WAIT_STABLE:-1}
ECS_SUBNETS=${ECS_SUBNETS:-}
ECS_SECURITY_GROUPS=${ECS_SECURITY_GROUPS:-}
LOG_RETENTION_DAYS=${LOG_RETENTION_DAYS:-30}
export AWS_PAGER=""

log() {
    local level=$1
    shift
    printf '[%s] [%s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$level" "$*" >&2
}

die() {
    log ERROR "$*"
    exit 1
}

# need TOOL...: fails clearly when a prerequisite is missing.
need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || die "required tool not found: $t (install it or fix PATH)"
    done
}

need_file() {
    [ -f "$1" ] || die "required file not found: $1"
}

# Every aws call goes through here: region, endpoint override, no pager.
aws_cli() {
    local args=(--region "$AWS_REGION")
    if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
        args+=(--endpoint-url "$AWS_ENDPOINT_URL")
    fi
    aws "${args[@]}" "$@"
}

# Prints the account id (AWS_ACCOUNT_ID, else STS).
account_id() {
    if [ -z "$AWS_ACCOUNT_ID" ]; then
        AWS_ACCOUNT_ID=$(aws_cli sts get-caller-identity --query Account --output text) ||
            die "cannot determine AWS_ACCOUNT_ID (aws sts get-caller-identity failed)"
    fi
    printf '%s\n' "$AWS_ACCOUNT_ID"
}

registry() {
    if [ -z "$ECR_REGISTRY" ]; then
        ECR_REGISTRY="$(account_id).dkr.ecr.${AWS_REGION}.amazonaws.com"
    fi
    printf '%s\n' "$ECR_REGISTRY"
}

image_uri() {
    printf '%s/%s:%s\n' "$(registry)" "$ECR_REPOSITORY" "$IMAGE_TAG"
}

# Rendered JSON files live in one private directory, removed on exit.
DEPLOY_TMP=$(mktemp -d "${TMPDIR:-/tmp}/filot-deploy.XXXXXX")
trap 'rm -rf "$DEPLOY_TMP"' EXIT

tmp_json() {
    mktemp "$DEPLOY_TMP/XXXXXX.json"
}

# ---- ECR ------------------------------------------------------------------

# Creates the repository when missing; prints its URI.
ensure_repository() {
    local uri
    if uri=$(aws_cli ecr describe-repositories --repository-names "$ECR_REPOSITORY" \
        --query 'repositories[0].repositoryUri' --output text 2>/dev/null); then
        log INFO "ECR repository $ECR_REPOSITORY exists"
    else
        log INFO "creating ECR repository $ECR_REPOSITORY"
        uri=$(aws_cli ecr create-repository --repository-name "$ECR_REPOSITORY" \
            --image-scanning-configuration scanOnPush=true \
            --encryption-configuration encryptionType=AES256 \
            --query 'repository.repositoryUri' --output text)
    fi
    printf '%s\n' "$uri"
}

docker_login() {
    local reg
    reg=$(registry)
    log INFO "docker login to $reg"
    aws_cli ecr get-login-password | "$DOCKER" login --username AWS --password-stdin "$reg" >&2
}

# ---- subcommands ----------------------------------------------------------

cmd_build() {
    need "$DOCKER"
    need_file "$DOCKERFILE"
    log INFO "building $ECR_REPOSITORY:$IMAGE_TAG ($PLATFORM) from $DOCKERFILE"
    "$DOCKER" build --platform "$PLATFORM" -f "$DOCKERFILE" \
        -t "$ECR_REPOSITORY:$IMAGE_TAG" -t "$ECR_REPOSITORY:latest" "$REPO_ROOT" >&2
    log INFO "built $ECR_REPOSITORY:$IMAGE_TAG"
}

cmd_push() {
    need aws "$DOCKER"
    local reg
    reg=$(registry)
    ensure_repository >/dev/null
    docker_login
    local tag
    for tag in "$IMAGE_TAG" latest; do
        "$DOCKER" tag "$ECR_REPOSITORY:$IMAGE_TAG" "$reg/$ECR_REPOSITORY:$tag" >&2
        "$DOCKER" push "$reg/$ECR_REPOSITORY:$tag" >&2
    done
    log INFO "pushed $reg/$ECR_REPOSITORY:$IMAGE_TAG"
    printf '%s/%s:%s\n' "$reg" "$ECR_REPOSITORY" "$IMAGE_TAG"
}

# Creates a CloudWatch log group with retention when missing.
ensure_log_group() {
    local group=$1 found
    found=$(aws_cli logs describe-log-groups --log-group-name-prefix "$group" \
        --query "logGroups[?logGroupName=='$group'].logGroupName" --output text)
    if [ "$found" != "$group" ]; then
        log INFO "creating log group $group (retention $LOG_RETENTION_DAYS days)"
        aws_cli logs create-log-group --log-group-name "$group"
        aws_cli logs put-retention-policy --log-group-name "$group" \
            --retention-in-days "$LOG_RETENTION_DAYS"
    fi
}

# Registers TASK_DEF_FILE with the image filled in; prints the new ARN.
cmd_register() {
    need aws jq
    need_file "$TASK_DEF_FILE"
    local image rendered group arn
    image=$(image_uri)
    rendered=$(tmp_json)
    jq --arg image "$image" '.containerDefinitions[0].image = $image' "$TASK_DEF_FILE" >"$rendered" ||
        die "cannot render $TASK_DEF_FILE (invalid JSON?)"
    if grep -qF "\${" "$rendered"; then
        die "unfilled \${...} placeholder left in $TASK_DEF_FILE after setting the image"
    fi
    group=$(jq -r '.containerDefinitions[0].logConfiguration.options["awslogs-group"] // empty' "$rendered")
    if [ -n "$group" ]; then
        ensure_log_group "$group"
    fi
    log INFO "registering task definition $(jq -r .family "$rendered") with image $image"
    arn=$(aws_cli ecs register-task-definition --cli-input-json "file://$rendered" \
        --query taskDefinition.taskDefinitionArn --output text)
    log INFO "registered $arn"
    printf '%s\n' "$arn"
}

# Creates the cluster from CLUSTER_FILE when it is not ACTIVE.
ensure_cluster() {
    local status rendered group
    status=$(aws_cli ecs describe-clusters --clusters "$ECS_CLUSTER" \
        --query "clusters[?status=='ACTIVE'].clusterName" --output text)
    if [ "$status" = "$ECS_CLUSTER" ]; then
        return 0
    fi
    need_file "$CLUSTER_FILE"
    rendered=$(tmp_json)
    jq --arg c "$ECS_CLUSTER" '.clusterName = $c' "$CLUSTER_FILE" >"$rendered"
    group=$(jq -r '.configuration.executeCommandConfiguration.logConfiguration.cloudWatchLogGroupName // empty' "$rendered")
    if [ -n "$group" ]; then
        ensure_log_group "$group"
    fi
    log INFO "creating cluster $ECS_CLUSTER"
    aws_cli ecs create-cluster --cli-input-json "file://$rendered" >/dev/null
}

# Prints the service status (ACTIVE, DRAINING, INACTIVE or None).
service_status() {
    aws_cli ecs describe-services --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE" \
        --query 'services[0].status' --output text
}

# Latest ACTIVE revision of the task family in TASK_DEF_FILE.
latest_task_definition() {
    need_file "$TASK_DEF_FILE"
    local family
    family=$(jq -r .family "$TASK_DEF_FILE")
    aws_cli ecs describe-task-definition --task-definition "$family" \
        --query taskDefinition.taskDefinitionArn --output text 2>/dev/null ||
        die "no registered revision of $family: run '$0 register' first"
}

wait_stable() {
    local want=$1 primary
    if [ "$WAIT_STABLE" != 1 ]; then
        log INFO "WAIT_STABLE=$WAIT_STABLE: not waiting for the service to stabilise"
        return 0
    fi
    log INFO "waiting for $ECS_SERVICE to become stable"
    aws_cli ecs wait services-stable --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE" ||
        die "$ECS_SERVICE did not become stable; see 'aws ecs describe-services' events"
    primary=$(aws_cli ecs describe-services --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE" \
        --query "services[0].deployments[?status=='PRIMARY'].taskDefinition | [0]" --output text)
    [ "$primary" = "$want" ] ||
        die "deployment of $want did not complete (circuit breaker rolled back to $primary)"
    log INFO "$ECS_SERVICE is stable on $want"
}

# update [TASK_DEF_ARN]: creates the service, or redeploys it.
cmd_update() {
    need aws jq
    local taskdef=${1:-} status rendered
    if [ -z "$taskdef" ]; then
        taskdef=$(latest_task_definition)
    fi
    ensure_cluster
    status=$(service_status)
    if [ "$status" = ACTIVE ]; then
        log INFO "updating service $ECS_SERVICE to $taskdef (force new deployment)"
        aws_cli ecs update-service --cluster "$ECS_CLUSTER" --service "$ECS_SERVICE" \
            --task-definition "$taskdef" --force-new-deployment >/dev/null
    else
        need_file "$SERVICE_FILE"
        rendered=$(tmp_json)
        jq --arg c "$ECS_CLUSTER" --arg s "$ECS_SERVICE" --arg t "$taskdef" \
            --arg subnets "$ECS_SUBNETS" --arg sgs "$ECS_SECURITY_GROUPS" '
            .cluster = $c | .serviceName = $s | .taskDefinition = $t
            | if $subnets != "" then .networkConfiguration.awsvpcConfiguration.subnets = ($subnets | split(",")) else . end
            | if $sgs != "" then .networkConfiguration.awsvpcConfiguration.securityGroups = ($sgs | split(",")) else . end' \
            "$SERVICE_FILE" >"$rendered"
        if grep -q 'REPLACE_WITH' "$rendered"; then
            die "$SERVICE_FILE still has REPLACE_WITH placeholders: set ECS_SUBNETS and ECS_SECURITY_GROUPS (comma lists) or edit the file"
        fi
        log INFO "creating service $ECS_SERVICE in $ECS_CLUSTER with $taskdef"
        aws_cli ecs create-service --cli-input-json "file://$rendered" >/dev/null
    fi
    wait_stable "$taskdef"
    printf '%s\n' "$taskdef"
}

# rollback [REVISION]: back to REVISION (default: the current one minus 1).
cmd_rollback() {
    need aws
    local current rev family target arn
    current=$(aws_cli ecs describe-services --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE" \
        --query 'services[0].taskDefinition' --output text)
    case "$current" in
    "" | None | null) die "service $ECS_SERVICE not found in cluster $ECS_CLUSTER" ;;
    esac
    rev=${current##*:}
    family=${current##*/}
    family=${family%:*}
    [[ "$rev" =~ ^[0-9]+$ ]] || die "cannot parse the revision of $current"
    target=${1:-$((rev - 1))}
    [[ "$target" =~ ^[0-9]+$ ]] || die "revision must be a number, got '$target'"
    if [ "$target" -lt 1 ]; then
        die "$current is revision 1: there is no previous revision to roll back to"
    fi
    [ "$target" -ne "$rev" ] || die "service already runs $family:$rev"
    arn=$(aws_cli ecs describe-task-definition --task-definition "$family:$target" \
        --query taskDefinition.taskDefinitionArn --output text 2>/dev/null) ||
        die "task definition $family:$target does not exist"
    log INFO "rolling $ECS_SERVICE back from $family:$rev to $family:$target"
    aws_cli ecs update-service --cluster "$ECS_CLUSTER" --service "$ECS_SERVICE" \
        --task-definition "$arn" >/dev/null
    wait_stable "$arn"
    printf '%s\n' "$arn"
}

# Application Auto Scaling target + policies from AUTOSCALING_FILE.
cmd_scaling() {
    need aws jq
    need_file "$AUTOSCALING_FILE"
    local rid="service/$ECS_CLUSTER/$ECS_SERVICE" target n i policy arn
    # Metric-math target tracking (CustomizedMetricSpecification.Metrics)
    # arrived in the API in 2023; older CLIs (Debian 12's aws 2.9.19)
    # reject it client-side, after the target was already registered.
    if jq -e '[.ScalingPolicies[].TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification.Metrics // empty] | length > 0' \
        "$AUTOSCALING_FILE" >/dev/null && ! aws_cli application-autoscaling put-scaling-policy \
        --generate-cli-skeleton input 2>/dev/null |
        jq -e '.TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification | has("Metrics")' >/dev/null; then
        die "this aws CLI ($(aws --version 2>&1)) cannot send metric-math target tracking" \
            "(CustomizedMetricSpecification.Metrics); use a current AWS CLI v2"
    fi
    target=$(tmp_json)
    jq --arg r "$rid" '.ScalableTarget | .ResourceId = $r' "$AUTOSCALING_FILE" >"$target"
    log INFO "registering scalable target $rid"
    aws_cli application-autoscaling register-scalable-target --cli-input-json "file://$target" >/dev/null
    n=$(jq '.ScalingPolicies | length' "$AUTOSCALING_FILE")
    for ((i = 0; i < n; i++)); do
        policy=$(tmp_json)
        jq --arg r "$rid" --arg c "$ECS_CLUSTER" --arg s "$ECS_SERVICE" --argjson i "$i" '
            .ScalingPolicies[$i] | .ResourceId = $r
            | (.. | objects | select(.Name? == "ClusterName") | .Value) |= $c
            | (.. | objects | select(.Name? == "ServiceName") | .Value) |= $s' \
            "$AUTOSCALING_FILE" >"$policy"
        log INFO "putting scaling policy $(jq -r .PolicyName "$policy")"
        arn=$(aws_cli application-autoscaling put-scaling-policy --cli-input-json "file://$policy" \
            --query PolicyARN --output text)
        printf '%s\n' "$arn"
    done
}

# CloudWatch alarms from ALARMS_FILE (PutMetricAlarm inputs).
cmd_alarms() {
    need aws jq
    need_file "$ALARMS_FILE"
    local n i alarm
    n=$(jq '.Alarms | length' "$ALARMS_FILE")
    for ((i = 0; i < n; i++)); do
        alarm=$(tmp_json)
        jq --arg c "$ECS_CLUSTER" --arg s "$ECS_SERVICE" --argjson i "$i" '
            .Alarms[$i]
            | (.. | objects | select(.Name? == "ClusterName") | .Value) |= $c
            | (.. | objects | select(.Name? == "ServiceName") | .Value) |= $s' \
            "$ALARMS_FILE" >"$alarm"
        log INFO "putting alarm $(jq -r .AlarmName "$alarm")"
        aws_cli cloudwatch put-metric-alarm --cli-input-json "file://$alarm"
        jq -r .AlarmName "$alarm"
    done
}

cmd_all() {
    need aws jq "$DOCKER"
    local arn
    cmd_build
    cmd_push >/dev/null
    arn=$(cmd_register)
    cmd_update "$arn"
}

usage() {
    cat <<EOF
Usage: scripts/deploy-ocr-gpu.sh COMMAND [ARG]

Commands:
  build      docker build of infra/docker/Dockerfile.gpu, tagged \$ECR_REPOSITORY:\$IMAGE_TAG and :latest
  push       create the ECR repository if missing, docker login, tag and push :\$IMAGE_TAG and :latest
  register   fill the image into \$TASK_DEF_FILE and register it; prints the task definition ARN
  update     [ARN] create the service (and cluster) if missing, else update-service --force-new-deployment
  all        build, push, register, update
  rollback   [REVISION] point the service at the previous task definition revision (or REVISION)
  scaling    register the Application Auto Scaling target and policies of \$AUTOSCALING_FILE
  alarms     put the CloudWatch alarms of \$ALARMS_FILE
  help       this text

Settings (environment): AWS_REGION=$AWS_REGION ECR_REPOSITORY=$ECR_REPOSITORY
  ECS_CLUSTER=$ECS_CLUSTER ECS_SERVICE=$ECS_SERVICE IMAGE_TAG=$IMAGE_TAG
  AWS_ACCOUNT_ID AWS_ENDPOINT_URL ECR_REGISTRY PLATFORM TASK_DEF_FILE SERVICE_FILE CLUSTER_FILE
  AUTOSCALING_FILE ALARMS_FILE DOCKERFILE DOCKER WAIT_STABLE ECS_SUBNETS ECS_SECURITY_GROUPS
  LOG_RETENTION_DAYS (see the header of this script and doc/T7C_GPU_OCR_DEPLOYMENT.md)
EOF
}

main() {
    local cmd=${1:-help}
    if [ $# -gt 0 ]; then
        shift
    fi
    case "$cmd" in
    build) cmd_build ;;
    push) cmd_push ;;
    register) cmd_register ;;
    update) cmd_update "$@" ;;
    all) cmd_all ;;
    rollback) cmd_rollback "$@" ;;
    scaling) cmd_scaling ;;
    alarms) cmd_alarms ;;
    help | -h | --help) usage ;;
    *)
        usage >&2
        die "unknown command: $cmd"
        ;;
    esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main "$@"
fi
