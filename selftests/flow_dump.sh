#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Large flow dumps: 3000 UDP flows through the tunnel are tracked and
# dumped over many netlink messages (multi-part dump), whole and filtered.
# A flow's bytes are exact: five datagrams of known sizes in a new flow,
# which the server drops without a reply, count every IP byte, the first
# packet's (the one that created the flow) included.
#
#  +--------+     +-----+     +-----+     +-----+     +--------+
#  | client |-----| gwa |=====| wan |=====| gwb |-----| server |
#  +--------+     +-----+ ESP +-----+ ESP +-----+     +--------+
#  client sends one datagram from each of 3000 source ports to the server,
#  then five from port 40000 to port 7777 (dropped and counted by server).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-ipsec.sh"
require_vm
command -v swanctl >/dev/null || ktap_skip_all "strongSwan (swanctl) not installed"
ktap_plan 7
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
all_tracked() { [ "$(vpnflow_counter "$gwa" flows)" -ge "$N" ]; }
ktap_check "$N UDP flows through the tunnel are tracked" busywait 30000 all_tracked
ktap_info "tracked: $(vpnflow_counter "$gwa" flows)"

# count_json [FILTER...]: how many flows gwa's show conn lists.
count_json() { "$VPNSYSOPT" -n "$gwa" -j show conn "$@" | json_len; }
n_all=$(count_json)
ktap_info "show conn -j: $n_all flows"
ktap_check "the dump returns every tracked flow (multi-part)" [ "$n_all" = "$(vpnflow_counter "$gwa" flows)" ]
tid=$("$VPNSYSOPT" -n "$gwa" -j show vpn-context | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
ktap_check "filtered by tunnel $tid: the same" [ "$(count_json tunnel "$tid")" = "$n_all" ]
ktap_check "filtered by another tunnel id: none" [ "$(count_json tunnel $((tid + 1000)))" = 0 ]
ktap_check "text output has a line per flow" \
	sh -c "[ \$('$VPNSYSOPT' -n $gwa show conn | grep -c ' to ') = $n_all ]"

# Bytes: IPv4 and UDP headers (28) and the payload of each datagram, all
# in one direction (nothing comes back, not even an ICMP error).
sizes="100 1 500 1000 37"
want=0
for p in $sizes; do want=$((want + 28 + p)); done
ip netns exec "$server" nft -f - <<'NFT'
table inet sink {
	chain in {
		type filter hook input priority filter; policy accept;
		udp dport 7777 counter drop
	}
}
NFT
ip netns exec "$client" python3 - "$IPSEC_SERVER" $sizes <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 40000))
for n in sys.argv[2:]:
    s.sendto(b'b' * int(n), (sys.argv[1], 7777))
PY
sunk() {
	[ "$(ip netns exec "$server" nft -j list table inet sink | python3 -c 'import json, sys
print(sum(o["rule"]["expr"][-2]["counter"]["packets"] for o in json.load(sys.stdin)["nftables"] if "rule" in o))')" = 5 ]
}
flow_bytes() {
	"$VPNSYSOPT" -n "$gwa" -j show conn | python3 -c 'import json, sys
print(" ".join(str(f["bytes"]) for f in json.load(sys.stdin) if f["sport"] == 40000 and f["dport"] == 7777))'
}
ktap_check "five datagrams of a new flow reach the server through the tunnel" busywait 20000 sunk
got=$(flow_bytes)
ktap_info "flow 40000 -> 7777: bytes ${got:-(not tracked)}, sent $want (datagrams of $sizes bytes)"
ktap_check "its bytes are every packet's, the first included: $want" [ "$got" = "$want" ]
ktap_finish
