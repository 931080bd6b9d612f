#!/usr/bin/env bash
# The README's second command: build everything, then run every test (unit and system) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
cd build
ctest --output-on-failure --timeout 300 "$@"
