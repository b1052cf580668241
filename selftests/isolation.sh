#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Isolation and permissions: one network namespace cannot see or change
# another's tunnels, flows, counters, options or events; CAP_NET_ADMIN is
# checked against the user namespace that owns the netns, for changes and
# for what says who talks to whom (flows, tunnels, events).
#
#  +--------+     +-----+     +-----+     +-----+     +--------+
#  | client |-----| gwa |=====| wan |=====| gwb |-----| server |
#  +--------+     +-----+ ESP +-----+ ESP +-----+     +--------+
#                  200 tracked UDP flows; a stream torn down (event)
#  +-------+       +--------------------------------------------+
#  | other |       | unshare -Urn: netns owned by a user ns      |
#  +-------+       +--------------------------------------------+
#  "other" and the user-namespace-owned netns look at and poke the module.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-ipsec.sh"
require_vm
command -v swanctl >/dev/null || ktap_skip_all "strongSwan (swanctl) not installed"
command -v setpriv >/dev/null || ktap_skip_all "needs setpriv"
ktap_plan 11
N=200
tmp=$(mktemp -d)
defer rm -rf "$tmp"

ipsec_topology && ipsec_site_to_site && vpnflow_load && ipsec_up || ktap_skip_all "no tunnel"
defer vpnflow_unload
setup_ns other || ktap_skip_all "no netns"
ip netns exec "$client" python3 - "$IPSEC_SERVER" "$N" <<'PY'
import socket, sys
dst, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('0.0.0.0', 20000 + i))
    s.sendto(b'x', (dst, 9))
    s.close()
