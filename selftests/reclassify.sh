#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# reclassify-vpn: flows created while the tunnel is down (MASQUERADEd by the
# gateway) move into the tunnel when it comes up; flows inside a tunnel and
# flows outside its selectors are left alone.
#
#  site A 198.51.100.0/26                                site B 198.51.100.64/26
#  +--------+     +-----------+     +-------+     +-----------+     +--------+
#  | client |-----|    gwa    |=====|  wan  |=====|    gwb    |-----| server |
#  | .2     | lan | MASQUERADE| ESP |router | ESP |           | lan | .66    |
#  +--------+     | 192.0.2.1 |     |       |     |203.0.113.2|     +--------+
#                 +-----------+     +-------+     +-----------+
#  While the tunnel is down the client starts a UDP stream (50 packets/s,
#  source port 40000) and a TCP connection to the server; gwa MASQUERADEs
#  both towards the WAN, where they die. Then gwa brings the tunnel up.
#  A third run adds 64 tunnel-mode SAs to other peers in gwa first, with
#  no policies (SAs by hand, an SA-only set-up): their reclassify-vpn
#  passes find no policy, and must not hold up the real tunnel's.
#  VPNFLOW_CORE=1 leaves out the run with the option off, the one with
#  policy-less SAs and the tunneled flow across a re-up.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-ipsec.sh"
require_vm
command -v swanctl >/dev/null || ktap_skip_all "strongSwan (swanctl) not installed"
if [ "$VPNFLOW_CORE" = 0 ]; then ktap_plan 19; else ktap_plan 12; fi
tmp=$(mktemp -d)
defer rm -rf "$tmp"

lines() { wc -l <"$1"; }

# orphan_sas N: N tunnel-mode SAs from gwa to peers that have no policy,
# added once the module has looked at gwa (so each is a tunnel that came
# up, not one that was there before it): a first SA seen up and then down
# proves a reconcile has run. Waits until the module counted them up.
orphan_sas()
{
	local n=$1 i up0
	xfrm_sa_add "$gwa" "$IPSEC_GWA_WAN" 10.98.0.1 0x4fff 499 &&
		busywait 20000 vpnflow_counter_ge "$gwa" tunnels_up 1 || return 1
	ip -n "$gwa" xfrm state flush && busywait 20000 vpnflow_counter_ge "$gwa" tunnels_down 1 || return 1
	up0=$(vpnflow_counter "$gwa" tunnels_up) || return 1
	for ((i = 0; i < n; i++)); do
		xfrm_sa_add "$gwa" "$IPSEC_GWA_WAN" "10.99.$((i / 250)).$((i % 250 + 1))" \
			$((0x5000 + i)) $((500 + i)) || return 1
	done
	busywait 20000 vpnflow_counter_ge "$gwa" tunnels_up $((up0 + n))
}

