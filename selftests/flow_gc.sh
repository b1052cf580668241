#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Flow GC in batches: 3000 UDP flows through the tunnel that conntrack
# then deletes, next to 500 it keeps. The GC looks at 256 flows and
# releases 64 per lock hold, so this takes many holds; the 500 must stay
# tracked, the dump must stay whole while passes run, and the module must
# unload afterwards. That a GC pass has run is seen, not slept for: a
# new flow (to port 11) whose conntrack entry is deleted is released by
# the first pass that walks the tunnel's flows to their end, where it is.
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
flows_are() { [ "$(vpnflow_counter "$gwa" flows)" = "$1" ]; }
ktap_check "$((N + K)) UDP flows through the tunnel are tracked" busywait 30000 flows_are $((N + K))

# gc_pass N WAIT: a GC pass runs while WAIT is polled (it runs WAIT until
# the pass is seen; N: the flows tracked besides the marker). A marker
# flow, from a new source port to port 11, is tracked, then its conntrack
# entry deleted; the pass that releases it has walked every flow.
marker=40000
gc_pass()
{
	local n=$1
	shift
	marker=$((marker + 1))
	ip netns exec "$client" python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[2])))
s.sendto(b"m", (sys.argv[1], 11))' "$IPSEC_SERVER" "$marker" &&
		busywait 20000 flows_are $((n + 1)) || return 1
	ip netns exec "$gwa" conntrack -D -p udp --dport 11 >/dev/null 2>&1
	busywait 20000 "$@" || return 1
	flows_are "$n"
}

# dump_whole: a dump has every one of the N + K flows exactly once (and
# at most a marker besides).
dump_whole()
{
	"$VPNSYSOPT" -n "$gwa" -j show conn | python3 -c 'import collections, json, sys
n, k = int(sys.argv[1]), int(sys.argv[2])
seen = collections.Counter((f["sport"], f["dport"]) for f in json.load(sys.stdin))
want = {(20000 + i, 9) for i in range(n)} | {(30000 + i, 10) for i in range(k)}
other = [p for p in seen if p not in want and p[1] != 11]
sys.exit(any(seen[p] != 1 for p in want) or bool(other) or
         sum(seen[p] for p in seen if p[1] == 11) > 1)' "$N" "$K"
}

# Dumps while GC passes (every 2 s) run: each returns every flow once.
dumps=0
bad=0
dump_until_released()
{
	dumps=$((dumps + 1))
	dump_whole || { bad=$((bad + 1)); ktap_info "dump $dumps: not whole"; }
	flows_are $((N + K))
}
ok=1
gc_pass $((N + K)) dump_until_released && gc_pass $((N + K)) dump_until_released || ok=0
[ "$bad" = 0 ] || ok=0
ktap_info "$dumps dumps across two GC passes, $bad not whole"
ktap_check "dumps across two GC passes each return all $((N + K)) flows once" [ "$ok" = 1 ]

ip netns exec "$gwa" conntrack -D -p udp --dport 9 >/dev/null 2>&1
ktap_info "conntrack entries to port 9 left: $(ip netns exec "$gwa" conntrack -L -p udp --dport 9 2>/dev/null | grep -c .)"
ktap_check "the GC releases the $N deleted ones, the $K others stay" busywait 20000 flows_are $K
ktap_info "flows: $(vpnflow_counter "$gwa" flows), expired: $(vpnflow_counter "$gwa" flows_expired)"
ktap_check "nothing counted as expired (none was preserved)" [ "$(vpnflow_counter "$gwa" flows_expired)" = 0 ]
ktap_check "and the dump returns exactly the $K" [ "$("$VPNSYSOPT" -n "$gwa" -j show conn | json_len)" = $K ]
two_passes() { gc_pass $K flows_are $K && gc_pass $K flows_are $K; }
ktap_check "still $K after two more GC passes" two_passes
ktap_check "the module unloads with flows tracked" vpnflow_unload
ktap_finish
