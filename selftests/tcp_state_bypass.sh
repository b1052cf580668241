#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sysopt connection tcp-state-bypass mark: TCP flows a hardened gateway
# sees only half of (asymmetric routing). The server's replies take a
# back link to the client, so gw never sees a SYN-ACK: conntrack leaves
# the entry in SYN_SENT and judges the client's ACKs INVALID (strict
# tracking, nf_conntrack_tcp_loose=0), which the FORWARD chain drops. With
# the option on, the flows the operator marks (port 5001, an nft rule at
# priority raw) are attached to their entry again and pass; the unmarked
# flow (port 5002) stays strictly tracked and dies. IPv4 and IPv6.
# Then segments out of a connection's window (what IPsec over TCP sends
# under loss), on two downloads gw NATs (ports 5003 marked, 5004 not):
# the marked connection's passes, NATed; the other's is dropped INVALID.
#
#  198.51.100.0/26                            203.0.113.0/24
#  2001:db8:a::/64   +---------------------+  2001:db8:c::/64
#  +--------+  lan0  | gw  .1 / .1         | wan0  +--------+
#  | client |--------| strict TCP tracking |-------| server |
#  | .2     |        | FORWARD drop,       |       | .2     |
#  +--------+        | INVALID dropped     |       +--------+
#      | back0       | nft raw: dport 5001 |           | back0
#      |             |   -> mark 0x10      |           |
#      |             +---------------------+           |
#      +-------- 192.0.2.0/30, 2001:db8:f::/64 ---------+
#        the server's packets to the client (never through gw)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-ipsec.sh"
require_vm
command -v nft >/dev/null || ktap_skip_all "nftables not installed"
command -v iptables >/dev/null || ktap_skip_all "iptables not installed"

BYTES=300000
RATE=150000
ktap_plan 10

tmp=$(mktemp -d)
defer rm -rf "$tmp"
expect=$(python3 "$XFER" expect "$BYTES")

setup_ns client gw server || exit 1
ip link add lan0 netns "$client" type veth peer name lan0 netns "$gw"
ip link add wan0 netns "$gw" type veth peer name wan0 netns "$server"
ip link add back0 netns "$client" type veth peer name back0 netns "$server"
ip -n "$client" addr add 198.51.100.2/26 dev lan0
ip -n "$client" addr add 2001:db8:a::2/64 dev lan0 nodad
ip -n "$gw" addr add 198.51.100.1/26 dev lan0
ip -n "$gw" addr add 2001:db8:a::1/64 dev lan0 nodad
ip -n "$gw" addr add 203.0.113.1/24 dev wan0
ip -n "$gw" addr add 2001:db8:c::1/64 dev wan0 nodad
ip -n "$server" addr add 203.0.113.2/24 dev wan0
ip -n "$server" addr add 2001:db8:c::2/64 dev wan0 nodad
ip -n "$client" addr add 192.0.2.2/30 dev back0
ip -n "$client" addr add 2001:db8:f::2/64 dev back0 nodad
ip -n "$server" addr add 192.0.2.1/30 dev back0
ip -n "$server" addr add 2001:db8:f::1/64 dev back0 nodad
for ns in "$client" "$gw" "$server"; do
	for l in lan0 wan0 back0; do ip -n "$ns" link set "$l" up 2>/dev/null; done
done
# client -> server through gw; server -> client over the back link.
ip -n "$client" route add 203.0.113.0/24 via 198.51.100.1
ip -n "$client" -6 route add 2001:db8:c::/64 via 2001:db8:a::1
ip -n "$server" route add 198.51.100.0/26 via 192.0.2.2
ip -n "$server" -6 route add 2001:db8:a::/64 via 2001:db8:f::2
ip netns exec "$client" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.back0.rp_filter=0
ip netns exec "$gw" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
gw_strict_tcp "$gw" || exit 1
for ipt in iptables ip6tables; do
	ip netns exec "$gw" $ipt -P FORWARD DROP
	ip netns exec "$gw" $ipt -A FORWARD -m conntrack --ctstate INVALID -j DROP
	ip netns exec "$gw" $ipt -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
	ip netns exec "$gw" $ipt -A FORWARD -i lan0 -o wan0 -m conntrack --ctstate NEW -j ACCEPT
