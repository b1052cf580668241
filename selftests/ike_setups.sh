#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The set-ups gateways run besides the rest of the suite's (swanctl,
# dpd_action = clear, re-initiated by hand, iptables): each carries a
# download across a real loss of its tunnel with preserve-vpn-flows on,
# and must deliver it byte-exact with nothing in cleartext or NATed on
# the WAN. Each reports the time from the tunnel's SAs being back to the
# first resumed byte at the client.
#
#  site A 198.51.100.0/26                                site B 198.51.100.64/26
#  +--------+     +-----------+     +-------+     +-----------+     +--------+
#  | client |-----|    gwa    |=====|  wan  |=====|    gwb    |-----| server |
#  | .2     | lan | 192.0.2.1 | ESP |router | ESP |203.0.113.2| lan | .66    |
#  +--------+     +-----------+     +-------+     +-----------+     +--------+
#  The wan router counts LAN traffic in cleartext and MASQUERADEd. The
#  gateways' IKE daemon is strongSwan's charon, or libreswan's pluto in
#  the libreswan set-ups.
#
#  trap            strongSwan start_action, dpd_action and close_action =
#                  trap: after DPD only trap policies are left, and the
#                  flow's own next packet (an ACQUIRE) brings the tunnel
#                  back
#  restart         dpd_action = restart, keyingtries = 0: charon keeps
#                  re-initiating through the outage
#  reauth          break-before-make reauthentication (make_before_break
#                  = no; triggered as reauth_time's timer does, without
#                  a WAN outage): the old IKE_SA and CHILD_SA are deleted,
#                  their policies with them, before the new ones exist
#  children        two CHILD_SAs of one IKE_SA (TCP and UDP selectors of
#                  the same subnets); both come back after the outage
#  charon-restart  gwa's charon stops (its SAs and policies go with it;
#                  the WAN stays up) and starts again, as `systemctl
#                  restart strongswan` does
#  xfrm            no IKE daemon: SAs and policies written by `ip xfrm`,
#                  removed for the outage and written again with new SPIs
#  nft             nftables-only gateways (meta ipsec, rt ipsec,
#                  masquerade; no iptables rule)
#  flowtable       nft's gateways with a flowtable (software offload of
#                  established TCP): the flow is offloaded through the
#                  tunnel, leaves the flowtable when its route goes stale
#                  with the tunnel, is never offloaded along its cleartext
#                  route while held (the module drops its packets at
#                  FORWARD, before "flow add"); whether each gateway
#                  offloads it again through the new tunnel before the
#                  download ends is reported, not checked (in about
#                  half the runs one of them had not), with the packets
#                  that reached "flow add" after the return and the
#                  entry's state
#  libreswan       libreswan's pluto instead of charon on both gateways
#                  (lib-libreswan.sh): policy-based, IKEv2, PSK,
#                  auto=start and dpdaction=restart on both; pluto
#                  re-initiates by itself after the outage
#  libreswan-charon  pluto on gwa (auto=start, dpdaction=restart), charon
#                  on gwb (dpd_action = clear): the two daemons together
#  libreswan-ondemand  pluto on both, auto=ondemand, dpdaction=clear:
#                  trap policies, as strongSwan's trap
#  libreswan-hold  pluto on both, auto=start, dpdaction=hold: after DPD
#                  the connection's policies stay as holds, and traffic
#                  brings it back; not in the default list
#  libreswan-xfrmi  route-based: pluto on both with ipsec-interface=5
#                  (an xfrm interface, the remote LAN routed into it),
#                  auto=start, dpdaction=restart; not in the default list
#
# The libreswan set-ups run pluto from the package that
# selftests/vm/libreswan.sh extracted (scripts/deps.sh runs it): without
# it they are skipped.
#
# Besides the download, every set-up's run with preserve on checks
# reclassify-vpn and tcpmss auto there (common_hooks): tcpmss auto on
# both gateways (tcpmss 0, so that only auto clamps); just before the
# WAN returns, when gwa kept no policy for the LANs, a UDP datagram of a
# new flow from the client (gwa NATs it: an entry outside the tunnel);
# once the tunnel is back, a datagram of that same flow must reach the
# server from the client's own address (reclassify-vpn removed the NATed
# entry), and a new connection's SYN must reach it with the MSS that
# fits the SA. Such datagrams are counted apart on the WAN (UDP port
# 7999, lib-ipsec.sh's stray counter), not as the download's.
#
# VPNFLOW_SETUPS="NAME..." chooses; "all" is every set-up above. The
# default (make check, so CI) is one set-up per kind of event order or
# data path: trap (the tunnel returns through an ACQUIRE), reauth (break
# before make), nft (no iptables at all), flowtable (offloaded flows)
# and libreswan (pluto on both gateways). The others repeat one of those
# paths with another daemon or trigger and run in make check-setups,
# with every set-up, preserve-vpn-flows off too (VPNFLOW_SETUPS_OFF=1
# adds the off runs to any list).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-ipsec.sh"
source "$(dirname "$0")/lib-libreswan.sh"
require_vm
command -v swanctl >/dev/null || ktap_skip_all "strongSwan (swanctl) not installed"
command -v nft >/dev/null || ktap_skip_all "nftables not installed"

