#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# reclassify-vpn after a tunnel's first pass: only the entries created
# outside a tunnel since that pass are looked at (the pass does not walk
# conntrack's table), unless they may not be the whole story: more of them
# than are recorded, or other selectors at the re-install.
#
#  198.51.100.0/26                                              198.51.100.64/26
#  +--------+     +---------------+  ESP, manual SAs  +---------------+     +--------+
#  | client |-----| gwa      wan0 |==================| wan0      gwb |-----| server |
#  | .2     | lan | .1   192.0.2.1| (ip xfrm, no IKE)| 192.0.2.2  .65| lan | .66    |
#  +--------+     | MASQUERADE    |                  |               |     +--------+
#                 +---------------+                  +---------------+
#  gwa MASQUERADEs what leaves wan0 without IPsec. gwb keeps its SAs and
#  policies throughout; gwa's are removed and installed again by the test
#  (policies first out, last in: the cleartext window opens with the policy
#  removal, before the tunnel is down). What the client sends meanwhile is
#  NATed by gwa and reaches the server in cleartext: a stray entry, pinned
#  out of the tunnel by its NAT binding until reclassify-vpn removes it.
#  Background: 300 NATed entries outside the selectors (client -> gwb's
#  WAN address), which a walk examines and must leave alone.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-pair.sh"
pair_require
ktap_plan 13

UDP=$VPNFLOW_TOP/selftests/tools/udpstream.py
C_NET=203.0.113.0/24	# a subnet the tunnel gains at a re-install
D_NET=198.18.0.0/24	# a subnet the tunnel gains while up
NBG=300
tmp=$(mktemp -d)
defer rm -rf "$tmp"

gw_pair || ktap_skip_all "cannot create the namespaces"
# Stray and background entries stay until reclassify-vpn removes them.
ip netns exec "$gwa" sysctl -qw net.netfilter.nf_conntrack_udp_timeout_stream=300
ip -n "$gwa" route add $C_NET via $GWB
ip -n "$gwa" route add $D_NET via $GWB
ip netns exec "$gwa" iptables -t nat -A POSTROUTING -o wan0 -m policy --dir out --pol none -j MASQUERADE

# gwa's conntrack DESTROY events (conntrack ids cannot tell entries apart:
# they hash the object's address, which the slab hands out again).
ip netns exec "$gwa" sysctl -qw net.netfilter.nf_conntrack_events=1
ip netns exec "$gwa" conntrack -E -e DESTROY -p udp >"$tmp/events" 2>/dev/null &
defer kill $!

# natted DPORT: gwa's NATed entries (reply to gwa's WAN address) to DPORT.
natted() { ip netns exec "$gwa" conntrack -L -p udp --dport "$1" 2>/dev/null | grep -c "dst=$GWA"; }
natted_is() { [ "$(natted "$1")" = "$2" ]; }
destroyed() { grep -qE "udp .*dport=$1 .*dst=$GWA" "$tmp/events"; }
# from_client FILE: the server got a datagram from the client's own address.
from_client() { grep -q ' 198\.51\.100\.2 ' "$1" 2>/dev/null; }
# stray SPORT DPORT: a stream client -> server (20 datagrams/s), logged
# by the server in $tmp/rx.DPORT; waits for its NATed entry on gwa.
stray()
{
	ip netns exec "$server" python3 "$UDP" recv "$2" "$tmp/rx.$2" &
	defer kill $!
	ip netns exec "$client" python3 "$UDP" send $SERVER "$2" 50 600 "$1" &
	defer kill $!
	busywait 10000 sh -c "[ \$(ip netns exec $gwa conntrack -L -p udp --dport $2 2>/dev/null | grep -c 'dst=$GWA') -ge 1 ]"
}
# gwa_down: policies out first (the cleartext window opens), then the SAs.
gwa_down() { pair_pols "$gwa" del $A_LAN "${SEL[@]}" && pair_sas "$gwa" del; }
# gwa_up: SAs first (reclassify-vpn waits for the policies), then policies.
gwa_up() { pair_sas "$gwa" add && pair_pols "$gwa" add $A_LAN "${SEL[@]}"; }

