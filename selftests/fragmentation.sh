#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# crypto ipsec fragmentation: inner IPv4 datagrams without DF too large
# for the SA (1472-byte payloads, 1500-byte packets, on 1500-byte links)
# cross the tunnel after-encryption (Linux's own way: one ESP packet per
# datagram, fragmented by gwa, reassembled by gwb before it can decrypt)
# and before-encryption (gwa fragments the datagram, each fragment its
# own ESP packet: no ESP fragment on the WAN, gwb decrypts twice as many
# packets, the server reassembles). Then a WAN router that drops every IP
# fragment: after-encryption loses every such datagram, before-encryption
# none.
#
#  site A 198.51.100.0/26                                  site B 198.51.100.64/26
#  +--------+     +-----------+     +----------+     +-----------+     +--------+
#  | client |-----|    gwa    |=====|   wan    |=====|    gwb    |-----| server |
#  | .2     | lan | fragment- | ESP | counts   | ESP |203.0.113.2| lan | .66    |
#  | UDP    |     | ation     |     | ESP frags|     | SA counts |     | sha256 |
#  |        |     | 192.0.2.1 |     | (drops)  |     |           |     | of each|
#  +--------+     +-----------+     +----------+     +-----------+     +--------+
#
# Each datagram carries its own bytes (its number, then a pattern): the
# server records the SHA-256 of each one it gets, and every batch must
# arrive whole and unchanged. IPv6 routers never fragment (an inner IPv6
# packet too big for the SA is answered with Packet Too Big): IPv4 only.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-ipsec.sh"
require_vm
command -v swanctl >/dev/null || ktap_skip_all "strongSwan (swanctl) not installed"
command -v nft >/dev/null || ktap_skip_all "nft not installed"
command -v conntrack >/dev/null || ktap_skip_all "conntrack not installed"

N=20
PORT=7200
ktap_plan 19

tmp=$(mktemp -d)
defer rm -rf "$tmp"

bail()
{
	ktap_info "$*"
	exit 1
}

V() { "$VPNSYSOPT" -n "$gwa" "$@"; }

# sink: on the server, one line per datagram received: "LENGTH SHA256".
sink()
{
	rm -f "$tmp/rx" "$tmp/rx.ready"
	ip netns exec "$server" python3 -c 'import hashlib, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", int(sys.argv[2])))
f = open(sys.argv[1], "a", buffering=1)
open(sys.argv[1] + ".ready", "w").close()
while True:
    d, a = s.recvfrom(65535)
    f.write("%d %s\n" % (len(d), hashlib.sha256(d).hexdigest()))' "$tmp/rx" "$PORT" &
	defer kill $!
	busywait 10000 test -e "$tmp/rx.ready"
}

# send TAG COUNT SIZE DF SPORT: COUNT datagrams of SIZE bytes from the
# client's port SPORT, with DF (1) or without (0); their "LENGTH SHA256"
# lines in $tmp/TAG.sent. A datagram the client's stack refuses (EMSGSIZE
# once it learned a smaller path MTU) is not listed.
send()
{
	ip netns exec "$client" python3 -c 'import hashlib, socket, sys
tag, n, size, df, sport = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1", int(sys.argv[6])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# IP_MTU_DISCOVER: IP_PMTUDISC_DO (2) sets DF, IP_PMTUDISC_DONT (0) not.
s.setsockopt(socket.IPPROTO_IP, 10, 2 if df else 0)
s.bind(("", sport))
with open(sys.argv[7], "w") as out:
    for i in range(n):
        d = ("%s %d " % (tag, i)).encode()
        d = (d + bytes((i * 7 + j) & 0xff for j in range(size)))[:size]
        try:
            s.sendto(d, (sys.argv[1], int(sys.argv[8])))
        except OSError:
            continue
        out.write("%d %s\n" % (len(d), hashlib.sha256(d).hexdigest()))' \
		"$IPSEC_SERVER" "$1" "$2" "$3" "$4" "$5" "$tmp/$1.sent" "$PORT"
}

# arrived TAG: how many of TAG's datagrams the server got, byte for byte.
arrived() { awk 'NR == FNR { want[$0] = 1; next } $0 in want { n++ } END { print n + 0 }' "$tmp/$1.sent" "$tmp/rx" 2>/dev/null; }