# stuck_run MODE (on|off|orphans): one run; facts in $tmp/MODE.*
stuck_run()
{
	local mode=$1 o=$tmp/$1
	(
		_defer_cmds=()
		trap _run_defer EXIT
		ipsec_topology && gw_harden "$gwa" && gw_harden "$gwb" && ipsec_site_to_site || exit 1
		# The WAN drops site B's prefix silently (a bogon filter): an ICMP
		# net-unreachable for the NATed SYN would end the client's connect
		# before the tunnel is up (whether one gets through depends on the
		# router's ICMP rate limit, which the UDP stream drains).
		ip -n "$wan" route add blackhole "$IPSEC_B_LAN" || exit 1
		ct_events "$o.events"
		# Conntrack's stock 300 s max_retrans timeout here: with the hardened
		# 10 s the retransmitted SYN's NATed entry would expire on its own
		# between two SYNs and prove nothing.
		ip netns exec "$gwa" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_max_retrans=300
		vpnflow_load || exit 1
		[ "$mode" != off ] || "$VPNSYSOPT" -n "$gwa" no connection reclassify-vpn || exit 1
		if [ "$mode" = orphans ]; then
			orphan_sas 64 || { echo "policy-less SAs not counted up" >"$o.err"; exit 1; }
		fi
		ip netns exec "$server" python3 "$UDP" recv 5004 "$o.rx" &
		defer kill $!
		xfer_server || exit 1
		# Outside the selectors: to the WAN router itself (NATed too).
		ip netns exec "$client" python3 "$UDP" send 192.0.2.2 5005 100 600 40001 &
		defer kill $!
		ip netns exec "$client" python3 "$UDP" send "$IPSEC_SERVER" 5004 &
		defer kill $!
		# A TCP connection attempt; SYN retransmissions keep its entry.
		ip netns exec "$client" python3 "$XFER" client "$IPSEC_SERVER" 5001 60 "$o.tcp" 30 &
		defer kill $!
		busywait 10000 sh -c "ip netns exec $gwa conntrack -L -p udp --dport 5004 2>/dev/null | grep -q 'dst=192.0.2.1'" ||
			{ echo "no NATed UDP entry" >"$o.err"; exit 1; }
		busywait 10000 sh -c "ip netns exec $gwa conntrack -L -p tcp --dport 5001 2>/dev/null | grep -q 'dst=192.0.2.1'"
		lines "$o.events" >"$o.ev0"
		ip netns exec "$gwa" conntrack -L -p udp --dport 5004 >"$o.ct-before" 2>/dev/null
		"$VPNSYSOPT" -n "$gwa" monitor >"$o.monitor" 2>&1 &
		defer kill $!
		dmesg -C
		ipsec_up || { echo "tunnel did not come up" >"$o.err"; exit 1; }
		python3 -c 'import time; print(f"{time.monotonic():.3f}")' >"$o.up"
		# Up to 3 s for the stream to show up at the server, 30 s for the
		# TCP connection to carry data (both stay away without reclassify).
		inner_seen() { grep -q ' 198\.51\.100\.2 ' "$o.rx" 2>/dev/null; }
		busywait 3000 inner_seen
		ip netns exec "$gwa" conntrack -L -p udp --dport 5004 >"$o.ct-after" 2>/dev/null
		tcp_data() { [ "$(cat "$o.tcp.progress" 2>/dev/null || echo 0)" -gt 0 ]; }
		busywait 30000 tcp_data && echo 1 >"$o.tcp-ok" || echo 0 >"$o.tcp-ok"
		"$VPNSYSOPT" -n "$gwa" -j show counters >"$o.cnt"
		dmesg >"$o.dmesg"
	)
}

# first_inner_after MODE: seconds from tunnel up to the first datagram the
# server got from the client's own address (empty: none).
first_inner_after()
{
	awk -v up="$(cat "$tmp/$1.up")" '$2 == "198.51.100.2" && $1 >= up { printf "%.3f\n", $1 - up; exit }' \
		"$tmp/$1.rx" 2>/dev/null
}
# counter RUN NAME: gwa's counter as RUN saved it (-1: none).
counter() { json_get "$2" "$tmp/$1.cnt" || echo -1; }

if [ "$VPNFLOW_CORE" = 0 ]; then
	stuck_run off
	ktap_info "off: gwa UDP entry after tunnel up: $(cat "$tmp/off.ct-after" 2>/dev/null)"
	ktap_check "reclassify off: the stream stays on the NAT path (nothing reaches the server)" \
		sh -c "[ -z \"$(first_inner_after off)\" ] && grep -q 'dst=192.0.2.1' $tmp/off.ct-after"
	ktap_check "reclassify off: the TCP connection attempt does not get through" \
		sh -c "[ \$(cat $tmp/off.tcp-ok) = 0 ]"
fi

