#!/usr/bin/env bash
# The README's second command: build everything, then run every test (unit and system) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
# Playwright (playwright-core only: it drives Debian's /usr/bin/chromium, downloads no browser).
if [ -f tests/browser/package-lock.json ]; then
    npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
fi
cd build
ctest --output-on-failure --timeout 300 "$@"
