#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Site-to-site IPsec topology with real strongSwan (charon + swanctl), one
# charon per gateway namespace. Sourced after lib.sh.
#
#  site A LAN 198.51.100.0/26                      site B LAN 198.51.100.64/26
#  +--------+     +-----------+     +-------+     +-----------+     +--------+
#  | client |-----|    gwa    |-----|  wan  |-----|    gwb    |-----| server |
#  | .2     | lan | .1   wan  |     | router|     |  wan  .65 | lan | .66    |
#  +--------+     | 192.0.2.1 |     | .2 .1 |     | 203.0.113.2     +--------+
#                 +-----------+     +-------+     +-----------+
#  IPv6: 2001:db8:a::/64 (site A), 2001:db8:b::/64 (site B),
#        2001:db8:1::/64 (gwa-wan), 2001:db8:2::/64 (wan-gwb).
#  The gateways' default routes point at the wan router, which knows no
#  private LANs: traffic of a tunnel whose policies are gone leaves in
#  cleartext towards "the Internet" (and is counted there, in wan).
#  All addresses are documentation ranges; nothing leaves the VM.

IPSEC_A_LAN=198.51.100.0/26
IPSEC_B_LAN=198.51.100.64/26
IPSEC_CLIENT=198.51.100.2
IPSEC_SERVER=198.51.100.66
IPSEC_GWA_WAN=192.0.2.1
IPSEC_GWB_WAN=203.0.113.2
IPSEC_CLIENT6=2001:db8:a::2
IPSEC_SERVER6=2001:db8:b::2
IPSEC_GWA_WAN6=2001:db8:1::1
IPSEC_GWB_WAN6=2001:db8:2::2

# ipsec_topology: create client gwa wan gwb server (names in those vars).
ipsec_topology()
{
	setup_ns client gwa wan gwb server || return 1
	ip link add lan0 netns "$client" type veth peer name lan0 netns "$gwa" || return 1
	ip link add wan0 netns "$gwa" type veth peer name gwa0 netns "$wan" || return 1
	ip link add gwb0 netns "$wan" type veth peer name wan0 netns "$gwb" || return 1
	ip link add lan0 netns "$gwb" type veth peer name lan0 netns "$server" || return 1

	ip -n "$client" addr add 198.51.100.2/26 dev lan0
	ip -n "$client" addr add 2001:db8:a::2/64 dev lan0 nodad
	ip -n "$gwa" addr add 198.51.100.1/26 dev lan0
	ip -n "$gwa" addr add 2001:db8:a::1/64 dev lan0 nodad
	ip -n "$gwa" addr add 192.0.2.1/30 dev wan0
	ip -n "$gwa" addr add 2001:db8:1::1/64 dev wan0 nodad
	ip -n "$wan" addr add 192.0.2.2/30 dev gwa0
	ip -n "$wan" addr add 2001:db8:1::2/64 dev gwa0 nodad
	ip -n "$wan" addr add 203.0.113.1/30 dev gwb0
	ip -n "$wan" addr add 2001:db8:2::1/64 dev gwb0 nodad
	ip -n "$gwb" addr add 203.0.113.2/30 dev wan0
	ip -n "$gwb" addr add 2001:db8:2::2/64 dev wan0 nodad
	ip -n "$gwb" addr add 198.51.100.65/26 dev lan0
	ip -n "$gwb" addr add 2001:db8:b::1/64 dev lan0 nodad
	ip -n "$server" addr add 198.51.100.66/26 dev lan0
	ip -n "$server" addr add 2001:db8:b::2/64 dev lan0 nodad
	for ns in "$client" "$gwa" "$wan" "$gwb" "$server"; do
		for l in $(ip -n "$ns" -o link show | awk -F': ' '$2 != "lo" { sub(/@.*/, "", $2); print $2 }'); do
			ip -n "$ns" link set "$l" up
		done
	done
	for ns in "$gwa" "$wan" "$gwb"; do
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	done
	ip -n "$client" route add default via 198.51.100.1
	ip -n "$client" -6 route add default via 2001:db8:a::1
	ip -n "$server" route add default via 198.51.100.65
	ip -n "$server" -6 route add default via 2001:db8:b::1
	ip -n "$gwa" route add default via 192.0.2.2
	ip -n "$gwa" -6 route add default via 2001:db8:1::2
	ip -n "$gwb" route add default via 203.0.113.1
	ip -n "$gwb" -6 route add default via 2001:db8:2::1
	# The WAN router drops what it has no route for (private LANs): count
	# cleartext leaks of LAN traffic in its raw table before routing.
	# UDP port 7999 is a test's deliberate stray (ike_setups.sh), counted
	# apart from the leaks.
	ip netns exec "$wan" nft -f - <<-'NFT' || return 1
	table inet leak {
		counter a2b { }
		counter b2a { }
		counter nat { }
		counter stray { }
		chain pre {
			type filter hook prerouting priority raw; policy accept;
			udp dport 7999 counter name stray accept
			ip saddr 198.51.100.0/26 ip daddr 198.51.100.64/26 counter name a2b
			ip saddr 198.51.100.64/26 ip daddr 198.51.100.0/26 counter name b2a
			ip6 saddr 2001:db8:a::/64 ip6 daddr 2001:db8:b::/64 counter name a2b
			ip6 saddr 2001:db8:b::/64 ip6 daddr 2001:db8:a::/64 counter name b2a
			ip saddr { 192.0.2.1, 203.0.113.2 } ip daddr 198.51.100.0/25 counter name nat
		}
	}
	table inet outage {
		chain block {
			type filter hook forward priority filter; policy accept;
		}
	}
	NFT
}

