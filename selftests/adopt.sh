#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Adoption: a conntrack entry labelled vpnflow-tunneled that no flow of
# the module tracks is a tunneled flow whose tunnel is not here yet. With
# label-vpn-flows and preserve-vpn-flows on, its packets are held (no
# cleartext on the WAN) until an SA carries it, then it resumes. The two
# ways such an entry reaches a gateway, on gwa:
#   1. it is older than the module: the module is unloaded while gwa's
#      SAs are gone (stock Linux: the stream leaks in cleartext), then
#      loaded again with label_vpn_flows=1 preserve_vpn_flows=1 (and
#      fast_resume=1: the adopting drop hints the client);
#   2. conntrackd commits it on a gateway that takes over: gwa forgets the
#      stream (its LAN down, SAs gone, the entry deleted) and the entry is
#      created again through ctnetlink with the label, as conntrackd
#      creates it (conntrack -I --label-add); then the LAN comes back.
# Each time the SAs come back last, and the stream must go on byte-exact.
#
#  198.51.100.0/26                                           198.51.100.64/26
#  +--------+     +------------------+  ESP, manual SAs  +---------------+     +--------+
#  | client |-----| gwa         wan0 |==================| wan0      gwb |-----| server |
#  | .2     | lan | label-vpn-flows  | (ip xfrm, no IKE)| counts clear- | lan | .66    |
#  +--------+     | preserve on      |                  | text A -> B   |     +--------+
#                 +------------------+                  +---------------+
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-pair.sh"
pair_require
command -v nft >/dev/null || ktap_skip_all "needs nft(8)"
ktap_plan 15

TCPSTREAM=$VPNFLOW_TOP/selftests/tools/tcpstream.py
tmp=$(mktemp -d)
defer rm -rf "$tmp"
vpnflow_connlabels "$tmp"

gw_pair || ktap_skip_all "cannot create the namespaces"
pair_leak_counter || ktap_skip_all "nft cannot count by secpath"
V() { local ns=$1; shift; "$VPNSYSOPT" -n "$ns" "$@"; }
entry() { ip netns exec "$gwa" conntrack -L -o labels -p tcp --dport "$1" 2>/dev/null | grep "dport=$1"; }
progress() { cat "$tmp/sink.progress" 2>/dev/null || echo 0; }
progress_ge() { [ "$(progress)" -ge "$1" ]; }
moves() { local p; p=$(progress); busywait 30000 progress_ge $((p + 4000)); }
more_leaks() { [ "$(pair_leaks)" -gt "$1" ]; }
# no_leak_for MS: gwb's cleartext counter stays where it is for MS.
no_leak_for() { local l0; l0=$(pair_leaks); ! busywait "$1" more_leaks "$l0"; }
tunnel_up() { pair_sas "$gwa" add && pair_pols "$gwa" add $A_LAN $B_LAN; }
tunnel_gone() { pair_pols "$gwa" del $A_LAN $B_LAN; pair_sas "$gwa" del; }

load() { insmod "$VPNFLOW_KO" "$@"; }
for dep in $(modinfo -F depends "$VPNFLOW_KO" | tr , ' '); do modprobe "$dep"; done
load label_vpn_flows=1 preserve_vpn_flows=1 || ktap_skip_all "cannot load the module"
defer vpnflow_unload
pair_sas "$gwb" add && pair_pols "$gwb" add $B_LAN $A_LAN
tunnel_up

ip netns exec "$server" python3 "$TCPSTREAM" sink 5001 "$tmp/sink" &
defer kill $!
busywait 10000 sh -c "ip netns exec $server ss -Hltn 'sport = :5001' | grep -q LISTEN"
# Two streams: one for each way (5001 the first, 5002 the second).
ip netns exec "$client" python3 "$TCPSTREAM" source $SERVER 5001 1 8000 "$tmp/stop" "$tmp/source1" 3600 &
src1=$!
defer kill $src1
busywait 20000 progress_ge 16000
ktap_info "gwa: $(entry 5001)"
sport1=$(entry 5001 | grep -m1 -o 'sport=[0-9]*' | head -n 1 | cut -d= -f2)
ktap_check "the stream's entry on gwa is labelled vpnflow-tunneled" \
	sh -c "ip netns exec $gwa conntrack -L -o labels -p tcp --dport 5001 2>/dev/null | grep -q 'labels=vpnflow-tunneled'"

# --- 1. older than the module ---
tunnel_gone
vpnflow_unload
l0=$(pair_leaks)
ktap_check "stock Linux (module unloaded, SAs gone): the stream leaks in cleartext" busywait 20000 more_leaks "$l0"
ktap_info "stock: $(( $(pair_leaks) - l0 )) cleartext packets at gwb so far"
load label_vpn_flows=1 preserve_vpn_flows=1 fast_resume=1
adopted() { vpnflow_counter_ge "$gwa" flows_adopted "$1"; }
ktap_check "module loaded again: gwa adopts the labelled entry" busywait 20000 adopted 1
# The packet that adopts is the flow's first drop: fast-resume's burst
# goes with it, not with the client's next (backed-off) retransmission.
h=$(vpnflow_counter "$gwa" icmp_hints)
ktap_check "fast-resume: the adopting drop hints the client at once (icmp-hints $h >= 15)" \
	[ "$h" -ge 15 ]