PY
V() { "$VPNSYSOPT" "$@"; }
tracked() { [ "$(vpnflow_counter "$gwa" flows)" -ge "$N" ]; }
ktap_check "gwa tracks the $N tunneled flows" busywait 30000 tracked
tid=$(V -n "$gwa" -j show vpn-context | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
ktap_info "gwa: tunnel $tid, $(vpnflow_counter "$gwa" flows) flows, sa_events $(vpnflow_counter "$gwa" sa_events)"

sees_nothing()
{
	local ctx conn conn_t
	ctx=$(V -n "$other" -j show vpn-context | json_len)
	conn=$(V -n "$other" -j show conn | json_len)
	conn_t=$(V -n "$other" -j show conn tunnel "$tid" | json_len)
	ktap_info "other: vpn-context $ctx, conn $conn, conn of tunnel $tid $conn_t, flows $(vpnflow_counter "$other" flows), sa_events $(vpnflow_counter "$other" sa_events)"
	[ "$ctx" = 0 ] && [ "$conn" = 0 ] && [ "$conn_t" = 0 ] &&
		[ "$(vpnflow_counter "$other" flows)" = 0 ] && [ "$(vpnflow_counter "$other" sa_events)" = 0 ] &&
		[ "$(vpnflow_counter "$other" tunnels_up)" = 0 ]
}
ktap_check "another netns sees none of gwa's tunnels, flows or counters" sees_nothing

# Changes in "other" leave gwa as it was.
snapshot() { V -n "$gwa" -j show counters >"$1.cnt"; V -n "$gwa" show running-config all >"$1.cfg"; }
snapshot "$tmp/before"
V -n "$other" clear counters &&
V -n "$other" connection preserve-vpn-flows &&
V -n "$other" connection tcpmss 1200 &&
V -n "$other" no connection reclassify-vpn
rc=$?
snapshot "$tmp/after"
same_counters()
{
	# Gauges and event counters of gwa may only grow (traffic goes on); none
	# may have been cleared.
	python3 - "$tmp/before.cnt" "$tmp/after.cnt" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
bad = [k for k in a if isinstance(a[k], int) and k != 'flows_held' and b.get(k, -1) < a[k]]
print('# lower after:', bad)
sys.exit(1 if bad or a['sa_events'] == 0 else 0)
PY
}
ktap_check "clear counters in another netns leaves gwa's counters" sh -c "[ $rc = 0 ] && $(declare -f same_counters); tmp=$tmp same_counters"
ktap_check "option changes in another netns leave gwa's configuration" cmp -s "$tmp/before.cfg" "$tmp/after.cfg"
ktap_check "and they did apply in that netns" sh -c "V() { $VPNSYSOPT \"\$@\"; }; V -n $other show running-config | grep -q 'tcpmss 1200'"

# A netns owned by a new user namespace: its root has CAP_NET_ADMIN there
# (GENL_UNS_ADMIN_PERM), sees only its own netns and can configure it.
userns_own()
{
	unshare --user --map-root-user --net sh -c "
		$VPNSYSOPT connection preserve-vpn-flows || exit 10
		$VPNSYSOPT show running-config | grep -q 'preserve-vpn-flows' || exit 11
		[ \"\$($VPNSYSOPT -j show vpn-context)\" = '[]' ] || exit 12
		[ \"\$($VPNSYSOPT -j show conn)\" = '[]' ] || exit 13
		exit 0"
	local rc=$?
	ktap_info "user-namespace-owned netns: exit $rc"
	[ "$rc" = 0 ]
}
ktap_check "root of a user namespace configures its own netns, sees no other" userns_own
ktap_check "gwa's configuration is still untouched" sh -c "V() { $VPNSYSOPT \"\$@\"; }; V -n $gwa show running-config all | cmp -s - $tmp/before.cfg"

nobody_clear()
{
	local rc f0
	f0=$(vpnflow_counter "$gwa" sa_events)
	ip netns exec "$gwa" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$VPNSYSOPT" clear counters >/dev/null 2>&1
	rc=$?
	ktap_info "unprivileged clear counters in gwa: exit $rc"
	[ "$rc" = 4 ] && [ "$(vpnflow_counter "$gwa" sa_events)" -ge "$f0" ] && [ "$f0" -gt 0 ]
}
ktap_check "an unprivileged user cannot clear gwa's counters (exit 4)" nobody_clear

# Who talks to whom: gwa's flows and tunnels need CAP_NET_ADMIN to be read
# (as conntrack's and xfrm's own do); its counters stay readable.
nobody_reads()
{
	local rc_conn rc_ctx rc_cnt
	ip netns exec "$gwa" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$VPNSYSOPT" show conn >"$tmp/nobody.conn" 2>&1
	rc_conn=$?
	ip netns exec "$gwa" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$VPNSYSOPT" -j show vpn-context >"$tmp/nobody.ctx" 2>&1
	rc_ctx=$?
	ip netns exec "$gwa" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$VPNSYSOPT" -j show counters >"$tmp/nobody.cnt" 2>&1
	rc_cnt=$?
	ktap_info "unprivileged in gwa: show conn exit $rc_conn ($(head -c 200 "$tmp/nobody.conn" | tr '\n' '|')), show vpn-context exit $rc_ctx, show counters exit $rc_cnt"
	[ "$rc_conn" = 4 ] && grep -q 'permission denied: reading flows needs CAP_NET_ADMIN' "$tmp/nobody.conn" &&
		! grep -q "$IPSEC_SERVER" "$tmp/nobody.conn" &&
		[ "$rc_ctx" = 4 ] && ! grep -q "$IPSEC_GWB_WAN" "$tmp/nobody.ctx" &&
		[ "$rc_cnt" = 0 ]
}
ktap_check "an unprivileged user cannot read gwa's flows or tunnels (exit 4), only its counters" nobody_reads
nobody_monitor()
{
	local rc
	ip netns exec "$gwa" setpriv --reuid=65534 --regid=65534 --clear-groups \
		timeout 20 "$VPNSYSOPT" monitor >"$tmp/nobody.mon" 2>&1
	rc=$?
	ktap_info "unprivileged monitor in gwa: exit $rc: $(tr '\n' '|' <"$tmp/nobody.mon")"
	[ "$rc" = 4 ] && grep -q 'permission denied: monitor needs CAP_NET_ADMIN' "$tmp/nobody.mon"
}
ktap_check "an unprivileged user cannot listen to gwa's events (exit 4)" nobody_monitor

# Events go to listeners of the netns they happened in only.
# subscribed PID: PID holds a generic netlink socket joined to a group.
subscribed()
{
	local ino
	for ino in $(ls -l "/proc/$1/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p'); do
		awk -v i="$ino" '$2 == 16 && $4 != "00000000" && $NF == i { f = 1 } END { exit !f }' \
			"/proc/$1/net/netlink" && return 0
	done
	return 1
}
# A live stream through the tunnel (the one-shot flows above may have
# expired by now): its teardown is the event.
ip netns exec "$client" python3 "$VPNFLOW_TOP/selftests/tools/udpstream.py" send "$IPSEC_SERVER" 5004 &
defer kill $!
"$VPNSYSOPT" -n "$gwa" monitor >"$tmp/mon.gwa" 2>&1 &
m1=$!
defer kill $m1
"$VPNSYSOPT" -n "$other" monitor >"$tmp/mon.other" 2>&1 &
m2=$!
defer kill $m2
unshare --user --map-root-user --net "$VPNSYSOPT" monitor >"$tmp/mon.userns" 2>&1 &
m3=$!
defer kill $m3
stream_tracked() { [ "$(V -n "$gwa" -j show conn | python3 -c 'import json,sys; print(sum(1 for f in json.load(sys.stdin) if "5004" in json.dumps(f)))')" -ge 1 ]; }
busywait 20000 stream_tracked && busywait 10000 subscribed $m1 && busywait 10000 subscribed $m2 && busywait 10000 subscribed $m3 &&
	touch "$tmp/subscribed"
swanctl_ gwa --terminate --ike site --timeout 20 >/dev/null 2>&1
teardowns() { grep -qi 'teardown.*5004' "$tmp/mon.gwa"; }
busywait 30000 teardowns
ktap_info "monitor lines: gwa $(wc -l <"$tmp/mon.gwa"), other $(wc -l <"$tmp/mon.other"), userns $(wc -l <"$tmp/mon.userns")"
ktap_check "gwa's teardown events reach gwa's monitor only (all three subscribed)" \
	sh -c "[ -f $tmp/subscribed ] && grep -qi 'teardown.*5004' $tmp/mon.gwa && [ ! -s $tmp/mon.other ] && [ ! -s $tmp/mon.userns ]"
ktap_finish