# wan_leaks: packets of LAN traffic seen in cleartext on the WAN (both
# ways), with their LAN addresses.
wan_leaks() { wan_counter a2b b2a; }

# wan_natted: packets to a LAN seen on the WAN from a gateway's WAN
# address: LAN traffic MASQUERADEd by a gateway.
wan_natted() { wan_counter nat; }

# wan_counter NAME...: the sum of the WAN router's leak counters NAME...
wan_counter() { nft_packets "$wan" inet leak "$@"; }

# wan_outage on|off: the WAN router drops everything between the gateways.
wan_outage()
{
	ip netns exec "$wan" nft flush chain inet outage block
	[ "$1" = on ] && ip netns exec "$wan" nft add rule inet outage block drop
	return 0
}

# Hardened gateway firewall, as the gateways vpnflow is for have one:
# strict TCP tracking, FORWARD policy drop, established accepted,
# IPsec-protected accepted, MASQUERADE for what leaves unprotected.
# gw_harden NETNS LAN_PREFIX
gw_harden()
{
	local ns=$1
	gw_strict_tcp "$ns" || return 1
	ip netns exec "$ns" iptables -P FORWARD DROP
	ip netns exec "$ns" iptables -A FORWARD -m conntrack --ctstate INVALID -j DROP
	ip netns exec "$ns" iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
	ip netns exec "$ns" iptables -A FORWARD -m policy --dir in --pol ipsec -j ACCEPT
	ip netns exec "$ns" iptables -A FORWARD -m policy --dir out --pol ipsec -j ACCEPT
	ip netns exec "$ns" iptables -A FORWARD -i lan0 -o wan0 -j ACCEPT
	ip netns exec "$ns" iptables -t nat -A POSTROUTING -o wan0 -m policy --dir out --pol none -j MASQUERADE
}

# gw_strict_tcp NETNS: strict TCP tracking, short timeouts for
# unacknowledged data (the hardened gateways' conntrack settings).
gw_strict_tcp()
{
	modprobe nf_conntrack || return 1
	ip netns exec "$1" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0 \
		net.netfilter.nf_conntrack_tcp_timeout_max_retrans=10 \
		net.netfilter.nf_conntrack_tcp_timeout_unacknowledged=10
}

# gw_harden_nft NETNS: gw_harden's gateway with nftables alone (meta
# ipsec, rt ipsec, masquerade), no iptables rule.
gw_harden_nft()
{
	gw_strict_tcp "$1" || return 1
	ip netns exec "$1" nft -f - <<-'NFT'
	table inet gw {
		chain forward {
			type filter hook forward priority filter; policy drop;
			ct state invalid drop
			ct state established,related accept
			meta ipsec exists accept
			rt ipsec exists accept
			iifname "lan0" oifname "wan0" accept
		}
	}
	table ip gwnat {
		chain post {
			type nat hook postrouting priority srcnat; policy accept;
			oifname "wan0" rt ipsec missing masquerade
		}
	}
	NFT
}