all_setups="trap restart reauth children charon-restart xfrm nft flowtable libreswan libreswan-charon libreswan-ondemand libreswan-hold libreswan-xfrmi"
setups=${VPNFLOW_SETUPS:-trap reauth nft flowtable libreswan}
[ "$setups" != all ] || setups=$all_setups
with_off=${VPNFLOW_SETUPS_OFF:-0}
# A shorter download and outage than preserve.sh's: still longer than the
# hardened gateways' 10 s conntrack timeouts for unacknowledged data.
XFER_BYTES=${XFER_BYTES_SETUPS:-1500000}
OUTAGE_EXTRA=${OUTAGE_EXTRA_SETUPS:-12}
# The client waits 120 s for data, not 60: without fast-resume the first
# retransmission after the tunnel's return can come twice as long after
# the outage's start as the return itself, and trap policies bring the
# tunnel back only on a retransmission (a trap run lost its download to
# the 60 s limit once, its flow resumed on both gateways).
FLAP_IDLE=120

n=0
for s in $setups; do
	n=$((n + 7))
	case $s in
	reauth | children) n=$((n + 1)) ;;
	flowtable) n=$((n + 2)) ;;
	esac
	[ "$with_off" = 0 ] || n=$((n + 1))
done
ktap_plan "$n"

tmp=$(mktemp -d)
defer rm -rf "$tmp"
expect=$(python3 "$XFER" expect "$XFER_BYTES")

# both_installed [CHILD]: the CHILD_SA (default net) is installed on both
# gateways, whoever initiated it.
both_installed() { child_installed gwa "${1:-net}" && child_installed gwb "${1:-net}"; }

# --- the set-ups: flap_scenario's hooks ---

trap_hooks()
{
	flap_hook_setup()
	{
		gw_harden "$gwa" && gw_harden "$gwb" &&
			ipsec_site_to_site start=trap dpd=trap close=trap
	}
	# Nothing initiates: the retransmission of the flow hits a trap
	# policy, the kernel asks charon for an SA.
	flap_hook_reup() { busywait 90000 both_installed; }
}

restart_hooks()
{
	flap_hook_setup()
	{
		gw_harden "$gwa" && gw_harden "$gwb" &&
			ipsec_site_to_site dpd=restart tries=0
	}
	flap_hook_reup() { busywait 90000 both_installed; }
}

# esp_spis NETNS: the SPIs of NETNS's ESP SAs (not larval ones).
esp_spis() { ip -n "$1" xfrm state | awk '$1 == "proto" && $2 == "esp" && $4 != "0x00000000" { print $4 }' | sort; }

# none_left NETNS SPIS: none of SPIS is an SA of NETNS any more.
none_left() { [ -z "$(comm -12 <(esp_spis "$1") <(printf '%s\n' $2 | sort))" ]; }

