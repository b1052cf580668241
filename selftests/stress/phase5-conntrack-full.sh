#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Phase 5: conntrack table full. nf_conntrack_max is global (writable in
# the initial namespace only) and checked against each namespace's own
# count: set it just above the gateways' counts and push many new flows
# through the tunnel while a stream runs and the tunnel flaps once.
#
# Sourced by stress.sh (helpers in stress/common.sh); its 4 KTAP cases are
# the ktap_check calls below, in this order.

phase_cases[5]=4

p5()
{
	local t0=$SECONDS n room=150 c_a c_b c0_a c0_b p_a peak max held_ok=0 sampler drops
	n=$(sc 1000)
	phase_start
	# (The gateways' ESP flow is an entry too.)
	c0_a=$(ct_count "$gwa"); c0_b=$(ct_count "$gwb")
	ip netns exec "$server" python3 "$UDPSTREAM" recv 9003 "$tmp/udp3" &
	defer kill $!
	busywait 20000 sh -c "ip netns exec $server ss -Hln | grep -q ':9003 '"
	stream_start s5 1 20000
	busywait 30000 gauge_is "$gwa" 1 && busywait 30000 gauge_is "$gwb" 1
	p_a=$(vpnflow_counter "$gwa" flows_preserved)
	c_a=$(ct_count "$gwa"); c_b=$(ct_count "$gwb")
	max=$(( (c_a > c_b ? c_a : c_b) + room ))
	( pk=0; while :; do
		v=$(ct_count "$gwa")
		[ "$v" -gt "$pk" ] && pk=$v && echo "$pk" >"$tmp/peak"
		sleep 0.2
	done ) &
	sampler=$!
	defer kill $sampler
	echo "$max" >/proc/sys/net/netfilter/nf_conntrack_max
	udp_flows $SERVER 9003 30000 $((n / 2))
	tunnel_down
	busywait 30000 held_is "$gwa" 1
	tunnel_up
	udp_flows $SERVER 9003 31000 $((n / 2))
	busywait 90000 held_both 0 && held_ok=1
	kill $sampler
	peak=$(cat "$tmp/peak" 2>/dev/null || echo 0)
	drops=$(ip netns exec "$gwa" conntrack -S 2>/dev/null | grep -o ' drop=[0-9]*\| early_drop=[0-9]*' |
		awk -F= '{ s += $2 } END { print s + 0 }')
	ktap_info "p5: nf_conntrack_max $max: gwa count $c_a -> peak $peak, drop+early_drop $drops, UDP delivered $(wc -l <"$tmp/udp3")/$n, gauge $(vpnflow_counter "$gwa" flows)"
	ktap_check "conntrack full: the table filled up (conntrack dropped or evicted entries)" [ "$drops" -gt 0 ]
	full_ok() {
		local r=0
		stream_stop s5 1 || r=1
		[ "$held_ok" = 1 ] && [ "$(vpnflow_counter "$gwa" flows_preserved)" -gt "$p_a" ] || r=1
		return $r
	}
	ktap_check "conntrack full: the stream was preserved and resumed, intact (sha256)" full_ok
	bounded() {
		# Entries conntrack evicted are released by the module's GC.
		busywait 30000 ct_le "$gwa" "$max" && busywait 30000 ct_le "$gwb" "$max" &&
			[ "$(vpnflow_counter "$gwa" flows)" -le "$max" ] && [ "$(vpnflow_counter "$gwb" flows)" -le "$max" ]
	}
	ktap_check "conntrack full: counts back within nf_conntrack_max, gauges too" bounded
	echo "$CT_MAX0" >/proc/sys/net/netfilter/nf_conntrack_max
	back5() {
		# At most the baseline: an entry of it may expire meanwhile (with
		# phases skipped, one left by the phase before did).
		ct_clean && busywait 30000 ct_le "$gwa" "$c0_a" && busywait 30000 ct_le "$gwb" "$c0_b" ||
			{ ktap_info "p5: gauge $(vpnflow_counter "$gwa" flows)/$(vpnflow_counter "$gwb" flows), count $(ct_count "$gwa")/$(ct_count "$gwb") (want 0/0, $c0_a/$c0_b)"; return 1; }
		consistent_both
	}
	ktap_check "conntrack full: gauge back to zero, conntrack count to its baseline, counters consistent" back5
	ktap_info "phase 5 (conntrack full): max $max, $n UDP flows + 1 TCP stream, 1 flap, $((SECONDS - t0)) s"
}
