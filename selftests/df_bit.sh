#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# crypto ipsec df-bit: the DF bit of the outer IPv4 header of the ESP
# packets gwa sends, seen on the WAN, for inner datagrams with and without
# DF, under copy-df (the default), clear-df and set-df; then a PMTU black
# hole for traffic other than TCP: a 1400-byte hop between the WAN router
# and gwb whose ICMP fragmentation-needed errors never leave the router.
#
#  site A 198.51.100.0/26                                  site B 198.51.100.64/26
#  +--------+     +-----------+     +---------+     +-----------+     +--------+
#  | client |-----|    gwa    |=====|   wan   |=====|    gwb    |-----| server |
#  | .2     | lan | df-bit    | ESP | counts  | ESP |203.0.113.2| lan | .66    |
#  | UDP    |     | 192.0.2.1 |     | DF; MTU |1400 |           |     | counts |
#  +--------+     +-----------+     +---------+     +-----------+     +--------+
#
#  1. ESP (aes128gcm16): per setting, 20 datagrams with DF and 20 without;
#     the WAN router counts gwa's ESP packets with DF and without.
#  2. The same through UDP encapsulation (NAT-T, ESP in UDP 4500): clear-df
#     and set-df.
#  Then what Linux does today with an inner packet without DF too big for
#     the SA (no fragmentation before encryption): 1472-byte datagrams,
#     1500-byte packets; the ESP packet is fragmented, gwb reassembles.
#  3. The black hole: 1350-byte datagrams (ESP packets of about 1430
#     bytes). With DF and copy-df none arrives; with clear-df all do
#     (fragmented by the router, reassembled by gwb). Without DF, set-df
#     makes the hole for them too.
# IPv6 has no DF bit: an IPv6 outer header is never changed, nothing to
# test there.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-ipsec.sh"
require_vm
command -v swanctl >/dev/null || ktap_skip_all "strongSwan (swanctl) not installed"
command -v nft >/dev/null || ktap_skip_all "nft not installed"

N=20
PORT=7100
ktap_plan 19

tmp=$(mktemp -d)
defer rm -rf "$tmp"

bail()
{
	ktap_info "$*"
	exit 1
}

V() { "$VPNSYSOPT" -n "$gwa" "$@"; }

# send COUNT SIZE DF: COUNT datagrams of SIZE payload bytes from the
# client to the server, with DF (1) or without (0), from one socket.
send()
{
	ip netns exec "$client" python3 -c 'import socket, sys
n, size, df = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# IP_MTU_DISCOVER: IP_PMTUDISC_DO (2) sets DF, IP_PMTUDISC_DONT (0) not.
s.setsockopt(socket.IPPROTO_IP, 10, 2 if df else 0)
for i in range(n):
    s.sendto(bytes(size), (sys.argv[1], int(sys.argv[5])))' \
		"$IPSEC_SERVER" "$1" "$2" "$3" "$PORT"
}

# wan_count NAME: one of the WAN router's counters of gwa's ESP packets.
wan_count()
{
	ip netns exec "$wan" nft -j list counter inet dfbit "$1" |
		python3 -c 'import json, sys
print(sum(o["counter"]["packets"] for o in json.load(sys.stdin)["nftables"] if "counter" in o))'
}

# received: datagrams the server got so far.
received() { wc -l <"$tmp/rx" 2>/dev/null || echo 0; }

# observe DF: send N small datagrams (DF: 1 or 0); set DF_SEEN and
# NODF_SEEN to how many of gwa's ESP packets the WAN saw with DF and
# without.
observe()
{
	local df0 nodf0 rx0
	df0=$(wan_count esp_df) nodf0=$(wan_count esp_nodf) rx0=$(received)
	send "$N" 100 "$1"
	busywait 5000 sh -c "[ \$(wc -l <$tmp/rx) -ge $((rx0 + N)) ]"
	DF_SEEN=$(( $(wan_count esp_df) - df0 ))
	NODF_SEEN=$(( $(wan_count esp_nodf) - nodf0 ))
}

# --- topology ---
ipsec_topology || bail "topology setup failed"
ipsec_site_to_site || bail "charon did not start"
vpnflow_load || bail "module did not load"
# gwa's ESP packets on the WAN, by DF; ESP in UDP 4500 too, not IKE's
# (its non-ESP marker: a zero SPI).
ip netns exec "$wan" nft -f - <<-'NFT' || bail "nft on the WAN router"
table inet dfbit {
	counter esp_df { }
	counter esp_nodf { }
	counter esp_frag { }
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		ip saddr 192.0.2.1 ip protocol esp ip frag-off & 0x1fff != 0 counter name esp_frag
		ip saddr 192.0.2.1 ip protocol esp ip frag-off & 0x4000 != 0 counter name esp_df
		ip saddr 192.0.2.1 ip protocol esp ip frag-off & 0x4000 == 0 counter name esp_nodf
		ip saddr 192.0.2.1 udp dport 4500 @th,64,32 != 0 ip frag-off & 0x4000 != 0 counter name esp_df
		ip saddr 192.0.2.1 udp dport 4500 @th,64,32 != 0 ip frag-off & 0x4000 == 0 counter name esp_nodf
	}
	chain out {
		type filter hook output priority filter; policy accept;
		icmp type destination-unreachable icmp code frag-needed counter drop
	}
}
NFT
udp_sink "$server" "$PORT" "$tmp/rx" || bail "no receiver on the server"
ipsec_up || bail "the tunnel did not come up"

