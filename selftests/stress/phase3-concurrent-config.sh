#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Phase 3: several processes change the options of both gateways at once
# (the same option from two processes, every option, -f files, readers)
# while SAs churn, the live tunnel flaps and streams run.
#
# Sourced by stress.sh (helpers in stress/common.sh); its 3 KTAP cases are
# the ktap_check calls below, in this order.

phase_cases[3]=3

w_toggle()
{
	local ns=$1 m=$2 i
	for ((i = 0; i < m; i++)); do
		if ((i % 2)); then V "$ns" no connection preserve-vpn-flows; else V "$ns" connection preserve-vpn-flows; fi ||
			echo "toggle $i" >>"$W_FAIL"
	done
}
w_opts()
{
	local ns=$1 m=$2 i
	local cmds=("connection tcpmss 1300" "connection tcpmss minimum 536" "connection tcpmss auto"
		"no connection tcpmss auto" "connection tcpmss 1200" "no connection tcpmss minimum"
		"connection tcpmss tunneled-only" "no connection tcpmss tunneled-only"
		"no connection reclassify-vpn" "connection reclassify-vpn" "no connection tcpmss"
		"timeout preserve-vpn-flows 0:10:00" "timeout preserve-vpn-flows 1:00:00")
	for ((i = 0; i < m; i++)); do
		# shellcheck disable=SC2086 # the words of one command
		V "$ns" ${cmds[i % ${#cmds[@]}]} || echo "opts $i: ${cmds[i % ${#cmds[@]}]}" >>"$W_FAIL"
	done
}
w_file()
{
	local ns=$1 m=$2 i
	for ((i = 0; i < m; i++)); do
		V "$ns" -f "$tmp/conf.$((i % 2))" || echo "file $i" >>"$W_FAIL"
	done
}
w_read()
{
	local ns=$1 m=$2 i
	for ((i = 0; i < m; i++)); do
		V "$ns" show conn >/dev/null && V "$ns" show vpn-context detail >/dev/null &&
		V "$ns" show counters >/dev/null && V "$ns" show running-config all >/dev/null ||
			echo "read $i" >>"$W_FAIL"
	done
}
p3()
{
	local t0=$SECONDS m nchurn nflap udp
	m=$(sc 25)
	nchurn=$(sc 500)
	nflap=$(sc 60)
	W_FAIL=$tmp/wfail
	phase_start
	printf '%s\n' "sysopt connection tcpmss 1350" "no sysopt connection preserve-vpn-flows" \
		"sysopt connection tcpmss auto" >"$tmp/conf.0"
	printf '%s\n' "sysopt connection tcpmss 1250" "sysopt connection preserve-vpn-flows" \
		"no sysopt connection tcpmss auto" "timeout preserve-vpn-flows 0:30:00" >"$tmp/conf.1"
	cat >"$tmp/conf.final" <<-'EOF'
	sysopt connection tcpmss 1360
	sysopt connection tcpmss minimum 0
	sysopt connection reclassify-vpn
	sysopt connection preserve-vpn-flows
	no sysopt connection preserve-vpn-flows fast-resume
	no sysopt connection tcpmss auto
	no sysopt connection tcpmss tunneled-only
	timeout preserve-vpn-flows 1:00:00
	no sysopt connection label-vpn-flows
	no sysopt connection tcp-state-bypass mark
	crypto ipsec df-bit copy-df
	crypto ipsec fragmentation after-encryption
	EOF
	: >"$W_FAIL"
	stream_start s3 2 10000
	ip netns exec "$client" python3 "$UDPSTREAM" send $SERVER 9001 20 3600 41002 &
	udp=$!
	defer kill $udp
	busywait 30000 gauge_is "$gwa" 3 && busywait 30000 gauge_is "$gwb" 3 ||
		ktap_info "p3: flows tracked: $(vpnflow_counter "$gwa" flows) / $(vpnflow_counter "$gwb" flows) of 3"
	churn_ops a "$nchurn" "$tmp/ch3.a" >/dev/null
	churn_ops b "$nchurn" "$tmp/ch3.b" >/dev/null
	sa_ops flap a "$GEN" "$nflap" >"$tmp/fl3.a"
	sa_ops flap b "$GEN" "$nflap" >"$tmp/fl3.b"
	local pids=()
	w_toggle "$gwa" "$m" & pids+=($!)
	w_toggle "$gwa" "$m" & pids+=($!)
	w_toggle "$gwb" "$m" & pids+=($!)
	w_opts "$gwa" "$m" & pids+=($!)
	w_opts "$gwb" "$m" & pids+=($!)
	w_file "$gwa" "$m" & pids+=($!)
	w_read "$gwa" $((m / 2)) & pids+=($!)
	w_read "$gwb" $((m / 2)) & pids+=($!)
	run_bg c3a batch "$gwa" "$tmp/ch3.a"
	run_bg c3b batch "$gwb" "$tmp/ch3.b"
	run_bg f3 both "$tmp/fl3.a" "$tmp/fl3.b"
	wait "${pids[@]}"
	busywait 300000 bg_done c3a c3b f3
	GEN=$((GEN + nflap))
	ktap_info "p3: ip -batch took: $(took c3a c3b f3); the writers $((SECONDS - t0)) s"
	w_ok() {
		[ -s "$W_FAIL" ] && { ktap_info "p3: failed commands:"; head -n 5 "$W_FAIL" | sed 's/^/#   /'; }
		rc_ok c3a c3b f3 || bg_errors "$tmp/ch3.a" "$tmp/ch3.b" "$tmp/fl3.a" "$tmp/fl3.b"
		[ ! -s "$W_FAIL" ] && rc_ok c3a c3b f3
	}
	ktap_check "concurrent config: $((m * 6 + m)) option writes and $((m * 4)) reads from 8 processes during churn, none failed" w_ok
	final_ok() {
		local ns got
		for ns in "$gwa" "$gwb"; do
			V "$ns" -f "$tmp/conf.final" || return 1
			got=$(V "$ns" show running-config all)
			[ "$got" = "$(cat "$tmp/conf.final")" ] || { ktap_info "p3: running-config:"; echo "$got" | sed 's/^/#   /'; return 1; }
		done
	}
	ktap_check "concurrent config: the last write is what the running configuration shows" final_ok
	kill $udp
	after3() {
		local r=0
		busywait 120000 held_both 0 || { ktap_info "p3: held $(vpnflow_counter "$gwa" flows_held) / $(vpnflow_counter "$gwb" flows_held)"; r=1; }
		stream_stop s3 2 || r=1
		busywait 60000 one_tunnel_each && consistent_both || r=1
		return $r
	}
	ktap_check "concurrent config: streams intact, nothing left held, counters consistent" after3
	ktap_info "phase 3 (concurrent config): 8 processes x $m commands, $nchurn churn cycles + $nflap flaps per gateway, 3 flows, $((SECONDS - t0)) s"
}
