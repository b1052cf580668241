#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A download across a gateway failover: the branch's client fetches from a
# server at head office, so head office keeps sending (and retransmitting)
# while its gateway dies. Head office has two gateways sharing a virtual
# address on each side by keepalived (VRRP); conntrackd (FTFW) replicates
# gwho1's conntrack entries to gwho2 over a dedicated link and commits them
# when gwho2 becomes master. The branch's charon talks to the WAN address,
# and its DPD notices the failure and initiates again: gwho2, whose own
# charon never had the tunnel, answers with a fresh one. No SA is
# synchronised.
#
#  198.51.100.0/26                 192.0.2.0/24 (WAN bridge)          198.51.100.64/26
#                   +--------+ .11
#  +--------+  .3   | gwho1  |-------+
#  | server |--+----| master |       |     VIP 192.0.2.1     +------+     +--------+
#  | .2     |  |    +--------+       +-----[ wan ]-----------| gwbr |-----| client |
#  +--------+  |      | sync link    |                  .2   +------+ .65 | .66    |
#   (hqlan     |    +--------+       |                                    +--------+
#    bridge)   +----| gwho2  |-------+
#     VIP .1    .4  | backup |  .12
#                   +--------+
#
# Cases: with vpnflow (preserve-vpn-flows with fast-resume, and
# label-vpn-flows, on every gateway), and stock Linux (the module not
# loaded). gwho1 fails by losing all three links at once. The WAN bridge counts the LANs' traffic
# crossing it in cleartext and NATed (gateways MASQUERADE what leaves the
# WAN outside IPsec, as strongSwan's documentation has them do). The head
# office gateways are hardened as an HA pair must be (tcp_loose=0, INVALID
# dropped), so that a packet reaching gwho2 before conntrackd's commit
# cannot start an entry of its own.
# Stock Linux: once gwho2 holds the committed entry and no policy yet,
# the server's retransmissions leave for the WAN in cleartext until the
# fresh tunnel is up (the control: the problem reproduces). With vpnflow,
# gwho2 adopts the labelled entry and holds them. Reported for each: the
# VIP's move after the failure, gwho2's fresh SAs after the VIP, the
# download's data again after those SAs.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-ipsec.sh"
require_vm
for c in swanctl keepalived conntrackd conntrack nft; do
	command -v "$c" >/dev/null || ktap_skip_all "needs $c"
done
modprobe -q esp4 && modprobe -q xfrm_user && modprobe -q nf_conntrack ||
	ktap_skip_all "needs esp4, xfrm_user and nf_conntrack"
PRIMARY_BACKUP=/usr/share/doc/conntrackd/examples/sync/primary-backup.sh
[ -r "$PRIMARY_BACKUP" ] || ktap_skip_all "needs conntrackd's $PRIMARY_BACKUP"
ktap_plan 8

VIP_WAN=192.0.2.1
VIP_LAN=198.51.100.1
BR=192.0.2.2
XFER_BYTES=${VPNFLOW_FAILOVER_BYTES:-3000000}
XFER_RATE=60000
tmp=$(mktemp -d)
defer rm -rf "$tmp"
vpnflow_connlabels "$tmp"