done
# The window part's downloads are NATed (their replies come back to gw).
ip netns exec "$gw" iptables -t nat -A POSTROUTING -o wan0 -p tcp --dport 5003:5004 -j MASQUERADE
ip netns exec "$gw" nft -f - <<'NFT' || { ktap_info "nft on gw failed"; exit 1; }
table inet marks {
	counter in5001 { }
	counter out5001 { }
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		tcp dport 5001 counter name in5001
		tcp dport { 5001, 5003 } meta mark set 0x10
	}
	chain post {
		type filter hook postrouting priority 300; policy accept;
		tcp dport 5001 counter name out5001
	}
}
NFT

for p in 5001 5002 5005; do
	ip netns exec "$server" python3 "$XFER" server "$p" "$BYTES" "$RATE" &
	defer kill $!
done
busywait 30000 sh -c "ip netns exec $server ss -Hltn 'sport = :5005' | grep -q LISTEN" || exit 1

vpnflow_load || exit 1
defer vpnflow_unload

# download NAME ADDR PORT: the client's download; "bytes sha256" in $tmp/NAME.
download()
{
	ip netns exec "$client" python3 "$XFER" client "$2" "$3" 30 "$tmp/$1" 6
	cut -d' ' -f1,2 "$tmp/$1" 2>/dev/null
}
invalid() { ip netns exec "$gw" iptables -vnxL FORWARD | awk '/ctstate INVALID/ { print $1 }'; }
# pkts NAME: an nft counter of gw (in5001: the client's packets to port
# 5001 arriving; out5001: those forwarded on).
pkts()
{
	ip netns exec "$gw" nft -j list counter inet marks "$1" |
		python3 -c 'import json, sys
print(sum(o["counter"]["packets"] for o in json.load(sys.stdin)["nftables"] if "counter" in o))'
}

# With the option off, marks change nothing. This run uses port 5005:
# what its dead connection still sends (the client's RSTs to the
# server's SYN-ACK retransmissions) must not count in port 5001's
# figures.
got=$(download off 203.0.113.2 5005)
ktap_info "option off: got ${got:-nothing}, want $expect; INVALID dropped $(invalid)"
ktap_check "option off: the half-seen flow dies on the strict gateway (its ACKs INVALID)" \
	test "$got" != "$expect" -a "$(invalid)" -gt 0

ktap_check "sysopt connection tcp-state-bypass mark 0x10/0x10" \
	"$VPNSYSOPT" -n "$gw" connection tcp-state-bypass mark 0x10/0x10
in0=$(pkts in5001) out0=$(pkts out5001)
got=$(download on 203.0.113.2 5001)
in1=$(( $(pkts in5001) - in0 )) out1=$(( $(pkts out5001) - out0 ))
n4=$(vpnflow_counter "$gw" tcp_state_bypassed)
ktap_info "option on, marked flow: got ${got:-nothing}, want $expect; gw forwarded $out1 of its $in1 packets; bypassed $n4"
ktap_check "option on: the marked flow completes byte-exact" test "$got" = "$expect"
# Everything after its SYN is refused by conntrack (the entry never
# leaves SYN_SENT) and attached again: counted, and forwarded.
ktap_check "option on: gw forwarded every packet of it, the refused ones counted as bypassed" \
	test "$out1" = "$in1" -a "$n4" -ge $((in1 / 2)) -a "$n4" -lt "$in1"

bad0=$(invalid)
got=$(download other 203.0.113.2 5002)
ktap_info "option on, unmarked flow: got ${got:-nothing}; INVALID dropped $bad0 -> $(invalid)"
ktap_check "option on: an unmarked flow stays strictly tracked and dies" \
	test "$got" != "$expect" -a "$(invalid)" -gt "$bad0"