reauth_hooks()
{
	# No outage: the gap is the reauthentication's own.
	OUTAGE_EXTRA=0
	CHARON_OPTS="make_before_break = no"
	flap_hook_setup()
	{
		gw_harden "$gwa" && gw_harden "$gwb" && ipsec_site_to_site
	}
	flap_hook_down()
	{
		spis_a=$(esp_spis "$gwa") spis_b=$(esp_spis "$gwb")
		date +%s.%N >"$o.t-reauth"
		# What charon does when reauth_time expires: the same task.
		swanctl_ gwa --rekey --ike site --reauth >/dev/null 2>&1
	}
	# Gone: the old CHILD_SA's SAs, on both gateways.
	flap_hook_gone() { none_left "$gwa" "$spis_a" && none_left "$gwb" "$spis_b"; }
	flap_hook_reup() { busywait 60000 both_installed; }
}

# bbm_order MONITOR SINCE: in `ip -ts xfrm monitor` output, the first SA
# deleted after SINCE (s) came before the first one added after it.
bbm_order() { [ "$(xfrm_sa_events "$1" "$2" | awk 'NR == 1 { print $2 }')" = deleted ]; }

children_hooks()
{
	flap_hook_setup()
	{
		gw_harden "$gwa" && gw_harden "$gwb" && ipsec_site_to_site proto=tcp child2=net2/udp
	}
	flap_hook_first() { ipsec_up net && ipsec_up net2; }
	flap_hook_reup() { ipsec_up net && ipsec_up net2; }
	flap_hook_up()
	{
		local g
		for g in gwa gwb; do
			swanctl_ "$g" --list-sas >"$o.sas-$g" 2>&1
		done
	}
}

# one_ike_two_children FILE: `swanctl --list-sas` shows one IKE_SA, with
# CHILD_SAs net and net2 installed.
one_ike_two_children()
{
	[ "$(grep -c '^site: #' "$1")" = 1 ] &&
		grep -q '^  *net: #[0-9]*, .*INSTALLED' "$1" &&
		grep -q '^  *net2: #[0-9]*, .*INSTALLED' "$1"
}

charon_restart_hooks()
{
	flap_hook_down()
	{
		local pid
		pid=$(cat "$IPSEC_DIR/gwa/pid")
		kill "$pid"
		busywait 20000 sh -c "! kill -0 $pid 2>/dev/null"
	}
	flap_hook_restore()
	{
		rm -f "$IPSEC_DIR/gwa/vici"
		ipsec_charon "$gwa" gwa &&
			swanctl_ gwa --load-all --file "$IPSEC_DIR/gwa/swanctl.conf" >/dev/null 2>&1
	}
}

xfrm_hooks()
{
	xfrm_gen=0
	xfrm_up()
	{
		local a2b=$((0x1000 + 2 * xfrm_gen)) b2a=$((0x1001 + 2 * xfrm_gen))
		xfrm_gen=$((xfrm_gen + 1))
		xfrm_tunnel "$gwa" "$IPSEC_GWA_WAN" "$IPSEC_GWB_WAN" "$IPSEC_A_LAN" "$IPSEC_B_LAN" "$a2b" "$b2a" &&
			xfrm_tunnel "$gwb" "$IPSEC_GWB_WAN" "$IPSEC_GWA_WAN" "$IPSEC_B_LAN" "$IPSEC_A_LAN" "$b2a" "$a2b"
	}
	flap_hook_setup() { gw_harden "$gwa" && gw_harden "$gwb"; }
	flap_hook_first() { xfrm_up; }
	flap_hook_down()
	{
		local ns
		wan_outage on
		for ns in "$gwa" "$gwb"; do
			ip -n "$ns" xfrm policy flush && ip -n "$ns" xfrm state flush
		done
	}
	flap_hook_reup() { xfrm_up; }
}

nft_hooks()
{
	flap_hook_setup()
	{
		gw_harden_nft "$gwa" && gw_harden_nft "$gwb" && ipsec_site_to_site || return 1
		# No iptables rule anywhere on the gateways.
		! ip netns exec "$gwa" iptables-save 2>/dev/null | grep -q '^-A' &&
			! ip netns exec "$gwb" iptables-save 2>/dev/null | grep -q '^-A'
	}
}

# offloaded NETNS: the download's conntrack entry in NETNS is in the
# flowtable ([OFFLOAD]).
offloaded() { ip netns exec "$1" conntrack -L -p tcp --dport 5001 2>/dev/null | grep -q 'OFFLOAD'; }

