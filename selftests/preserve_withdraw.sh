#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# preserve-vpn-flows while a tunnel's policies are withdrawn: charon takes
# a CHILD_SA's policies out before its SAs, and the tunnel is only seen
# down once the SA events have been handled in process context. In that
# window, and for as long as the policies stay away, a tunneled flow's
# packets must not leave in cleartext: they are held, and the flow goes on
# byte-exact when the policies are back.
#
#  198.51.100.0/26                                              198.51.100.64/26
#  +--------+     +---------------+  ESP, manual SAs  +---------------+     +--------+
#  | client |-----| gwa      wan0 |==================| wan0      gwb |-----| server |
#  | .2     | lan | .1   192.0.2.1| (ip xfrm, no IKE)| 192.0.2.2  .65| lan | .66    |
#  +--------+     +---------------+                  | counts clear- |     +--------+
#                                                    | text A -> B   |
#                                                    +---------------+
#  A TCP stream client -> server (tcpstream.py, checked end to end) runs
#  throughout. gwb keeps its SAs and policies; gwa's are withdrawn and put
#  back. Without its out policy gwa routes site B's traffic to gwb
#  directly: what arrives there without a secpath is a cleartext leak,
#  counted in gwb's raw PREROUTING.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-pair.sh"
pair_require
command -v nft >/dev/null || ktap_skip_all "needs nft(8)"
ktap_plan 9

TCPSTREAM=$VPNFLOW_TOP/selftests/tools/tcpstream.py
tmp=$(mktemp -d)
defer rm -rf "$tmp"

gw_pair || ktap_skip_all "cannot create the namespaces"
pair_leak_counter || ktap_skip_all "nft cannot count by secpath"
progress() { cat "$tmp/sink.progress" 2>/dev/null || echo 0; }
progress_ge() { [ "$(progress)" -ge "$1" ]; }
# moves: the stream carries at least 4 kB more from now on (30 s).
moves() { local p; p=$(progress); busywait 30000 progress_ge $((p + 4000)); }
# dropped_more: gwa holds at least 3 more of the stream's packets (20 s).
dropped_more() { local d; d=$(vpnflow_counter "$gwa" pkts_dropped); busywait 20000 vpnflow_counter_ge "$gwa" pkts_dropped $((d + 3)); }
ctx() { "$VPNSYSOPT" -n "$gwa" show vpn-context 2>&1; }

vpnflow_load || ktap_skip_all "cannot load the module"
defer vpnflow_unload
for ns in "$gwa" "$gwb"; do
	"$VPNSYSOPT" -n "$ns" connection preserve-vpn-flows || ktap_skip_all "cannot set preserve-vpn-flows"
done
pair_sas "$gwb" add && pair_pols "$gwb" add $B_LAN $A_LAN
pair_sas "$gwa" add && pair_pols "$gwa" add $A_LAN $B_LAN

ip netns exec "$server" python3 "$TCPSTREAM" sink 5001 "$tmp/sink" &
defer kill $!
busywait 10000 sh -c "ip netns exec $server ss -Hltn 'sport = :5001' | grep -q LISTEN"
ip netns exec "$client" python3 "$TCPSTREAM" source $SERVER 5001 1 8000 "$tmp/stop" "$tmp/source" 3600 &
src=$!
defer kill $src
busywait 20000 progress_ge 16000
l0=$(pair_leaks)
ktap_info "stream up: $(progress) bytes at the server, $l0 cleartext packets at gwb"

# --- the out policy goes, the SAs stay: the tunnel is up but withdrawn ---
pair_pols "$gwa" del $A_LAN $B_LAN
ktap_check "policies withdrawn, SAs kept: gwa holds the flow's packets" dropped_more
ktap_info "withdrawn: $(pair_leaks) cleartext packets at gwb, pkts-dropped $(vpnflow_counter "$gwa" pkts_dropped)"
ktap_check "policies withdrawn: no cleartext packet reaches gwb" sh -c "[ $(pair_leaks) = $l0 ]"
ctx | sed 's/^/# gwa: /'
ktap_check "policies withdrawn: the tunnel is still up, nothing preserved" \
	sh -c "[ $(vpnflow_counter "$gwa" tunnels_down) = 0 ] && [ $(vpnflow_counter "$gwa" flows_preserved) = 0 ]"
pair_pols "$gwa" add $A_LAN $B_LAN
ktap_check "policies back: the stream moves on through the tunnel" moves

# --- charon's order: policies out, then SAs; later SAs in, then policies ---
pair_pols "$gwa" del $A_LAN $B_LAN
dropped_more
pair_sas "$gwa" del
ktap_check "policies then SAs removed: the flow is preserved" busywait 10000 vpnflow_counter_ge "$gwa" flows_preserved 1
dropped_more
ktap_check "tunnel down: no cleartext packet reaches gwb" sh -c "[ $(pair_leaks) = $l0 ]"
pair_sas "$gwa" add && pair_pols "$gwa" add $A_LAN $B_LAN
resumes() { busywait 40000 vpnflow_counter_ge "$gwa" flows_resumed 1 && moves; }
ktap_check "SAs then policies back: the flow resumes and moves on" resumes

# --- control: with preserve-vpn-flows off the same withdrawal leaks ---
"$VPNSYSOPT" -n "$gwa" no connection preserve-vpn-flows
l1=$(pair_leaks)
pair_pols "$gwa" del $A_LAN $B_LAN
leaked() { [ "$(pair_leaks)" -gt "$l1" ]; }
ktap_check "preserve off: the withdrawn flow leaks in cleartext (the counter sees it)" \
	busywait 20000 leaked
ktap_info "off: $(( $(pair_leaks) - l1 )) cleartext packets at gwb"
pair_pols "$gwa" add $A_LAN $B_LAN
"$VPNSYSOPT" -n "$gwa" connection preserve-vpn-flows

# --- the stream, end to end ---
touch "$tmp/stop"
busywait 60000 sh -c "! kill -0 $src 2>/dev/null"
sed 's/^/# source: /' "$tmp/source" 2>/dev/null
ktap_check "the stream arrived byte-exact (sha256 at both ends)" \
	sh -c "[ \$(grep -c '^ok ' $tmp/source) = 1 ] && ! grep -q '^bad ' $tmp/source"
ktap_finish
