#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Phase 8: rmmod under traffic, with preserved flows, and with SA events
# still being delivered and reconciled (and a namespace with an SA going
# away at the same time); the module is loaded again each time.
#
# Sourced by stress.sh (helpers in stress/common.sh); its 4 KTAP cases are
# the ktap_check calls below, in this order.

phase_cases[8]=4

p8()
{
	local t0=$SECONDS i np unl=0 rel=0 inflight=0 bat=0 scratch ev del
	np=$(sc 6)
	phase_start
	stream_start s8 2 10000
	busywait 30000 gauge_is "$gwa" 2 && busywait 30000 gauge_is "$gwb" 2
	preserve_on() { V "$gwa" connection preserve-vpn-flows && V "$gwb" connection preserve-vpn-flows; }
	r1() {
		rmmod vpnflow_preserve && ! vpnflow_loaded && advancing && vpnflow_load && preserve_on &&
			busywait 30000 gauge_is "$gwa" 2 && busywait 30000 gauge_is "$gwb" 2
	}
	ktap_check "rmmod under traffic: unloads, traffic goes on, flows tracked again after reload" r1
	r2() {
		tunnel_down && busywait 30000 held_is "$gwa" 2 && busywait 30000 held_is "$gwb" 2 &&
			rmmod vpnflow_preserve && tunnel_up && advancing && vpnflow_load && preserve_on
	}
	ktap_check "rmmod with preserved flows: unloads, the flows go on when the tunnel is back" r2
	ev_ge() { [ "$(vpnflow_counter "$1" sa_events)" -ge "$2" ]; }
	for ((i = 0; i < np; i++)); do
		churn_ops a 400 "$tmp/ch8.a" >/dev/null
		churn_ops b 400 "$tmp/ch8.b" >/dev/null
		sa_ops rekey a "$GEN" 20 >"$tmp/rk8.a"
		sa_ops rekey b "$GEN" 20 >"$tmp/rk8.b"
		scratch=$NSP-r$i
		ip netns add "$scratch" && xfrm_sa_add "$scratch" 192.0.2.7 192.0.2.8 0x777
		ev=$(vpnflow_counter "$gwa" sa_events)
		run_bg c8a batch "$gwa" "$tmp/ch8.a"
		run_bg c8b batch "$gwb" "$tmp/ch8.b"
		run_bg r8 both "$tmp/rk8.a" "$tmp/rk8.b"
		# Unload once events are arriving, while they still do (with a
		# namespace going away too); load again at once.
		busywait 30000 ev_ge "$gwa" $((ev + 50))
		ip netns del "$scratch" &
		del=$!
		if rmmod vpnflow_preserve; then
			unl=$((unl + 1))
			bg_done c8a c8b r8 || inflight=$((inflight + 1))
		fi
		vpnflow_load && preserve_on && rel=$((rel + 1))
		busywait 120000 bg_done c8a c8b r8
		rc_ok c8a c8b r8 && bat=$((bat + 1))
		GEN=$((GEN + 20))
		wait "$del"
	done
	ktap_info "p8: $unl/$np unloads ($inflight while the SA commands still ran), $rel reloads, $bat/$np churn runs complete"
	ktap_check "rmmod with SA events pending: $np unloads and reloads while SAs churned" \
		[ "$unl" = "$np" -a "$rel" = "$np" -a "$bat" = "$np" ]
	r3() {
		local r=0
		busywait 60000 one_tunnel_each ||
			{ ktap_info "p8: tunnels $(ntunnels "$gwa")/$(ntunnels "$gwb"), want 1/1"; r=1; }
		busywait 30000 gauge_is "$gwa" 2 ||
			{ ktap_info "p8: gauge $(vpnflow_counter "$gwa" flows) on gwa, want 2"; r=1; }
		advancing || { ktap_info "p8: the stream does not advance"; r=1; }
		stream_stop s8 2 || r=1
		consistent_both || r=1
		return $r
	}
	ktap_check "rmmod: after the reloads, the tunnel and flows are tracked again, stream intact" r3
	ktap_info "phase 8 (rmmod): $((np + 2)) unloads and reloads, $np of them during churn ($np x $((2 * (400 * 9 / 8 + 80))) SA operations), $((SECONDS - t0)) s"
}
