#!/usr/bin/env bash
# aws-ecr-setup-gpu.sh - create the ECR repository of the GPU worker when
# missing (scan on push, AES256) and print its URI on stdout.
#
# Usage: scripts/aws-ecr-setup-gpu.sh [--push]
#   --push  also docker login, tag $ECR_REPOSITORY:$IMAGE_TAG and push
#           :$IMAGE_TAG and :latest (same as `deploy-ocr-gpu.sh push`)
# Settings as in deploy-ocr-gpu.sh (AWS_REGION, AWS_ACCOUNT_ID,
# AWS_ENDPOINT_URL, ECR_REPOSITORY, IMAGE_TAG, DOCKER).
set -euo pipefail
# shellcheck source=scripts/deploy-ocr-gpu.sh
source "$(dirname "${BASH_SOURCE[0]}")/deploy-ocr-gpu.sh"

case "${1:-}" in
"") need aws
    ensure_repository ;;
--push) cmd_push ;;
-h | --help) sed -n '2,9p' "${BASH_SOURCE[0]}" ;;
*) die "unknown argument: $1 (expected --push or nothing)" ;;
esac