# rig: namespaces, links, addresses, nft, keepalived, conntrackd, charon.
rig()
{
	local n

	setup_ns client hqlan gwho1 gwho2 wan gwbr server || return 1
	for n in hqlan wan; do
		ip -n "${!n}" link add br0 type bridge || return 1
		ip -n "${!n}" link set br0 up
	done
	ip link add lan0 netns "$server" type veth peer name p0 netns "$hqlan"
	ip link add lan0 netns "$gwho1" type veth peer name p1 netns "$hqlan"
	ip link add lan0 netns "$gwho2" type veth peer name p2 netns "$hqlan"
	ip link add wan0 netns "$gwho1" type veth peer name p1 netns "$wan"
	ip link add wan0 netns "$gwho2" type veth peer name p2 netns "$wan"
	ip link add wan0 netns "$gwbr" type veth peer name p3 netns "$wan"
	ip link add sync0 netns "$gwho1" type veth peer name sync0 netns "$gwho2"
	ip link add lan0 netns "$gwbr" type veth peer name lan0 netns "$client"
	for p in p0 p1 p2; do ip -n "$hqlan" link set "$p" master br0 up; done
	for p in p1 p2 p3; do ip -n "$wan" link set "$p" master br0 up; done
	ip -n "$server" addr add 198.51.100.2/26 dev lan0
	ip -n "$gwho1" addr add 198.51.100.3/26 dev lan0
	ip -n "$gwho2" addr add 198.51.100.4/26 dev lan0
	ip -n "$gwho1" addr add 192.0.2.11/24 dev wan0
	ip -n "$gwho2" addr add 192.0.2.12/24 dev wan0
	ip -n "$gwho1" addr add 203.0.113.253/30 dev sync0
	ip -n "$gwho2" addr add 203.0.113.254/30 dev sync0
	ip -n "$gwbr" addr add $BR/24 dev wan0
	ip -n "$gwbr" addr add 198.51.100.65/26 dev lan0
	ip -n "$client" addr add 198.51.100.66/26 dev lan0
	for n in client gwho1 gwho2 gwbr server; do
		for l in lan0 wan0 sync0; do ip -n "${!n}" link set "$l" up 2>/dev/null; done
	done
	ip -n "$server" route add default via $VIP_LAN
	ip -n "$client" route add default via 198.51.100.65
	for n in gwho1 gwho2; do
		ip netns exec "${!n}" sysctl -qw net.ipv4.ip_forward=1
		ip -n "${!n}" route add 198.51.100.64/26 via $BR
		# The standby must not pick up the flows from mid-stream packets
		# before conntrackd commits them: non-SYN TCP without an entry
		# is INVALID, and dropped.
		ip netns exec "${!n}" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0
		ip netns exec "${!n}" nft -f - <<-'NFT' || return 1
		table inet gw {
			chain filt {
				type filter hook forward priority filter; policy accept;
				ct state invalid drop
			}
			chain snat_out {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "wan0" ip saddr 198.51.100.0/26 rt ipsec missing masquerade
			}
		}
		NFT
	done
	ip netns exec "$gwbr" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$gwbr" route add 198.51.100.0/26 via $VIP_WAN
	# The WAN: LAN traffic in cleartext, and NATed by a gateway.
	ip netns exec "$wan" nft -f - <<-'NFT' || return 1
	table bridge w {
		counter clear { }
		counter natted { }
		chain filt {
			type filter hook forward priority filter; policy accept;
			ip saddr 198.51.100.0/25 ip daddr 198.51.100.0/25 counter name clear
			ip saddr 192.0.2.0/24 ip daddr 198.51.100.0/25 meta l4proto tcp counter name natted
			ip saddr 198.51.100.0/25 ip daddr 192.0.2.0/24 meta l4proto tcp counter name natted
		}
	}
	NFT
}

wan_count() { nft_packets "$wan" bridge w "$1"; }

