#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# preserve-vpn-flows across every way a tunnel goes away and comes back, on
# real strongSwan tunnels: rekey (make-before-break: nothing happens),
# swanctl --terminate/--initiate, ip xfrm state flush, hard lifetime
# expiry, inactivity, two tunnels (IPv4 and IPv6, one dropped), NAT-T,
# route-based (xfrm interface, if_id), the option turned on while the
# tunnel is up and off while flows are preserved, netns deletion and
# module unload with preserved flows.
#
#  site A 198.51.100.0/26, 2001:db8:a::/64      site B 198.51.100.64/26, 2001:db8:b::/64
#  +--------+     +-----------+     +-------+     +-----------+     +--------+
#  | client |-----|    gwa    |=====|  wan  |=====|    gwb    |-----| server |
#  +--------+ lan | 192.0.2.1 |     |router |     |203.0.113.2| lan +--------+
#                 | 2001:db8:1::1   +-------+   2001:db8:2::2 |
#                 +-----------+                 +-----------+
#  In each case a slow download (40 kB/s) runs from the server to the
#  client through the tunnel while the tunnel is taken down and restored.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-ipsec.sh"
require_vm
command -v swanctl >/dev/null || ktap_skip_all "strongSwan (swanctl) not installed"

tmp=$(mktemp -d)
defer rm -rf "$tmp"
XFER_BYTES=20000000
XFER_RATE=40000

# Inside a case (a subshell): result RC DESC records one KTAP result.
result() { echo "$1 $2" >>"$tmp/results"; }
check() { local d=$1; shift; if "$@"; then result 0 "$d"; else result 1 "$d"; fi; }

V() { local ns=$1; shift; "$VPNSYSOPT" -n "$ns" "$@"; }

# flow_state NETNS PORT: "active" / "preserved" / "" for the flow to PORT.
flow_state()
{
	V "$1" -j show conn | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c["dport"] == int(sys.argv[1]):
        print(c["state"]); break' "$2"
}
state_is() { [ "$(flow_state "$1" "$2")" = "$3" ]; }
wait_state() { busywait 30000 state_is "$@"; } # NETNS PORT STATE
progress() { cat "$1.progress" 2>/dev/null || echo 0; }
# advancing FILE: the download got 100 kB further within 60 s.
advancing()
{
	local p0
	p0=$(progress "$1")
	busywait 60000 sh -c "[ \$(cat $1.progress 2>/dev/null || echo 0) -ge $((p0 + 100000)) ]"
}

# case_setup [ipsec_conf settings...]: topology, charon, module with
# preserve on, tunnel up, download running (port 5001, IPv4) into $tmp/dl.
case_setup()
{
	SETUP_STEP=topology; ipsec_topology || return 1
	SETUP_STEP=charon; ipsec_site_to_site "$@" || return 1
	SETUP_STEP=module; vpnflow_load || return 1
	SETUP_STEP=options
	V "$gwa" connection preserve-vpn-flows && V "$gwb" connection preserve-vpn-flows || return 1
	SETUP_STEP="tunnel up"; ipsec_up || return 1
	SETUP_STEP="server"; xfer_server || return 1
	SETUP_STEP="download"; download "$IPSEC_SERVER" "$tmp/dl" || return 1
	SETUP_STEP="flow tracked"
	wait_state "$gwa" 5001 active && wait_state "$gwb" 5001 active && return 0
	ktap_info "setup: flow to port 5001 '$(flow_state "$gwa" 5001)' on gwa, '$(flow_state "$gwb" 5001)' on gwb, download at $(progress "$tmp/dl") bytes, $(ip -n "$gwa" xfrm state | grep -c ^src) SAs on gwa"
	return 1
}

# download DST OUT: background download (killed at the end of the case).
download()
{
	rm -f "$2" "$2.progress"	# an earlier case's download is not this one
	ip netns exec "$client" python3 "$XFER" client "$1" 5001 600 "$2" 600 &
	defer kill $!
	busywait 20000 sh -c "[ \$(cat $2.progress 2>/dev/null || echo 0) -ge 50000 ]"
}