# wan_count NAME: one of the WAN router's counters of gwa's ESP packets.
wan_count()
{
	ip netns exec "$wan" nft -j list counter inet wanfrag "$1" |
		python3 -c 'import json, sys
print(sum(o["counter"]["packets"] for o in json.load(sys.stdin)["nftables"] if "counter" in o))'
}

# sa_packets: packets gwb's inbound SA (from gwa) decrypted so far.
sa_packets()
{
	ip -n "$gwb" -s xfrm state list src "$IPSEC_GWA_WAN" dst "$IPSEC_GWB_WAN" proto esp |
		sed -n 's/^[[:space:]]*[0-9]*(bytes), \([0-9]*\)(packets).*/\1/p' | awk '{ n += $1 } END { print n + 0 }'
}

# reasm NETNS: its IP reassembly requests (ReasmReqds, /proc/net/snmp).
reasm()
{
	ip netns exec "$1" awk '$1 == "Ip:" { if (!n) { for (i = 2; i <= NF; i++) c[$i] = i; n = 1 }
		else { print $c["ReasmReqds"]; exit } }' /proc/net/snmp
}

# batch TAG SIZE DF SPORT: N datagrams; waits until all arrived (at most
# 5 s) and sets GOT (arrived intact), ESPFRAGS (gwa's ESP fragments past
# the first the WAN saw), DECRYPTED (packets gwb's SA decrypted) and
# REASM_GWB / REASM_SRV (reassembly requests at gwb and at the server).
batch()
{
	local fr0 sa0 rg0 rs0
	fr0=$(wan_count esp_frag) sa0=$(sa_packets) rg0=$(reasm "$gwb") rs0=$(reasm "$server")
	send "$1" "$N" "$2" "$3" "$4"
	busywait 5000 bash -c "$(declare -f arrived); tmp=$tmp; [ \$(arrived $1) -ge $N ]"
	GOT=$(arrived "$1")
	ESPFRAGS=$(( $(wan_count esp_frag) - fr0 ))
	DECRYPTED=$(( $(sa_packets) - sa0 ))
	REASM_GWB=$(( $(reasm "$gwb") - rg0 ))
	REASM_SRV=$(( $(reasm "$server") - rs0 ))
	ktap_info "$1: $GOT of $N datagrams of $2 bytes (DF $3) arrived intact; ESP fragments on the WAN $ESPFRAGS; gwb decrypted $DECRYPTED packets; ReasmReqds gwb +$REASM_GWB, server +$REASM_SRV"
}

# --- topology ---
ipsec_topology || bail "topology setup failed"
ipsec_site_to_site || bail "charon did not start"
vpnflow_load || bail "module did not load"
# gwa's ESP packets on the WAN: fragments past the first; and, once
# dropprotos has ESP and UDP (ESP in UDP), every fragment of theirs is
# dropped, as some WAN paths do.
ip netns exec "$wan" nft -f - <<-'NFT' || bail "nft on the WAN router"
table inet wanfrag {
	counter esp_frag { }
	counter dropped { }
	set dropprotos { type inet_proto; }
	chain pre {
		type filter hook prerouting priority -450; policy accept;
		ip saddr 192.0.2.1 ip protocol esp ip frag-off & 0x1fff != 0 counter name esp_frag
		ip frag-off & 0x3fff != 0 meta l4proto @dropprotos counter name dropped drop
	}
}
NFT
sink || bail "no receiver on the server"
ipsec_up || bail "the tunnel did not come up"

# --- after-encryption, the default ---
ktap_check "the default is after-encryption" \
	test "$(vpnflow_field "$gwa" fragmentation show running-config all)" = after-encryption
batch after 1472 0 41001
ktap_check "after-encryption: every datagram arrives intact" test "$GOT" = "$N"
ktap_check "after-encryption: each crossed the WAN as a fragmented ESP packet, decrypted once" \
	test "$ESPFRAGS" -ge "$N" -a "$DECRYPTED" -ge "$N" -a "$DECRYPTED" -lt $((2 * N))
ktap_check "after-encryption: no fragmentation before encryption counted" \
	test "$(vpnflow_counter "$gwa" prefrag_packets)" = 0