# ha NAME PRIO SYNC_ME SYNC_PEER: keepalived and conntrackd of gwhoN.
ha()
{
	local name=$1 prio=$2 me=$3 peer=$4 d=$tmp/$CASE/$1 ns=${!1}
	mkdir -p "$d"
	cat >"$d/conntrackd.conf" <<-EOF
	Sync {
		Mode FTFW {
		}
		UDP {
			IPv4_address $me
			IPv4_Destination_Address $peer
			Port 3780
			Interface sync0
			Checksum on
		}
	}
	General {
		HashSize 8192
		HashLimit 65535
		LogFile $d/conntrackd.log
		Syslog off
		LockFile $d/conntrackd.lock
		UNIX {
			Path $d/conntrackd.ctl
		}
		Systemd off
		NetlinkBufferSize 2097152
		NetlinkBufferSizeMaxGrowth 8388608
		Filter From Kernelspace {
			Protocol Accept {
				TCP
			}
			Address Ignore {
				IPv4_address 127.0.0.1
				IPv4_address 203.0.113.252/30
			}
		}
	}
	EOF
	# keepalived's notify: conntrack-tools' own primary-backup.sh (as
	# Debian ships it), pointed at this conntrackd; each call timed.
	sed -e "s|^CONNTRACKD_CONFIG=.*|CONNTRACKD_CONFIG=$d/conntrackd.conf|" \
		-e "s|^CONNTRACKD_LOCK=.*|CONNTRACKD_LOCK=$d/conntrackd.lock|" \
		"$PRIMARY_BACKUP" >"$d/primary-backup.sh" || return 1
	cat >"$d/notify.sh" <<-EOF
	#!/bin/sh
	echo "\$(date +%s.%N) \$1 begin" >>"$d/notify.log"
	sh "$d/primary-backup.sh" "\$1"
	echo "\$(date +%s.%N) \$1 done" >>"$d/notify.log"
	EOF
	chmod 755 "$d/notify.sh"
	cat >"$d/keepalived.conf" <<-EOF
	global_defs {
		router_id $name
		script_user root
	}
	vrrp_sync_group G {
		group {
			WAN
			LAN
		}
		notify_master "$d/notify.sh primary"
		notify_backup "$d/notify.sh backup"
		notify_fault "$d/notify.sh fault"
	}
	vrrp_instance WAN {
		state BACKUP
		interface wan0
		virtual_router_id 51
		priority $prio
		advert_int 1
		virtual_ipaddress {
			$VIP_WAN/24 dev wan0
		}
	}
	vrrp_instance LAN {
		state BACKUP
		interface lan0
		virtual_router_id 52
		priority $prio
		advert_int 1
		virtual_ipaddress {
			$VIP_LAN/26 dev lan0
		}
	}
	EOF
	ip netns exec "$ns" conntrackd -C "$d/conntrackd.conf" -d >/dev/null 2>&1 || return 1
	defer "ip netns exec $ns conntrackd -C $d/conntrackd.conf -k >/dev/null 2>&1"
	busywait 10000 test -S "$d/conntrackd.ctl" || return 1
	ip netns exec "$ns" keepalived -n -l -f "$d/keepalived.conf" -p "$d/k.pid" \
		-r "$d/vrrp.pid" -c "$d/checkers.pid" --vrrp >"$d/keepalived.log" 2>&1 &
	echo $! >"$d/keepalived.pid"
	defer "kill \$(cat $d/keepalived.pid) 2>/dev/null"
}

# ipsec_ha: charon on gwho1, gwho2 (the same identity and PSK, the VIP
# as their address) and gwbr (initiates, DPD restarts it).
ipsec_ha()
{
	local n d
	ipsec_init
	for n in gwho1 gwho2 gwbr; do
		# The branch gives up on gwho1 after 4 retransmissions of its
		# DPD (about 15 s; strongSwan's defaults take minutes): the
		# time gwho2 holds the committed entry but no tunnel yet.
		if [ "$n" = gwbr ]; then
			CHARON_OPTS="retransmit_tries = 4" ipsec_charon "${!n}" "$n" || return 1
		else
			ipsec_charon "${!n}" "$n" || return 1
		fi
		d=$IPSEC_DIR/$n
		if [ "$n" = gwbr ]; then
			set -- $BR $VIP_WAN gwbr gwho 198.51.100.64/26 198.51.100.0/26 restart start 0
		else
			set -- $VIP_WAN $BR gwho gwbr 198.51.100.0/26 198.51.100.64/26 clear none 1
		fi
		cat >"$d/swanctl.conf" <<-EOF
		connections {
			site {
				version = 2
				local_addrs = $1
				remote_addrs = $2
				proposals = aes128-sha256-ecp256
				mobike = no
				dpd_delay = 2s
				keyingtries = $9
				local {
					auth = psk
					id = $3
				}
				remote {
					auth = psk
					id = $4
				}
				children {
					net {
						local_ts = $5
						remote_ts = $6
						esp_proposals = aes128gcm16
						dpd_action = $7
						start_action = $8
					}
				}
			}
		}
		secrets {
			ike-site {
				id-1 = gwho
				id-2 = gwbr
				secret = "vpnflow-selftest-psk-not-secret"
			}
		}
		EOF
		swanctl_ "$n" --load-all --file "$d/swanctl.conf" >/dev/null 2>&1 || return 1
	done
}

has_vip() { ip -n "$1" -4 addr show dev wan0 | grep -q " $VIP_WAN/"; }
sa_count() { ip -n "$1" xfrm state | grep -c '^src'; }
up_on() { [ "$(sa_count "$1")" -ge 2 ]; }
# ext_has NAME: gwhoN's conntrackd external cache holds the download.
ext_has() { ip netns exec "${!1}" conntrackd -C "$tmp/$CASE/$1/conntrackd.conf" -e 2>/dev/null | grep -q 'dport=5001'; }

