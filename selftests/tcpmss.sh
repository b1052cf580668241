#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sysopt connection tcpmss: MSS clamping of forwarded SYNs and SYN-ACKs on
# both gateways (tcpmss N, tcpmss minimum N, tcpmss auto), seen where it
# matters: the SYN as the server receives it, the SYN-ACK as the client
# receives it.
#
#  site A 198.51.100.0/26                                site B 198.51.100.64/26
#  +--------+     +-----------+     +-------+     +-----------+     +--------+
#  | client |-----|    gwa    |=====|  wan  |=====|    gwb    |-----| server |
#  | .2     | lan | clamps    | ESP |router | ESP | clamps    | lan | .66    |
#  |        |     | 192.0.2.1 |     |       |     |203.0.113.2|     |        |
#  +--------+     +-----------+     +-------+     +-----------+     +--------+
#   captures                                                         captures
#   SYN-ACKs      IPv6 (conn site6): 2001:db8:a::/64 <-> 2001:db8:b::/64  SYNs
#
#  The client reaches site B over a route with a locked MTU of 1500 (no
#  path MTU is learned from the DF pings below), so its SYNs carry MSS 1460
#  (IPv6: 1440) unless `advmss` says otherwise; so do the server's SYN-ACKs.
#  Captures are AF_PACKET sockets (selftests/tools/syncraft.py), which also
#  crafts the malformed SYNs.
#
#   1. tcpmss N: 1380 by default lowers SYNs and SYN-ACKs, `no` turns it off
#   2. tcpmss minimum: a 300 SYN raised to 536
#   3. malformed options pass byte-identical; a valid MSS at an odd offset
#      is rewritten with a correct checksum
#   4. tcpmss auto: the exact MSS that fits the SA for several ESP proposals,
#      with and without UDP encapsulation, IPv4 and IPv6; DF pings of exactly
#      the inner MTU get through, one byte more does not
#   5. a PMTU black hole (1400-byte WAN, the gateways' ICMP frag-needed
#      dropped): a download stalls without clamping and completes with auto
#  VPNFLOW_CORE=1: four of the auto cases (AEAD and not, NAT-T, IPv6), no 5.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-ipsec.sh"
require_vm
command -v swanctl >/dev/null || ktap_skip_all "strongSwan (swanctl) not installed"
command -v nft >/dev/null || ktap_skip_all "nft not installed"

SYNCRAFT=$VPNFLOW_TOP/selftests/tools/syncraft.py
PORT=5201

# tcpmss auto cases: ESP proposal, UDP encapsulation, IP version (outer and inner).
AUTO_CASES=(
	"aes128gcm16 no 4"
	"aes128gcm16 yes 4"
	"aes256gcm16 no 4"
	"aes128-sha256 no 4"
	"aes128-sha256 yes 4"
	"aes256-sha512 no 4"
	"aes256-sha512 yes 4"
	"aes128gcm16 no 6"
	"aes256-sha512 yes 6"
)
[ "$VPNFLOW_CORE" = 0 ] ||
	AUTO_CASES=("aes128gcm16 no 4" "aes128-sha256 yes 4" "aes128gcm16 no 6" "aes256-sha512 yes 6")
