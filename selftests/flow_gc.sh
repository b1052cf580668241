#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Flow GC in batches: 3000 UDP flows through the tunnel that conntrack
# then deletes, next to 500 it keeps. The GC looks at 256 flows and
# releases 64 per lock hold, so this takes many holds; the 500 must stay
# tracked, the dump must stay whole while passes run, and the module must
# unload afterwards.
#
#  +--------+     +-----+     +-----+     +-----+     +--------+
#  | client |-----| gwa |=====| wan |=====| gwb |-----| server |
#  +--------+     +-----+ ESP +-----+ ESP +-----+     +--------+
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-ipsec.sh"
require_vm
command -v swanctl >/dev/null || ktap_skip_all "strongSwan (swanctl) not installed"
ktap_plan 7
N=3000
K=500

ipsec_topology && ipsec_site_to_site && vpnflow_load || ktap_skip_all "no topology"
defer vpnflow_unload
# UDP entries must not expire on their own during the test.
ip netns exec "$gwa" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=600
ip netns exec "$gwa" sysctl -qw net.netfilter.nf_conntrack_udp_timeout_stream=600
ipsec_up || ktap_skip_all "no tunnel"
ip netns exec "$client" python3 - "$IPSEC_SERVER" "$N" "$K" <<'PY'
import socket, sys
dst, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for port, count, base in ((9, n, 20000), (10, k, 30000)):
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(('0.0.0.0', base + i))
        s.sendto(b'x', (dst, port))
        s.close()
PY
counter() { "$VPNSYSOPT" -n "$gwa" -j show counters | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
count_json() { "$VPNSYSOPT" -n "$gwa" -j show conn | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
flows_are() { [ "$(counter flows)" = "$1" ]; }
ktap_check "$((N + K)) UDP flows through the tunnel are tracked" busywait 30000 flows_are $((N + K))

# Dumps while GC passes (every 2 s) run: each returns every flow once.
ok=1
for i in 1 2 3 4 5; do
	d=$(count_json)
	[ "$d" = $((N + K)) ] || { ok=0; ktap_info "dump $i: $d flows"; }
	sleep 1
done
ktap_check "five dumps across GC passes each return all $((N + K)) flows" [ $ok = 1 ]

ip netns exec "$gwa" conntrack -D -p udp --dport 9 >/dev/null 2>&1
ktap_info "conntrack entries to port 9 left: $(ip netns exec "$gwa" conntrack -L -p udp --dport 9 2>/dev/null | grep -c .)"
ktap_check "the GC releases the $N deleted ones, the $K others stay" busywait 20000 flows_are $K
ktap_info "flows: $(counter flows), expired: $(counter flows_expired)"
ktap_check "nothing counted as expired (none was preserved)" [ "$(counter flows_expired)" = 0 ]
ktap_check "and the dump returns exactly the $K" [ "$(count_json)" = $K ]
sleep 5
ktap_check "still $K after more GC passes" flows_are $K
ktap_check "the module unloads with flows tracked" vpnflow_unload
ktap_finish