stuck_run on
[ -f "$tmp/on.err" ] && ktap_info "on: $(cat "$tmp/on.err")"
d=$(first_inner_after on)
ktap_info "on: first datagram from 198.51.100.2 at the server ${d:-never} s after the tunnel was up"
ktap_check "reclassify on: the stream reaches the server from the client's address" [ -n "$d" ]
ktap_check "reclassify on: within 1 s of the tunnel coming up" \
	sh -c "[ -n '$d' ] && awk 'BEGIN { exit !($d <= 1.0) }'"
ktap_check "reclassify on: the UDP entry is no longer NATed" \
	sh -c "grep -q 'dport=5004' $tmp/on.ct-after && ! grep -q 'dst=192.0.2.1' $tmp/on.ct-after"
ktap_check "reclassify on: the TCP connection started during the outage succeeds" \
	sh -c "[ \$(cat $tmp/on.tcp-ok) = 1 ]"
ktap_info "on: flows_reclassified $(counter on flows_reclassified)"
ktap_check "reclassify on: counted (UDP and TCP entries)" sh -c "[ $(counter on flows_reclassified) -ge 2 ]"
grep reclassify "$tmp/on.dmesg" | sed 's/^/# /'
ktap_check "reclassify on: logged" grep -qE 'reclassify-vpn: tunnel [0-9]+ up, [0-9]+ flows cleared' "$tmp/on.dmesg"
ktap_check "reclassify on: event sent to vpnsysopt monitor" grep -q 'reclassif' "$tmp/on.monitor"
ktap_check "the stream's NATed entry was removed (conntrack DESTROY event)" \
	destroyed "$tmp/on.events" "$(cat "$tmp/on.ev0")" 'udp .*dport=5004 .*dst=192\.0\.2\.1'
ktap_check "flows outside the selectors are untouched (no DESTROY for them)" \
	sh -c "[ -f $tmp/on.ev0 ] && ! tail -n +\$((\$(cat $tmp/on.ev0) + 1)) $tmp/on.events | grep -q 'dport=5005'"

# Policy-less tunnels beside the real one: before, the first of them in
# hash order stopped every reconcile's reclassify-vpn ("wait for its
# policy"), and the real tunnel's stray stream never moved (10 s watched).
if [ "$VPNFLOW_CORE" = 0 ]; then
	stuck_run orphans
	[ -f "$tmp/orphans.err" ] && ktap_info "orphans: $(cat "$tmp/orphans.err")"
	d=$(first_inner_after orphans)
	ktap_info "orphans: first datagram from 198.51.100.2 ${d:-never} s after the tunnel was up"
	ktap_check "64 policy-less tunnels: the real tunnel's stray stream still moves in within 1 s" \
		sh -c "[ -n '$d' ] && awk 'BEGIN { exit !($d <= 1.0) }'"
	ktap_check "64 policy-less tunnels: the stream's NATed entry was removed" \
		destroyed "$tmp/orphans.events" "$(cat "$tmp/orphans.ev0" 2>/dev/null || echo 0)" \
		'udp .*dport=5004 .*dst=192\.0\.2\.1'
	ktap_check "64 policy-less tunnels: and the TCP connection started during the outage succeeds" \
		sh -c "[ \$(cat $tmp/orphans.tcp-ok 2>/dev/null) = 1 ]"
fi

# Flows inside the tunnel are never touched by a later tunnel-up.
inside_run()
{
	(
		_defer_cmds=()
		trap _run_defer EXIT
		ipsec_topology && ipsec_site_to_site && vpnflow_load || exit 1
		modprobe nf_conntrack
		ct_events "$tmp/in.events"
		"$VPNSYSOPT" -n "$gwa" connection preserve-vpn-flows
		ipsec_up && xfer_server || exit 1
		XFER_RATE=40000
		ip netns exec "$client" python3 "$XFER" client "$IPSEC_SERVER" 5001 300 "$tmp/in.dl" 300 &
		defer kill $!
		busywait 20000 sh -c "[ \$(cat $tmp/in.dl.progress 2>/dev/null || echo 0) -gt 50000 ]" || exit 1
		swanctl_ gwa --terminate --ike site --timeout 20 >/dev/null 2>&1
		ipsec_up || exit 1
		p0=$(cat "$tmp/in.dl.progress")
		busywait 60000 sh -c "[ \$(cat $tmp/in.dl.progress) -gt $((p0 + 100000)) ]" && touch "$tmp/in.moving"
		"$VPNSYSOPT" -n "$gwa" -j show counters >"$tmp/in.cnt"
	)
}
if [ "$VPNFLOW_CORE" = 0 ]; then
	inside_run
	ktap_check "a tunneled flow survives the tunnel coming up again (no DESTROY, still moving)" \
		sh -c "[ -f $tmp/in.moving ] && [ -f $tmp/in.events ] && ! grep -q 'dport=5001' $tmp/in.events"
	ktap_check "and reclassify cleared nothing then" sh -c "[ $(counter in flows_reclassified) = 0 ]"