# --- before-encryption ---
V crypto ipsec fragmentation before-encryption || bail "before-encryption refused"
V clear counters
# A new source port: the batch's first datagram makes the conntrack entry.
batch before 1472 0 41002
ktap_check "before-encryption: every datagram arrives intact" test "$GOT" = "$N"
ktap_check "before-encryption: no ESP fragment on the WAN" test "$ESPFRAGS" = 0
ktap_check "before-encryption: gwb decrypted two ESP packets per datagram" test "$DECRYPTED" -ge $((2 * N))
ktap_info "counters: prefrag-packets $(vpnflow_counter "$gwa" prefrag_packets), prefrag-fragments $(vpnflow_counter "$gwa" prefrag_fragments), prefrag-failures $(vpnflow_counter "$gwa" prefrag_failures)"
ktap_check "before-encryption: prefrag-packets $N, prefrag-fragments $((2 * N)), no failure" \
	test "$(vpnflow_counter "$gwa" prefrag_packets)/$(vpnflow_counter "$gwa" prefrag_fragments)/$(vpnflow_counter "$gwa" prefrag_failures)" = "$N/$((2 * N))/0"
# The hook stole the first packet of the flow before conntrack's own
# confirm: the entry must have been confirmed all the same.
ktap_check "before-encryption: the flow's conntrack entry exists on gwa" \
	sh -c "ip netns exec $gwa conntrack -L -p udp --sport 41002 --dport $PORT 2>/dev/null | grep -q $IPSEC_SERVER"

batch small 1000 0 41003
ktap_check "before-encryption: datagrams that fit pass whole" \
	test "$GOT" = "$N" -a "$(vpnflow_counter "$gwa" prefrag_packets)" = "$N"

# --- per interface: gwa's ESP leaves through wan0 ---
V no crypto ipsec fragmentation || bail "no crypto ipsec fragmentation refused"
V crypto ipsec fragmentation before-encryption wan0 || bail "before-encryption wan0 refused"
p0=$(vpnflow_counter "$gwa" prefrag_packets)
batch ifwan 1472 0 41007
ktap_check "before-encryption on wan0 alone (the namespace after-encryption): no ESP fragment, all intact" \
	test "$ESPFRAGS/$GOT/$(( $(vpnflow_counter "$gwa" prefrag_packets) - p0 ))" = "0/$N/$N"
V no crypto ipsec fragmentation before-encryption wan0 || bail "no ... wan0 refused"
V crypto ipsec fragmentation before-encryption lan9 || bail "before-encryption lan9 refused"
ktap_check "show running-config lists the interface's own setting" \
	sh -c "'$VPNSYSOPT' -n $gwa show running-config | grep -qx 'crypto ipsec fragmentation before-encryption lan9'"
batch ifother 1472 0 41008
ktap_check "another interface's setting leaves wan0's ESP packets after-encryption" \
	test "$ESPFRAGS" -ge "$N" -a "$GOT" = "$N"
V no crypto ipsec fragmentation before-encryption lan9 || bail "no ... lan9 refused"
ktap_check "no crypto ipsec fragmentation WORD IFNAME removes it" \
	sh -c "! '$VPNSYSOPT' -n $gwa show running-config | grep -q lan9"

# --- a WAN that drops fragments ---
ip netns exec "$wan" nft add element inet wanfrag dropprotos '{ esp, udp }' || bail "nft set"
V no crypto ipsec fragmentation || bail "no crypto ipsec fragmentation refused"
ktap_check "no crypto ipsec fragmentation: after-encryption again" \
	test "$(vpnflow_field "$gwa" fragmentation show running-config all)" = after-encryption
batch dropafter 1472 0 41005
ktap_check "fragments dropped, after-encryption: no datagram arrives" test "$GOT" = 0
V crypto ipsec fragmentation before-encryption || bail "before-encryption refused"
batch dropbefore 1472 0 41006
ktap_check "fragments dropped, before-encryption: every datagram arrives intact" test "$GOT" = "$N"
ktap_info "the WAN router dropped $(wan_count dropped) fragments"
ktap_check "the WAN router did drop the after-encryption fragments" test "$(wan_count dropped)" -ge "$N"

# Last: the client learns a smaller path MTU from gwa's errors.
p0=$(vpnflow_counter "$gwa" prefrag_packets)
batch df 1472 1 41004
ktap_check "before-encryption: a datagram with DF is never fragmented (gwa answers frag needed)" \
	test "$(vpnflow_counter "$gwa" prefrag_packets)" = "$p0" -a "$GOT" = 0

vpnflow_unload
ktap_finish