# --- 1. ESP ---
ktap_check "the default is copy-df" test "$(vpnflow_field "$gwa" df_bit show running-config all)" = copy-df
observe 1
ktap_info "copy-df: DF datagrams: $DF_SEEN ESP packets with DF, $NODF_SEEN without"
ktap_check "copy-df: a datagram with DF leaves in an ESP packet with DF" test "$DF_SEEN/$NODF_SEEN" = "$N/0"
observe 0
ktap_info "copy-df: datagrams without DF: $DF_SEEN ESP packets with DF, $NODF_SEEN without"
ktap_check "copy-df: a datagram without DF leaves in an ESP packet without DF" test "$DF_SEEN/$NODF_SEEN" = "0/$N"

V crypto ipsec df-bit clear-df || bail "clear-df refused"
V clear counters
observe 1
ktap_info "clear-df: DF datagrams: $DF_SEEN with DF, $NODF_SEEN without; esp-df-rewritten $(vpnflow_counter "$gwa" esp_df_rewritten)"
ktap_check "clear-df: a datagram with DF leaves in an ESP packet without DF" test "$DF_SEEN/$NODF_SEEN" = "0/$N"
ktap_check "clear-df: esp-df-rewritten counts them" test "$(vpnflow_counter "$gwa" esp_df_rewritten)" = "$N"

V crypto ipsec df-bit set-df || bail "set-df refused"
observe 0
ktap_info "set-df: datagrams without DF: $DF_SEEN with DF, $NODF_SEEN without"
ktap_check "set-df: a datagram without DF leaves in an ESP packet with DF" test "$DF_SEEN/$NODF_SEEN" = "$N/0"

V no crypto ipsec df-bit || bail "no crypto ipsec df-bit refused"
observe 0
ktap_check "no crypto ipsec df-bit: copy-df again" \
	test "$DF_SEEN/$NODF_SEEN/$(vpnflow_field "$gwa" df_bit show running-config all)" = "0/$N/copy-df"

# Per interface (the ASA's outside interface): gwa's ESP leaves by wan0.
V crypto ipsec df-bit clear-df wan0 || bail "clear-df wan0 refused"
observe 1
ktap_info "clear-df on wan0, copy-df for the namespace: DF datagrams: $DF_SEEN with DF, $NODF_SEEN without"
ktap_check "clear-df on wan0 alone: a datagram with DF leaves without DF" test "$DF_SEEN/$NODF_SEEN" = "0/$N"
V no crypto ipsec df-bit clear-df wan0 || bail "no ... wan0 refused"
V crypto ipsec df-bit set-df lan9 || bail "set-df lan9 refused"
observe 0
ktap_check "another interface's set-df leaves wan0's ESP packets as copy-df" test "$DF_SEEN/$NODF_SEEN" = "0/$N"
V no crypto ipsec df-bit set-df lan9 || bail "no ... lan9 refused"

# --- fragmentation as Linux does it (after encryption) ---
# reasm: gwb's IP reassembly requests (ReasmReqds, /proc/net/snmp).
reasm()
{
	ip netns exec "$gwb" awk '$1 == "Ip:" { if (!n) { for (i = 2; i <= NF; i++) c[$i] = i; n = 1 }
		else { print $c["ReasmReqds"]; exit } }' /proc/net/snmp
}
rx0=$(received) fr0=$(wan_count esp_frag) rq0=$(reasm)
send "$N" 1472 0
busywait 5000 sh -c "[ \$(wc -l <$tmp/rx) -ge $((rx0 + N)) ]"
got=$(( $(received) - rx0 )) frags=$(( $(wan_count esp_frag) - fr0 )) rq=$(( $(reasm) - rq0 ))
ktap_info "after encryption (Linux today), 1472-byte datagrams without DF: $got of $N received; the WAN carried $frags ESP fragments past the first; gwb's ReasmReqds +$rq"
ktap_check "fragmentation today: 1500-byte packets without DF cross as fragmented ESP, reassembled by gwb" \
	test "$got" = "$N" -a "$frags" -ge "$N" -a "$rq" -ge $((2 * N))

