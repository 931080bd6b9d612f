#!/usr/bin/env bash
# Installs the Debian packages that building, testing and benchmarking slowlane need.
# Idempotent; run as root. apt-get only.
set -euo pipefail
packages=(
    build-essential cmake pkg-config git ca-certificates
    libzmq3-dev libczmq-dev libcivetweb-dev libjansson-dev libcmocka-dev libsqlite3-dev
    python3 python3-zmq python3-flask curl wrk procps iproute2 nftables
    # scripts/fuzz.sh: clang's libFuzzer. scripts/sanitize.sh uses gcc's ASan/UBSan runtimes
    # (libasan8, libubsan1: build-essential brings them); scripts/valgrind.sh: valgrind.
    clang libclang-rt-14-dev
    valgrind
    docker-compose python3-yaml
    libcurl4-openssl-dev
    prometheus python3-prometheus-client chromium
    gnuplot-nox
)
# The dashboard's browser test runs Playwright on Node.js. The machine image may carry its own
# Node.js build (which conflicts with Debian's npm); take Debian's only when there is none.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
