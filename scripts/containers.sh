#!/usr/bin/env bash
# The containers phase (issue 19; CI runs it, a developer runs it the same way, as root):
#   scripts/containers.sh
# Starts a Docker engine if none answers (scripts/docker-engine.sh), makes debian:bookworm-slim
# from Debian's packages once per machine (no registry is reachable), builds the project's image
# from this checkout as $SLOWLANE_IMAGE (default slowlane:test), and runs tests/containers/
# against it: the image alone, the compose stack, then Docker Swarm on three nodes (each a dockerd
# in a network namespace of its own: scripts/swarm-nodes.sh). Whatever happens, the containers,
# nodes and namespaces the tests made are removed and a daemon this script started is stopped.
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
    scripts/swarm-nodes.sh down
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
# The TLS front's image (tls.yml): nginx from Debian's packages, as no registry is reachable;
# built beside the project's image (it mostly waits on the mirror).
export SLOWLANE_NGINX_IMAGE="${SLOWLANE_NGINX_IMAGE:-slowlane-test-nginx:latest}"
nginx_log=/var/log/slowlane-docker-build-nginx.log
DOCKER_BUILDKIT=0 docker build -f tests/containers/nginx.Dockerfile -t "$SLOWLANE_NGINX_IMAGE" \
    tests/containers > "$nginx_log" 2>&1 &
nginx_build=$!
DOCKER_BUILDKIT=0 docker build -f deploy/docker/Dockerfile -t "$SLOWLANE_IMAGE" . > "$build_log" 2>&1 || {
    tail -40 "$build_log" >&2
    echo "containers: docker build failed (log: $build_log)" >&2
    exit 1
}
echo "containers: $SLOWLANE_IMAGE built in $((SECONDS - built)) s," \
    "$(docker image inspect -f '{{.Size}}' "$SLOWLANE_IMAGE" | awk '{printf "%.1f MB", $1 / 1e6}')"

wait "$nginx_build" || {
    tail -20 "$nginx_log" >&2
    echo "containers: building the TLS front's image failed (log: $nginx_log)" >&2
    exit 1
}

rc=0
/usr/bin/python3 -u tests/containers/test_containers.py || rc=1
swarm=$SECONDS
/usr/bin/python3 -u tests/containers/test_swarm.py || rc=1
echo "containers: swarm tests took $((SECONDS - swarm)) s"
echo "containers: done after $((SECONDS - started)) s"
exit $rc
