#!/usr/bin/env bash
# build-gpu-worker.sh - build the filot-ocrd GPU image locally (needs a
# docker engine) and show it.  Same settings as deploy-ocr-gpu.sh
# (ECR_REPOSITORY, IMAGE_TAG, PLATFORM, DOCKERFILE, DOCKER); extra
# arguments are ignored.  Equivalent to `deploy-ocr-gpu.sh build` plus a
# `docker images` check that the tag exists.
set -euo pipefail
# shellcheck source=scripts/help.sh
. "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
# shellcheck source=scripts/deploy-ocr-gpu.sh
source "$(dirname "${BASH_SOURCE[0]}")/deploy-ocr-gpu.sh"

cmd_build
if ! "$DOCKER" images "$ECR_REPOSITORY:$IMAGE_TAG" >&2; then
    die "image $ECR_REPOSITORY:$IMAGE_TAG not found after the build"
fi
log INFO "image ready: $ECR_REPOSITORY:$IMAGE_TAG (push with scripts/deploy-ocr-gpu.sh push)"
printf '%s:%s\n' "$ECR_REPOSITORY" "$IMAGE_TAG"