# ft_adds NETNS: packets that reached NETNS's "flow add" rule so far.
ft_adds()
{
	ip netns exec "$1" nft list chain inet gw ft_add 2>/dev/null |
		sed -n 's/.*counter packets \([0-9]*\) .*/\1/p' | head -n 1
}

# ft_entry NETNS: the download's conntrack entry in NETNS: state, flags.
ft_entry()
{
	ip netns exec "$1" conntrack -L -p tcp --dport 5001 2>/dev/null | head -n 1 |
		awk '{ s = $4; f = ""; for (i = 5; i <= NF; i++) if ($i ~ /^\[/) f = f " " $i; print s f }'
}

flowtable_hooks()
{
	flap_hook_setup()
	{
		gw_harden_nft "$gwa" && gw_harden_nft "$gwb" || return 1
		local ns
		for ns in "$gwa" "$gwb"; do
			ip netns exec "$ns" nft -f - <<-'NFT' || return 1
			table inet gw {
				flowtable ft {
					hook ingress priority 0
					devices = { lan0, wan0 }
				}
				chain ft_add {
					type filter hook forward priority filter - 1; policy accept;
					ct state established meta l4proto tcp counter flow add @ft
				}
			}
			NFT
		done
		ipsec_site_to_site
	}
	flap_hook_down()
	{
		offloaded "$gwa" && offloaded "$gwb" && echo 1 >"$o.ft-before"
		wan_outage on
	}
	flap_hook_gone()
	{
		flap_sa_gone || return 1
		# From here until the outage ends, the flow's offload flag on
		# each gateway, sampled: once out of the flowtable (its stale
		# route found by a packet), it must not come back before the
		# tunnel does.
		(
			while [ ! -e "$o.ft-end" ]; do
				echo "$(offloaded "$gwa" && echo 1 || echo 0) $(offloaded "$gwb" && echo 1 || echo 0)"
				sleep 0.2
			done
		) >"$o.ft-outage" &
		defer kill $!
	}
	flap_hook_restore()
	{
		touch "$o.ft-end"
		echo "$(ft_adds "$gwa") $(ft_adds "$gwb")" >"$o.ft-adds0"
		wan_outage off
	}
	# Until the download ends (at most 60 s): was each gateway's entry
	# seen offloaded again?
	flap_hook_up()
	{
		local a=no b=no i
		for ((i = 0; i < 300; i++)); do
			[ "$a" = yes ] || ! offloaded "$gwa" || a=yes
			[ "$b" = yes ] || ! offloaded "$gwb" || b=yes
			[ "$a$b" != yesyes ] || break
			kill -0 "$FLAP_CLIENT" 2>/dev/null || break
			sleep 0.2
		done
		# What each gateway's entry looked like then, and how many
		# packets reached "flow add" (the slow path) since the return.
		local n0
		read -r -a n0 <"$o.ft-adds0"
		echo "gwa $a, gwb $b; packets at flow add since the return: gwa $(($(ft_adds "$gwa") - n0[0])), gwb $(($(ft_adds "$gwb") - n0[1])); entries: gwa [$(ft_entry "$gwa")], gwb [$(ft_entry "$gwb")]" >"$o.ft-after-which"
	}
}

# reoffloaded FILE: in flowtable's samples, a gateway's flag went from 0
# back to 1 (or FILE is missing).
reoffloaded()
{
	[ -e "$1" ] || return 0
	awk '{ for (g = 1; g <= 2; g++) { if ($g == 0) out[g] = 1; else if (out[g]) bad = 1 } }
		END { exit !bad }' "$1"
}

# ft_summary FILE: how the samples went, per gateway: "1 0" (offloaded,
# then out of the flowtable), "1" (in it all along) and so on.
ft_summary()
{
	awk '{ for (g = 1; g <= 2; g++) if (!(g in last) || $g != last[g]) { seq[g] = seq[g] " " $g; last[g] = $g } }
		END { printf "gwa:%s, gwb:%s (%d samples)", seq[1], seq[2], NR }' "$1" 2>/dev/null
}

