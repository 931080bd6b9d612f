#!/usr/bin/env bash
# Installs what is missing (Debian packages, as root), configures and builds into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then
    scripts/install-deps.sh
else
    scripts/install-deps.sh || { echo "build: run once as root: sudo scripts/install-deps.sh" >&2; exit 1; }
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build build -j"$(nproc)"