# --- 3. a PMTU black hole for datagrams ---
# The hop from the WAN router to gwb carries 1400 bytes; the router's
# fragmentation-needed errors are dropped (chain out above).
ip -n "$wan" link set gwb0 mtu 1400
ip -n "$gwb" link set wan0 mtu 1400
ip netns exec "$gwb" nft -f - <<-'NFT' || bail "nft on gwb"
table ip frags {
	counter esp_frags { }
	counter id_zero { }
	chain pre {
		type filter hook prerouting priority -400; policy accept;
		ip saddr 192.0.2.1 ip frag-off & 0x3fff != 0 counter name esp_frags
		ip saddr 192.0.2.1 ip frag-off & 0x3fff != 0 ip id 0 counter name id_zero
	}
}
NFT
# gwb_frags [COUNTER]: ESP fragments gwb received (id_zero: with IP ID 0).
gwb_frags()
{
	ip netns exec "$gwb" nft -j list counter ip frags "${1:-esp_frags}" |
		python3 -c 'import json, sys
print(sum(o["counter"]["packets"] for o in json.load(sys.stdin)["nftables"] if "counter" in o))'
}

# big DF: N datagrams of 1350 bytes (DF 1 or 0) through the hole; sets
# GOT (how many the server received within 5 s) and FRAGS (ESP fragments
# gwb received meanwhile).
big()
{
	local rx0 fr0
	rx0=$(received) fr0=$(gwb_frags)
	send "$N" 1350 "$1"
	busywait 5000 sh -c "[ \$(wc -l <$tmp/rx) -ge $((rx0 + N)) ]"
	GOT=$(( $(received) - rx0 ))
	FRAGS=$(( $(gwb_frags) - fr0 ))
}

big 1
ktap_info "copy-df, 1350-byte datagrams with DF: $GOT of $N received"
ktap_check "copy-df: datagrams with DF fall into the black hole" test "$GOT" = 0
V crypto ipsec df-bit clear-df || bail "clear-df refused"
big 1
ktap_info "clear-df, 1350-byte datagrams with DF: $GOT of $N received, gwb got $FRAGS ESP fragments"
ktap_check "clear-df: every datagram with DF crosses the 1400-byte hop" test "$GOT" = "$N"
ktap_check "clear-df: as ESP fragments, reassembled by gwb" test "$FRAGS" -ge $((2 * N))
ktap_info "ESP fragments with IP ID 0 at gwb: $(gwb_frags id_zero)"
ktap_check "clear-df: the ESP packets got an IP ID (none of their fragments has ID 0)" \
	test "$(gwb_frags id_zero)" = 0
V no crypto ipsec df-bit || bail "no crypto ipsec df-bit refused"
big 0
ktap_info "copy-df, 1350-byte datagrams without DF: $GOT of $N received"
ktap_check "copy-df: datagrams without DF cross the hop (fragmented)" test "$GOT" = "$N"
V crypto ipsec df-bit set-df || bail "set-df refused"
big 0
ktap_info "set-df, 1350-byte datagrams without DF: $GOT of $N received"
ktap_check "set-df: datagrams without DF fall into the black hole too" test "$GOT" = 0
V no crypto ipsec df-bit || bail "no crypto ipsec df-bit refused"
ip -n "$wan" link set gwb0 mtu 1500
ip -n "$gwb" link set wan0 mtu 1500

# --- 2. ESP in UDP (NAT-T) ---
swanctl_ gwa --terminate --ike site --timeout 20 >/dev/null 2>&1
busywait 30000 sh -c "[ \$(ip -n $gwa xfrm state | grep -c ^src) = 0 ] && [ \$(ip -n $gwb xfrm state | grep -c ^src) = 0 ]"
ipsec_conf gwa "$IPSEC_GWA_WAN" "$IPSEC_GWB_WAN" "$IPSEC_A_LAN" "$IPSEC_B_LAN" encap=yes &&
	ipsec_conf gwb "$IPSEC_GWB_WAN" "$IPSEC_GWA_WAN" "$IPSEC_B_LAN" "$IPSEC_A_LAN" encap=yes &&
	ipsec_up || bail "the NAT-T tunnel did not come up"
ktap_check "NAT-T: gwa's SAs are ESP in UDP" sh -c "ip -n $gwa xfrm state | grep -q 'encap type espinudp'"
V crypto ipsec df-bit clear-df || bail "clear-df refused"
observe 1
ktap_info "NAT-T, clear-df: DF datagrams: $DF_SEEN with DF, $NODF_SEEN without"
ktap_check "NAT-T, clear-df: a datagram with DF leaves without DF" test "$DF_SEEN/$NODF_SEEN" = "0/$N"
V crypto ipsec df-bit set-df || bail "set-df refused"
observe 0
ktap_info "NAT-T, set-df: datagrams without DF: $DF_SEEN with DF, $NODF_SEEN without"
ktap_check "NAT-T, set-df: a datagram without DF leaves with DF" test "$DF_SEEN/$NODF_SEEN" = "$N/0"

vpnflow_unload
ktap_finish
