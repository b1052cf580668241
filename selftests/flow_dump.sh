#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Large flow dumps: 3000 UDP flows through the tunnel are tracked and
# dumped over many netlink messages (multi-part dump), whole and filtered.
#
#  +--------+     +-----+     +-----+     +-----+     +--------+
#  | client |-----| gwa |=====| wan |=====| gwb |-----| server |
#  +--------+     +-----+ ESP +-----+ ESP +-----+     +--------+
#  client sends one datagram from each of 3000 source ports to the server.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-ipsec.sh"
require_vm
command -v swanctl >/dev/null || ktap_skip_all "strongSwan (swanctl) not installed"
ktap_plan 5
N=3000

ipsec_topology && ipsec_site_to_site && vpnflow_load && ipsec_up || ktap_skip_all "no tunnel"
defer vpnflow_unload
# The datagrams get no reply: conntrack would drop their entries after
# 30 s, before a slow guest (the debug kernel) has created and dumped them.
ip netns exec "$gwa" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=600
ip netns exec "$client" python3 - "$IPSEC_SERVER" "$N" <<'PY'
import socket, sys
dst, n = sys.argv[1], int(sys.argv[2])
socks = []
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('0.0.0.0', 20000 + i))
    s.sendto(b'x', (dst, 9))
    s.close()
PY
counter() { "$VPNSYSOPT" -n "$gwa" -j show counters | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
all_tracked() { [ "$(counter flows)" -ge "$N" ]; }
ktap_check "$N UDP flows through the tunnel are tracked" busywait 30000 all_tracked
ktap_info "tracked: $(counter flows)"

count_json() { "$VPNSYSOPT" -n "$gwa" -j show conn "$@" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
n_all=$(count_json)
ktap_info "show conn -j: $n_all flows"
ktap_check "the dump returns every tracked flow (multi-part)" [ "$n_all" = "$(counter flows)" ]
tid=$("$VPNSYSOPT" -n "$gwa" -j show vpn-context | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
ktap_check "filtered by tunnel $tid: the same" [ "$(count_json tunnel "$tid")" = "$n_all" ]
ktap_check "filtered by another tunnel id: none" [ "$(count_json tunnel $((tid + 1000)))" = 0 ]
ktap_check "text output has a line per flow" \
	sh -c "[ \$('$VPNSYSOPT' -n $gwa show conn | grep -c ' to ') = $n_all ]"
ktap_finish