# libreswan: pluto on both gateways, policy-based, auto=start and
# dpdaction=restart on both: each re-initiates after DPD, and keeps
# trying through the outage.
libreswan_hooks()
{
	timed_outage
	flap_hook_setup()
	{
		gw_harden "$gwa" && gw_harden "$gwb" && lsw_site_to_site auto=start dpd=restart
	}
	flap_hook_first() { busywait 60000 gws_installed || lsw_up; }
	flap_hook_reup() { busywait 90000 gws_installed; }
}

# libreswan-charon: pluto on gwa (auto=start, dpdaction=restart), charon
# on gwb answering it (dpd_action = clear, as by default here).
libreswan_charon_hooks()
{
	timed_outage
	flap_hook_setup()
	{
		gw_harden "$gwa" && gw_harden "$gwb" || return 1
		ipsec_init
		ipsec_charon "$gwb" gwb &&
			ipsec_conf gwb "$IPSEC_GWB_WAN" "$IPSEC_GWA_WAN" "$IPSEC_B_LAN" "$IPSEC_A_LAN" &&
			lsw_conf gwa "$IPSEC_GWA_WAN" "$IPSEC_GWB_WAN" "$IPSEC_A_LAN" "$IPSEC_B_LAN" \
				auto=start dpd=restart &&
			lsw_pluto "$gwa" gwa
	}
	flap_hook_first() { busywait 60000 gws_installed || lsw_up; }
	flap_hook_reup() { busywait 90000 gws_installed; }
}

# libreswan-ondemand: pluto on both gateways, auto=ondemand (trap
# policies) and dpdaction=clear: after DPD only the trap policies are
# left, and the flow's own retransmission (an ACQUIRE) brings the tunnel
# back.
libreswan_ondemand_hooks()
{
	timed_outage
	flap_hook_setup()
	{
		gw_harden "$gwa" && gw_harden "$gwb" && lsw_site_to_site auto=ondemand dpd=clear
	}
	flap_hook_first() { lsw_up; }
	flap_hook_reup() { busywait 90000 gws_installed; }
}

# libreswan-hold: pluto on both gateways, auto=start, dpdaction=hold:
# when DPD gives up, pluto deletes the SAs and leaves the connection's
# policies in place as holds (no cleartext route for the LANs); traffic
# that hits them brings the tunnel back, as with trap policies.
libreswan_hold_hooks()
{
	timed_outage
	flap_hook_setup()
	{
		gw_harden "$gwa" && gw_harden "$gwb" && lsw_site_to_site auto=start dpd=hold
	}
	flap_hook_first() { busywait 60000 gws_installed || lsw_up; }
	flap_hook_reup() { busywait 90000 gws_installed; }
}

# libreswan-xfrmi: route-based, ipsec-interface=5 on both (pluto uses
# the ipsec5 xfrm interface made here, if_id 5, and leaves it in place;
# the remote LAN is routed into it), auto=start, dpdaction=restart.
libreswan_xfrmi_hooks()
{
	timed_outage
	flap_hook_setup()
	{
		local ns lan
		gw_harden "$gwa" && gw_harden "$gwb" || return 1
		for ns in "$gwa" "$gwb"; do
			[ "$ns" = "$gwa" ] && lan=$IPSEC_B_LAN || lan=$IPSEC_A_LAN
			ip -n "$ns" link add ipsec5 type xfrm dev wan0 if_id 5 &&
				ip -n "$ns" link set ipsec5 up &&
				ip -n "$ns" route add "$lan" dev ipsec5 || return 1
			# What the gateway forwards through the interface is allowed.
			ip netns exec "$ns" iptables -I FORWARD -o ipsec5 -j ACCEPT
			ip netns exec "$ns" iptables -I FORWARD -i ipsec5 -j ACCEPT
		done
		lsw_site_to_site auto=start dpd=restart if=5
	}
	flap_hook_first() { busywait 60000 gws_installed || lsw_up; }
	flap_hook_reup() { busywait 90000 gws_installed; }
}

# --- what every set-up checks besides the download ---

