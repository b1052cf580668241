#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Phase 2: the live tunnel flaps (SAs deleted, new ones added) with
# preserve-vpn-flows on: waited flaps (preserved, then resumed, on both
# gateways, events seen by a monitor) and quick flaps (no waiting).
#
# Sourced by stress.sh (helpers in stress/common.sh); its 4 KTAP cases are
# the ktap_check calls below, in this order.

phase_cases[2]=4

p2()
{
	local t0=$SECONDS k nwait nquick ok=0 p_a r_a d_a udp mon
	nwait=$(sc 5)
	nquick=$(sc 150)
	phase_start
	five_flows_start p2 s2 41001
	p_a=$(vpnflow_counter "$gwa" flows_preserved); r_a=$(vpnflow_counter "$gwa" flows_resumed); d_a=$(vpnflow_counter "$gwa" tunnels_down)
	"$VPNSYSOPT" -n "$gwa" -j monitor >"$tmp/mon" 2>"$tmp/mon.err" &
	mon=$!
	defer kill $mon
	# Subscribed: a generic netlink socket with multicast groups in gwa.
	busywait 20000 sh -c "ip netns exec $gwa cat /proc/net/netlink | awk '\$2 == 16 && \$4 != \"00000000\"' | grep -q ."
	for ((k = 1; k <= nwait; k++)); do
		if tunnel_down &&
		   busywait 30000 held_is "$gwa" 4 && busywait 30000 held_is "$gwb" 4 &&
		   tunnel_up && busywait 90000 held_both 0; then
			ok=$((ok + 1))
		else
			ktap_info "p2: flap $k: held $(vpnflow_counter "$gwa" flows_held) / $(vpnflow_counter "$gwb" flows_held)"
			tunnel_down; tunnel_up
		fi
	done
	kill $mon
	wait $mon 2>/dev/null
	local dp=$(( $(vpnflow_counter "$gwa" flows_preserved) - p_a )) dr=$(( $(vpnflow_counter "$gwa" flows_resumed) - r_a ))
	ktap_info "p2: $ok/$nwait waited flaps; gwa preserved +$dp resumed +$dr tunnels_down +$(( $(vpnflow_counter "$gwa" tunnels_down) - d_a ))"
	ktap_check "flaps: $nwait waited flaps: 4 TCP flows preserved then resumed on both gateways each time" \
		[ "$ok" = "$nwait" -a "$dp" = $((4 * nwait)) -a "$dr" = "$dp" ]
	mon_ok() {
		local mp mr
		mp=$(grep -c '"event":"preserved"' "$tmp/mon"); mr=$(grep -c '"event":"resumed"' "$tmp/mon")
		ktap_info "p2: monitor saw $mp preserved, $mr resumed events$(grep -q lost "$tmp/mon.err" && echo ' (it reported lost events)')"
		[ "$mp" = "$dp" ] && [ "$mr" = "$dr" ]
	}
	ktap_check "flaps: one netlink event per preserved and per resumed flow" mon_ok

	sa_ops flap a "$GEN" "$nquick" >"$tmp/fl.a"
	sa_ops flap b "$GEN" "$nquick" >"$tmp/fl.b"
	run_bg fl both "$tmp/fl.a" "$tmp/fl.b"
	busywait 120000 bg_done fl
	GEN=$((GEN + nquick))
	ktap_info "p2: quick flaps took $(took fl)"
	quick_ok() {
		rc_ok fl || { bg_errors "$tmp/fl.a" "$tmp/fl.b"; return 1; }
		busywait 120000 held_both 0 && advancing
	}
	ktap_check "flaps: $nquick quick flaps on both gateways: every flow resumed, traffic flows" quick_ok
	kill $udp
	ident() {
		local ns c r=0
		stream_stop s2 4 || r=1
		for ns in "$gwa" "$gwb"; do
			c=$(V "$ns" -j show counters)
			python3 -c '
import json, sys
c = json.loads(sys.argv[1])
ok = c["flows_preserved"] == c["flows_resumed"] + c["flows_expired"] + c["flows_held"]
print("# preserved %(flows_preserved)d resumed %(flows_resumed)d expired %(flows_expired)d held %(flows_held)d torn_down %(flows_torn_down)d tunnels up %(tunnels_up)d down %(tunnels_down)d" % c)
sys.exit(not ok)' "$c" || r=1
		done
		consistent_both || r=1
		return $r
	}
	ktap_check "flaps: preserved = resumed + expired + held; streams intact; counters consistent" ident
	ktap_info "phase 2 (flaps): $nwait waited + $nquick quick flaps, 5 flows, $((SECONDS - t0)) s"
}
