#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Phase 1: rekeys of the live tunnel and SA churn to other peers, all at
# once on both gateways, while 4 TCP streams and a UDP stream run.
#
# Sourced by stress.sh (helpers in stress/common.sh); its 4 KTAP cases are
# the ktap_check calls below, in this order.

phase_cases[1]=4

p1()
{
	local t0=$SECONDS nrekey nchurn ev_a ev_b pe_a pe_b sa pol tid0 pres_a pres_b udp
	nrekey=$(sc 400)
	nchurn=$(sc 1000)
	phase_start
	five_flows_start p1 s1 41000
	tid0=$(V "$gwa" -j show vpn-context | grep -o '"id":[0-9]*')
	ev_a=$(vpnflow_counter "$gwa" sa_events); ev_b=$(vpnflow_counter "$gwb" sa_events)
	pe_a=$(vpnflow_counter "$gwa" policy_events); pe_b=$(vpnflow_counter "$gwb" policy_events)
	pres_a=$(vpnflow_counter "$gwa" flows_preserved); pres_b=$(vpnflow_counter "$gwb" flows_preserved)

	sa_ops rekey a "$GEN" "$nrekey" >"$tmp/rk.a"
	sa_ops rekey b "$GEN" "$nrekey" >"$tmp/rk.b"
	churn_ops a "$nchurn" "$tmp/ch.a" >"$tmp/ch.n"
	read -r sa pol <"$tmp/ch.n"
	churn_ops b "$nchurn" "$tmp/ch.b" >/dev/null
	run_bg rka batch "$gwa" "$tmp/rk.a"
	run_bg rkb batch "$gwb" "$tmp/rk.b"
	run_bg cha batch "$gwa" "$tmp/ch.a"
	run_bg chb batch "$gwb" "$tmp/ch.b"
	busywait 300000 bg_done rka rkb cha chb
	GEN=$((GEN + nrekey))
	ktap_info "p1: ip -batch took: $(took rka rkb cha chb)"
	check1() {
		rc_ok rka rkb cha chb || { bg_errors "$tmp/rk.a" "$tmp/rk.b" "$tmp/ch.a" "$tmp/ch.b"; return 1; }
		[ "$(sa_count "$gwa")" = 2 ] && [ "$(sa_count "$gwb")" = 2 ]
	}
	ktap_check "SA churn: $nrekey rekeys and $nchurn SA add/delete cycles per gateway, every command applied" check1
	local want=$((nrekey * 4 + sa))
	check2() {
		local a b pa pb
		a=$(( $(vpnflow_counter "$gwa" sa_events) - ev_a )); b=$(( $(vpnflow_counter "$gwb" sa_events) - ev_b ))
		pa=$(( $(vpnflow_counter "$gwa" policy_events) - pe_a )); pb=$(( $(vpnflow_counter "$gwb" policy_events) - pe_b ))
		ktap_info "p1: sa_events +$a on gwa, +$b on gwb (expected +$want); policy_events +$pa / +$pb (expected +$pol)"
		[ "$a" = "$want" ] && [ "$b" = "$want" ] && [ "$pa" = "$pol" ] && [ "$pb" = "$pol" ]
	}
	ktap_check "SA churn: every SA and policy notification counted, exactly" check2
	check3() {
		local tid1
		busywait 60000 one_tunnel_each || { ktap_info "p1: tunnels left: $(ntunnels "$gwa") / $(ntunnels "$gwb")"; return 1; }
		tid1=$(V "$gwa" -j show vpn-context | grep -o '"id":[0-9]*')
		ktap_info "p1: live tunnel $tid0 -> $tid1, flows preserved +$(( $(vpnflow_counter "$gwa" flows_preserved) - pres_a )) / +$(( $(vpnflow_counter "$gwb" flows_preserved) - pres_b ))"
		[ "$(vpnflow_counter "$gwa" flows_preserved)" = "$pres_a" ] && [ "$(vpnflow_counter "$gwb" flows_preserved)" = "$pres_b" ] &&
			[ "$tid0" = "$tid1" ] && held_both 0
	}
	ktap_check "SA churn: churned tunnels freed; the rekeys never took the live tunnel down" check3
	kill $udp
	check4() { stream_stop s1 4 && consistent_both; }
	ktap_check "SA churn: streams intact (sha256), counters consistent" check4
	ktap_info "phase 1 (SA churn): $nrekey rekeys + $nchurn churn cycles per gateway, $((2 * want)) SA and $((2 * pol)) policy operations, 5 flows, $((SECONDS - t0)) s"
}
