#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Phase 7: namespaces created and destroyed in a loop with live tunnels,
# tracked and preserved flows, pending SA events and module unloads.
#
# It uses pairs of namespaces of its own (named $NSP-*, removed at exit
# by stress.sh), with gateway-local TCP flows through manual SAs:
#  +---------------------+   veth, ESP   +---------------------+
#  | na 10.1.0.1 (lo)    |===============| nb 10.2.0.1 (lo)    |
#  |    192.0.2.1 w      |               |    192.0.2.2 w      |
#  +---------------------+               +---------------------+
#
# Sourced by stress.sh (helpers in stress/common.sh); its 4 KTAP cases are
# the ktap_check calls below, in this order.

phase_cases[7]=4

# p7_pair I: namespaces na and nb (names set) joined by a veth, with a
# manual-SA tunnel between 10.1.0.0/24 (na) and 10.2.0.0/24 (nb).
p7_pair()
{
	na=$NSP-a$1
	nb=$NSP-b$1
	ip netns add "$na" && ip netns add "$nb" &&
	ip link add w netns "$na" type veth peer name w netns "$nb" || return 1
	{
		printf '%s\n' "link set lo up" "link set w up" "addr add 10.1.0.1/32 dev lo" \
			"addr add $GWA/24 dev w" "route add 10.2.0.0/24 via $GWB dev w src 10.1.0.1"
		sa_ops up a 0
		echo "xfrm policy add src 10.1.0.0/24 dst 10.2.0.0/24 dir out tmpl src $GWA dst $GWB proto esp reqid 1 mode tunnel"
		echo "xfrm policy add src 10.2.0.0/24 dst 10.1.0.0/24 dir in tmpl src $GWB dst $GWA proto esp reqid 1 mode tunnel"
	} >"$tmp/p7.a"
	{
		printf '%s\n' "link set lo up" "link set w up" "addr add 10.2.0.1/32 dev lo" \
			"addr add $GWB/24 dev w" "route add 10.1.0.0/24 via $GWA dev w src 10.2.0.1"
		sa_ops up b 0
		echo "xfrm policy add src 10.2.0.0/24 dst 10.1.0.0/24 dir out tmpl src $GWB dst $GWA proto esp reqid 1 mode tunnel"
		echo "xfrm policy add src 10.1.0.0/24 dst 10.2.0.0/24 dir in tmpl src $GWA dst $GWB proto esp reqid 1 mode tunnel"
	} >"$tmp/p7.b"
	batch "$na" "$tmp/p7.a" && batch "$nb" "$tmp/p7.b"
}
p7()
{
	local t0=$SECONDS c f=8 i tracked=0 preserved=0 want_p=0 unloads=0 unload_ok=0 deleted=0
	local ct0 slack sk src
	c=$(sc 8)
	ct0=$(slab_objects nf_conntrack)
	# New namespaces start with preserve-vpn-flows on.
	echo 1 >$PARAMS/preserve_vpn_flows
	local ts tl
	for ((i = 0; i < c; i++)); do
		ts=$SECONDS tl=
		p7_pair "$i" || { ktap_info "p7: cycle $i: setup failed"; continue; }
		tl+=" pair $((SECONDS - ts))"
		ip netns exec "$nb" python3 "$TCPSTREAM" sink 5001 "$tmp/p7.sink" &
		sk=$!
		busywait 20000 sh -c "ip netns exec $nb ss -Hltn | grep -q ':5001 '"
		rm -f "$tmp/p7.stop"
		ip netns exec "$na" python3 "$TCPSTREAM" source 10.2.0.1 5001 $f 5000 "$tmp/p7.stop" "$tmp/p7.out" 120 &
		src=$!
		tl+=" sink $((SECONDS - ts))"
		if busywait 30000 gauge_is "$na" $f && busywait 30000 gauge_is "$nb" $f; then
			tracked=$((tracked + 1))
		else
			ktap_info "p7: cycle $i: tracked $(vpnflow_counter "$na" flows)/$(vpnflow_counter "$nb" flows) of $f"
		fi
		tl+=" tracked $((SECONDS - ts))"
		if ((i % 4 != 2)); then
			# Tunnel down: the flows are preserved on both sides.
			want_p=$((want_p + 1))
			ip -n "$na" xfrm state flush; ip -n "$nb" xfrm state flush
			busywait 30000 held_is "$na" $f && busywait 30000 held_is "$nb" $f &&
				preserved=$((preserved + 1))
		fi
		tl+=" held $((SECONDS - ts))"
		case $((i % 4)) in
		1)	# SA events just queued: reconcile work pending at deletion.
			sa_ops up a 1 >"$tmp/p7.r"
			ip -n "$na" -batch "$tmp/p7.r" && ip -n "$nb" -batch "$tmp/p7.r" ;;
		2)	;; # the tunnel up, the flows active, traffic running
		3)	# Unload with these namespaces alive, preserved flows held.
			unloads=$((unloads + 1))
			if rmmod vpnflow_preserve && vpnflow_load; then
				echo 1 >$PARAMS/preserve_vpn_flows && V "$gwa" connection preserve-vpn-flows &&
					V "$gwb" connection preserve-vpn-flows && unload_ok=$((unload_ok + 1))
			fi ;;
		esac
		ip netns del "$na" && ip netns del "$nb" && deleted=$((deleted + 1))
		kill "$src" "$sk" 2>/dev/null
		wait "$src" "$sk" 2>/dev/null
		[ $((SECONDS - ts)) -lt 10 ] || ktap_info "p7: cycle $i took $((SECONDS - ts)) s:$tl"
	done
	echo 0 >$PARAMS/preserve_vpn_flows
	ktap_info "p7: $c cycles: tracked in $tracked, preserved in $preserved/$want_p, $unload_ok/$unloads unloads, $deleted pairs deleted"
	ktap_check "netns churn: $c pairs of namespaces, $f flows each, all tracked on both sides" [ "$tracked" = "$c" ]
	ktap_check "netns churn: flows preserved at every tunnel down ($want_p)" [ "$preserved" = "$want_p" ]
	ktap_check "netns churn: $unloads module unloads with preserved flows in live namespaces" \
		[ "$unload_ok" = "$unloads" -a "$deleted" = "$c" ]
	# The destroyed namespaces are cleaned up and their conntrack entries
	# freed: a reference the module kept would keep them allocated (and
	# hold up the namespace's cleanup for ever).
	slack=16
	gone_ok() {
		busywait 120000 ct_objects_le $((ct0 + slack))
		local rc=$?
		ktap_info "p7: conntrack objects $ct0 before, $(slab_objects nf_conntrack) after ($((2 * f * c)) entries made)"
		return $rc
	}
	ktap_check "netns churn: the namespaces' conntrack entries are all freed" gone_ok
	ktap_info "phase 7 (netns churn): $c cycles, $((2 * c)) namespaces, $((2 * f * c)) flows, $unloads unloads, $((SECONDS - t0)) s"
}
