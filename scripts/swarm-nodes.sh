#!/usr/bin/env bash
# Docker Swarm "hosts" on one machine, for tests/containers/test_swarm.py (issue 19). As root:
#   scripts/swarm-nodes.sh up IMAGE...  three nodes, each with the IMAGEs loaded
#   scripts/swarm-nodes.sh down         stop them and remove everything `up` made
# Each node is a network namespace slnodeN with its own address (10.213.120.1N on a bridge in the
# namespace slsw, where the test's clients run: 10.213.120.1), its own hostname (a UTS namespace)
# and its own dockerd: data-root, exec-root (its own containerd), pid file, socket
# (unix:///run/slowlane-swarm/nodeN/docker.sock), cgroup parent. Nothing is published outside the
# namespaces, so nothing a test runs is reachable from the machine's own interfaces. The machine's
# own Docker engine (scripts/docker-engine.sh) is used only to save IMAGE.
set -uo pipefail

nodes=3
net=10.213.120
run=/run/slowlane-swarm
data=/var/lib/slowlane-swarm

die() { echo "swarm-nodes: $*" >&2; exit 1; }
node_docker() { docker -H "unix://$run/node$1/docker.sock" "${@:2}"; }

start_node() {
    local i=$1 dir=$run/node$1
    mkdir -p "$dir" "$data/node$i"
    # The same private ranges as the machine's engine: each node's are inside its own namespace.
    # DNS: the bridge's address, where nothing listens, so a name Docker does not know fails at
    # once (port unreachable), as a real DNS server's NXDOMAIN would; the machine's own resolver
    # is out of reach from here and would make every such lookup wait its full timeout.
    cat > "$dir/daemon.json" <<EOF
{
  "bip": "10.213.99.1/24",
  "default-address-pools": [{"base": "10.213.96.0/20", "size": 24}],
  "dns": ["$net.1"]
}
EOF
    # nsenter, not `ip netns exec`: that would remount /sys, and dockerd needs the cgroup mounts.
    nsenter --net="/var/run/netns/slnode$i" unshare --uts sh -c "hostname slnode$i && exec dockerd \
        --config-file $dir/daemon.json --data-root $data/node$i --exec-root $dir/exec \
        --pidfile $dir/dockerd.pid -H unix://$dir/docker.sock --cgroup-parent /slnode$i" \
        > "$dir/dockerd.log" 2>&1 &
}

up() {
    [ $# -gt 0 ] || die "usage: swarm-nodes.sh up IMAGE..."
    [ "$(id -u)" -eq 0 ] || die "up needs root"
    ip netns list | grep -qw slsw && die "slsw exists: run 'scripts/swarm-nodes.sh down' first"
    ip netns add slsw
    ip -n slsw link set lo up
    ip -n slsw link add br0 type bridge
    ip -n slsw addr add "$net.1/24" dev br0
    ip -n slsw link set br0 up
    for i in $(seq "$nodes"); do
        ip netns add "slnode$i"
        ip -n "slnode$i" link set lo up
        ip -n slsw link add "veth$i" type veth peer name eth0 netns "slnode$i"
        ip -n slsw link set "veth$i" master br0 up
        ip -n "slnode$i" addr add "$net.1$i/24" dev eth0
        ip -n "slnode$i" link set eth0 up
        start_node "$i"
    done
    local saved=$SECONDS
    docker save "$@" -o "$data/image.tar" || die "docker save $* failed"
    for i in $(seq "$nodes"); do
        local waited=0
        until node_docker "$i" info > /dev/null 2>&1; do
            [ "$waited" -lt 600 ] || { tail -20 "$run/node$i/dockerd.log" >&2; die "node $i's dockerd did not answer in 60 s"; }
            sleep 0.1
            waited=$((waited + 1))
        done
        node_docker "$i" load -q -i "$data/image.tar" > /dev/null || die "node $i: docker load failed"
    done
    rm -f "$data/image.tar"
    echo "swarm-nodes: $nodes nodes up, $* loaded on each, in $((SECONDS - saved)) s"
}

down() {
    for i in $(seq "$nodes"); do
        local dir=$run/node$i
        if [ -S "$dir/docker.sock" ] && node_docker "$i" info > /dev/null 2>&1; then
            node_docker "$i" swarm leave --force > /dev/null 2>&1
            local ids
            ids=$(node_docker "$i" ps -aq)
            [ -z "$ids" ] || node_docker "$i" rm -f $ids > /dev/null 2>&1
        fi
        if [ -e "$dir/dockerd.pid" ]; then
            local pid
            pid=$(cat "$dir/dockerd.pid")
            kill "$pid" 2> /dev/null
            for _ in $(seq 150); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
        fi
        # Whatever is left in the node's namespace (a hung dockerd, its containerd, shims).
        ip netns pids "slnode$i" 2> /dev/null | xargs -r kill -9 2> /dev/null
    done
    for ns in slsw $(seq -f 'slnode%g' "$nodes"); do
        ip netns del "$ns" 2> /dev/null
    done
    # The cgroups the nodes' containers had (cgroupfs driver: one directory per controller).
    for i in $(seq "$nodes"); do
        find /sys/fs/cgroup -depth -type d -path "*/slnode$i*" -exec rmdir {} + 2> /dev/null
    done
    # dockerd shares the machine's mount namespace: the network namespaces it bind-mounted under
    # its exec-root (and anything a killed daemon left mounted) must be unmounted before removal.
    awk -v run="$run" -v data="$data" 'index($2, run) == 1 || index($2, data) == 1 {print $2}' \
        /proc/mounts | sort -r | xargs -r -n1 umount -l 2> /dev/null
    rm -rf "$run" "$data"
    [ ! -e "$run" ] && [ ! -e "$data" ] || die "could not remove $run or $data"
}

case "${1:-}" in
    up) up "${@:2}" ;;
    down) down ;;
    *) die "usage: swarm-nodes.sh up IMAGE... | down" ;;
esac
