#!/usr/bin/env bash
# A Docker engine for the container tests, on a machine with no systemd and no image registry
# (docs/deploy.md, "Testing the containers"). As root:
#   scripts/docker-engine.sh start        install docker.io if missing, start dockerd if none answers
#   scripts/docker-engine.sh base-image   make debian:bookworm-slim from Debian's packages, once
#   scripts/docker-engine.sh stop         stop the dockerd that `start` started (none other)
# Docker's networks stay on 10.213.96.0/20 (the bridge on 10.213.99.1/24), a range of our own, so
# no test traffic leaves the machine, and a published port binds 127.0.0.1 unless it names another
# address ("ip"; Swarm's host-mode ports too); an existing /etc/docker/daemon.json is left as it is.
set -euo pipefail

state=/run/slowlane-dockerd.pid # written only when this script started the daemon
log=/var/log/slowlane-dockerd.log
image=debian:bookworm-slim

die() { echo "docker-engine: $*" >&2; exit 1; }

answers() { docker info > /dev/null 2>&1; }

install_engine() {
    local missing=()
    command -v dockerd > /dev/null || missing+=(docker.io)
    command -v docker-compose > /dev/null || missing+=(docker-compose)
    command -v debootstrap > /dev/null || missing+=(debootstrap)
    command -v iptables > /dev/null || missing+=(iptables)
    command -v openssl > /dev/null || missing+=(openssl) # the TLS front's test certificate
    [ ${#missing[@]} -eq 0 ] && return
    echo "docker-engine: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

start() {
    [ "$(id -u)" -eq 0 ] || die "start needs root"
    if answers; then
        echo "docker-engine: a Docker engine already answers; using it"
        return
    fi
    install_engine
    mkdir -p /etc/docker
    if [ ! -e /etc/docker/daemon.json ]; then
        cat > /etc/docker/daemon.json <<'EOF'
{
  "bip": "10.213.99.1/24",
  "default-address-pools": [{"base": "10.213.96.0/20", "size": 24}],
  "ip": "127.0.0.1"
}
EOF
    fi
    # No systemd: dockerd runs in the background and starts its own containerd.
    nohup dockerd > "$log" 2>&1 &
    echo $! > "$state"
    local waited=0
    until answers; do
        kill -0 "$(cat "$state")" 2> /dev/null || { tail -20 "$log" >&2; die "dockerd exited (log: $log)"; }
        [ "$waited" -lt 600 ] || die "dockerd did not answer within 60 s (log: $log)"
        sleep 0.1
        waited=$((waited + 1))
    done
    echo "docker-engine: dockerd $(docker version --format '{{.Server.Version}}') started (log: $log)"
}

stop() {
    [ -e "$state" ] || { echo "docker-engine: not started by this script; left running"; return; }
    local pid
    pid=$(cat "$state")
    if kill -0 "$pid" 2> /dev/null; then
        kill "$pid"
        # dockerd stops its containers (10 s grace each at most) and its containerd first.
        for _ in $(seq 1 600); do
            kill -0 "$pid" 2> /dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2> /dev/null && kill -9 "$pid"
    fi
    rm -f "$state"
    echo "docker-engine: dockerd stopped"
}

# The mirrors this machine's apt uses for Debian itself and for its security updates (deb822 or
# one-line sources): the only ones reachable from here.
mirror() {
    local kind=$1 uri # kind: main or security
    uri=$(awk -v kind="$kind" '/^URIs:/ && (kind == "security") == ($2 ~ /security/) {print $2; exit}' \
        /etc/apt/sources.list.d/*.sources 2> /dev/null || true)
    [ -n "$uri" ] || uri=$(awk -v kind="$kind" '$1 == "deb" && (kind == "security") == ($2 ~ /security/) \
        {print $2; exit}' /etc/apt/sources.list 2> /dev/null || true)
    echo "$uri"
}

base_image() {
    [ "$(id -u)" -eq 0 ] || die "base-image needs root"
    if docker image inspect "$image" > /dev/null 2>&1; then
        echo "docker-engine: $image already made"
        return
    fi
    local rootfs started=$SECONDS
    rootfs=$(mktemp -d /var/tmp/slowlane-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' RETURN
    local main security
    main=$(mirror main)
    security=$(mirror security)
    [ -n "$main" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d}"
    echo "docker-engine: debootstrap bookworm from $main (about a minute)"
    debootstrap --variant=minbase bookworm "$rootfs" "$main" > /var/log/slowlane-debootstrap.log 2>&1 ||
        { tail -20 /var/log/slowlane-debootstrap.log >&2; die "debootstrap failed"; }
    # The image's apt reads the mirrors this machine reads, and only Debian's.
    rm -f "$rootfs"/etc/apt/sources.list
    mkdir -p "$rootfs"/etc/apt/sources.list.d
    {
        printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\n' "$main"
        printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
        [ -z "$security" ] || printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$security"
    } > "$rootfs"/etc/apt/sources.list.d/debian.sources
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import - "$image" > /dev/null
    echo "docker-engine: $image made in $((SECONDS - started)) s"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
base-image) base_image ;;
*) die "usage: $0 start|stop|base-image" ;;
esac