# --- strongSwan ---
# ipsec_charon NETNS NAME: start charon in NETNS with its own config in
# $IPSEC_DIR/NAME (private /run, vici socket $IPSEC_DIR/NAME/vici).
# CHARON_OPTS: more settings for its charon section, one per line.
IPSEC_DIR=
ipsec_init()
{
	IPSEC_DIR=$(mktemp -d /tmp/vpnflow-ipsec.XXXXXX)
	defer rm -rf "$IPSEC_DIR"
}

ipsec_charon()
{
	local ns=$1 name=$2 d=$IPSEC_DIR/$2 sub
	mkdir -p "$d"
	# swanctl looks for credentials next to its config.
	for sub in x509 x509ca x509ocsp x509aa x509ac x509crl pubkey private rsa ecdsa bliss pkcs8 pkcs12; do
		mkdir -p "$d/$sub"
	done
	cat >"$d/strongswan.conf" <<-EOF
	charon {
		load = random nonce openssl aes sha1 sha2 hmac gmp gcm kdf pem pkcs1 pubkey x509 kernel-netlink socket-default vici
		install_routes = no
		retransmit_timeout = 1.0
		retransmit_tries = 2
		retransmit_base = 1.4
		${CHARON_OPTS:-}
		filelog {
			log {
				path = $d/charon.log
				time_format = %T
				default = 1
				knl = 2
				ike = 2
			}
		}
		plugins {
			vici {
				socket = unix://$d/vici
			}
		}
	}
	swanctl {
		load = pem
	}
	EOF
	ip netns exec "$ns" env STRONGSWAN_CONF="$d/strongswan.conf" sh -c \
		'mount -t tmpfs none /run && exec /usr/lib/ipsec/charon' >"$d/stdout" 2>&1 &
	echo $! >"$d/pid"
	defer "kill \$(cat $d/pid) 2>/dev/null; sleep 0.2; kill -9 \$(cat $d/pid) 2>/dev/null"
	busywait 20000 test -S "$d/vici"
}

# swanctl_ NAME ARGS...: swanctl against NAME's charon.
swanctl_()
{
	local name=$1
	shift
	STRONGSWAN_CONF=$IPSEC_DIR/$name/strongswan.conf swanctl "$@" --uri "unix://$IPSEC_DIR/$name/vici"
}

