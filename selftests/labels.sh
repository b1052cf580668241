#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sysopt connection label-vpn-flows: the conntrack entry of a tunneled flow
# carries the label vpnflow-tunneled, and vpnflow-preserved while its
# tunnel is down, as conntrack(8) -o labels, nft's ct label and a ctnetlink
# listener (what conntrackd is) see them. gwb, the option off, is the
# control: its entry of the same flow carries no label.
#
#  198.51.100.0/26                                           198.51.100.64/26
#  +--------+     +------------------+  ESP, manual SAs  +-------------+     +--------+
#  | client |-----| gwa         wan0 |==================| wan0    gwb |-----| server |
#  | .2     | lan | label-vpn-flows  | (ip xfrm, no IKE)| labels off  | lan | .66    |
#  +--------+     | conntrack -E     |                  +-------------+     +--------+
#                 | nft ct label     |
#                 +------------------+
#  A TCP stream client -> server (tcpstream.py, checked end to end) runs
#  throughout; both gateways' SAs go away and come back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-pair.sh"
pair_require
command -v nft >/dev/null || ktap_skip_all "needs nft(8)"
ktap_plan 12

TCPSTREAM=$VPNFLOW_TOP/selftests/tools/tcpstream.py
tmp=$(mktemp -d)
defer rm -rf "$tmp"

vpnflow_connlabels "$tmp"

gw_pair || ktap_skip_all "cannot create the namespaces"
vpnflow_load || ktap_skip_all "cannot load the module"
defer vpnflow_unload
for ns in "$gwa" "$gwb"; do
	"$VPNSYSOPT" -n "$ns" connection preserve-vpn-flows || ktap_skip_all "cannot set preserve-vpn-flows"
done
# Before the flow: conntrack adds the label extension to new entries only.
"$VPNSYSOPT" -n "$gwa" connection label-vpn-flows
ktap_check "show running-config lists label-vpn-flows" \
	sh -c "'$VPNSYSOPT' -n '$gwa' show running-config | grep -qx 'sysopt connection label-vpn-flows'"

ip netns exec "$gwa" nft -f - <<-'NFT' || ktap_skip_all "nft cannot match ct label"
table inet lbl {
	counter tunneled { }
	counter preserved { }
	chain pre {
		type filter hook prerouting priority filter; policy accept;
		ct label "vpnflow-tunneled" counter name tunneled
		ct label "vpnflow-preserved" counter name preserved
	}
}
NFT
nft_count()
{
	ip netns exec "$gwa" nft -j list counter inet lbl "$1" |
		python3 -c 'import json, sys
print([o["counter"]["packets"] for o in json.load(sys.stdin)["nftables"] if "counter" in o][0])'
}
# A ctnetlink listener before the flow: with nf_conntrack_events=2 an
# entry gets its event extension only if someone listens at its creation.
ip netns exec "$gwa" conntrack -E -e UPDATE -o labels -p tcp --dport 5001 >"$tmp/events" 2>&1 &
defer kill $!

pair_sas "$gwb" add && pair_pols "$gwb" add $B_LAN $A_LAN
pair_sas "$gwa" add && pair_pols "$gwa" add $A_LAN $B_LAN

ip netns exec "$server" python3 "$TCPSTREAM" sink 5001 "$tmp/sink" &
defer kill $!
busywait 10000 sh -c "ip netns exec $server ss -Hltn 'sport = :5001' | grep -q LISTEN"
ip netns exec "$client" python3 "$TCPSTREAM" source $SERVER 5001 1 8000 "$tmp/stop" "$tmp/source" 3600 &
src=$!
defer kill $src
progress() { cat "$tmp/sink.progress" 2>/dev/null || echo 0; }
progress_ge() { [ "$(progress)" -ge "$1" ]; }
moves() { local p; p=$(progress); busywait 30000 progress_ge $((p + 4000)); }
busywait 20000 progress_ge 16000

# entry NETNS: the stream's conntrack entry, with its labels.
entry() { ip netns exec "$1" conntrack -L -o labels -p tcp --dport 5001 2>/dev/null | grep 'dport=5001'; }
labels_are() { [ "$(entry "$1" | grep -o 'labels=[^ ]*')" = "$2" ]; }
ktap_info "gwa: $(entry "$gwa")"
ktap_info "gwb: $(entry "$gwb")"
ktap_check "tunneled: gwa's entry of the stream carries vpnflow-tunneled alone" \
	busywait 5000 labels_are "$gwa" labels=vpnflow-tunneled
unlabelled() { entry "$1" | grep -q . && ! entry "$1" | grep -q labels=; }
ktap_check "gwb (the option off): its entry of the same stream carries no label" \
	unlabelled "$gwb"
mark_zero() { entry "$1" | grep -q ' mark=0 '; }
ktap_check "the ct mark is left alone (0)" mark_zero "$gwa"
t0=$(nft_count tunneled)
ktap_info "nft on gwa: $t0 packets matched ct label vpnflow-tunneled, $(nft_count preserved) vpnflow-preserved"
ktap_check "nft's ct label \"vpnflow-tunneled\" matches the stream's packets" sh -c "[ $t0 -gt 10 ]"

# --- the tunnel goes away: preserved ---
pair_pols "$gwa" del $A_LAN $B_LAN; pair_sas "$gwa" del
pair_pols "$gwb" del $B_LAN $A_LAN; pair_sas "$gwb" del
busywait 10000 vpnflow_counter_ge "$gwa" flows_preserved 1
ktap_info "gwa in the outage: $(entry "$gwa")"
ktap_check "tunnel down: gwa's entry carries vpnflow-tunneled and vpnflow-preserved" \
	busywait 5000 labels_are "$gwa" labels=vpnflow-tunneled,vpnflow-preserved
preserved_seen() { [ "$(nft_count preserved)" -gt 0 ]; }
ktap_check "nft's ct label \"vpnflow-preserved\" matches the held packets" busywait 20000 preserved_seen
# The event carries the held timeout too (conntrackd replicates both).
held_event() { awk '/dport=5001 .*labels=vpnflow-tunneled,vpnflow-preserved( |$)/ && $4 > 3000 { f = 1 } END { exit !f }' "$tmp/events"; }
ktap_check "a ctnetlink listener got the change: an UPDATE with both labels and the held timeout" \
	busywait 5000 held_event

# --- back: resumed ---
n0=$(grep -c . "$tmp/events")
pair_sas "$gwb" add && pair_pols "$gwb" add $B_LAN $A_LAN
pair_sas "$gwa" add && pair_pols "$gwa" add $A_LAN $B_LAN
ktap_check "tunnel back: the stream resumes on gwa" busywait 40000 vpnflow_counter_ge "$gwa" flows_resumed 1
moves
ktap_info "gwa after: $(entry "$gwa")"
ktap_check "resumed: gwa's entry carries vpnflow-tunneled alone again" \
	busywait 5000 labels_are "$gwa" labels=vpnflow-tunneled
event_after() { tail -n +"$((n0 + 1))" "$tmp/events" | grep -qE 'dport=5001 .*labels=vpnflow-tunneled( |$)'; }
ktap_check "and the listener got that change too" busywait 5000 event_after
sed 's/^/# events: /' "$tmp/events"

touch "$tmp/stop"
busywait 60000 sh -c "! kill -0 $src 2>/dev/null"
sed 's/^/# source: /' "$tmp/source" 2>/dev/null
ktap_check "the stream arrived byte-exact (sha256 at both ends)" \
	sh -c "[ \$(grep -c '^ok ' $tmp/source) = 1 ] && ! grep -q '^bad ' $tmp/source"
ktap_finish