got=$(download on6 2001:db8:c::2 5001)
ktap_info "IPv6, option on, marked flow: got ${got:-nothing}; bypassed $n4 -> $(vpnflow_counter "$gw" tcp_state_bypassed)"
ktap_check "IPv6: the marked flow completes byte-exact" test "$got" = "$expect"

# --- out of the window, NATed ---
WBYTES=400000
wexpect=$(python3 "$XFER" expect "$WBYTES")
for p in 5003 5004; do
	ip netns exec "$server" python3 "$XFER" server "$p" "$WBYTES" 20000 &
	defer kill $!
done
busywait 30000 sh -c "ip netns exec $server ss -Hltn 'sport = :5004' | grep -q LISTEN" || exit 1
for p in 5003 5004; do
	ip netns exec "$client" python3 "$XFER" client 203.0.113.2 "$p" 60 "$tmp/w$p" 20 &
	wpid[p]=$!
done
# window PORT: one segment 512 MB past the sequence number of the
# client's latest ACK on the download to PORT (far over gw's window for
# it), seen at gw; then where the server got it from ("none": not at
# all; nothing printed: the segment could not be made).
window()
{
	local p=$1 sport seq ack
	sport=$(ip netns exec "$client" ss -Htn "dport = :$p" | awk '{ split($4, a, ":"); print a[2]; exit }')
	[ -n "$sport" ] || return 1
	ip netns exec "$gw" python3 "$SYNCRAFT" capture lan0 "$tmp/seen$p" --dport "$p" \
		--sport "$sport" --flags any --timeout 10 || return 1
	read -r seq ack < <(python3 -c 'import json,sys
j = json.loads(open(sys.argv[1]).readline())
t = bytes.fromhex(j["tcp"])
print(j["seq"], int.from_bytes(t[8:12], "big"))' "$tmp/seen$p")
	seq=$(( (seq + 0x20000000) & 0xffffffff ))
	ip netns exec "$server" python3 "$SYNCRAFT" capture wan0 "$tmp/got$p" --dport "$p" \
		--flags any --count 100000 --timeout 4 &
	local cap=$!
	busywait 5000 test -e "$tmp/got$p.ready"
	ip netns exec "$client" python3 "$SYNCRAFT" segment 198.51.100.2 "$sport" 203.0.113.2 "$p" "$seq" "$ack"
	wait $cap
	python3 -c 'import json,sys
src = "none"
for l in open(sys.argv[1]):
    j = json.loads(l)
    if j["seq"] == int(sys.argv[2]):
        src = j["src"]
        break
print(src)' "$tmp/got$p" "$seq"
}
SYNCRAFT=$VPNFLOW_TOP/selftests/tools/syncraft.py
busywait 10000 sh -c "[ \$(cat $tmp/w5004.progress 2>/dev/null || echo 0) -gt 20000 ]"
n0=$(vpnflow_counter "$gw" tcp_state_bypassed) bad0=$(invalid)
from3=$(window 5003)
n1=$(vpnflow_counter "$gw" tcp_state_bypassed)
from4=$(window 5004)
ktap_info "out of the window: marked connection's segment at the server from ${from3:-(not sent)} (bypassed $n0 -> $n1), unmarked one's from ${from4:-(not sent)} (INVALID dropped $bad0 -> $(invalid))"
# (The marked connection's entry ignores windows since its SYN: its
# segment is not even refused, so the counter need not move.)
ktap_check "window: the marked connection's out-of-window segment passes, NATed" \
	test "$from3" = 203.0.113.1
ktap_check "window: the unmarked connection's one is dropped as INVALID" \
	test "$from4" = none -a "$(invalid)" -gt "$bad0"
for p in 5003 5004; do wait "${wpid[p]}"; done
ktap_check "window: both downloads complete byte-exact" \
	test "$(cut -d' ' -f1,2 "$tmp/w5003")" = "$wexpect" -a "$(cut -d' ' -f1,2 "$tmp/w5004")" = "$wexpect"

"$VPNSYSOPT" -n "$gw" no connection tcp-state-bypass mark
got=$(download off2 203.0.113.2 5001)
ktap_check "option off again: the marked flow dies again" test "$got" != "$expect"
ktap_finish
