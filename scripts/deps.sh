#!/usr/bin/env bash
# Installs the Debian 12 packages filot-ocrd needs, only when some are
# missing.  Usage: scripts/deps.sh build|test|run|bench
# The package lists live in the Makefile (DEB_BUILD_PKGS etc.), so the
# Dockerfile and this script cannot drift apart.
set -euo pipefail
# shellcheck source=scripts/help.sh
. "$(dirname "${BASH_SOURCE[0]}")/help.sh" "$@"
cd "$(dirname "$0")/.."
what=${1:-test}
case "$what" in
build) var=DEB_BUILD_PKGS ;;
test) var=DEB_TEST_PKGS ;;
run) var=DEB_RUN_PKGS ;;
bench) var=DEB_BENCH_PKGS ;;
*) echo "usage: $0 build|test|run|bench" >&2; exit 2 ;;
esac
# Python tools the tests use (moto_server as the R2 stand-in, botocore for
# the AWS API models) come with pip, not apt: say so clearly when absent.
if [ "$what" = test ]; then
    command -v moto_server >/dev/null 2>&1 || echo "deps: moto_server not found (pip install 'moto[server]')" >&2
    python3 -c 'import botocore' 2>/dev/null || echo "deps: python botocore not found (pip install botocore)" >&2
fi

# shellcheck disable=SC2207
pkgs=($(make -s --no-print-directory print-$var))
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#pkgs[@]} packages present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages (run as root to install): ${missing[*]}" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