NCRAFTED=7
if [ "$VPNFLOW_CORE" = 0 ]; then
	ktap_plan $((26 + 2 * ${#AUTO_CASES[@]}))
else
	ktap_plan $((22 + 2 * ${#AUTO_CASES[@]}))
fi

tmp=$(mktemp -d)
defer rm -rf "$tmp"

bail()
{
	ktap_info "$*"
	exit 1
}

sysopt()
{
	local ns=$1
	shift
	"$VPNSYSOPT" -n "$ns" "$@"
}

# both ARGS...: the same vpnsysopt command on both gateways.
both() { sysopt "$gwa" "$@" && sysopt "$gwb" "$@"; }

# counter NETNS NAME: one of NETNS's counters (-1: unreadable).
counter() { vpnflow_counter "$1" "$2" 2>/dev/null || echo -1; }

# capture_start NAME NETNS ARGS...: start syncraft.py capture on lan0 (or
# the interface in CAP_IF) into $tmp/NAME, return once it listens.
capture_start()
{
	local name=$1 ns=$2
	shift 2
	rm -f "$tmp/$name" "$tmp/$name.ready"
	ip netns exec "$ns" python3 "$SYNCRAFT" capture "${CAP_IF:-lan0}" "$tmp/$name" "$@" &
	CAP_PID=$!
	busywait 20000 test -e "$tmp/$name.ready"
}

# observe DST: one TCP connection from the client to DST:$PORT; sets
# SYN_MSS (the MSS option of the SYN as the server received it) and
# SYNACK_MSS (of the SYN-ACK as the client received it), as syncraft.py mss
# prints them: a number, "none", "nothing" or "badcsum:N".
observe()
{
	local dst=$1 c1 c2
	capture_start syn "$server" --dport "$PORT" --flags S --timeout 60
	c1=$CAP_PID
	capture_start synack "$client" --sport "$PORT" --flags SA --timeout 60
	c2=$CAP_PID
	if ! ip netns exec "$client" python3 "$SYNCRAFT" connect "$dst" "$PORT" 30; then
		kill "$c1" "$c2" 2>/dev/null
	fi
	wait "$c1" "$c2"
	SYN_MSS=$(python3 "$SYNCRAFT" mss "$tmp/syn")
	SYNACK_MSS=$(python3 "$SYNCRAFT" mss "$tmp/synack")
	ktap_info "$dst: SYN at the server MSS $SYN_MSS, SYN-ACK at the client MSS $SYNACK_MSS"
}

# df_ping FAMILY DST TOTAL: a DF echo request of TOTAL bytes (IP header
# included) from the client gets an answer. A "fragmentation needed" /
# "packet too big" ends ping at once; the reported MTU lands in PING_MTU.
df_ping()
{
	local fam=$1 dst=$2 total=$3 hdr=28 out rc
	[ "$fam" = 6 ] && hdr=48
	out=$(ip netns exec "$client" ping -"$fam" -n -M "do" -c 1 -i 0.5 -w 15 -s $((total - hdr)) "$dst" 2>&1)
	rc=$?
	PING_MTU=$(echo "$out" | grep -oiE 'mtu ?= ?[0-9]+' | grep -oE '[0-9]+' | head -n 1)
	return "$rc"
}

# tunnel_down: terminate both IKE_SAs, wait until no SA is left on either gateway.
tunnel_down()
{
	swanctl_ gwa --terminate --ike site --timeout 20 >/dev/null 2>&1
	swanctl_ gwa --terminate --ike site6 --timeout 20 >/dev/null 2>&1
	busywait 30000 sh -c "[ \$(ip -n $gwa xfrm state | grep -c ^src) = 0 ] &&
		[ \$(ip -n $gwb xfrm state | grep -c ^src) = 0 ]"
}

# tunnel_up FAMILY KEY=VALUE...: (re)configure the IPv4 (conn site) or
# IPv6 (conn site6) tunnel with these settings and bring it up, alone.
TUNNEL_NOW=
tunnel_up()
{
	local fam=$1
	shift
	[ "$TUNNEL_NOW" = "$fam $*" ] && return 0
	TUNNEL_NOW=
	tunnel_down
	if [ "$fam" = 4 ]; then
		ipsec_conf gwa "$IPSEC_GWA_WAN" "$IPSEC_GWB_WAN" "$IPSEC_A_LAN" "$IPSEC_B_LAN" "$@" &&
			ipsec_conf gwb "$IPSEC_GWB_WAN" "$IPSEC_GWA_WAN" "$IPSEC_B_LAN" "$IPSEC_A_LAN" "$@" &&
			ipsec_up net || return 1
	else
		ipsec_site_to_site6 "$@" && ipsec_up net6 || return 1
	fi
	TUNNEL_NOW="$fam $*"
	ktap_info "tunnel up at ${SECONDS}s: IPv$fam $*: $(ip -n "$gwa" xfrm state | awk '$1 ~ /^(aead|enc|auth-trunc|encap)$/ {
		print $1, $2, ($1 == "aead" || $1 == "auth-trunc") ? $NF : "" }' | sort -u | xargs)"
}

# --- topology ---
ipsec_topology || bail "topology setup failed"
ipsec_site_to_site || bail "charon did not start"
vpnflow_load || bail "module did not load"
ip -n "$client" route add "$IPSEC_B_LAN" via 198.51.100.1 mtu lock 1500
ip -n "$client" -6 route add 2001:db8:b::/64 via 2001:db8:a::1 mtu lock 1500
ip netns exec "$server" python3 "$SYNCRAFT" listen "$PORT" &
defer kill $!
busywait 10000 sh -c "ip netns exec $server ss -Hltn 'sport = :$PORT' | grep -q LISTEN" ||
	bail "no listener on the server"
tunnel_up 4 esp=aes128gcm16 encap=no || bail "the IPv4 tunnel did not come up"

# --- 1. tcpmss N ---
sysopt "$gwa" show running-config all >"$tmp/runcfg" 2>&1
sed 's/^/# gwa: /' "$tmp/runcfg"
ktap_check "show running-config all: sysopt connection tcpmss 1380 and tcpmss minimum 0 (the defaults)" \
	sh -c "grep -qx 'sysopt connection tcpmss 1380' $tmp/runcfg &&
	       grep -qx 'sysopt connection tcpmss minimum 0' $tmp/runcfg"

both clear counters
observe "$IPSEC_SERVER"
ktap_check "tcpmss 1380 (default): the client's 1460 SYN reaches the server with MSS 1380" [ "$SYN_MSS" = 1380 ]
ktap_check "tcpmss 1380 (default): the server's 1460 SYN-ACK reaches the client with MSS 1380" [ "$SYNACK_MSS" = 1380 ]
low_a=$(counter "$gwa" syns_lowered)
low_b=$(counter "$gwb" syns_lowered)
ktap_info "syns_lowered gwa=$low_a gwb=$low_b, syns_raised gwa=$(counter "$gwa" syns_raised) gwb=$(counter "$gwb" syns_raised)"
ktap_check "syns_lowered counts the SYN on gwa and the SYN-ACK on gwb, syns_raised nothing" \
	sh -c "[ $low_a -ge 1 ] && [ $low_b -ge 1 ] &&
	       [ $(counter "$gwa" syns_raised) = 0 ] && [ $(counter "$gwb" syns_raised) = 0 ]"

sysopt "$gwa" connection tcpmss 1200
sysopt "$gwb" no connection tcpmss
observe "$IPSEC_SERVER"
ktap_check "tcpmss 1200 on gwa alone (gwb off): the SYN and the SYN-ACK both carry 1200, gwb counts nothing more" \
	sh -c "[ '$SYN_MSS' = 1200 ] && [ '$SYNACK_MSS' = 1200 ] && [ $(counter "$gwb" syns_lowered) = $low_b ]"

both no connection tcpmss
both clear counters
observe "$IPSEC_SERVER"
ktap_check "no connection tcpmss: the SYN and the SYN-ACK keep 1460" \
	sh -c "[ '$SYN_MSS' = 1460 ] && [ '$SYNACK_MSS' = 1460 ]"
ktap_info "off: syns_lowered gwa=$(counter "$gwa" syns_lowered) gwb=$(counter "$gwb" syns_lowered)"
ktap_check "no connection tcpmss: nothing counted" \
	sh -c "[ $(counter "$gwa" syns_lowered) = 0 ] && [ $(counter "$gwb" syns_lowered) = 0 ] &&
	       [ $(counter "$gwa" syns_raised) = 0 ] && [ $(counter "$gwb" syns_raised) = 0 ]"
both connection tcpmss 1380

# --- 2. tcpmss minimum ---
ip -n "$client" route replace "$IPSEC_B_LAN" via 198.51.100.1 mtu lock 1500 advmss 300
observe "$IPSEC_SERVER"
ktap_check "minimum 0 (default): a 300 SYN reaches the server unchanged" [ "$SYN_MSS" = 300 ]
sysopt "$gwa" connection tcpmss minimum 536
both clear counters
observe "$IPSEC_SERVER"
ktap_check "tcpmss minimum 536 on gwa: the 300 SYN reaches the server with MSS 536" [ "$SYN_MSS" = 536 ]
ktap_check "tcpmss minimum 536: the 1460 SYN-ACK is still lowered to 1380" [ "$SYNACK_MSS" = 1380 ]
ktap_info "minimum: syns_raised gwa=$(counter "$gwa" syns_raised) gwb=$(counter "$gwb" syns_raised)"
ktap_check "syns_raised counted on gwa, not on gwb" \
	sh -c "[ $(counter "$gwa" syns_raised) -ge 1 ] && [ $(counter "$gwb" syns_raised) = 0 ]"
sysopt "$gwa" no connection tcpmss minimum
ip -n "$client" route replace "$IPSEC_B_LAN" via 198.51.100.1 mtu lock 1500

# --- 3. malformed options (tcpmss 1380 on both gateways) ---
dmesg -C
capture_start crafted "$server" --src "$IPSEC_CLIENT" --dport 9 --flags S --count "$NCRAFTED" --timeout 60
cap=$CAP_PID
ip netns exec "$client" python3 "$SYNCRAFT" craft "$IPSEC_CLIENT" "$IPSEC_SERVER" 9 "$tmp/crafted.sent" ||
	kill "$cap" 2>/dev/null
wait "$cap"
python3 "$SYNCRAFT" verify "$tmp/crafted.sent" "$tmp/crafted" 1380 >"$tmp/crafted.res"
for i in $(seq 1 "$NCRAFTED"); do
	IFS=$'\t' read -r name verdict detail <<<"$(sed -n "${i}p" "$tmp/crafted.res")"
	ktap_info "crafted SYN $i: ${detail:-no result}"
	ktap_check "crafted SYN: ${name:-#$i}" [ "${verdict:-}" = ok ]
done
dmesg >"$tmp/crafted.dmesg"
sed 's/^/# dmesg: /' "$tmp/crafted.dmesg"
ktap_check "crafted SYNs: the kernel log stays clean" \
	sh -c "! grep -qE 'WARNING|BUG|Oops|general protection|Call Trace|KASAN|UBSAN|refcount_t|skb_over_panic|skb_under_panic' $tmp/crafted.dmesg"

# --- 4. tcpmss auto ---
both connection tcpmss auto
for c in "${AUTO_CASES[@]}"; do
	read -r esp encap fam <<<"$c"
	read -r inner_mtu mss <<<"$(python3 "$SYNCRAFT" espmtu "$esp" "$encap" "$fam" "$fam" 1500)"
	desc="auto, $esp, $([ "$encap" = yes ] && echo NAT-T || echo no NAT-T), IPv$fam"
	if [ "$fam" = 4 ]; then dst=$IPSEC_SERVER; else dst=$IPSEC_SERVER6; fi
	if ! tunnel_up "$fam" esp="$esp" encap="$encap"; then
		ktap_fail "$desc: tunnel up, SYN and SYN-ACK MSS $mss"
		ktap_fail "$desc: DF pings of $inner_mtu bytes pass, $((inner_mtu + 1)) do not"
		continue
	fi
	observe "$dst"
	ktap_info "$desc: want inner MTU $inner_mtu, MSS $mss"
	ktap_check "$desc: the SYN and the SYN-ACK carry MSS $mss" \
		sh -c "[ '$SYN_MSS' = $mss ] && [ '$SYNACK_MSS' = $mss ]"
	df_ping "$fam" "$dst" "$inner_mtu"
	fit=$?
	df_ping "$fam" "$dst" $((inner_mtu + 1))
	over=$?
	ktap_info "$desc: DF ping $inner_mtu bytes: rc $fit; $((inner_mtu + 1)) bytes: rc $over, gateway reports mtu ${PING_MTU:-?}"
	ktap_check "$desc: DF pings of $inner_mtu bytes pass, $((inner_mtu + 1)) do not" \
		sh -c "[ $fit = 0 ] && [ $over != 0 ] && [ '${PING_MTU:-}' = $inner_mtu ]"
done

# wan_syn_mss NAME: the MSS of a SYN from the client to the WAN router
# itself (it enters no tunnel), as the router receives it.
wan_syn_mss()
{
	local cap con
	CAP_IF=gwa0 capture_start "$1" "$wan" --dport 5202 --flags S --timeout 30
	cap=$CAP_PID
	ip netns exec "$client" python3 "$SYNCRAFT" connect 192.0.2.2 5202 20 2>/dev/null &
	con=$!
	wait "$cap"
	kill "$con" 2>/dev/null
	wait "$con" 2>/dev/null
	python3 "$SYNCRAFT" mss "$tmp/$1"
}

# A SYN that enters no tunnel keeps using N.
plain=$(wan_syn_mss plain)
ktap_info "auto: SYN to 192.0.2.2 (no tunnel) at the WAN router: MSS $plain"
ktap_check "auto: a SYN that enters no tunnel is still lowered to tcpmss 1380" [ "$plain" = 1380 ]

# Scope: tunneled-only leaves that SYN alone; tunneled SYNs are still clamped
# (the last auto case's tunnel is still up).
both connection tcpmss tunneled-only
scoped=$(wan_syn_mss scoped)
ktap_info "tunneled-only: SYN to 192.0.2.2 (no tunnel) at the WAN router: MSS $scoped"
ktap_check "tunneled-only: a SYN that enters no tunnel keeps its MSS (1460)" [ "$scoped" = 1460 ]
observe "$dst"
ktap_check "tunneled-only: tunneled SYNs are still clamped (MSS $mss)" \
	sh -c "[ '$SYN_MSS' = $mss ] && [ '$SYNACK_MSS' = $mss ]"
both no connection tcpmss tunneled-only

# --- 5. PMTU black hole ---
if [ "$VPNFLOW_CORE" != 0 ]; then
	vpnflow_unload
	ktap_finish
fi
both no connection tcpmss
both no connection tcpmss auto
TUNNEL_NOW=
tunnel_down
ip -n "$gwa" link set wan0 mtu 1400
ip -n "$wan" link set gwa0 mtu 1400
ip -n "$wan" link set gwb0 mtu 1400
ip -n "$gwb" link set wan0 mtu 1400
for ns in "$gwa" "$gwb"; do
	ip netns exec "$ns" nft -f - <<-'NFT' || bail "nft rules"
	table inet pmtu {
		counter blackholed { }
		chain local {
			type filter hook output priority filter; policy accept;
			icmp type destination-unreachable icmp code 4 counter name blackholed drop
			icmpv6 type packet-too-big counter name blackholed drop
		}
		chain transit {
			type filter hook forward priority filter; policy accept;
			icmp type destination-unreachable icmp code 4 counter name blackholed drop
			icmpv6 type packet-too-big counter name blackholed drop
		}
	}
	NFT
done
blackholed()
{
	ip netns exec "$1" nft -j list counter inet pmtu blackholed |
		python3 -c 'import json, sys
print(sum(o["counter"]["packets"] for o in json.load(sys.stdin)["nftables"] if "counter" in o))'
}
# No blackhole detection on the sender: the black hole must stay one.
ip netns exec "$server" sysctl -qw net.ipv4.tcp_mtu_probing=0
tunnel_up 4 esp=aes128gcm16 encap=no || bail "the IPv4 tunnel did not come up over the 1400-byte WAN"
read -r bh_inner bh_mss <<<"$(python3 "$SYNCRAFT" espmtu aes128gcm16 no 4 4 1400)"
# xfer_server (lib-ipsec.sh) serves XFER_BYTES at XFER_RATE bytes/s.
XFER_BYTES=2000000
# shellcheck disable=SC2034
XFER_RATE=2000000
expect=$(python3 "$XFER" expect "$XFER_BYTES")
xfer_server || bail "no download server"

capture_start synack "$client" --sport 5001 --flags SA --timeout 120
c2=$CAP_PID
ip netns exec "$client" python3 "$XFER" client "$IPSEC_SERVER" 5001 90 "$tmp/bh.xfer" 20
kill "$c2" 2>/dev/null
wait "$c2"
bh_synack=$(python3 "$SYNCRAFT" mss "$tmp/synack")
ktap_check "PMTU black hole, no clamping: the connection is made, its SYN-ACK keeps MSS 1460" [ "$bh_synack" = 1460 ]
ktap_info "no clamping: got $(cat "$tmp/bh.xfer" 2>/dev/null || echo nothing) (bytes sha256 s), want $expect"
ktap_info "frag-needed dropped: gwa $(blackholed "$gwa"), gwb $(blackholed "$gwb")"
ktap_check "PMTU black hole, no clamping: the download stalls (gwb's fragmentation-needed dropped)" \
	sh -c "[ \$(cut -d' ' -f1 $tmp/bh.xfer) -lt $XFER_BYTES ] && [ $(blackholed "$gwb") -gt 0 ]"

both connection tcpmss 1380
both connection tcpmss auto
capture_start syn "$server" --dport 5001 --flags S --timeout 120
c1=$CAP_PID
capture_start synack "$client" --sport 5001 --flags SA --timeout 120
c2=$CAP_PID
ip netns exec "$client" python3 "$XFER" client "$IPSEC_SERVER" 5001 400 "$tmp/auto.xfer" 60
kill "$c1" "$c2" 2>/dev/null
wait "$c1" "$c2"
ktap_info "auto: SYN at the server MSS $(python3 "$SYNCRAFT" mss "$tmp/syn"), SYN-ACK at the client MSS $(python3 "$SYNCRAFT" mss "$tmp/synack"), want $bh_mss"
ktap_check "PMTU black hole, tcpmss auto: the SYN and the SYN-ACK carry MSS $bh_mss (inner MTU $bh_inner)" \
	sh -c "[ \"\$(python3 $SYNCRAFT mss $tmp/syn)\" = $bh_mss ] && [ \"\$(python3 $SYNCRAFT mss $tmp/synack)\" = $bh_mss ]"
ktap_info "auto: got $(cat "$tmp/auto.xfer" 2>/dev/null || echo nothing) (bytes sha256 s), want $expect"
ktap_check "PMTU black hole, tcpmss auto: the download completes byte-exact" \
	sh -c "[ \"\$(cut -d' ' -f1,2 $tmp/auto.xfer 2>/dev/null)\" = '$expect' ]"

vpnflow_unload
ktap_finish