# diag: what the namespaces look like (a case that stopped short).
diag()
{
	local n
	for n in client gwho1 gwho2 gwbr server; do
		{ ip -n "${!n}" -br addr; ip -n "${!n}" route; ip -n "${!n}" -s xfrm state | grep -E '^src|mode|packets\)'
		  ip -n "${!n}" neigh
		  ip netns exec "${!n}" nft list ruleset | grep -E 'table|drop|reject' 
		  ip -n "${!n}" xfrm policy | grep -E '^src|dir'
		  ip netns exec "${!n}" conntrack -L 2>/dev/null | head -n 5
		  ip netns exec "${!n}" nstat -az 2>/dev/null | grep -E 'Xfrm[A-Za-z]*Error|XfrmOutNoStates|XfrmInNoStates|IpOutNoRoutes' | grep -v ' 0 '
		} 2>&1 | sed "s/^/# diag $n: /"
	done
	ip netns exec "$wan" nft list table bridge w 2>&1 | grep counter | sed "s/^/# diag wan: /"
	cat "$tmp"/*.dl.progress 2>/dev/null | sed "s/^/# diag progress: /"
}

# one_case LABEL with|stock: the whole run; results in $tmp/LABEL.*
one_case()
{
	local label=$1 mode=$2 n t_fail t_vip t_back c0 x0
	(
	set +e
	# This case's own cleanup, at the end of the subshell.
	_defer_cmds=()
	trap _run_defer EXIT
	CASE=$label
	rig || exit 10
	if [ "$mode" = with ]; then
		vpnflow_load || exit 11
		for n in gwho1 gwho2 gwbr; do
			"$VPNSYSOPT" -n "${!n}" connection label-vpn-flows &&
				"$VPNSYSOPT" -n "${!n}" connection preserve-vpn-flows &&
				"$VPNSYSOPT" -n "${!n}" connection preserve-vpn-flows fast-resume || exit 12
		done
	fi
	ha gwho1 150 203.0.113.253 203.0.113.254 || exit 13
	busywait 20000 has_vip "$gwho1" || exit 14
	ha gwho2 100 203.0.113.254 203.0.113.253 || exit 15
	ipsec_ha || exit 16
	busywait 30000 up_on "$gwho1" && busywait 30000 up_on "$gwbr" || exit 17
	xfer_server
	ip netns exec "$client" python3 "$XFER" client 198.51.100.2 5001 600 "$tmp/$label.dl" 120 &
	echo $! >"$tmp/$label.dlpid"
	busywait 30000 sh -c "[ \$(cat $tmp/$label.dl.progress 2>/dev/null || echo 0) -ge 300000 ]" || { diag; exit 18; }
	busywait 20000 ext_has gwho2 || exit 19
	ip netns exec "$gwho1" conntrack -L -o labels -p tcp --dport 5001 2>/dev/null | sed "s/^/# $label gwho1: /"
	ip netns exec "$gwho2" conntrackd -C "$tmp/$CASE/gwho2/conntrackd.conf" -e 2>/dev/null | sed "s/^/# $label gwho2 cache: /"
	# gwho2's SAs as the kernel adds them (TZ=UTC: read back as UTC).
	TZ=UTC ip -n "$gwho2" -ts xfrm monitor SA >"$tmp/$label.xfrm" 2>&1 &
	defer kill $!
	c0=$(wan_count clear); x0=$(wan_count natted)
	t_fail=$(date +%s.%N)
	for l in lan0 wan0 sync0; do ip -n "$gwho1" link set "$l" down; done
	busywait 30000 has_vip "$gwho2" || exit 20
	# The download ends (EOF, or 120 s without data).
	busywait 400000 sh -c "! kill -0 \$(cat $tmp/$label.dlpid) 2>/dev/null"
	echo "$t_fail" >"$tmp/$label.tfail"
	flap_sa_added "$tmp/$label.xfrm" "$t_fail" >"$tmp/$label.sa"
	echo "$(( $(wan_count clear) - c0 )) $(( $(wan_count natted) - x0 ))" >"$tmp/$label.wan"
	ip netns exec "$gwho2" conntrack -L -o labels -p tcp --dport 5001 2>/dev/null | sed "s/^/# $label gwho2: /"
	[ "$mode" = with ] && vpnflow_counter "$gwho2" flows_adopted >"$tmp/$label.adopted"
	[ "$mode" = with ] && for n in gwho2 gwbr; do
		"$VPNSYSOPT" -n "${!n}" show counters | grep -E 'adopted|preserved|resumed|dropped|hints' |
			tr '\n' ' ' | sed "s/^/# $label $n: /"; echo
	done
	sed "s/^/# $label gwho2 notify: /" "$tmp/$CASE/gwho2/notify.log"
	cp "$tmp/$CASE/gwho2/notify.log" "$tmp/$label.notify"
	swanctl_ gwbr --list-sas 2>/dev/null | head -n 3 | sed "s/^/# $label gwbr: /"
	exit 0
	)
	local rc=$?
	[ "$mode" = with ] && vpnflow_unload
	return $rc
}

want=$(python3 "$XFER" expect "$XFER_BYTES")
# report LABEL: the download's result and the failover's times.
report()
{
	python3 - "$tmp/$1" <<-'PY'
	import sys
	p = sys.argv[1]
	dl = open(p + ".dl").read().split()
	tfail = float(open(p + ".tfail").read())
	vip = [float(l.split()[0]) for l in open(p + ".notify") if " primary begin" in l]
	gaps = [l.split() for l in open(p + ".dl.gaps")] if __import__("os").path.exists(p + ".dl.gaps") else []
	back = [float(g[0]) for g in gaps if float(g[0]) > tfail]
	sa = [float(t) for t in open(p + ".sa").read().split()]
	clear, natted = open(p + ".wan").read().split()
	vs = f"{vip[0] - tfail:.1f}" if vip else "never"
	bs = f"{back[0] - vip[0]:.1f}" if back and vip else "never"
	ss = f"{sa[0] - vip[0]:.1f}" if sa and vip else "never"
	ds = f"{back[0] - sa[0]:.1f}" if back and sa else "never"
	print(f"{dl[0]} {dl[1]} {dl[2]} vip_after_fail={vs} data_after_vip={bs} "
	      f"sa_after_vip={ss} data_after_sa={ds} clear={clear} natted={natted}")
	PY
}

for mode in with stock; do
	if one_case "$mode" "$mode" >"$tmp/$mode.out" 2>&1; then rc=0; else rc=$?; fi
	grep '^#' "$tmp/$mode.out"
	[ "$rc" = 0 ] || grep -v '^#' "$tmp/$mode.out" | grep -v '^++* .*\(_defer\|(( i\|eval .ip netns del\)' | tail -n 25 | sed "s/^/# $mode: /"
	ktap_info "$mode: rig exit $rc"
	[ "$rc" = 0 ] && r=$(report "$mode") || r="- - - "
	ktap_info "$mode: $r"
	eval "res_$mode=\"\$r\""
done
for f in "$tmp"/with/gwho2/conntrackd.log "$tmp"/with/gwho2/keepalived.log; do
	[ -e "$f" ] && tail -n 5 "$f" | sed "s|^|# $(basename "$f"): |"
done

got() { set -- $1; echo "$1 $2"; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ktap_check "with vpnflow: the download completes byte-exact across the failover" \
	[ "$(got "$res_with")" = "$want" ]
ktap_check "with vpnflow: 0 cleartext packets of the LANs on the WAN" [ "$(field "$res_with" clear)" = 0 ]
ktap_check "with vpnflow: 0 NATed packets of the download on the WAN" [ "$(field "$res_with" natted)" = 0 ]
# A number of seconds, not "never" or nothing.
secs() { [[ $1 =~ ^-?[0-9]+\.[0-9]$ ]]; }
ktap_check "with vpnflow: the VIP moved" secs "$(field "$res_with" vip_after_fail)"
ktap_check "with vpnflow: data came again after the VIP moved" secs "$(field "$res_with" data_after_vip)"
ktap_check "with vpnflow: gwho2 adopted the committed flow" \
	[ "$(cat "$tmp/with.adopted" 2>/dev/null || echo 0)" -ge 1 ]
ktap_info "stock Linux: $res_stock"
ktap_check "stock Linux: the run itself worked (the VIP moved)" secs "$(field "$res_stock" vip_after_fail)"
ktap_check "stock Linux: the server's packets leave gwho2 in cleartext (the problem reproduces)" \
	[ "$(field "$res_stock" clear)" -gt 0 ] 2>/dev/null
ktap_finish