# A tunnel that goes down and comes back: flows preserved on both sides,
# then resumed, and the download moves on. down/up are commands.
# preserved_on NETNS: the flow is preserved there, or was: charon may put
# a new CHILD_SA up before a poll sees the state (the debug kernel polls
# slowly), and the counter keeps what a snapshot can miss.
preserved_on() { state_is "$1" 5001 preserved || [ "$(vpnflow_counter "$1" flows_preserved)" -ge 1 ]; }
down_up()
{
	local what=$1 down=$2 up=$3
	$down
	check "$what: flow preserved on gwa" busywait 30000 preserved_on "$gwa"
	check "$what: flow preserved on gwb" busywait 30000 preserved_on "$gwb"
	preserved_on "$gwa" && preserved_on "$gwb" ||
		ktap_info "$what: flow '$(flow_state "$gwa" 5001)'/'$(flow_state "$gwb" 5001)', flows_preserved $(vpnflow_counter "$gwa" flows_preserved)/$(vpnflow_counter "$gwb" flows_preserved), tunnels_down $(vpnflow_counter "$gwa" tunnels_down)/$(vpnflow_counter "$gwb" tunnels_down), SAs $(ip -n "$gwa" xfrm state | grep -c ^src)/$(ip -n "$gwb" xfrm state | grep -c ^src) on gwa/gwb"
	$up
	check "$what: download resumes through the new SA" advancing "$tmp/dl"
	check "$what: resumed counted on both gateways" \
		sh -c "[ $(vpnflow_counter "$gwa" flows_resumed) -ge 1 ] && [ $(vpnflow_counter "$gwb" flows_resumed) -ge 1 ]"
}

run_case()
{
	local name=$1
	shift
	ktap_info "case: $name"
	(
		_defer_cmds=()
		trap _run_defer EXIT
		"$@"
		touch "$tmp/done.$name"
	)
	# A case that died half-way still reports what it recorded, and fails.
	[ -f "$tmp/done.$name" ] || result 1 "$name: the case did not run to its end"
}

terminate() { swanctl_ gwa --terminate --ike site --timeout 20 >/dev/null 2>&1; }
initiate() { ipsec_up; }