vpnflow_load || ktap_skip_all "cannot load the module"
defer vpnflow_unload

# Background entries outside the selectors, NATed by gwa.
udp_flows $GWB 7000 20000 $NBG
busywait 20000 natted_is 7000 $NBG
ktap_info "background: $(natted 7000) NATed entries on gwa outside the selectors"

# --- the first pass walks the table and arms the tunnel ---
SEL=("$B_LAN")
pair_sas "$gwb" add && pair_pols "$gwb" add $B_LAN $A_LAN
gwa_up
first_pass() { busywait 10000 vpnflow_counter_ge "$gwa" reclassify_walks 1 && vpnflow_counter_ge "$gwa" reclassify_examined $NBG; }
ktap_check "first up: reclassify-vpn walks the table once (every entry examined)" first_pass
w0=$(vpnflow_counter "$gwa" reclassify_walks); e0=$(vpnflow_counter "$gwa" reclassify_examined); r0=$(vpnflow_counter "$gwa" flows_reclassified)
ktap_info "after the first pass: walks $w0, examined $e0, reclassified $r0"

# --- strays created in the cleartext window and while down: candidates ---
pair_pols "$gwa" del $A_LAN "${SEL[@]}"
stray 40000 5004			# policies gone, SAs still there
pair_sas "$gwa" del
stray 40001 5005			# tunnel down
n0=$(grep -c . "$tmp/events")
gwa_up
busywait 10000 vpnflow_counter_ge "$gwa" flows_reclassified $((r0 + 2))
w1=$(vpnflow_counter "$gwa" reclassify_walks); e1=$(vpnflow_counter "$gwa" reclassify_examined); r1=$(vpnflow_counter "$gwa" flows_reclassified)
ktap_info "re-install: walks $w0 -> $w1, examined +$((e1 - e0)), reclassified +$((r1 - r0))"
both_destroyed() { destroyed 5004 && destroyed 5005; }
ktap_check "re-install: both strays removed (the one from the cleartext window too)" both_destroyed
no_walk() { [ "$w1" = "$w0" ] && [ $((e1 - e0)) -ge 2 ] && [ $((e1 - e0)) -lt 50 ]; }
ktap_check "re-install: no walk; only the recorded entries examined (not the $NBG background ones)" no_walk
both_inside() { from_client "$tmp/rx.5004" && from_client "$tmp/rx.5005"; }
ktap_check "re-install: both streams reach the server from the client's own address (in the tunnel)" \
	busywait 5000 both_inside
bg_untouched() { ! tail -n +$((n0 + 1)) "$tmp/events" | grep -q 'dport=7000' && natted_is 7000 $NBG; }
ktap_check "re-install: the background entries are untouched" bg_untouched

# --- more strays than are recorded: the pass walks ---
gwa_down
udp_flows $SERVER 5006 41000 600
busywait 20000 natted_is 5006 600
ktap_info "overflow: $(natted 5006) strays NATed on gwa"
gwa_up
over_done() { vpnflow_counter_ge "$gwa" reclassify_walks $((w1 + 1)) && natted_is 5006 0; }
busywait 30000 over_done
w2=$(vpnflow_counter "$gwa" reclassify_walks); e2=$(vpnflow_counter "$gwa" reclassify_examined)
ktap_info "overflow: walks $w1 -> $w2, examined +$((e2 - e1)), strays left $(natted 5006)"
overflow_walked() { [ "$w2" = $((w1 + 1)) ] && [ $((e2 - e1)) -ge $((NBG + 600)) ]; }
ktap_check "overflow: 600 strays (more than recorded) make the pass walk the table" overflow_walked
ktap_check "overflow: all 600 strays removed" natted_is 5006 0