fi
# IPv6, and two tunnels with disjoint selectors: while both are down the
# client streams to the server over IPv4 and IPv6, both MASQUERADEd by gwa.
# Bringing up the IPv6 tunnel clears the IPv6 entry only; the IPv4 one
# waits for its own tunnel.
two_run()
{
	(
		_defer_cmds=()
		trap _run_defer EXIT
		ipsec_topology && gw_harden "$gwa" && gw_harden "$gwb" && ipsec_site_to_site &&
			ipsec_site_to_site6 && vpnflow_load || exit 1
		ct_events "$tmp/two.events"
		# IPv6 conntrack on gwa (a conntrack match turns it on in the netns).
		ip netns exec "$gwa" ip6tables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
		ip netns exec "$gwa" ip6tables -A FORWARD -i lan0 -o wan0 -j ACCEPT
		# NAT66 too, so the IPv6 stream gets stuck like the IPv4 one (without
		# NAT a cleartext flow enters the tunnel by itself once the policy is
		# there, and is then tracked and left alone).
		ip netns exec "$gwa" ip6tables -t nat -A POSTROUTING -o wan0 -m policy --dir out --pol none -j MASQUERADE
		ip netns exec "$client" python3 "$UDP" send "$IPSEC_SERVER" 5004 &
		defer kill $!
		ip netns exec "$client" python3 "$UDP" send "$IPSEC_SERVER6" 5006 20 600 40002 &
		defer kill $!
		busywait 10000 sh -c "ip netns exec $gwa conntrack -L -p udp --dport 5004 2>/dev/null | grep -q 'dst=192.0.2.1'" || exit 1
		busywait 10000 sh -c "ip netns exec $gwa conntrack -f ipv6 -L -p udp --dport 5006 2>/dev/null | grep -q 'dst=2001:db8:1::1'" || exit 1
		ipsec_up net6 || exit 1
		v6_gone() { destroyed "$tmp/two.events" 0 'udp .*dport=5006 .*dst=2001:db8:1::1'; }
		busywait 5000 v6_gone
		cp "$tmp/two.events" "$tmp/two.events-mid"
		ipsec_up net || exit 1
		v4_gone() { destroyed "$tmp/two.events" 0 'udp .*dport=5004'; }
		busywait 5000 v4_gone
		cp "$tmp/two.events" "$tmp/two.events-end"
		"$VPNSYSOPT" -n "$gwa" -j show counters >"$tmp/two.cnt"
	)
}
two_run
ktap_check "IPv6: the IPv6 tunnel coming up clears the IPv6 entry created outside it" \
	destroyed "$tmp/two.events-mid" 0 'udp .*dport=5006 .*dst=2001:db8:1::1'
ktap_check "disjoint selectors: the IPv4 entry is untouched by the IPv6 tunnel" \
	sh -c "[ -f $tmp/two.events-mid ] && ! grep -q 'dport=5004' $tmp/two.events-mid"
ktap_check "and cleared when its own tunnel comes up" \
	destroyed "$tmp/two.events-end" 0 'udp .*dport=5004'
vpnflow_unload
ktap_finish
