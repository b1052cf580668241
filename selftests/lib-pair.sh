#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Two gateways keyed by hand (ip xfrm, no IKE), no router between them.
# Sourced after lib.sh.
#
#  198.51.100.0/26                                  198.51.100.64/26
#  +--------+     +-------------+     +-------------+     +--------+
#  | client |-----| gwa    wan0 |=====| wan0    gwb |-----| server |
#  | .2     | lan | .1 192.0.2.1|     |192.0.2.2 .65| lan | .66    |
#  +--------+     +-------------+     +-------------+     +--------+

GWA=192.0.2.1
GWB=192.0.2.2
A_LAN=198.51.100.0/26
B_LAN=198.51.100.64/26
SERVER=198.51.100.66

# pair_require: what these tests need in the VM, or skip them all.
pair_require()
{
	require_vm
	modprobe -q esp4 && modprobe -q xfrm_user && modprobe -q nf_conntrack ||
		ktap_skip_all "needs esp4, xfrm_user and nf_conntrack"
	command -v conntrack >/dev/null || ktap_skip_all "needs conntrack(8)"
}

# gw_pair: create client gwa gwb server (names in those vars), addresses
# and routes as drawn; the gateways forward, route each site to the other
# through the peer, and keep UDP entries for 300 s (tests count entries).
gw_pair()
{
	local ns l
	setup_ns client gwa gwb server || return 1
	ip link add lan0 netns "$client" type veth peer name lan0 netns "$gwa" || return 1
	ip link add wan0 netns "$gwa" type veth peer name wan0 netns "$gwb" || return 1
	ip link add lan0 netns "$gwb" type veth peer name lan0 netns "$server" || return 1
	ip -n "$client" addr add 198.51.100.2/26 dev lan0
	ip -n "$gwa" addr add 198.51.100.1/26 dev lan0
	ip -n "$gwa" addr add $GWA/24 dev wan0
	ip -n "$gwb" addr add $GWB/24 dev wan0
	ip -n "$gwb" addr add 198.51.100.65/26 dev lan0
	ip -n "$server" addr add $SERVER/26 dev lan0
	for ns in "$client" "$gwa" "$gwb" "$server"; do
		for l in lan0 wan0; do ip -n "$ns" link set "$l" up 2>/dev/null; done
	done
	ip -n "$client" route add default via 198.51.100.1
	ip -n "$server" route add default via 198.51.100.65
	for ns in "$gwa" "$gwb"; do
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 || return 1
		ip netns exec "$ns" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=300 || return 1
	done
	ip -n "$gwa" route add $B_LAN via $GWB
	ip -n "$gwb" route add $A_LAN via $GWA
}

# udp_flows DST DPORT FIRST_SPORT N: one datagram from the client from
# each of N source ports (N conntrack entries on the way).
udp_flows()
{
	ip netns exec "$client" python3 - "$@" <<-'PY'
	import socket, sys
	dst, dport, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
	for i in range(n):
	    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	    s.bind(('0.0.0.0', first + i))
	    s.sendto(b'x', (dst, dport))
	    s.close()
	PY
}

PAIR_KEY=0x0123456789abcdef0123456789abcdef01234567

# pair_sas NETNS add|del: the tunnel's two SAs (reqid 1), as NETNS sees them.
pair_sas()
{
	if [ "$2" = add ]; then
		echo "xfrm state add src $GWB dst $GWA proto esp spi 0x200 reqid 1 mode tunnel aead rfc4106(gcm(aes)) $PAIR_KEY 128"
		echo "xfrm state add src $GWA dst $GWB proto esp spi 0x100 reqid 1 mode tunnel aead rfc4106(gcm(aes)) $PAIR_KEY 128"
	else
		echo "xfrm state delete src $GWA dst $GWB proto esp spi 0x100"
		echo "xfrm state delete src $GWB dst $GWA proto esp spi 0x200"
	fi | ip -n "$1" -batch -
}

# pair_pols NETNS add|del MINE THEIRS...: out and fwd policies MINE <-> each
# THEIRS (NETNS is $gwa or $gwb).
pair_pols()
{
	local ns=$1 op=$2 mine=$3 me=$GWA peer=$GWB theirs
	shift 3
	[ "$ns" = "$gwb" ] && { me=$GWB; peer=$GWA; }
	for theirs in "$@"; do
		if [ "$op" = add ]; then
			echo "xfrm policy add src $mine dst $theirs dir out tmpl src $me dst $peer proto esp reqid 1 mode tunnel"
			echo "xfrm policy add src $theirs dst $mine dir fwd tmpl src $peer dst $me proto esp reqid 1 mode tunnel"
		else
			echo "xfrm policy delete src $mine dst $theirs dir out"
			echo "xfrm policy delete src $theirs dst $mine dir fwd"
		fi
	done | ip -n "$ns" -batch -
}

# pair_leak_counter: gwb counts what reaches it from site A for site B
# without a secpath (a cleartext leak of gwa's), in its raw PREROUTING.
pair_leak_counter()
{
	ip netns exec "$gwb" nft -f - <<-'NFT'
	table inet leak {
		counter clear { }
		chain pre {
			type filter hook prerouting priority raw; policy accept;
			iifname "wan0" ip saddr 198.51.100.0/26 ip daddr 198.51.100.64/26 meta secpath missing counter name clear
		}
	}
	NFT
}

# pair_leaks: that count, in packets.
pair_leaks() { nft_packets "$gwb" inet leak clear; }