# --- the candidates start afresh after the walk ---
gwa_down
stray 40002 5008
gwa_up
busywait 10000 destroyed 5008
w3=$(vpnflow_counter "$gwa" reclassify_walks); e3=$(vpnflow_counter "$gwa" reclassify_examined)
ktap_info "after the walk: walks $w2 -> $w3, examined +$((e3 - e2))"
rearmed() { destroyed 5008 && [[ $w3 =~ ^[0-9]+$ ]] && [ "$w3" = "$w2" ] && [ $((e3 - e2)) -lt 50 ]; }
ktap_check "after the overflow's walk the tunnel is armed again: stray removed without a walk" rearmed

# --- other selectors at the re-install: the pass walks ---
# A stray towards C_NET is outside the armed selectors (not recorded); the
# tunnel comes back covering C_NET too, so only a walk can find it. (The
# first pass may run when only the B_LAN policy is back: the C_NET one
# then brings a second pass, which walks.)
gwa_down
udp_flows 203.0.113.5 5009 42000 1
busywait 10000 natted_is 5009 1
SEL=("$B_LAN" "$C_NET")
gwa_up
sel_done() { vpnflow_counter_ge "$gwa" reclassify_walks $((w3 + 1)) && natted_is 5009 0; }
busywait 10000 sel_done
w4=$(vpnflow_counter "$gwa" reclassify_walks)
ktap_info "selectors changed: walks $w3 -> $w4, C_NET stray entries left $(natted 5009)"
ktap_check "selectors changed at the re-install: the pass walks the table" [ "$w4" = $((w3 + 1)) ]
ktap_check "selectors changed: the stray inside the new selector is removed" natted_is 5009 0

# --- a policy added to the tunnel while it is up ---
udp_flows 198.18.0.5 5010 43000 1
busywait 10000 natted_is 5010 1
dmesg -C
pair_pols "$gwa" add $A_LAN "$D_NET"
SEL+=("$D_NET")
added_done() { vpnflow_counter_ge "$gwa" reclassify_walks $((w4 + 1)) && natted_is 5010 0; }
busywait 10000 added_done
w5=$(vpnflow_counter "$gwa" reclassify_walks); e5=$(vpnflow_counter "$gwa" reclassify_examined)
ktap_info "policy added while up: walks $w4 -> $w5, D_NET stray entries left $(natted 5010)"
dmesg | grep reclassify | sed 's/^/# /'
policy_added() { natted_is 5010 0 && dmesg | grep -qE 'reclassify-vpn: tunnel [0-9]+ policies added, 1 flows cleared'; }
ktap_check "policy added to the up tunnel: its stray is removed, logged as policies added" policy_added

# --- the same policy updated (as a rekey does): a pass, no walk ---
p5=$(vpnflow_counter "$gwa" reclassify_passes)
ip -n "$gwa" xfrm policy update src $A_LAN dst $B_LAN dir out \
	tmpl src $GWA dst $GWB proto esp reqid 1 mode tunnel
busywait 10000 vpnflow_counter_ge "$gwa" reclassify_passes $((p5 + 1))
w6=$(vpnflow_counter "$gwa" reclassify_walks)
ktap_info "policy updated (same selectors): passes $p5 -> $(vpnflow_counter "$gwa" reclassify_passes), walks $w5 -> $w6, examined +$(($(vpnflow_counter "$gwa" reclassify_examined) - e5))"
updated_no_walk() { vpnflow_counter_ge "$gwa" reclassify_passes $((p5 + 1)) && [[ $w6 =~ ^[0-9]+$ ]] && [ "$w6" = "$w5" ]; }
ktap_check "the same policies updated: a pass of the recorded strays, no walk" updated_no_walk

ktap_check "no kernel warning" sh -c "! dmesg | grep -E 'WARNING:|BUG:|Call Trace:|refcount_t:'"
ktap_finish
