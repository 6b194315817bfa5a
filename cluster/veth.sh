#!/usr/bin/env bash
# Two hosts on one machine: network namespaces joined by a veth pair, each end with its own address (root).
#   veth.sh up TAG ADDR0 ADDR1    makes namespaces gdl-TAG-0 and gdl-TAG-1 (links gdlTAGv0, gdlTAGv1; loopback up)
#   veth.sh down TAG              deletes them (the pair goes with them)
# Used by tests/cluster/test_two_hosts.py and bench's all-reduce section.
set -euo pipefail
case "${1:-}" in
up)
    TAG=$2
    ip netns add "gdl-$TAG-0"
    ip netns add "gdl-$TAG-1"
    ip link add "gdl${TAG}v0" type veth peer name "gdl${TAG}v1"
    for i in 0 1; do
        address=$([ "$i" = 0 ] && echo "$3" || echo "$4")
        ip link set "gdl${TAG}v$i" netns "gdl-$TAG-$i"
        ip netns exec "gdl-$TAG-$i" ip addr add "$address/24" dev "gdl${TAG}v$i"
        ip netns exec "gdl-$TAG-$i" ip link set "gdl${TAG}v$i" up
        ip netns exec "gdl-$TAG-$i" ip link set lo up
    done
    ;;
down)
    ip netns delete "gdl-$2-0" 2>/dev/null || true
    ip netns delete "gdl-$2-1" 2>/dev/null || true
    ;;
*)
    echo "usage: veth.sh up TAG ADDR0 ADDR1 | down TAG" >&2
    exit 2
    ;;
esac