SYNCRAFT=$VPNFLOW_TOP/selftests/tools/syncraft.py
STRAY_PORT=7999
STRAY_SPORT=40999
# The MSS that fits every set-up's SA: AES-GCM-128 (strongSwan's
# aes128gcm16, pluto's aes_gcm128, ip xfrm's rfc4106 with a 128-bit ICV),
# no UDP encapsulation, IPv4 in IPv4 over a 1500-byte WAN.
read -r _ auto_mss <<<"$(python3 "$SYNCRAFT" espmtu aes128gcm16 no 4 4 1500)"

# stray_send: one datagram of the client's flow to the server's port
# STRAY_PORT, always from the same port.
stray_send()
{
	ip netns exec "$client" python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", int(sys.argv[2])))
s.sendto(b"stray", (sys.argv[1], int(sys.argv[3])))' "$IPSEC_SERVER" "$STRAY_SPORT" "$STRAY_PORT"
}

# stray_arrived FILE: a datagram was sent, and the server has received one
# from the client's own address (FILE: its receiver's sources).
stray_arrived() { stray_send; grep -q "^$IPSEC_CLIENT " "$1" 2>/dev/null; }

# syn_mss NAME: one TCP connection attempt from the client to the server's
# port 5003 (nothing listens); the MSS of its SYN as the server's LAN
# interface saw it, into $o.NAME.
syn_mss()
{
	local cap=$o.$1.cap pid
	rm -f "$cap" "$cap.ready"
	ip netns exec "$server" python3 "$SYNCRAFT" capture lan0 "$cap" --dport 5003 --flags S \
		--count 1 --timeout 30 &
	pid=$!
	busywait 20000 test -e "$cap.ready"
	ip netns exec "$client" python3 -c 'import socket, sys
try:
    socket.create_connection((sys.argv[1], 5003), timeout=5)
except OSError:
    pass' "$IPSEC_SERVER"
	wait "$pid"
	python3 "$SYNCRAFT" mss "$cap" >"$o.$1" 2>/dev/null
}

# wrap_hook NAME DEFAULT: the set-up's hook NAME (or DEFAULT, flap_scenario's
# behaviour without it) becomes orig_NAME, for a wrapper to call.
wrap_hook()
{
	if declare -F "$1" >/dev/null; then
		eval "orig_$(declare -f "$1")"
	else
		eval "orig_$1() { $2; }"
	fi
}

# common_hooks: the checks above, around the set-up's own hooks.
common_hooks()
{
	wrap_hook flap_hook_first ipsec_up
	wrap_hook flap_hook_restore "wan_outage off"
	wrap_hook flap_hook_up :
	flap_hook_first()
	{
		local g
		orig_flap_hook_first || return 1
		for g in "$gwa" "$gwb"; do
			"$VPNSYSOPT" -n "$g" no connection tcpmss &&
				"$VPNSYSOPT" -n "$g" connection tcpmss auto || return 1
		done
		udp_sink "$server" "$STRAY_PORT" "$o.udp-rx"
	}
	flap_hook_restore()
	{
		if ip -n "$gwa" xfrm policy list dir out | grep -q "src $IPSEC_A_LAN dst $IPSEC_B_LAN"; then
			echo "none: gwa kept a policy for the LANs" >"$o.stray"
		else
			stray_send
			ip netns exec "$gwa" conntrack -L -p udp --dport "$STRAY_PORT" 2>/dev/null |
				grep -q "dst=$IPSEC_GWA_WAN" &&
				echo "NATed by gwa" >"$o.stray" || echo "sent, no NATed entry in gwa" >"$o.stray"
		fi
		orig_flap_hook_restore
	}
	flap_hook_up()
	{
		local t0
		orig_flap_hook_up
		t0=$EPOCHREALTIME
		if busywait 20000 stray_arrived "$o.udp-rx"; then
			echo 1 >"$o.stray-ok"
		else
			echo 0 >"$o.stray-ok"
		fi
		echo "$EPOCHREALTIME $t0" | awk '{ printf "%.1f\n", $1 - $2 }' >"$o.stray-s"
		syn_mss syn-mss
	}
}