# ipsec_conf NAME LOCAL REMOTE LOCAL_TS REMOTE_TS [KEY=VALUE...]: write
# NAME's connection (default "site", child "net") and (re)load NAME's
# swanctl.conf, which includes every connection written so far.
# Settings: conn= child= esp= ike= dpd=ACTION close=ACTION encap=yes|no
# start=none|trap|start tries=N (keyingtries; 0: for ever)
# proto=tcp|udp|... (both traffic selectors only that protocol)
# child2=NAME/PROTO (a second CHILD_SA of the same IKE_SA, the same
# subnets, protocol PROTO only)
# if_id=N (route-based: xfrm interface) mark=N (route-based: VTI with key N)
# inactivity=S life=S (CHILD_SA hard
# lifetime, no rekeying) rekey=S
ipsec_conf()
{
	local name=$1 local_addr=$2 remote_addr=$3 lts=$4 rts=$5
	shift 5
	local conn=site child=net esp=aes128gcm16 ike=aes128-sha256-ecp256 dpd=clear
	local encap=no start=none close=none tries=1 if_id= mark= inactivity= life= rekey= proto= child2= kv extra
	for kv in "$@"; do
		case $kv in
		conn=*) conn=${kv#conn=} ;;
		child=*) child=${kv#child=} ;;
		esp=*) esp=${kv#esp=} ;;
		ike=*) ike=${kv#ike=} ;;
		dpd=*) dpd=${kv#dpd=} ;;
		encap=*) encap=${kv#encap=} ;;
		start=*) start=${kv#start=} ;;
		close=*) close=${kv#close=} ;;
		tries=*) tries=${kv#tries=} ;;
		if_id=*) if_id=${kv#if_id=} ;;
		mark=*) mark=${kv#mark=} ;;
		inactivity=*) inactivity=${kv#inactivity=} ;;
		life=*) life=${kv#life=} ;;
		rekey=*) rekey=${kv#rekey=} ;;
		proto=*) proto=[${kv#proto=}] ;;
		child2=*) child2=${kv#child2=} ;;
		esac
	done
	local me=$name peer d=$IPSEC_DIR/$name
	[ "$name" = gwa ] && peer=gwb || peer=gwa
	extra=
	[ -z "$if_id" ] || extra+="if_id_in = $if_id"$'\n'"if_id_out = $if_id"$'\n'
	[ -z "$mark" ] || extra+="mark_in = $mark"$'\n'"mark_out = $mark"$'\n'
	[ -z "$inactivity" ] || extra+="inactivity = $inactivity"$'\n'
	[ -z "$life" ] || extra+="life_time = $life"$'\n'"rekey_time = 0"$'\n'"rand_time = 0"$'\n'
	[ -z "$rekey" ] || extra+="rekey_time = $rekey"$'\n'
	mkdir -p "$d/conns"
	# ipsec_child NAME TS_SUFFIX: one CHILD_SA's section.
	ipsec_child()
	{
		cat <<-EOF
		$1 {
			local_ts = $lts$2
			remote_ts = $rts$2
			esp_proposals = $esp
			dpd_action = $dpd
			start_action = $start
			close_action = $close
			$extra
		}
		EOF
	}
	cat >"$d/conns/$conn.conf" <<-EOF
	$conn {
		version = 2
		local_addrs = $local_addr
		remote_addrs = $remote_addr
		proposals = $ike
		encap = $encap
		mobike = no
		dpd_delay = 2s
		keyingtries = $tries
		local {
			auth = psk
			id = $me
		}
		remote {
			auth = psk
			id = $peer
		}
		children {
			$(ipsec_child "$child" "$proto")
			$([ -z "$child2" ] || ipsec_child "${child2%/*}" "[${child2#*/}]")
		}
	}
	EOF
	cat >"$d/swanctl.conf" <<-EOF
	connections {
		include conns/*.conf
	}
	secrets {
		ike-site {
			id-1 = gwa
			id-2 = gwb
			secret = "vpnflow-selftest-psk-not-secret"
		}
	}
	EOF
	swanctl_ "$name" --load-all --file "$d/swanctl.conf" >/dev/null 2>&1
}

# ipsec_site_to_site [KEY=VALUE...]: charon on both gateways, IPv4 site A <-> site B.
ipsec_site_to_site()
{
	ipsec_init
	ipsec_charon "$gwa" gwa || return 1
	ipsec_charon "$gwb" gwb || return 1
	ipsec_conf gwa "$IPSEC_GWA_WAN" "$IPSEC_GWB_WAN" "$IPSEC_A_LAN" "$IPSEC_B_LAN" "$@" || return 1
	ipsec_conf gwb "$IPSEC_GWB_WAN" "$IPSEC_GWA_WAN" "$IPSEC_B_LAN" "$IPSEC_A_LAN" "$@" || return 1
}

# ipsec_site_to_site6 [KEY=VALUE...]: a second connection "site6", IPv6
# outer and inner (child "net6"): another tunnel between the same gateways.
ipsec_site_to_site6()
{
	ipsec_conf gwa "$IPSEC_GWA_WAN6" "$IPSEC_GWB_WAN6" 2001:db8:a::/64 2001:db8:b::/64 \
		conn=site6 child=net6 "$@" || return 1
	ipsec_conf gwb "$IPSEC_GWB_WAN6" "$IPSEC_GWA_WAN6" 2001:db8:b::/64 2001:db8:a::/64 \
		conn=site6 child=net6 "$@" || return 1
}

# child_installed NAME CHILD: the CHILD_SA is INSTALLED (policies are in
# place before strongSwan says so).
child_installed()
{
	swanctl_ "$1" --list-sas --child "$2" 2>/dev/null | grep -q "$2: #[0-9]*, .*INSTALLED"
}

# child_sa_count NETNS: number of ESP SAs installed in NETNS (not the
# larval ones of an ACQUIRE, SPI 0).
child_sa_count()
{
	ip -n "$1" xfrm state | grep -E '^\s+proto esp spi 0x' | grep -vc 'spi 0x00000000'
}

# ipsec_up [CHILD]: initiate CHILD (default net) from gwa; wait until it is
# installed on both gateways. Under TCG an exchange can outlast charon's
# short retransmission schedule (kept short for quick DPD): try again.
ipsec_up()
{
	local child=${1:-net} try
	for try in 1 2 3; do
		swanctl_ gwa --initiate --child "$child" --timeout 30 >/dev/null 2>&1
		busywait 20000 bash -c "$(declare -f swanctl_ child_installed); IPSEC_DIR=$IPSEC_DIR
			child_installed gwa $child && child_installed gwb $child" && return 0
	done
	return 1
}

# xfrm_tunnel NETNS LOCAL REMOTE LOCAL_LAN REMOTE_LAN SPI_OUT SPI_IN [REQID]:
# an ESP tunnel of SAs and policies written by hand, as a script without
# an IKE daemon does (each SPI's key made from it, the same on both sides).
xfrm_tunnel()
{
	local ns=$1 l=$2 r=$3 ll=$4 rl=$5 so=$6 si=$7 reqid=${8:-7} key
	key() { printf '0x%08x%08x%08x%08x%08x' "$1" "$1" "$1" "$1" "$1"; }
	ip -n "$ns" xfrm state add src "$l" dst "$r" proto esp spi "$so" reqid "$reqid" mode tunnel \
		aead 'rfc4106(gcm(aes))' "$(key "$so")" 128 &&
	ip -n "$ns" xfrm state add src "$r" dst "$l" proto esp spi "$si" reqid "$reqid" mode tunnel \
		aead 'rfc4106(gcm(aes))' "$(key "$si")" 128 &&
	ip -n "$ns" xfrm policy add src "$ll" dst "$rl" dir out \
		tmpl src "$l" dst "$r" proto esp reqid "$reqid" mode tunnel &&
	ip -n "$ns" xfrm policy add src "$rl" dst "$ll" dir in \
		tmpl src "$r" dst "$l" proto esp reqid "$reqid" mode tunnel &&
	ip -n "$ns" xfrm policy add src "$rl" dst "$ll" dir fwd \
		tmpl src "$r" dst "$l" proto esp reqid "$reqid" mode tunnel
}

# xfrm_tunnel_del NETNS LOCAL REMOTE LOCAL_LAN REMOTE_LAN SPI_OUT SPI_IN:
# xfrm_tunnel's tunnel removed, policies first (as IKE daemons do).
xfrm_tunnel_del()
{
	local ns=$1 l=$2 r=$3 ll=$4 rl=$5 so=$6 si=$7
	ip -n "$ns" xfrm policy delete src "$ll" dst "$rl" dir out &&
	ip -n "$ns" xfrm policy delete src "$rl" dst "$ll" dir in &&
	ip -n "$ns" xfrm policy delete src "$rl" dst "$ll" dir fwd &&
	ip -n "$ns" xfrm state delete src "$l" dst "$r" proto esp spi "$so" &&
	ip -n "$ns" xfrm state delete src "$r" dst "$l" proto esp spi "$si"
}

# --- UDP streams (udpstream.py) and when their datagrams arrived ---
UDP=$VPNFLOW_TOP/selftests/tools/udpstream.py
# now: the monotonic clock, as udpstream.py's receiver logs it.
now() { python3 -c 'import time; print(f"{time.monotonic():.3f}")'; }
# first_from FILE ADDR AFTER: seconds from AFTER to the first datagram from
# ADDR in a receiver's log FILE (empty: none).
first_from()
{
	awk -v a="$2" -v t="$3" '$2 == a && $1 >= t { printf "%.3f\n", $1 - t; exit }' "$1" 2>/dev/null
}
# within SECONDS LIMIT: SECONDS is set and at most LIMIT.
within() { [ -n "$1" ] && awk -v d="$1" -v m="$2" 'BEGIN { exit !(d <= m) }'; }

# --- the download-across-a-flap scenario (selftests and make demo) ---
XFER=$VPNFLOW_TOP/selftests/tools/xfer.py
XFER_BYTES=${XFER_BYTES:-3000000}
XFER_RATE=${XFER_RATE:-150000}
OUTAGE_EXTRA=${OUTAGE_EXTRA:-15}

# udp_sink NETNS PORT FILE: receive UDP datagrams on PORT in NETNS (IPv4,
# in the background, stopped by defer), a line "SOURCE LENGTH" in FILE for
# each; returns once it listens.
udp_sink()
{
	rm -f "$3" "$3.ready"
	ip netns exec "$1" python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", int(sys.argv[2])))
f = open(sys.argv[1], "a", buffering=1)
open(sys.argv[1] + ".ready", "w").close()
while True:
    d, a = s.recvfrom(65535)
    f.write("%s %d\n" % (a[0], len(d)))' "$3" "$2" &
	defer kill $!
	busywait 10000 test -e "$3.ready"
}

# xfer_server: start the paced download server on the server (port 5001).
xfer_server()
{
	# With XFER_GO (flap_download): a tenth of the data, then wait for it.
	ip netns exec "$server" python3 "$XFER" server 5001 "$XFER_BYTES" "$XFER_RATE" \
		${XFER_GO:+$((XFER_BYTES / 10)) "$XFER_GO"} &
	defer kill $!
	busywait 30000 sh -c "ip netns exec $server ss -Hltn 'sport = :5001' | grep -q LISTEN"
}

# flap_download OUT [DST]: download from the server while the WAN fails long
# enough for DPD to clear the tunnel and for the hardened gateways' stock
# conntrack timeouts to run out; then restore the WAN and re-initiate.
# Writes OUT (bytes sha256 seconds) and sets FLAP_LEAKS (cleartext packets
# of LAN traffic seen on the WAN during the outage), FLAP_NATTED (LAN
# traffic MASQUERADEd onto the WAN, from the outage to the end),
# FLAP_SA_GONE (1 if the tunnel's SAs went on both gateways), and
# FLAP_RESUME_MS: from the tunnel's SAs being back on both gateways (the
# later of the two, as `ip xfrm monitor` saw them added) to the first data
# at the client after its pause (-1: not measured). Each step is told to
# flap_progress MESSAGE where the caller defines it (make demo prints it).
#
# A set-up that loses its tunnel another way defines, before the call:
#   flap_hook_down     take the tunnel down (default: wan_outage on)
#   flap_hook_restore  end the outage (default: wan_outage off)
#   flap_hook_gone     the tunnel is gone (default: flap_sa_gone, no ESP
#                      SA left on either gateway)
#   flap_hook_reup     bring the tunnel back, or wait for the IKE daemon
#                      or the flow itself (an ACQUIRE) to do it; returns
#                      non-zero if it does not come back (default: ipsec_up)
flap_step() { ! declare -F flap_progress >/dev/null || flap_progress "$*"; }
# flap_kb FILE: the number FILE starts with, in kB (0: none).
flap_kb()
{
	local n
	n=$(cut -d' ' -f1 "$1" 2>/dev/null)
	[[ $n =~ ^[0-9]+$ ]] || n=0
	echo $((n / 1000))
}
flap_sa_gone()
{
	[ "$(child_sa_count "$gwa")" = 0 ] && [ "$(child_sa_count "$gwb")" = 0 ]
}
# xfrm_sa_events MONITOR SINCE: the SAs added and deleted after SINCE (s)
# in MONITOR (`ip -ts xfrm monitor` of one gateway), one line each: the
# wall-clock time (s) and "added" or "deleted". An update counts as added:
# charon adds a CHILD_SA's inbound SA as an update of the SPI it allocated.
xfrm_sa_events()
{
	python3 - "$1" "$2" <<-'PY'
	import datetime, re, sys
	for line in open(sys.argv[1], errors="replace"):
	    m = re.match(r"\[([0-9T:.-]+)\] (Deleted |Updated )?src [0-9a-f.:]+ dst [0-9a-f.:]+\s*$", line)
	    if not m:
	        continue
	    t = datetime.datetime.fromisoformat(m.group(1)).replace(
	        tzinfo=datetime.timezone.utc).timestamp()
	    if t > float(sys.argv[2]):
	        print(f"{t:.6f} {'deleted' if m.group(2) == 'Deleted ' else 'added'}")
	PY
}
# flap_sa_added MONITOR SINCE: the time (s) at which the second SA added
# after SINCE shows in MONITOR (a CHILD_SA's inbound and outbound SAs);
# empty: none yet.
flap_sa_added() { xfrm_sa_events "$1" "$2" | awk '$2 == "added" && ++n == 2 { print $1 }'; }
flap_download()
{
	local out=$1 dst=${2:-$IPSEC_SERVER} leaks0 natted0 timeout t_restore ta tb t_up rc
	local mon=$out.xfrm
	rm -f "$out" "$out.progress" "$out.gaps" "$mon".*
	FLAP_LEAKS=-1 FLAP_NATTED=-1 FLAP_RESUME_MS=-1 FLAP_SA_GONE=0 FLAP_TUNNEL_BACK=1
	# The client gives up after FLAP_IDLE (default 60) s without data:
	# longer than any outage here on the stock kernel but fast_resume.sh's
	# long ones, scaled with VPNFLOW_SLOW for the debug kernel (DPD,
	# re-keying and TCP's backed-off retransmission are slower).
	timeout=$(( (XFER_BYTES / XFER_RATE + OUTAGE_EXTRA + ${FLAP_IDLE:-60} + 30) * VPNFLOW_SLOW ))
	ip netns exec "$client" python3 "$XFER" client "$dst" 5001 "$timeout" "$out" \
		$((${FLAP_IDLE:-60} * VPNFLOW_SLOW)) &
	FLAP_CLIENT=$!
	# The SAs as the kernel adds them, timestamped (TZ=UTC: read back as UTC).
	TZ=UTC ip -n "$gwa" -ts xfrm monitor SA >"$mon.gwa" 2>&1 &
	defer kill $!
	TZ=UTC ip -n "$gwb" -ts xfrm monitor SA >"$mon.gwb" 2>&1 &
	defer kill $!
	# Some data through the tunnel first (less than XFER_GO's tenth).
	busywait 20000 sh -c "p=\$(cat $out.progress 2>/dev/null); [ \"\${p:-0}\" -ge $((XFER_BYTES / 15)) ]" ||
		{ flap_step "the download did not start"; return 1; }
	leaks0=$(wan_leaks)
	natted0=$(wan_natted)
	flap_step "download running ($(flap_kb "$out.progress") kB in); the tunnel goes down now"
	if declare -F flap_hook_down >/dev/null; then flap_hook_down; else wan_outage on; fi
	# The server held its data until now (XFER_GO): the outage starts
	# mid-download however slow this shell is (the debug kernel).
	[ -z "${XFER_GO:-}" ] || touch "$XFER_GO"
	FLAP_SA_GONE=0
	if declare -F flap_hook_gone >/dev/null; then
		busywait 40000 flap_hook_gone && FLAP_SA_GONE=1
	else
		busywait 40000 flap_sa_gone && FLAP_SA_GONE=1
	fi
	if [ "$FLAP_SA_GONE" = 1 ]; then
		flap_step "the tunnel's SAs are gone on both gateways; the outage lasts $OUTAGE_EXTRA s more"
	else
		flap_step "the tunnel's SAs are still there after 40 s; the outage lasts $OUTAGE_EXTRA s more"
	fi
	# The outage itself (scenario length, not synchronisation): longer than
	# the gateways' 10 s max_retrans/unacknowledged conntrack timeouts.
	sleep "$OUTAGE_EXTRA"
	FLAP_LEAKS=$(( $(wan_leaks) - leaks0 ))
	! declare -F flap_hook_outage >/dev/null || flap_hook_outage
	flap_step "the outage ends ($FLAP_LEAKS cleartext packets leaked meanwhile); the tunnel comes back"
	t_restore=$EPOCHREALTIME
	if declare -F flap_hook_restore >/dev/null; then flap_hook_restore; else wan_outage off; fi
	if declare -F flap_hook_reup >/dev/null; then flap_hook_reup; else ipsec_up; fi
	FLAP_TUNNEL_BACK=$?
	if [ "$FLAP_TUNNEL_BACK" = 0 ]; then
		flap_step "the tunnel is back up; waiting for the download to end"
	else
		flap_step "the tunnel did not come back; waiting for the download to end"
	fi
	! declare -F flap_hook_up >/dev/null || flap_hook_up
	wait "$FLAP_CLIENT"
	rc=$?
	FLAP_NATTED=$(( $(wan_natted) - natted0 ))
	ta=$(flap_sa_added "$mon.gwa" "$t_restore")
	tb=$(flap_sa_added "$mon.gwb" "$t_restore")
	if [ -n "$ta" ] && [ -n "$tb" ]; then
		t_up=$(printf '%s\n%s\n' "$ta" "$tb" | sort -n | tail -n 1)
		FLAP_RESUME_MS=$(awk -v up="$t_up" '$1 > up { printf "%d", ($1 - up) * 1000; found = 1; exit }
			END { if (!found) print -1 }' "$out.gaps" 2>/dev/null)
		[ -n "$FLAP_RESUME_MS" ] || FLAP_RESUME_MS=-1
	fi
	flap_step "the download ended: $(flap_kb "$out") of $((XFER_BYTES / 1000)) kB"
	return $rc
}

# flap_scenario MODE DIR: the whole download-across-a-flap on hardened
# gateways, with MODE none (module not loaded), off or on, in a subshell
# with its own namespaces. Facts land in DIR/MODE.*: .xfer (bytes sha256
# seconds), .leaks, .natted, .resume-ms, .sa-gone, .back, .dmesg,
# .ct-outage (gwb's conntrack during the outage), .conn-outage,
# .ctx-outage (gwb's vpn-context), .ctx-after, .monitor (gwb's vpnsysopt
# monitor), .cnt-gwa, .cnt-gwb, .state-gwa, .state-gwb (conntrack,
# FORWARD counters, SA and policy counts at the end). FLAP_DST: the
# server's address to download from (default IPSEC_SERVER; IPSEC_SERVER6
# with an IPv6 tunnel set up by the hooks).
#
# Another set-up than iptables-hardened gateways with swanctl tunnels
# (dpd_action = clear, initiated by hand) defines, besides flap_download's
# hooks:
#   flap_hook_setup    the gateways' firewalls and tunnel configuration
#                      (default: gw_harden both, ipsec_site_to_site)
#   flap_hook_first    bring the tunnel up the first time (default: ipsec_up)
flap_scenario()
{
	local mode=$1 o=$2/$1
	(
		_defer_cmds=()
		trap _run_defer EXIT
		ipsec_topology || exit 1
		if declare -F flap_hook_setup >/dev/null; then
			flap_hook_setup || exit 1
		else
			gw_harden "$gwa" && gw_harden "$gwb" && ipsec_site_to_site || exit 1
		fi
		if [ "$mode" != none ]; then
			vpnflow_load || exit 1
			local v=connection
			[ "$mode" = on ] || v="no connection"
			"$VPNSYSOPT" -n "$gwa" $v preserve-vpn-flows &&
				"$VPNSYSOPT" -n "$gwb" $v preserve-vpn-flows || exit 1
		fi
		if declare -F flap_hook_first >/dev/null; then flap_hook_first; else ipsec_up; fi ||
			{ flap_step "the tunnel did not come up"; exit 1; }
		flap_step "tunnel up; the download starts"
		XFER_GO=$o.go
		rm -f "$XFER_GO"
		xfer_server || exit 1
		flap_hook_outage()
		{
			ip netns exec "$gwb" conntrack -L -p tcp --dport 5001 2>/dev/null >"$o.ct-outage"
			if [ "$mode" != none ]; then
				"$VPNSYSOPT" -n "$gwb" -j show conn preserved >"$o.conn-outage" 2>&1
				"$VPNSYSOPT" -n "$gwb" show vpn-context >"$o.ctx-outage" 2>&1
			fi
		}
		if [ "$mode" != none ]; then
			"$VPNSYSOPT" -n "$gwb" monitor >"$o.monitor" 2>&1 &
			defer kill $!
		fi
		dmesg -C
		flap_download "$o.xfer" ${FLAP_DST:-}
		echo "$FLAP_LEAKS" >"$o.leaks"
		echo "$FLAP_NATTED" >"$o.natted"
		echo "$FLAP_RESUME_MS" >"$o.resume-ms"
		echo "$FLAP_SA_GONE" >"$o.sa-gone"
		echo "$FLAP_TUNNEL_BACK" >"$o.back"
		dmesg >"$o.dmesg"
		# For a download that failed: what each gateway had at the end.
		local g
		for g in gwa gwb; do
			{
				echo "conntrack:"
				ip netns exec "${!g}" conntrack -L 2>&1
				echo "FORWARD:"
				ip netns exec "${!g}" iptables -vnL FORWARD 2>&1
				echo "xfrm: $(ip -n "${!g}" xfrm state | grep -c '^src') SAs, $(ip -n "${!g}" xfrm policy | grep -c '^src') policies"
			} >"$o.state-$g"
		done
		if [ "$mode" != none ]; then
			"$VPNSYSOPT" -n "$gwa" -j show counters >"$o.cnt-gwa"
			"$VPNSYSOPT" -n "$gwb" -j show counters >"$o.cnt-gwb"
			"$VPNSYSOPT" -n "$gwb" show vpn-context >"$o.ctx-after" 2>&1
		fi
	)
}

# ct_events FILE: gwa's conntrack DESTROY events go to FILE (started before
# the flows, so they carry event state): an entry removed by reclassify-vpn
# shows up there; conntrack ids cannot tell (they hash the object's
# address, which the slab hands out again).
ct_events()
{
	ip netns exec "$gwa" sysctl -qw net.netfilter.nf_conntrack_events=1
	ip netns exec "$gwa" conntrack -E -e DESTROY >"$1" 2>/dev/null &
	defer kill $!
}
# destroyed FILE FROM_LINE PATTERN: a DESTROY event matching PATTERN after
# line FROM_LINE of FILE.
destroyed() { tail -n +"$(($2 + 1))" "$1" | grep -qE "$3"; }
