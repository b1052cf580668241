#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Phase 4: flow churn: thousands of short TCP connections and one-datagram
# UDP flows through the tunnel; the gauge counts them exactly and returns
# to zero once conntrack drops them, and so does conntrack's count (the
# module keeps no reference).
#
# Sourced by stress.sh (helpers in stress/common.sh); its 3 KTAP cases are
# the ktap_check calls below, in this order.

phase_cases[4]=3

p4()
{
	local t0=$SECONDS t1 ntcp nudp c_a c_b u_a u_b ns
	ntcp=$(sc 800)
	nudp=$(sc 1500)
	phase_start
	ip netns exec "$server" python3 "$TCPSTREAM" sink 5002 "$tmp/sink2" &
	defer kill $!
	ip netns exec "$server" python3 "$UDPSTREAM" recv 9002 "$tmp/udp2" &
	defer kill $!
	busywait 20000 sh -c "ip netns exec $server ss -Hln | grep -q ':9002 '"
	busywait 20000 sh -c "ip netns exec $server ss -Hltn | grep -q ':5002 '"
	# Closed connections keep their entries until the check (TIME_WAIT
	# and CLOSE last 120 s and 10 s: the churn alone takes longer on the
	# debug kernel); back to the defaults after the phase.
	for ns in "$gwa" "$gwb"; do
		ip netns exec "$ns" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=3600 \
			net.netfilter.nf_conntrack_tcp_timeout_close=3600
	done
	c_a=$(ct_count "$gwa"); c_b=$(ct_count "$gwb")
	u_a=$(vpnflow_counter "$gwa" flows_untracked); u_b=$(vpnflow_counter "$gwb" flows_untracked)
	ip netns exec "$client" python3 "$TCPSTREAM" churn $SERVER 5002 "$ntcp" 4 "$tmp/churn.out"
	udp_flows $SERVER 9002 20000 "$nudp"
	t1=$SECONDS
	churn_ok() {
		busywait 30000 sh -c "[ \$(wc -l <$tmp/udp2) = $nudp ]"
		ktap_info "p4: tcp $(cat "$tmp/churn.out"), udp received $(wc -l <"$tmp/udp2")/$nudp"
		grep -q "^ok $ntcp bad 0" "$tmp/churn.out" && [ "$(wc -l <"$tmp/udp2")" = "$nudp" ]
	}
	ktap_check "flow churn: $ntcp TCP connections and $nudp UDP flows through the tunnel, all delivered" churn_ok
	local want=$((ntcp + nudp))
	# The churn's conntrack entries in NETNS (held above: TIME_WAIT and
	# CLOSE last an hour in this phase).
	churn_entries()
	{
		echo $(( $(ip netns exec "$1" conntrack -L -p tcp --dport 5002 2>/dev/null | grep -c .) +
			 $(ip netns exec "$1" conntrack -L -p udp --dport 9002 2>/dev/null | grep -c .) ))
	}
	# gauge_is_entries NETNS: every entry of the churn is a tracked flow,
	# in one sample kept in g_NETNS/e_NETNS: entries in CLOSE or UNREPLIED
	# expire meanwhile and the gauge follows at the next GC pass, so
	# re-reading both later may catch them a moment apart.
	gauge_is_entries()
	{
		local g e
		g=$(vpnflow_counter "$1" flows); e=$(churn_entries "$1")
		printf -v "g_$2" %s "$g"; printf -v "e_$2" %s "$e"
		[ "$g" = "$e" ]
	}
	gauge_ok() {
		local g_a= g_b= e_a= e_b=
		busywait 30000 gauge_is_entries "$gwa" a
		busywait 30000 gauge_is_entries "$gwb" b
		ktap_info "p4: flows gauge $g_a / $g_b, conntrack entries $e_a / $e_b of $want flows made, untracked +$(( $(vpnflow_counter "$gwa" flows_untracked) - u_a )) / +$(( $(vpnflow_counter "$gwb" flows_untracked) - u_b ))"
		[ "$g_a" = "$e_a" ] && [ "$g_b" = "$e_b" ] &&
			[ "$e_a" -ge $((want * 99 / 100)) ] && [ "$e_b" -ge $((want * 99 / 100)) ] &&
			[ "$(vpnflow_counter "$gwa" flows_untracked)" = "$u_a" ] && [ "$(vpnflow_counter "$gwb" flows_untracked)" = "$u_b" ]
	}
	ktap_check "flow churn: every conntrack entry of the $want flows is tracked on both gateways, none untracked" gauge_ok
	local t2=$SECONDS
	for ns in "$gwa" "$gwb"; do
		ip netns exec "$ns" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=120 \
			net.netfilter.nf_conntrack_tcp_timeout_close=10
		ip netns exec "$ns" conntrack -D -p tcp --dport 5002 >/dev/null 2>&1
		ip netns exec "$ns" conntrack -D -p udp --dport 9002 >/dev/null 2>&1
	done
	back_ok() {
		busywait 30000 gauge_is "$gwa" 0 && busywait 30000 gauge_is "$gwb" 0 &&
		busywait 30000 ct_is "$gwa" "$c_a" && busywait 30000 ct_is "$gwb" "$c_b" ||
			{ ktap_info "p4: gauge $(vpnflow_counter "$gwa" flows)/$(vpnflow_counter "$gwb" flows), conntrack count $(ct_count "$gwa")/$(ct_count "$gwb") (want 0/0, $c_a/$c_b)"; return 1; }
		ktap_info "p4: back to zero $((SECONDS - t2)) s after conntrack dropped $((2 * want)) entries"
		consistent_both
	}
	ktap_check "flow churn: gauge and conntrack count back to baseline once conntrack drops the flows" back_ok
	ktap_info "phase 4 (flow churn): $ntcp TCP + $nudp UDP flows in $((t1 - t0)) s, $((SECONDS - t0)) s in all"
}