case_rekey()
{
	case_setup || { result 1 "rekey: setup (failed at: $SETUP_STEP)"; return; }
	local spis
	spis=$(ip -n "$gwa" xfrm state | awk '/spi/ { print $4 }' | sort | tr '\n' ' ')
	swanctl_ gwa --rekey --child net >/dev/null 2>&1
	check "rekey: new SAs replace the old ones" busywait 30000 sh -c \
		"n=\$(ip -n $gwa xfrm state | awk '/spi/ { print \$4 }' | sort | tr '\n' ' ');
		 [ \"\$n\" != '$spis' ] && [ \$(ip -n $gwa xfrm state | grep -c ^src) = 2 ]"
	check "rekey: download carries on" advancing "$tmp/dl"
	check "rekey: nothing preserved, no tunnel down, flow active" sh -c \
		"[ $(vpnflow_counter "$gwa" flows_preserved) = 0 ] && [ $(vpnflow_counter "$gwb" flows_preserved) = 0 ] &&
		 [ $(vpnflow_counter "$gwa" tunnels_down) = 0 ] && [ \"$(flow_state "$gwa" 5001)\" = active ]"
}

case_terminate()
{
	case_setup || { result 1 "terminate: setup (failed at: $SETUP_STEP)"; return; }
	down_up "swanctl --terminate/--initiate" terminate initiate
}

flush_both() { ip -n "$gwa" xfrm state flush; ip -n "$gwb" xfrm state flush; }
case_flush()
{
	case_setup || { result 1 "xfrm state flush: setup (failed at: $SETUP_STEP)"; return; }
	# strongSwan still believes in its CHILD_SA: restart it by hand.
	down_up "ip xfrm state flush" flush_both "eval terminate; initiate"
}

case_expire()
{
	case_setup life=25s || { result 1 "hard expiry: setup (failed at: $SETUP_STEP)"; return; }
	# The kernel deletes both SAs at the hard limit (no rekeying); strongSwan
	# may put up a new CHILD_SA right away, so the flow can be preserved for
	# a moment only: look at the counters, not at a snapshot.
	preserved_both() { [ "$(vpnflow_counter "$gwa" flows_preserved)" -ge 1 ] && [ "$(vpnflow_counter "$gwb" flows_preserved)" -ge 1 ]; }
	check "hard lifetime expiry: flow preserved on both gateways" busywait 60000 preserved_both
	check "hard lifetime expiry: the tunnel went down" sh -c "[ $(vpnflow_counter "$gwa" tunnels_down) -ge 1 ]"
	bash -c "$(declare -f swanctl_ child_installed); IPSEC_DIR=$IPSEC_DIR child_installed gwa net" || initiate
	check "hard lifetime expiry: download resumes through the new SA" advancing "$tmp/dl"
	check "hard lifetime expiry: resumed counted on both gateways" \
		sh -c "[ $(vpnflow_counter "$gwa" flows_resumed) -ge 1 ] && [ $(vpnflow_counter "$gwb" flows_resumed) -ge 1 ]"
}

case_inactivity()
{
	# 20 s idle (scaled: on the debug kernel the setup's own pauses
	# reach that before the download starts).
	case_setup inactivity=$((20 * VPNFLOW_SLOW))s || { result 1 "inactivity: setup (failed at: $SETUP_STEP)"; return; }
	# The download keeps the SA busy: stop it, keep its TCP connection open
	# and idle (SIGSTOP), and let the inactivity timer close the CHILD_SA.
	local pid
	pid=$(pgrep -f "xfer.py client" | head -n 1)
	kill -STOP "$pid"
	pkill -STOP -f "xfer.py server"
	check "inactivity: CHILD_SA closed after idle time" busywait 60000 sh -c \
		"[ \$(ip -n $gwa xfrm state | grep -c ^src) = 0 ]"
	check "inactivity: idle flow preserved on gwa" wait_state "$gwa" 5001 preserved
	initiate
	pkill -CONT -f "xfer.py server"
	kill -CONT "$pid"
	check "inactivity: download resumes after re-initiation" advancing "$tmp/dl"
}

# v6_flow_is STATE: gwa's flow to the server's IPv6 address is in STATE.
v6_flow_is()
{
	V "$gwa" -j show conn | python3 -c '
import json, sys
sys.exit(not any(c["dst"] == "2001:db8:b::2" and c["state"] == sys.argv[1]
                 for c in json.load(sys.stdin)))' "$1"
}

case_two_tunnels()
{
	case_setup || { result 1 "two tunnels: setup (failed at: $SETUP_STEP)"; return; }
	ipsec_site_to_site6 && ipsec_up net6 || { result 1 "two tunnels: IPv6 tunnel up"; return; }
	download "$IPSEC_SERVER6" "$tmp/dl6"
	local tid6
	terminate
	check "two tunnels: IPv4 flow preserved" wait_state "$gwa" 5001 preserved
	check "two tunnels: IPv6 download carries on meanwhile" advancing "$tmp/dl6"
	check "two tunnels: the IPv6 tunnel's flow stays active" v6_flow_is active
	initiate
	check "two tunnels: IPv4 download resumes" advancing "$tmp/dl"
	# And the IPv6 tunnel (IPv6 inside and out) on its own.
	swanctl_ gwa --terminate --ike site6 --timeout 20 >/dev/null 2>&1
	check "IPv6 tunnel: IPv6 flow preserved" busywait 30000 v6_flow_is preserved
	ipsec_up net6
	check "IPv6 tunnel: IPv6 download resumes" advancing "$tmp/dl6"
}

case_natt()
{
	case_setup encap=yes || { result 1 "NAT-T: setup (failed at: $SETUP_STEP)"; return; }
	check "NAT-T: SAs are UDP-encapsulated" sh -c "ip -n $gwa xfrm state | grep -q 'encap type espinudp'"
	down_up "NAT-T" terminate initiate
}

case_xfrmi()
{
	ipsec_topology || { result 1 "xfrm interface: setup (failed at: $SETUP_STEP)"; return; }
	ip -n "$gwa" link add xfrm42 type xfrm dev wan0 if_id 42 && ip -n "$gwa" link set xfrm42 up &&
	ip -n "$gwb" link add xfrm42 type xfrm dev wan0 if_id 42 && ip -n "$gwb" link set xfrm42 up &&
	ip -n "$gwa" route add "$IPSEC_B_LAN" dev xfrm42 &&
	ip -n "$gwb" route add "$IPSEC_A_LAN" dev xfrm42 || { result 1 "xfrm interface: links"; return; }
	ipsec_site_to_site if_id=42 && vpnflow_load &&
	V "$gwa" connection preserve-vpn-flows && V "$gwb" connection preserve-vpn-flows &&
	ipsec_up && xfer_server || { result 1 "xfrm interface: tunnel"; return; }
	download "$IPSEC_SERVER" "$tmp/dl"
	check "xfrm interface: SAs carry if_id 42" sh -c "ip -n $gwa xfrm state | grep -q 'if_id 0x2a'"
	wait_state "$gwa" 5001 active
	down_up "xfrm interface (if_id)" terminate initiate
}

case_enable_live()
{
	ipsec_topology && ipsec_site_to_site && vpnflow_load && ipsec_up && xfer_server ||
		{ result 1 "enable while up: setup (failed at: $SETUP_STEP)"; return; }
	download "$IPSEC_SERVER" "$tmp/dl"
	wait_state "$gwa" 5001 active
	# Turned on while the tunnel and the flow are already up.
	V "$gwa" connection preserve-vpn-flows && V "$gwb" connection preserve-vpn-flows
	down_up "option enabled while the tunnel was up" terminate initiate
}

case_disable_live()
{
	case_setup || { result 1 "disable while preserved: setup (failed at: $SETUP_STEP)"; return; }
	terminate
	wait_state "$gwa" 5001 preserved
	dmesg -C
	V "$gwa" no connection preserve-vpn-flows
	torn_down() { [ "$(vpnflow_counter "$gwa" flows_torn_down)" -ge 1 ]; }
	check "disabled while preserved: flows torn down at once" busywait 10000 torn_down
	check "disabled while preserved: teardown logged" sh -c "dmesg | grep -q '302014: Teardown TCP connection'"
	check "disabled while preserved: conntrack entry removed" sh -c \
		"! ip netns exec $gwa conntrack -L -p tcp --dport 5001 2>/dev/null | grep -q ESTABLISHED"
}

case_netns_unload()
{
	case_setup || { result 1 "netns deletion/unload: setup (failed at: $SETUP_STEP)"; return; }
	terminate
	wait_state "$gwa" 5001 preserved && wait_state "$gwb" 5001 preserved
	kill $(cat "$IPSEC_DIR/gwb/pid") 2>/dev/null
	check "netns with preserved flows deleted" ip netns del "$gwb"
	check "module unloads with preserved flows" rmmod vpnflow_preserve
	check "preserved conntrack entry left to conntrack after unload" sh -c \
		"ip netns exec $gwa conntrack -L -p tcp --dport 5001 2>/dev/null | grep -q dport=5001"
}

cases="rekey terminate flush expire inactivity two_tunnels natt xfrmi enable_live disable_live netns_unload"
: >"$tmp/results"
for c in $cases; do
	run_case "$c" "case_$c"
	vpnflow_unload
done
ktap_plan "$(wc -l <"$tmp/results")"
while read -r rc desc; do
	ktap_result "$rc" "$desc"
done <"$tmp/results"
ktap_finish
