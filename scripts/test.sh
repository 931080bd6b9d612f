#!/usr/bin/env bash
# The README's second command: build everything, then run every test (unit and system) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
# The npm packages the tests use, each from its lock file: Playwright (playwright-core only: it
# drives Debian's /usr/bin/chromium, downloads no browser), the Node.js SDK (zeromq, whose
# package carries prebuilt binaries, and express), and the seed's Express app.
for dir in tests/browser sdk/node examples/seed-express; do
    if [ -f "$dir/package-lock.json" ]; then
        npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
    fi
done
cd build
ctest --output-on-failure --timeout 300 "$@"
