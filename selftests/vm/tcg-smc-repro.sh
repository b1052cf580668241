#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shows the TCG livelock that pin-nf-keys.sh works around, with no vpnflow
# module loaded: TCP over a veth pair on both vCPUs while an nft input base
# chain is added and deleted in a third netns, each time flipping the
# static key nf_hooks_needed[NFPROTO_IPV4][NF_INET_LOCAL_IN] and so
# patching ip_local_deliver() under traffic.
#
#   sa (4 x socat from /dev/zero) --veth--> sb (socat to /dev/null)
#   sc: nft add/delete "type filter hook input" chain, FLIPS times
#
# Host:  selftests/vm/run-vm.sh -P -a "softlockup_panic=1
#          softlockup_all_cpu_backtrace=1" -r DIR -- selftests/vm/tcg-smc-repro.sh
# With -P (keys not pinned) the guest here died of a soft lockup on both
# vCPUs (one at asm_exc_int3 from ip_local_deliver+0x5d) within a minute;
# without -P all the flips go through and it prints "done".
set -u
flips=${FLIPS:-500}
for ns in sa sb sc; do ip netns add "$ns" || exit 1; done
ip link add va netns sa type veth peer name vb netns sb
ip -n sa addr add 10.9.0.1/24 dev va
ip -n sb addr add 10.9.0.2/24 dev vb
ip -n sa link set va up
ip -n sb link set vb up
ip netns exec sb socat -u TCP-LISTEN:5001,fork,reuseaddr OPEN:/dev/null &
for _ in $(seq 50); do
	ip netns exec sb ss -Hltn | grep -q :5001 && break
	sleep 0.1
done
for _ in 1 2 3 4; do
	ip netns exec sa socat -u OPEN:/dev/zero TCP:10.9.0.2:5001 &
done
t0=$(date +%s)
for ((i = 1; i <= flips; i++)); do
	ip netns exec sc nft 'add table ip t; add chain ip t c { type filter hook input priority 0; }' || exit 1
	ip netns exec sc nft 'delete table ip t' || exit 1
	[ $((i % 100)) = 0 ] &&
		echo "$((2 * i)) flips, $(($(date +%s) - t0)) s, sb received $(ip -n sb -s link show vb | awk '/RX:/ { getline; print $1 }') bytes"
done
echo "done: $((2 * flips)) flips in $(($(date +%s) - t0)) s"
kill $(jobs -p) 2>/dev/null
