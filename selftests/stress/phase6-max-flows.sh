#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Phase 6: the per-namespace flow limit (module parameter max_flows).
# Beyond it new flows are not tracked and are counted in flows_untracked
# (the module never evicts a tracked flow to make room).
#
# Sourced by stress.sh (helpers in stress/common.sh); its 8 KTAP cases are
# the ktap_check calls below, in this order.

phase_cases[6]=8

p6()
{
	local t0=$SECONDS n l=100 u_a u_b u0
	n=$(sc 300)
	phase_start
	ip netns exec "$server" python3 "$UDPSTREAM" recv 9004 "$tmp/udp4" &
	defer kill $!
	busywait 20000 sh -c "ip netns exec $server ss -Hln | grep -q ':9004 '"
	u_a=$(vpnflow_counter "$gwa" flows_untracked); u_b=$(vpnflow_counter "$gwb" flows_untracked)
	echo "$l" >$PARAMS/max_flows
	udp_flows $SERVER 9004 40000 "$n"
	busywait 30000 sh -c "[ \$(wc -l <$tmp/udp4) = $n ]"
	lim_ok() {
		local da db
		da=$(( $(vpnflow_counter "$gwa" flows_untracked) - u_a )); db=$(( $(vpnflow_counter "$gwb" flows_untracked) - u_b ))
		ktap_info "p6: max_flows $l: gauge $(vpnflow_counter "$gwa" flows) / $(vpnflow_counter "$gwb" flows); untracked +$da / +$db (expected +$((n - l))); UDP delivered $(wc -l <"$tmp/udp4")/$n"
		gauge_is "$gwa" "$l" && gauge_is "$gwb" "$l" && [ "$da" = $((n - l)) ] && [ "$db" = $((n - l)) ]
	}
	ktap_check "max_flows $l: $n new flows, each namespace tracks exactly $l, the excess counted in flows_untracked" lim_ok
	ktap_check "max_flows: untracked flows are still forwarded" [ "$(wc -l <"$tmp/udp4")" = "$n" ]
	# One multi-packet TCP connection beyond the limit: what it counts.
	u0=$(vpnflow_counter "$gwa" flows_untracked)
	ip netns exec "$client" python3 "$TCPSTREAM" churn $SERVER 5001 1 1 "$tmp/churn6.out"
	ktap_info "p6: one TCP connection ($(cat "$tmp/churn6.out")) beyond the limit: flows_untracked +$(( $(vpnflow_counter "$gwa" flows_untracked) - u0 )) on gwa"
	ktap_check "max_flows: a TCP connection beyond the limit is counted once in flows_untracked, not per packet" \
		[ "$(( $(vpnflow_counter "$gwa" flows_untracked) - u0 ))" = 1 ]
	echo 1048576 >$PARAMS/max_flows
	udp_flows $SERVER 9004 41000 50
	ktap_check "max_flows raised again: new flows tracked at once" busywait 30000 gauge_is "$gwa" $((l + 50))
	back6() { ct_clean && consistent_both; }
	ktap_check "max_flows: gauges back to zero, counters consistent" back6
	p6_evict
	ktap_info "phase 6 (max_flows): limit $l, $((n + 51)) flows, then eviction: $((SECONDS - t0)) s"
}
# Eviction: C chatty TCP connections, then K idle ones, are preserved
# across a flap; after it the chatty ones resume (they send every 0.2 s)
# and the idle ones stay held, behind the C chatty ones in their tunnel's
# flow list. With max_flows L, N new UDP flows: L-C-K are tracked, the
# next K each evict a preserved flow (torn down: conntrack entry gone,
# logged, flows_evicted), the rest are counted untracked. Eviction finds
# the preserved flows however many others come first (a scan of the first
# 16 of each tunnel's list found none, and left the new flows untracked).
p6_evict()
{
	local c=17 k=4 l=40 n=40 idle e_a e_b u_a u_b log0
	rm -f "$tmp/idle.stop" "$tmp/idle.ready"
	ip netns exec "$client" python3 - $SERVER 5001 $c $k "$tmp/idle" <<-'PY' &
	import os, socket, sys, time
	dst, port, c, k, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
	def conn(sport):
	    s = socket.socket()
	    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	    s.bind(('0.0.0.0', sport))
	    s.settimeout(30)
	    s.connect((dst, port))
	    s.sendall(b'x' * 100)
	    return s
	# chatty first, so they come first in the flow lists; fixed source
	# ports below the ephemeral range, which other sockets of the run use
	chatty = [conn(27000 + i) for i in range(c)]
	idle = [conn(26000 + i) for i in range(k)]
	open(base + '.ready', 'w').close()
	while not os.path.exists(base + '.stop'):
	    for s in chatty:
	        try:
	            s.send(b'y')
	        except OSError:
	            pass
	    time.sleep(0.2)
	PY
	idle=$!
	defer kill $idle
	held_setup()
	{
		busywait 30000 test -f "$tmp/idle.ready" &&
		busywait 30000 gauge_is "$gwa" $((c + k)) && busywait 30000 gauge_is "$gwb" $((c + k)) &&
		tunnel_down && busywait 30000 held_both $((c + k)) && tunnel_up &&
		busywait 30000 one_tunnel_each && busywait 30000 held_both $k ||
		{ ktap_info "p6: gauge $(vpnflow_counter "$gwa" flows)/$(vpnflow_counter "$gwb" flows), held $(vpnflow_counter "$gwa" flows_held)/$(vpnflow_counter "$gwb" flows_held)"; return 1; }
	}
	ktap_check "eviction: $c chatty then $k idle TCP flows preserved across a flap; the chatty resume, the idle stay held" held_setup
	e_a=$(vpnflow_counter "$gwa" flows_evicted); e_b=$(vpnflow_counter "$gwb" flows_evicted)
	u_a=$(vpnflow_counter "$gwa" flows_untracked); u_b=$(vpnflow_counter "$gwb" flows_untracked)
	log0=$(dmesg | grep -c 'Preserved flow limit reached')
	echo "$l" >$PARAMS/max_flows
	udp_flows $SERVER 9004 42000 "$n"
	idle_left() { ip netns exec "$1" conntrack -L -p tcp --dport 5001 2>/dev/null | grep -c 'sport=2600[0-9] '; }
	evict_ok()
	{
		local de_a de_b du_a du_b lines ct_a ct_b
		busywait 30000 held_both 0
		de_a=$(( $(vpnflow_counter "$gwa" flows_evicted) - e_a )); de_b=$(( $(vpnflow_counter "$gwb" flows_evicted) - e_b ))
		du_a=$(( $(vpnflow_counter "$gwa" flows_untracked) - u_a )); du_b=$(( $(vpnflow_counter "$gwb" flows_untracked) - u_b ))
		lines=$(( $(dmesg | grep -c 'Preserved flow limit reached') - log0 ))
		ct_a=$(idle_left "$gwa"); ct_b=$(idle_left "$gwb")
		ktap_info "p6: max_flows $l, $c active + $k held + $n new: gauge $(vpnflow_counter "$gwa" flows)/$(vpnflow_counter "$gwb" flows), held $(vpnflow_counter "$gwa" flows_held)/$(vpnflow_counter "$gwb" flows_held), evicted +$de_a/+$de_b, untracked +$du_a/+$du_b, log lines $lines, idle TCP entries left $ct_a/$ct_b"
		gauge_is "$gwa" $l && gauge_is "$gwb" $l && held_both 0 &&
		[ "$de_a" = $k ] && [ "$de_b" = $k ] &&
		[ "$du_a" = $((n - l + c)) ] && [ "$du_b" = $((n - l + c)) ] &&
		[ "$lines" = $((2 * k)) ] && [ "$ct_a" = 0 ] && [ "$ct_b" = 0 ]
	}
	ktap_check "eviction: $n new flows at max_flows $l evict the $k preserved ones behind $c active (torn down, logged, counted), the rest untracked" evict_ok
	touch "$tmp/idle.stop"
	busywait 30000 sh -c "! kill -0 $idle 2>/dev/null"
	echo 1048576 >$PARAMS/max_flows
	back6e() { ct_clean && consistent_both; }
	ktap_check "eviction: gauges back to zero, counters consistent" back6e
}