# run SETUP MODE: the flap with SETUP's hooks, preserve MODE (on, off).
# pluto's logs are kept in DIR/MODE.logs (LSW_LOGS).
run()
{
	(
		"${1//-/_}_hooks"
		common_hooks
		LSW_LOGS=$tmp/$1/$2.logs
		mkdir -p "$LSW_LOGS"
		FLAP_T=$tmp/$1/$2
		flap_scenario "$2" "$tmp/$1"
	)
}

# timed_outage: flap_hook_down and flap_hook_restore as by default (the
# WAN fails), noting when (FLAP_T.t-down, FLAP_T.t-restore) for
# sa_timing.
timed_outage()
{
	flap_hook_down() { echo "$EPOCHREALTIME" >"$FLAP_T.t-down"; wan_outage on; }
	flap_hook_restore() { echo "$EPOCHREALTIME" >"$FLAP_T.t-restore"; wan_outage off; }
}

# sa_timing DIR MODE: "SAs gone X s into the outage, back Y s after it"
# from timed_outage's times and both gateways' `ip xfrm monitor` (the
# last SA deleted during the outage; the later gateway's second SA added
# after it).
sa_timing()
{
	local o=$1/$2 td tr ta tb
	td=$(cat "$o.t-down" 2>/dev/null) && tr=$(cat "$o.t-restore" 2>/dev/null) || return 0
	ta=$(flap_sa_added "$o.xfer.xfrm.gwa" "$tr")
	tb=$(flap_sa_added "$o.xfer.xfrm.gwb" "$tr")
	python3 - "$td" "$tr" "${ta:-0}" "${tb:-0}" "$o.xfer.xfrm.gwa" "$o.xfer.xfrm.gwb" <<-'PY'
	import datetime, re, sys
	td, tr, ta, tb = map(float, sys.argv[1:5])
	gone = 0
	for f in sys.argv[5:]:
	    for line in open(f, errors="replace"):
	        m = re.match(r"\[([0-9T:.-]+)\] Deleted src", line)
	        if m:
	            t = datetime.datetime.fromisoformat(m.group(1)).replace(
	                tzinfo=datetime.timezone.utc).timestamp()
	            if td < t < tr:
	                gone = max(gone, t)
	g = f"{gone - td:.1f} s" if gone else "?"
	b = f"{max(ta, tb) - tr:.1f} s" if ta and tb else "?"
	print(f"SAs gone {g} into the outage, back {b} after it")
	PY
}

# lsw_log_tail DIR: the end of the pluto logs kept in DIR (LSW_LOGS), as
# KTAP comments, for a set-up whose tunnel did not do what it should.
lsw_log_tail()
{
	local f
	for f in "$1"/*-pluto.log; do
		[ -f "$f" ] || continue
		ktap_info "${f##*/}:"
		grep -v -E '^[A-Z][a-z]{2} [ 0-9]{2} [0-9:.]+:   ' "$f" | tail -n 25 | sed 's/^/#   /'
	done
}

val() { cat "$tmp/$1/$2.$3" 2>/dev/null || echo "${4:-?}"; }
counter() { json_get "$4" "$tmp/$1/$2.cnt-$3" || echo -1; }