ktap_check "adopted: no cleartext packet reaches gwb (5 s)" no_leak_for 5000
V "$gwa" show conn preserved | sed 's/^/# gwa: /'
ktap_check "show conn preserved lists it" sh -c "'$VPNSYSOPT' -n $gwa show conn preserved | grep -q '/5001,'"
V "$gwa" show vpn-context | sed 's/^/# gwa: /'
ktap_check "its entry carries vpnflow-tunneled and vpnflow-preserved" \
	sh -c "ip netns exec $gwa conntrack -L -o labels -p tcp --dport 5001 2>/dev/null | grep -q 'labels=vpnflow-tunneled,vpnflow-preserved'"
tunnel_up
# resumed N: flows-resumed reaches N within 40 s, and the stream moves on.
resumed() { busywait 40000 vpnflow_counter_ge "$gwa" flows_resumed "$1" && moves; }
ktap_check "SAs back: the adopted flow resumes and the stream moves on" resumed 1
ktap_info "1: adopted $(vpnflow_counter "$gwa" flows_adopted), resumed $(vpnflow_counter "$gwa" flows_resumed), dropped $(vpnflow_counter "$gwa" pkts_dropped)"

# --- 2. committed by conntrackd (created through ctnetlink with the label) ---
ip netns exec "$client" python3 "$TCPSTREAM" source $SERVER 5001 1 8000 "$tmp/stop2" "$tmp/source2" 3600 &
src2=$!
defer kill $src2
p0=$(progress)
busywait 20000 progress_ge $((p0 + 16000))
port2=$(entry 5001 | grep -o 'sport=[0-9]*' | cut -d= -f2 | sort -u | grep -vx -e 5001 -e "$sport1" | head -n 1)
e2=$(ip netns exec "$gwa" conntrack -L -o labels -p tcp --sport "$port2" --dport 5001 2>/dev/null)
ktap_info "second stream: $e2"
a0=$(vpnflow_counter "$gwa" flows_adopted)
r0=$(vpnflow_counter "$gwa" flows_resumed)
ip -n "$gwa" link set lan0 down		# the client's traffic stops reaching gwa
tunnel_gone
ip netns exec "$gwa" conntrack -D -p tcp --sport "$port2" --dport 5001 >/dev/null 2>&1
gone() { ! ip netns exec "$gwa" conntrack -L -p tcp --sport "$port2" --dport 5001 2>/dev/null | grep -q .; }
busywait 5000 gone
ip netns exec "$gwa" conntrack -I -p tcp -s 198.51.100.2 -d $SERVER --sport "$port2" --dport 5001 \
	--state ESTABLISHED -u ASSURED -t 3600 --label-add vpnflow-tunneled >/dev/null 2>"$tmp/ins.err"
cat "$tmp/ins.err" | sed 's/^/# conntrack -I: /'
ktap_check "the entry is back through ctnetlink, labelled vpnflow-tunneled" \
	sh -c "ip netns exec $gwa conntrack -L -o labels -p tcp --sport $port2 --dport 5001 2>/dev/null | grep -q 'labels=vpnflow-tunneled'"
l1=$(pair_leaks)
ip -n "$gwa" link set lan0 up
ktap_check "LAN back: gwa adopts the committed entry" busywait 30000 adopted $((a0 + 1))
ktap_check "adopted: no cleartext packet reaches gwb (5 s)" no_leak_for 5000
ktap_info "2: cleartext at gwb since the LAN came back: $(( $(pair_leaks) - l1 ))"
tunnel_up
# Stream 1, preserved as a tracked flow meanwhile, resumes too.
ktap_check "SAs back: the committed flow resumes (with stream 1)" resumed $((r0 + 2))

touch "$tmp/stop" "$tmp/stop2"
busywait 60000 sh -c "! kill -0 $src1 2>/dev/null && ! kill -0 $src2 2>/dev/null"
sed 's/^/# source 1: /' "$tmp/source1" 2>/dev/null
sed 's/^/# source 2: /' "$tmp/source2" 2>/dev/null
exact() { [ "$(grep -c '^ok ' "$1")" = 1 ] && ! grep -q '^bad ' "$1"; }
ktap_check "stream 1 (older than the module) arrived byte-exact" exact "$tmp/source1"
ktap_check "stream 2 (committed through ctnetlink) arrived byte-exact" exact "$tmp/source2"
ktap_check "counters: flows-adopted 2, also in flows-preserved" \
	sh -c "[ $(vpnflow_counter "$gwa" flows_adopted) = 2 ] && [ $(vpnflow_counter "$gwa" flows_preserved) -ge 2 ]"
ktap_finish
