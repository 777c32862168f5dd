#!/usr/bin/env bash
# Installs what tests/infra/run.sh needs beyond the Debian packages that
# scripts/deps.sh installs: the Dockerfile linter (npm dockerfile-utils,
# into the project-local build/npm, so no global npm state is touched).
# Debian packages the infra checks use: shellcheck jq awscli curl
# systemd (systemd-analyze) nodejs npm; Python: botocore, moto[server].
# Usage: scripts/infra-deps.sh   (idempotent; quiet when all is present)
set -euo pipefail
# shellcheck source=scripts/help.sh
. "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
cd "$(dirname "$0")/.."

DOCKERFILE_UTILS_VERSION=${DOCKERFILE_UTILS_VERSION:-0.16.3}
prefix=build/npm
bin=$prefix/node_modules/.bin/dockerfile-utils

if [ -x "$bin" ] && grep -q "\"version\": \"$DOCKERFILE_UTILS_VERSION\"" \
    "$prefix/node_modules/dockerfile-utils/package.json" 2>/dev/null; then
    echo "infra-deps: dockerfile-utils $DOCKERFILE_UTILS_VERSION present"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "infra-deps: npm not found (install the Debian packages nodejs and npm)" >&2
    exit 1
fi
mkdir -p "$prefix"
echo "infra-deps: installing dockerfile-utils@$DOCKERFILE_UTILS_VERSION into $prefix"
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
    "dockerfile-utils@$DOCKERFILE_UTILS_VERSION"