mkdir -p "$tmp"
for s in $setups; do
	mkdir -p "$tmp/$s"
	why=
	case $s in libreswan*) why=$(lsw_missing) ;; esac
	if [ -n "$why" ]; then
		for i in $(seq $((7 + with_off))); do
			ktap_skip "$s: $why"
		done
		continue
	fi
	run "$s" on
	got=$(cut -d' ' -f1,2 "$tmp/$s/on.xfer" 2>/dev/null)
	ktap_info "$s, preserve on: got $(val "$s" on xfer nothing) (bytes sha256 s), want $expect"
	ktap_info "$s, preserve on: resumed $(val "$s" on resume-ms) ms after the tunnel's SAs were back; leaks $(val "$s" on leaks), NATed $(val "$s" on natted)"
	[ ! -f "$tmp/$s/on.t-down" ] || ktap_info "$s, preserve on: $(sa_timing "$tmp/$s" on)"
	[ "$(val "$s" on sa-gone)" = 1 ] && [ "$(val "$s" on back)" = 0 ] || lsw_log_tail "$tmp/$s/on.logs"
	ktap_check "$s: the tunnel went away and came back" \
		test "$(val "$s" on sa-gone)" = 1 -a "$(val "$s" on back)" = 0
	[ "$got" = "$expect" ] || sed "s/^/# $s end: /" "$tmp/$s/on.state-gwa" "$tmp/$s/on.state-gwb" 2>/dev/null
	ktap_check "$s, preserve on: the download completes byte-exact" test "$got" = "$expect"
	ktap_check "$s, preserve on: 0 packets of the flow in cleartext on the WAN" \
		test "$(val "$s" on leaks)" = 0
	ktap_check "$s, preserve on: 0 packets NATed onto the WAN" test "$(val "$s" on natted)" = 0
	for g in gwa gwb; do
		ktap_info "$s, preserve on: $g preserved $(counter "$s" on $g flows_preserved), resumed $(counter "$s" on $g flows_resumed), dropped $(counter "$s" on $g pkts_dropped)"
	done
	ktap_check "$s, preserve on: the flow was preserved and resumed on both gateways" \
		sh -c "[ $(counter "$s" on gwa flows_preserved) -ge 1 ] && [ $(counter "$s" on gwb flows_preserved) -ge 1 ] &&
		       [ $(counter "$s" on gwa flows_resumed) -ge 1 ] && [ $(counter "$s" on gwb flows_resumed) -ge 1 ]"
	ktap_info "$s, preserve on: a new flow in the outage: $(val "$s" on stray); its datagram from the client's address at the server $(val "$s" on stray-s) s into the check, once the tunnel was back; gwa reclassified $(counter "$s" on gwa flows_reclassified)"
	ktap_check "$s, preserve on: reclassify-vpn: a flow begun in the outage reaches the server through the tunnel once it is back" \
		test "$(val "$s" on stray-ok 0)" = 1
	ktap_info "$s, preserve on: tcpmss auto: the new SYN's MSS at the server: $(val "$s" on syn-mss none), want $auto_mss"
	ktap_check "$s, preserve on: tcpmss auto: a new SYN reaches the server with MSS $auto_mss" \
		test "$(val "$s" on syn-mss)" = "$auto_mss"
	case $s in
	reauth)
		ktap_info "reauth, preserve on: the longest pause of data at the client: $(awk '$2 > m { m = $2 } END { print m + 0 }' "$tmp/$s/on.xfer.gaps" 2>/dev/null) s"
		ktap_check "reauth: break-before-make: the old SAs went before the new ones were added" \
			bbm_order "$tmp/$s/on.xfer.xfrm.gwa" "$(val "$s" on t-reauth 0)"
		;;
	flowtable)
		ktap_check "flowtable: the flow was offloaded through the tunnel before the outage (both gateways)" \
			test "$(val "$s" on ft-before 0)" = 1
		ktap_info "flowtable, preserve on: offload flag during the outage: $(ft_summary "$tmp/$s/on.ft-outage")"
		ktap_check "flowtable, preserve on: never offloaded again while the tunnel was away" \
			sh -c "$(declare -f reoffloaded); ! reoffloaded $tmp/$s/on.ft-outage"
		# Not a pass/fail point (see flowtable in the header).
		ktap_info "flowtable, preserve on: offloaded again through the new tunnel: $(val "$s" on ft-after-which 'not sampled')"
		;;
	children)
		ktap_check "children: both CHILD_SAs (net TCP, net2 UDP) back in one IKE_SA on both gateways" \
			sh -c "$(declare -f one_ike_two_children); one_ike_two_children $tmp/$s/on.sas-gwa && one_ike_two_children $tmp/$s/on.sas-gwb"
		;;
	esac
	if [ "$with_off" = 1 ]; then
		run "$s" off
		ktap_info "$s, preserve off: got $(val "$s" off xfer nothing); resumed $(val "$s" off resume-ms) ms after the SAs; leaks $(val "$s" off leaks), NATed $(val "$s" off natted); torn down gwa $(counter "$s" off gwa flows_torn_down), gwb $(counter "$s" off gwb flows_torn_down)"
		ktap_check "$s, preserve off: the tunnel went away and came back" \
			test "$(val "$s" off sa-gone)" = 1 -a "$(val "$s" off back)" = 0
	fi
done
vpnflow_unload
ktap_finish
