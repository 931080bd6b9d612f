#!/usr/bin/env bash
# The README's first command: build everything, then start the local cluster
# (`slowlane up`: /fast and /slow on http://localhost:8080). Flags go to `slowlane up`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
exec build/bin/slowlane up "$@"
