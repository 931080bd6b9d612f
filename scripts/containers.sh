#!/usr/bin/env bash
# The containers phase (issue 19; CI runs it, a developer runs it the same way, as root):
#   scripts/containers.sh
# Starts a Docker engine if none answers (scripts/docker-engine.sh), makes debian:bookworm-slim
# from Debian's packages once per machine (no registry is reachable), builds the project's image
# from this checkout as $SLOWLANE_IMAGE (default slowlane:test), and runs tests/containers/
# against it: the image alone, then the compose stack. Whatever happens, the containers the tests
# made are removed and a daemon this script started is stopped.
set -uo pipefail
cd "$(dirname "$0")/.."
export SLOWLANE_IMAGE="${SLOWLANE_IMAGE:-slowlane:test}"
engine=scripts/docker-engine.sh

cleanup() {
    if docker info > /dev/null 2>&1; then
        # Compose projects and containers of tests/containers (sltest<pid>, slowlane-image-<pid>)
        # that a failed or interrupted run left: restart policies would bring them back.
        local left
        left=$(docker ps -a -q --filter name=slowlane-image-;
            docker ps -a --format '{{.ID}} {{.Label "com.docker.compose.project"}}' |
                awk '$2 ~ /^sltest[0-9]+$/ {print $1}')
        [ -z "$left" ] || docker rm -f $left > /dev/null
        docker network ls --format '{{.Name}}' | grep -E '^sltest[0-9]+_' | xargs -r docker network rm > /dev/null
    fi
    "$engine" stop
}
trap cleanup EXIT

started=$SECONDS
"$engine" start || exit 1
"$engine" base-image || exit 1
echo "containers: engine and base image ready after $((SECONDS - started)) s"

built=$SECONDS
# The classic builder (docker.io 20.10's default) uses the local base image and pulls nothing.
build_log=/var/log/slowlane-docker-build.log
DOCKER_BUILDKIT=0 docker build -f deploy/docker/Dockerfile -t "$SLOWLANE_IMAGE" . > "$build_log" 2>&1 || {
    tail -40 "$build_log" >&2
    echo "containers: docker build failed (log: $build_log)" >&2
    exit 1
}
echo "containers: $SLOWLANE_IMAGE built in $((SECONDS - built)) s," \
    "$(docker image inspect -f '{{.Size}}' "$SLOWLANE_IMAGE" | awk '{printf "%.1f MB", $1 / 1e6}')"

rc=0
/usr/bin/python3 -u tests/containers/test_containers.py || rc=1
echo "containers: done after $((SECONDS - started)) s"
exit $rc
