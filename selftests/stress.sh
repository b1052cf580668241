#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Stress, bounded in time: SA churn and rekeys while flows run, tunnel flaps
# with preserve-vpn-flows, concurrent configuration from several processes,
# flow churn, a full conntrack table, the per-namespace flow limit
# (max_flows), namespaces created and destroyed with live tunnels and
# preserved flows, and rmmod under traffic, with preserved flows and with
# events pending. Every phase prints its cycles, flows and duration; the
# module's counters must stay consistent and its memory come back.
#
#  198.51.100.0/26                                              198.51.100.64/26
#  +--------+     +-------------+   ESP, manual SAs   +-------------+     +--------+
#  | client |-----| gwa    wan0 |=====================| wan0    gwb |-----| server |
#  | .2     | lan | .1 192.0.2.1|  (ip xfrm, no IKE)  |192.0.2.2 .65| lan | .66    |
#  +--------+     +-------------+                     +-------------+     +--------+
#  The tunnel gwa<->gwb is keyed by hand (reqid 1, SPIs 0x10000+gen a->b,
#  0x20000+gen b->a): a rekey adds the next pair then deletes the old one
#  (make-before-break), a flap deletes the pair then adds the next one.
#  SA churn adds and deletes SAs (ESP over IPv4 and IPv6, AH flushed) to
#  other peers, some with policies, in the gateways while traffic runs.
#
#  Netns churn (phase 7) uses its own pairs of namespaces, created and
#  destroyed in a loop, with gateway-local TCP flows through manual SAs:
#  +---------------------+   veth, ESP   +---------------------+
#  | na 10.1.0.1 (lo)    |===============| nb 10.2.0.1 (lo)    |
#  |    192.0.2.1 w      |               |    192.0.2.2 w      |
#  +---------------------+               +---------------------+
#
#  STRESS_SCALE=N multiplies every cycle and flow count (default 1, which
#  keeps the test within a few minutes under TCG).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-pair.sh"
pair_require

SCALE=${STRESS_SCALE:-1}
sc() { echo $(($1 * SCALE)); }
# STRESS_PHASES="1 3": run only these phases (the others' cases are skipped).
PHASES=${STRESS_PHASES:-1 2 3 4 5 6 7 8}
# phase N CASES: run pN if selected, else skip its CASES cases.
phase()
{
	local i
	if [[ " $PHASES " == *" $1 "* ]]; then
		"p$1"
	else
		for ((i = 0; i < $2; i++)); do ktap_skip "phase $1 not selected (STRESS_PHASES)"; done
	fi
}
ktap_plan 37

TOOLS=$VPNFLOW_TOP/selftests/tools
TCPSTREAM=$TOOLS/tcpstream.py
UDPSTREAM=$TOOLS/udpstream.py
KEY=0x0102030405060708090a0b0c0d0e0f1011121314
AHKEY=0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
PARAMS=/sys/module/vpnflow_preserve/parameters
CT_MAX0=$(sysctl -n net.netfilter.nf_conntrack_max)

tmp=$(mktemp -d)
defer rm -rf "$tmp"
t_start=$SECONDS

V() { local ns=$1; shift; "$VPNSYSOPT" -n "$ns" "$@"; }
# cnt NETNS KEY: one counter (the JSON is one line of flat members).
cnt()
{
	local j
	j=$(V "$1" -j show counters) && [[ $j =~ \"$2\":([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
}
# wait_until TIMEOUT_MS CMD...: busywait, polling every 0.25 s (each poll
# runs a few programs: under TCG a faster poll would take the CPU away
# from what it waits for). VPNFLOW_SLOW scales the timeout, as busywait's.
wait_until()
{
	local end=$((${EPOCHREALTIME/./} / 1000 + $1 * VPNFLOW_SLOW))
	shift
	until "$@"; do
		[ $((${EPOCHREALTIME/./} / 1000)) -lt "$end" ] || return 1
		sleep 0.25
	done
}
ct_count() { ip netns exec "$1" sysctl -n net.netfilter.nf_conntrack_count; }
ct_is() { [ "$(ct_count "$1")" = "$2" ]; }
ct_le() { [ "$(ct_count "$1")" -le "$2" ]; }
# slab_objects CACHE: objects in use, after the per-cpu slabs are flushed
# (otherwise their free objects count as used).
slab_objects()
{
	echo 1 >"/sys/kernel/slab/$1/shrink" 2>/dev/null
	cut -d' ' -f1 "/sys/kernel/slab/$1/objects" 2>/dev/null || echo 0
}
ct_objects_le() { [ "$(slab_objects nf_conntrack)" -le "$1" ]; }
info() { ktap_info "$*"; }
# Every case says how long it took (the stress must stay bounded in time).
ktap_check()
{
	local desc=$1 t=$SECONDS rc
	shift
	"$@"
	rc=$?
	[ $((SECONDS - t)) -lt 2 ] || info "($((SECONDS - t)) s)"
	if [ "$rc" = 0 ]; then ktap_ok "$desc"; else ktap_fail "$desc"; fi
}

vpnflow_unload
dmesg -C
base_ct_objs=$(slab_objects nf_conntrack)

# --- the topology (lib-pair.sh) and the manual tunnel ---
# (Churn entries stay until deleted by hand: flow counts are exact.)
gw_pair || ktap_skip_all "cannot create the namespaces"

# The live tunnel's SAs, generation GEN: SPI 0x10000+GEN a->b, 0x20000+GEN
# b->a, reqid 1 (both gateways hold both SAs).
GEN=0
# sa_ops MODE GW FROM [N]: ip -batch lines for gateway GW (a or b):
#   up      add the pair of generation FROM (the inbound SA first)
#   rekey   N times: add the pair FROM+k+1, then delete the pair FROM+k
#   flap    N times: delete the pair FROM+k (the outbound SA first), then
#           add the pair FROM+k+1
sa_ops()
{
	awk -v mode="$1" -v gw="$2" -v from="$3" -v n="${4:-1}" -v a=$GWA -v b=$GWB -v key=$KEY '
	function add(s, d, spi) {
		printf "xfrm state add src %s dst %s proto esp spi %d reqid 1 mode tunnel aead rfc4106(gcm(aes)) %s 128\n", s, d, spi, key
	}
	function del(s, d, spi) { printf "xfrm state delete src %s dst %s proto esp spi %d\n", s, d, spi }
	function up(g) {
		if (gw == "a") { add(b, a, 131072 + g); add(a, b, 65536 + g) }
		else { add(a, b, 65536 + g); add(b, a, 131072 + g) }
	}
	function down(g) {
		if (gw == "a") { del(a, b, 65536 + g); del(b, a, 131072 + g) }
		else { del(b, a, 131072 + g); del(a, b, 65536 + g) }
	}
	BEGIN {
		if (mode == "up")
			up(from)
		for (g = from; mode != "up" && g < from + n; g++)
			if (mode == "rekey") { up(g + 1); down(g) } else { down(g); up(g + 1) }
	}'
}
policies()
{
	local me=$1 peer=$2 mine=$3 theirs=$4
	echo "xfrm policy add src $mine dst $theirs dir out tmpl src $me dst $peer proto esp reqid 1 mode tunnel"
	echo "xfrm policy add src $theirs dst $mine dir fwd tmpl src $peer dst $me proto esp reqid 1 mode tunnel"
}

# batch NETNS FILE: ip -batch (ip xfrm stops at the first failure); fails
# if a command failed.
batch()
{
	ip -n "$1" -batch "$2" 2>"$2.err"
	! grep -q . "$2.err"
}

# both FILE_A FILE_B: the two batches on gwa and gwb at the same time.
both()
{
	local rc=0 pa
	batch "$gwa" "$1" &
	pa=$!
	batch "$gwb" "$2" || rc=1
	wait $pa || rc=1
	return $rc
}
# The live tunnel down: every ESP SA flushed on both gateways (at the
# times this is used, the live tunnel's are the only ones); up: the next
# generation's pair added. Policies stay.
tunnel_down()
{
	GEN=$((GEN + 1))
	ip -n "$gwa" xfrm state flush proto esp &
	local pa=$!
	ip -n "$gwb" xfrm state flush proto esp && wait $pa
}
tunnel_up()
{
	sa_ops up a "$GEN" >"$tmp/up.a"
	sa_ops up b "$GEN" >"$tmp/up.b"
	both "$tmp/up.a" "$tmp/up.b"
}
sa_count() { ip -n "$1" xfrm state | grep -c '^src'; }
# streams_stop: stop every stream still running (a failed check may have
# left one), without judging them.
streams_stop()
{
	local f pid
	for f in "$tmp"/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		touch "${f%.pid}.stop"
		wait_until 60000 sh -c "! kill -0 $pid 2>/dev/null" || kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		rm -f "$f"
	done
}
# phase_start: no stream left running, the live tunnel up with one SA pair
# on each side, no conntrack entry (so no tracked flow) from earlier phases.
phase_start()
{
	streams_stop
	if [ "$(sa_count "$gwa")" != 2 ] || [ "$(sa_count "$gwb")" != 2 ]; then
		info "the live tunnel needs a reset: $(sa_count "$gwa") / $(sa_count "$gwb") SAs"
		tunnel_down; tunnel_up
	fi
	ct_clean || info "flows left tracked: $(cnt "$gwa" flows) / $(cnt "$gwb" flows)"
}

# churn_ops GW N OUT: N cycles of add + delete of an ESP SA to another
# peer (IPv4; every 4th IPv6), every 8th with a policy (added and deleted:
# the tunnel comes up with selectors and is reclassified), every 16th
# followed by an AH SA that is flushed ("flush proto ah": one FLUSHSA).
# Writes the commands to OUT; prints how many SA and policy notifications
# they make: "SA_EVENTS POLICY_EVENTS".
churn_ops()
{
	awk -v gw="$1" -v n="$2" -v out="$3" -v key=$KEY -v ahkey=$AHKEY '
	BEGIN {
		me = gw == "a" ? "192.0.2.1" : "192.0.2.2"
		me6 = gw == "a" ? "2001:db8:1::1" : "2001:db8:2::2"
		esp = "mode tunnel aead rfc4106(gcm(aes)) " key " 128"
		printf "" >out
		for (i = 1; i <= n; i++) {
			reqid = 100 + i % 7
			spi = 3145728 + i
			if (i % 4 == 0) {
				peer = sprintf("2001:db8:ff::%x", i % 4000 + 1)
				printf "xfrm state add src %s dst %s proto esp spi %d reqid %d %s\n", me6, peer, spi, reqid, esp >out
				printf "xfrm state delete src %s dst %s proto esp spi %d\n", me6, peer, spi >out
			} else {
				peer = sprintf("10.%d.%d.%d", int(i / 250) % 250, i % 250 + 1, gw == "a" ? 1 : 2)
				printf "xfrm state add src %s dst %s proto esp spi %d reqid %d %s\n", me, peer, spi, reqid, esp >out
				if (i % 8 == 1) {
					sel = sprintf("src 10.200.%d.0/24 dst 10.201.%d.0/24", i % 250, i % 250)
					printf "xfrm policy add %s dir out tmpl src %s dst %s proto esp reqid %d mode tunnel\n", sel, me, peer, reqid >out
					printf "xfrm policy delete %s dir out\n", sel >out
					pol += 2
				}
				printf "xfrm state delete src %s dst %s proto esp spi %d\n", me, peer, spi >out
			}
			sa += 2
			if (i % 16 == 0) {
				printf "xfrm state add src %s dst 10.250.%d.1 proto ah spi %d reqid 9 mode tunnel auth hmac(sha256) %s\n", me, i % 250, 4194304 + i, ahkey >out
				printf "xfrm state flush proto ah\n" >out
				sa += 2
			}
		}
		print sa + 0, pol + 0
	}'
}

# --- module state checks ---
# consistent NETNS: counters, vpn-context and show conn agree with each
# other (taken while nothing changes): no gauge below zero or beyond the
# tracked flows, tunnels_up - tunnels_down = tunnels up now, per-tunnel
# flow counts add up to the gauges, and show conn lists every flow.
consistent()
{
	local ns=$1
	V "$ns" -j show counters >"$tmp/c.json" &&
	V "$ns" -j show vpn-context >"$tmp/t.json" &&
	V "$ns" -j show conn >"$tmp/f.json" || return 1
	python3 - "$tmp" <<-'PY'
	import json, sys
	d = sys.argv[1]
	c = json.load(open(d + '/c.json'))
	t = json.load(open(d + '/t.json'))
	f = json.load(open(d + '/f.json'))
	bad = []
	for k, v in c.items():
	    if not isinstance(v, int) or v < 0 or v >= 1 << 62 or (k.startswith('flows') and v >= 1 << 31):
	        bad.append(f'{k}={v}')
	up = sum(1 for x in t if x['state'] == 'up')
	if c['tunnels_up'] - c['tunnels_down'] != up:
	    bad.append(f'tunnels_up {c["tunnels_up"]} - tunnels_down {c["tunnels_down"]} != {up} up')
	if sum(x['flows'] for x in t) != c['flows']:
	    bad.append(f'tunnel flows {sum(x["flows"] for x in t)} != flows {c["flows"]}')
	if sum(x['flows_held'] for x in t) != c['flows_held']:
	    bad.append(f'tunnel flows_held != flows_held {c["flows_held"]}')
	if c['flows_held'] > c['flows'] or len(f) != c['flows']:
	    bad.append(f'show conn {len(f)} flows, gauge {c["flows"]}, held {c["flows_held"]}')
	if sum(1 for x in f if x['state'] == 'preserved') != c['flows_held']:
	    bad.append('preserved flows in show conn != flows_held')
	for b in bad:
	    print('# inconsistent: ' + b)
	sys.exit(1 if bad else 0)
	PY
}
# The three snapshots are taken one after the other: a flow the GC or the
# data path adds or removes in between makes them disagree for a moment.
# Consistent means: they agree within 20 s (the debug kernel is slow).
consistent_quiet() { consistent "$gwa" >/dev/null && consistent "$gwb" >/dev/null; }
consistent_both()
{
	wait_until 20000 consistent_quiet && return 0
	consistent "$gwa"
	consistent "$gwb"
	return 1
}

held_is() { [ "$(cnt "$1" flows_held)" = "$2" ]; }
held_both() { held_is "$gwa" "$1" && held_is "$gwb" "$1"; }
held_ge() { [ "$(cnt "$1" flows_held)" -ge "$2" ]; }
gauge_is() { [ "$(cnt "$1" flows)" = "$2" ]; }
gauge_ge() { [ "$(cnt "$1" flows)" -ge "$2" ]; }
ntunnels() { V "$1" -j show vpn-context | grep -o '"id":' | wc -l; }
one_tunnel_each() { [ "$(ntunnels "$gwa")" = 1 ] && [ "$(ntunnels "$gwb")" = 1 ]; }
# ct_clean: conntrack forgets the (finished) flows of earlier phases, the
# module's GC follows: both gauges back to 0.
ct_clean()
{
	local ns
	# Connections of the last phase still closing would be picked up
	# again (mid-stream, loose tracking) after the delete.
	wait_until 60000 tcp_quiet || info "TCP connections still closing: $(tcp_open)"
	for ns in "$gwa" "$gwb"; do
		ip netns exec "$ns" conntrack -D -p tcp >/dev/null 2>&1
		ip netns exec "$ns" conntrack -D -p udp >/dev/null 2>&1
	done
	wait_until 30000 gauge_is "$gwa" 0 && wait_until 30000 gauge_is "$gwb" 0
}

# tcp_open: the client's and the server's TCP connections that are open or
# closing (TIME-WAIT sends nothing more); tcp_quiet: there are none.
tcp_open()
{
	local ns
	for ns in "$client" "$server"; do
		ip netns exec "$ns" ss -Htn state all exclude listening exclude time-wait
	done
}
tcp_quiet() { [ -z "$(tcp_open)" ]; }

# --- traffic ---
# A sink on the server (port 5001) for every TCP stream; a UDP sink on 9001.
ip netns exec "$server" python3 "$TCPSTREAM" sink 5001 "$tmp/sink" &
defer kill $!
ip netns exec "$server" python3 "$UDPSTREAM" recv 9001 "$tmp/udp" &
defer kill $!
sink_progress() { cat "$tmp/sink.progress" 2>/dev/null || echo 0; }
# advancing: the sink got 20 kB more within 60 s.
advancing()
{
	local p0
	p0=$(sink_progress)
	wait_until 60000 sh -c "[ \$(cat $tmp/sink.progress 2>/dev/null || echo 0) -ge $((p0 + 20000)) ]"
}

# stream_start NAME N RATE: N TCP connections client -> server, RATE B/s each,
# until stream_stop. The source's own deadline is only a safety net, far
# beyond a phase's length (phase 8 takes 16 min on the debug kernel): a
# stream that reaches it stops sending, and stream_stop reports it as bad.
stream_start()
{
	rm -f "$tmp/$1.stop" "$tmp/$1.out"
	ip netns exec "$client" python3 "$TCPSTREAM" source $SERVER 5001 "$2" "$3" \
		"$tmp/$1.stop" "$tmp/$1.out" 3600 &
	echo $! >"$tmp/$1.pid"
	defer kill $!
}
# five_flows_start PHASE NAME SPORT: 4 TCP streams NAME (10 kB/s each) and
# a UDP stream from port SPORT, then wait until the 5 flows are tracked on
# both gateways. Sets the caller's udp to the UDP sender's pid.
five_flows_start()
{
	stream_start "$2" 4 10000
	ip netns exec "$client" python3 "$UDPSTREAM" send $SERVER 9001 20 3600 "$3" &
	udp=$!
	defer kill $udp
	wait_until 30000 gauge_is "$gwa" 5 && wait_until 30000 gauge_is "$gwb" 5 ||
		info "$1: flows tracked: $(cnt "$gwa" flows) / $(cnt "$gwb" flows) of 5"
}
# stream_stop NAME N: stop it; every connection delivered exactly what it
# sent (bytes and sha256), checked by the sink.
stream_stop()
{
	local pid
	pid=$(cat "$tmp/$1.pid")
	touch "$tmp/$1.stop"
	wait_until 180000 sh -c "! kill -0 $pid 2>/dev/null"
	wait "$pid"
	local rc=$?
	rm -f "$tmp/$1.pid"
	info "stream $1: $(awk '{ n++; b += $2 } END { print n " connections, " b " bytes" }' "$tmp/$1.out" 2>/dev/null)"
	[ "$rc" = 0 ] && [ "$(grep -c '^ok ' "$tmp/$1.out")" = "$2" ] ||
		{ sed 's/^/# /' "$tmp/$1.out" 2>/dev/null; return 1; }
}
# run_bg NAME CMD...: CMD in the background; its status in $tmp/NAME.rc,
# its duration in $tmp/NAME.t.
run_bg()
{
	local n=$1
	shift
	rm -f "$tmp/$n.rc"
	( t=$SECONDS; "$@"; r=$?; echo $((SECONDS - t)) >"$tmp/$n.t"; echo $r >"$tmp/$n.rc" ) &
}
bg_done() { local n; for n in "$@"; do [ -f "$tmp/$n.rc" ] || return 1; done; }
rc_ok() { local n; for n in "$@"; do [ "$(cat "$tmp/$n.rc" 2>/dev/null)" = 0 ] || return 1; done; }
took() { local n; for n in "$@"; do echo -n "$n $(cat "$tmp/$n.t" 2>/dev/null) s, "; done; }
bg_errors() { local n; for n in "$@"; do head -n 2 "$n.err" 2>/dev/null | sed "s|^|# $n: |"; done; }

# ======================================================================
vpnflow_load || ktap_skip_all "cannot load the module"
defer vpnflow_unload
defer "echo $CT_MAX0 >/proc/sys/net/netfilter/nf_conntrack_max"
defer "[ -d $PARAMS ] && echo 1048576 >$PARAMS/max_flows && echo 0 >$PARAMS/preserve_vpn_flows"

setup_ok()
{
	{ sa_ops up a 0; policies $GWA $GWB $A_LAN $B_LAN; } >"$tmp/setup.a"
	{ sa_ops up b 0; policies $GWB $GWA $B_LAN $A_LAN; } >"$tmp/setup.b"
	both "$tmp/setup.a" "$tmp/setup.b" &&
	V "$gwa" connection preserve-vpn-flows && V "$gwb" connection preserve-vpn-flows &&
	wait_until 20000 test -f "$tmp/sink.progress" || return 1
	stream_start s0 1 20000
	wait_until 30000 gauge_is "$gwa" 1 && wait_until 30000 gauge_is "$gwb" 1 && stream_stop s0 1 && ct_clean
}
ktap_check "setup: manual-SA tunnel carries a checked TCP stream, tracked on both gateways" setup_ok

# ======================================================================
# Phase 1: rekeys of the live tunnel and SA churn to other peers, all at
# once on both gateways, while 4 TCP streams and a UDP stream run.
p1()
{
	local t0=$SECONDS nrekey nchurn ev_a ev_b pe_a pe_b sa pol tid0 pres_a pres_b udp
	nrekey=$(sc 400)
	nchurn=$(sc 1000)
	phase_start
	five_flows_start p1 s1 41000
	tid0=$(V "$gwa" -j show vpn-context | grep -o '"id":[0-9]*')
	ev_a=$(cnt "$gwa" sa_events); ev_b=$(cnt "$gwb" sa_events)
	pe_a=$(cnt "$gwa" policy_events); pe_b=$(cnt "$gwb" policy_events)
	pres_a=$(cnt "$gwa" flows_preserved); pres_b=$(cnt "$gwb" flows_preserved)

	sa_ops rekey a "$GEN" "$nrekey" >"$tmp/rk.a"
	sa_ops rekey b "$GEN" "$nrekey" >"$tmp/rk.b"
	churn_ops a "$nchurn" "$tmp/ch.a" >"$tmp/ch.n"
	read -r sa pol <"$tmp/ch.n"
	churn_ops b "$nchurn" "$tmp/ch.b" >/dev/null
	run_bg rka batch "$gwa" "$tmp/rk.a"
	run_bg rkb batch "$gwb" "$tmp/rk.b"
	run_bg cha batch "$gwa" "$tmp/ch.a"
	run_bg chb batch "$gwb" "$tmp/ch.b"
	wait_until 300000 bg_done rka rkb cha chb
	GEN=$((GEN + nrekey))
	info "p1: ip -batch took: $(took rka rkb cha chb)"
	check1() {
		rc_ok rka rkb cha chb || { bg_errors "$tmp/rk.a" "$tmp/rk.b" "$tmp/ch.a" "$tmp/ch.b"; return 1; }
		[ "$(sa_count "$gwa")" = 2 ] && [ "$(sa_count "$gwb")" = 2 ]
	}
	ktap_check "SA churn: $nrekey rekeys and $nchurn SA add/delete cycles per gateway, every command applied" check1
	local want=$((nrekey * 4 + sa))
	check2() {
		local a b pa pb
		a=$(( $(cnt "$gwa" sa_events) - ev_a )); b=$(( $(cnt "$gwb" sa_events) - ev_b ))
		pa=$(( $(cnt "$gwa" policy_events) - pe_a )); pb=$(( $(cnt "$gwb" policy_events) - pe_b ))
		info "p1: sa_events +$a on gwa, +$b on gwb (expected +$want); policy_events +$pa / +$pb (expected +$pol)"
		[ "$a" = "$want" ] && [ "$b" = "$want" ] && [ "$pa" = "$pol" ] && [ "$pb" = "$pol" ]
	}
	ktap_check "SA churn: every SA and policy notification counted, exactly" check2
	check3() {
		local tid1
		wait_until 60000 one_tunnel_each || { info "p1: tunnels left: $(ntunnels "$gwa") / $(ntunnels "$gwb")"; return 1; }
		tid1=$(V "$gwa" -j show vpn-context | grep -o '"id":[0-9]*')
		info "p1: live tunnel $tid0 -> $tid1, flows preserved +$(( $(cnt "$gwa" flows_preserved) - pres_a )) / +$(( $(cnt "$gwb" flows_preserved) - pres_b ))"
		[ "$(cnt "$gwa" flows_preserved)" = "$pres_a" ] && [ "$(cnt "$gwb" flows_preserved)" = "$pres_b" ] &&
			[ "$tid0" = "$tid1" ] && held_both 0
	}
	ktap_check "SA churn: churned tunnels freed; the rekeys never took the live tunnel down" check3
	kill $udp
	check4() { stream_stop s1 4 && consistent_both; }
	ktap_check "SA churn: streams intact (sha256), counters consistent" check4
	info "phase 1 (SA churn): $nrekey rekeys + $nchurn churn cycles per gateway, $((2 * want)) SA and $((2 * pol)) policy operations, 5 flows, $((SECONDS - t0)) s"
}
phase 1 4

# ======================================================================
# Phase 2: the live tunnel flaps (SAs deleted, new ones added) with
# preserve-vpn-flows on: waited flaps (preserved, then resumed, on both
# gateways, events seen by a monitor) and quick flaps (no waiting).
p2()
{
	local t0=$SECONDS k nwait nquick ok=0 p_a r_a d_a udp mon
	nwait=$(sc 5)
	nquick=$(sc 150)
	phase_start
	five_flows_start p2 s2 41001
	p_a=$(cnt "$gwa" flows_preserved); r_a=$(cnt "$gwa" flows_resumed); d_a=$(cnt "$gwa" tunnels_down)
	"$VPNSYSOPT" -n "$gwa" -j monitor >"$tmp/mon" 2>"$tmp/mon.err" &
	mon=$!
	defer kill $mon
	# Subscribed: a generic netlink socket with multicast groups in gwa.
	wait_until 20000 sh -c "ip netns exec $gwa cat /proc/net/netlink | awk '\$2 == 16 && \$4 != \"00000000\"' | grep -q ."
	for ((k = 1; k <= nwait; k++)); do
		if tunnel_down &&
		   wait_until 30000 held_is "$gwa" 4 && wait_until 30000 held_is "$gwb" 4 &&
		   tunnel_up && wait_until 90000 held_both 0; then
			ok=$((ok + 1))
		else
			info "p2: flap $k: held $(cnt "$gwa" flows_held) / $(cnt "$gwb" flows_held)"
			tunnel_down; tunnel_up
		fi
	done
	kill $mon
	wait $mon 2>/dev/null
	local dp=$(( $(cnt "$gwa" flows_preserved) - p_a )) dr=$(( $(cnt "$gwa" flows_resumed) - r_a ))
	info "p2: $ok/$nwait waited flaps; gwa preserved +$dp resumed +$dr tunnels_down +$(( $(cnt "$gwa" tunnels_down) - d_a ))"
	ktap_check "flaps: $nwait waited flaps: 4 TCP flows preserved then resumed on both gateways each time" \
		[ "$ok" = "$nwait" -a "$dp" = $((4 * nwait)) -a "$dr" = "$dp" ]
	mon_ok() {
		local mp mr
		mp=$(grep -c '"event":"preserved"' "$tmp/mon"); mr=$(grep -c '"event":"resumed"' "$tmp/mon")
		info "p2: monitor saw $mp preserved, $mr resumed events$(grep -q lost "$tmp/mon.err" && echo ' (it reported lost events)')"
		[ "$mp" = "$dp" ] && [ "$mr" = "$dr" ]
	}
	ktap_check "flaps: one netlink event per preserved and per resumed flow" mon_ok

	sa_ops flap a "$GEN" "$nquick" >"$tmp/fl.a"
	sa_ops flap b "$GEN" "$nquick" >"$tmp/fl.b"
	run_bg fl both "$tmp/fl.a" "$tmp/fl.b"
	wait_until 120000 bg_done fl
	GEN=$((GEN + nquick))
	info "p2: quick flaps took $(took fl)"
	quick_ok() {
		rc_ok fl || { bg_errors "$tmp/fl.a" "$tmp/fl.b"; return 1; }
		wait_until 120000 held_both 0 && advancing
	}
	ktap_check "flaps: $nquick quick flaps on both gateways: every flow resumed, traffic flows" quick_ok
	kill $udp
	ident() {
		local ns c r=0
		stream_stop s2 4 || r=1
		for ns in "$gwa" "$gwb"; do
			c=$(V "$ns" -j show counters)
			python3 -c '
import json, sys
c = json.loads(sys.argv[1])
ok = c["flows_preserved"] == c["flows_resumed"] + c["flows_expired"] + c["flows_held"]
print("# preserved %(flows_preserved)d resumed %(flows_resumed)d expired %(flows_expired)d held %(flows_held)d torn_down %(flows_torn_down)d tunnels up %(tunnels_up)d down %(tunnels_down)d" % c)
sys.exit(not ok)' "$c" || r=1
		done
		consistent_both || r=1
		return $r
	}
	ktap_check "flaps: preserved = resumed + expired + held; streams intact; counters consistent" ident
	info "phase 2 (flaps): $nwait waited + $nquick quick flaps, 5 flows, $((SECONDS - t0)) s"
}
phase 2 4

# ======================================================================
# Phase 3: several processes change the options of both gateways at once
# (the same option from two processes, every option, -f files, readers)
# while SAs churn, the live tunnel flaps and streams run.
W_FAIL=$tmp/wfail
w_toggle()
{
	local ns=$1 m=$2 i
	for ((i = 0; i < m; i++)); do
		if ((i % 2)); then V "$ns" no connection preserve-vpn-flows; else V "$ns" connection preserve-vpn-flows; fi ||
			echo "toggle $i" >>"$W_FAIL"
	done
}
w_opts()
{
	local ns=$1 m=$2 i
	local cmds=("connection tcpmss 1300" "connection tcpmss minimum 536" "connection tcpmss auto"
		"no connection tcpmss auto" "connection tcpmss 1200" "no connection tcpmss minimum"
		"connection tcpmss tunneled-only" "no connection tcpmss tunneled-only"
		"no connection reclassify-vpn" "connection reclassify-vpn" "no connection tcpmss"
		"timeout preserve-vpn-flows 0:10:00" "timeout preserve-vpn-flows 1:00:00")
	for ((i = 0; i < m; i++)); do
		# shellcheck disable=SC2086 # the words of one command
		V "$ns" ${cmds[i % ${#cmds[@]}]} || echo "opts $i: ${cmds[i % ${#cmds[@]}]}" >>"$W_FAIL"
	done
}
w_file()
{
	local ns=$1 m=$2 i
	for ((i = 0; i < m; i++)); do
		V "$ns" -f "$tmp/conf.$((i % 2))" || echo "file $i" >>"$W_FAIL"
	done
}
w_read()
{
	local ns=$1 m=$2 i
	for ((i = 0; i < m; i++)); do
		V "$ns" show conn >/dev/null && V "$ns" show vpn-context detail >/dev/null &&
		V "$ns" show counters >/dev/null && V "$ns" show running-config all >/dev/null ||
			echo "read $i" >>"$W_FAIL"
	done
}
p3()
{
	local t0=$SECONDS m nchurn nflap udp
	m=$(sc 25)
	nchurn=$(sc 500)
	nflap=$(sc 60)
	phase_start
	printf '%s\n' "sysopt connection tcpmss 1350" "no sysopt connection preserve-vpn-flows" \
		"sysopt connection tcpmss auto" >"$tmp/conf.0"
	printf '%s\n' "sysopt connection tcpmss 1250" "sysopt connection preserve-vpn-flows" \
		"no sysopt connection tcpmss auto" "timeout preserve-vpn-flows 0:30:00" >"$tmp/conf.1"
	cat >"$tmp/conf.final" <<-'EOF'
	sysopt connection tcpmss 1360
	sysopt connection tcpmss minimum 0
	sysopt connection reclassify-vpn
	sysopt connection preserve-vpn-flows
	no sysopt connection tcpmss auto
	no sysopt connection tcpmss tunneled-only
	timeout preserve-vpn-flows 1:00:00
	EOF
	: >"$W_FAIL"
	stream_start s3 2 10000
	ip netns exec "$client" python3 "$UDPSTREAM" send $SERVER 9001 20 3600 41002 &
	udp=$!
	defer kill $udp
	wait_until 30000 gauge_is "$gwa" 3 && wait_until 30000 gauge_is "$gwb" 3 ||
		info "p3: flows tracked: $(cnt "$gwa" flows) / $(cnt "$gwb" flows) of 3"
	churn_ops a "$nchurn" "$tmp/ch3.a" >/dev/null
	churn_ops b "$nchurn" "$tmp/ch3.b" >/dev/null
	sa_ops flap a "$GEN" "$nflap" >"$tmp/fl3.a"
	sa_ops flap b "$GEN" "$nflap" >"$tmp/fl3.b"
	local pids=()
	w_toggle "$gwa" "$m" & pids+=($!)
	w_toggle "$gwa" "$m" & pids+=($!)
	w_toggle "$gwb" "$m" & pids+=($!)
	w_opts "$gwa" "$m" & pids+=($!)
	w_opts "$gwb" "$m" & pids+=($!)
	w_file "$gwa" "$m" & pids+=($!)
	w_read "$gwa" $((m / 2)) & pids+=($!)
	w_read "$gwb" $((m / 2)) & pids+=($!)
	run_bg c3a batch "$gwa" "$tmp/ch3.a"
	run_bg c3b batch "$gwb" "$tmp/ch3.b"
	run_bg f3 both "$tmp/fl3.a" "$tmp/fl3.b"
	wait "${pids[@]}"
	wait_until 300000 bg_done c3a c3b f3
	GEN=$((GEN + nflap))
	info "p3: ip -batch took: $(took c3a c3b f3); the writers $((SECONDS - t0)) s"
	w_ok() {
		[ -s "$W_FAIL" ] && { info "p3: failed commands:"; head -n 5 "$W_FAIL" | sed 's/^/#   /'; }
		rc_ok c3a c3b f3 || bg_errors "$tmp/ch3.a" "$tmp/ch3.b" "$tmp/fl3.a" "$tmp/fl3.b"
		[ ! -s "$W_FAIL" ] && rc_ok c3a c3b f3
	}
	ktap_check "concurrent config: $((m * 6 + m)) option writes and $((m * 4)) reads from 8 processes during churn, none failed" w_ok
	final_ok() {
		local ns got
		for ns in "$gwa" "$gwb"; do
			V "$ns" -f "$tmp/conf.final" || return 1
			got=$(V "$ns" show running-config all)
			[ "$got" = "$(cat "$tmp/conf.final")" ] || { info "p3: running-config:"; echo "$got" | sed 's/^/#   /'; return 1; }
		done
	}
	ktap_check "concurrent config: the last write is what the running configuration shows" final_ok
	kill $udp
	after3() {
		local r=0
		wait_until 120000 held_both 0 || { info "p3: held $(cnt "$gwa" flows_held) / $(cnt "$gwb" flows_held)"; r=1; }
		stream_stop s3 2 || r=1
		wait_until 60000 one_tunnel_each && consistent_both || r=1
		return $r
	}
	ktap_check "concurrent config: streams intact, nothing left held, counters consistent" after3
	info "phase 3 (concurrent config): 8 processes x $m commands, $nchurn churn cycles + $nflap flaps per gateway, 3 flows, $((SECONDS - t0)) s"
}
phase 3 3

# ======================================================================
# Phase 4: flow churn: thousands of short TCP connections and one-datagram
# UDP flows through the tunnel; the gauge counts them exactly and returns
# to zero once conntrack drops them, and so does conntrack's count (the
# module keeps no reference).
p4()
{
	local t0=$SECONDS t1 ntcp nudp c_a c_b u_a u_b ns
	ntcp=$(sc 800)
	nudp=$(sc 1500)
	phase_start
	ip netns exec "$server" python3 "$TCPSTREAM" sink 5002 "$tmp/sink2" &
	defer kill $!
	ip netns exec "$server" python3 "$UDPSTREAM" recv 9002 "$tmp/udp2" &
	defer kill $!
	wait_until 20000 sh -c "ip netns exec $server ss -Hln | grep -q ':9002 '"
	wait_until 20000 sh -c "ip netns exec $server ss -Hltn | grep -q ':5002 '"
	# Closed connections keep their entries until the check (TIME_WAIT
	# and CLOSE last 120 s and 10 s: the churn alone takes longer on the
	# debug kernel); back to the defaults after the phase.
	for ns in "$gwa" "$gwb"; do
		ip netns exec "$ns" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=3600 \
			net.netfilter.nf_conntrack_tcp_timeout_close=3600
	done
	c_a=$(ct_count "$gwa"); c_b=$(ct_count "$gwb")
	u_a=$(cnt "$gwa" flows_untracked); u_b=$(cnt "$gwb" flows_untracked)
	ip netns exec "$client" python3 "$TCPSTREAM" churn $SERVER 5002 "$ntcp" 4 "$tmp/churn.out"
	udp_flows $SERVER 9002 20000 "$nudp"
	t1=$SECONDS
	churn_ok() {
		wait_until 30000 sh -c "[ \$(wc -l <$tmp/udp2) = $nudp ]"
		info "p4: tcp $(cat "$tmp/churn.out"), udp received $(wc -l <"$tmp/udp2")/$nudp"
		grep -q "^ok $ntcp bad 0" "$tmp/churn.out" && [ "$(wc -l <"$tmp/udp2")" = "$nudp" ]
	}
	ktap_check "flow churn: $ntcp TCP connections and $nudp UDP flows through the tunnel, all delivered" churn_ok
	local want=$((ntcp + nudp))
	# The churn's conntrack entries in NETNS (held above: TIME_WAIT and
	# CLOSE last an hour in this phase).
	churn_entries()
	{
		echo $(( $(ip netns exec "$1" conntrack -L -p tcp --dport 5002 2>/dev/null | grep -c .) +
			 $(ip netns exec "$1" conntrack -L -p udp --dport 9002 2>/dev/null | grep -c .) ))
	}
	# gauge_is_entries NETNS: every entry of the churn is a tracked flow,
	# in one sample kept in g_NETNS/e_NETNS: entries in CLOSE or UNREPLIED
	# expire meanwhile and the gauge follows at the next GC pass, so
	# re-reading both later may catch them a moment apart.
	gauge_is_entries()
	{
		local g e
		g=$(cnt "$1" flows); e=$(churn_entries "$1")
		printf -v "g_$2" %s "$g"; printf -v "e_$2" %s "$e"
		[ "$g" = "$e" ]
	}
	gauge_ok() {
		local g_a= g_b= e_a= e_b=
		wait_until 30000 gauge_is_entries "$gwa" a
		wait_until 30000 gauge_is_entries "$gwb" b
		info "p4: flows gauge $g_a / $g_b, conntrack entries $e_a / $e_b of $want flows made, untracked +$(( $(cnt "$gwa" flows_untracked) - u_a )) / +$(( $(cnt "$gwb" flows_untracked) - u_b ))"
		[ "$g_a" = "$e_a" ] && [ "$g_b" = "$e_b" ] &&
			[ "$e_a" -ge $((want * 99 / 100)) ] && [ "$e_b" -ge $((want * 99 / 100)) ] &&
			[ "$(cnt "$gwa" flows_untracked)" = "$u_a" ] && [ "$(cnt "$gwb" flows_untracked)" = "$u_b" ]
	}
	ktap_check "flow churn: every conntrack entry of the $want flows is tracked on both gateways, none untracked" gauge_ok
	local t2=$SECONDS
	for ns in "$gwa" "$gwb"; do
		ip netns exec "$ns" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=120 \
			net.netfilter.nf_conntrack_tcp_timeout_close=10
		ip netns exec "$ns" conntrack -D -p tcp --dport 5002 >/dev/null 2>&1
		ip netns exec "$ns" conntrack -D -p udp --dport 9002 >/dev/null 2>&1
	done
	back_ok() {
		wait_until 30000 gauge_is "$gwa" 0 && wait_until 30000 gauge_is "$gwb" 0 &&
		wait_until 30000 ct_is "$gwa" "$c_a" && wait_until 30000 ct_is "$gwb" "$c_b" ||
			{ info "p4: gauge $(cnt "$gwa" flows)/$(cnt "$gwb" flows), conntrack count $(ct_count "$gwa")/$(ct_count "$gwb") (want 0/0, $c_a/$c_b)"; return 1; }
		info "p4: back to zero $((SECONDS - t2)) s after conntrack dropped $((2 * want)) entries"
		consistent_both
	}
	ktap_check "flow churn: gauge and conntrack count back to baseline once conntrack drops the flows" back_ok
	info "phase 4 (flow churn): $ntcp TCP + $nudp UDP flows in $((t1 - t0)) s, $((SECONDS - t0)) s in all"
}
phase 4 3

# ======================================================================
# Phase 5: conntrack table full. nf_conntrack_max is global (writable in
# the initial namespace only) and checked against each namespace's own
# count: set it just above the gateways' counts and push many new flows
# through the tunnel while a stream runs and the tunnel flaps once.
p5()
{
	local t0=$SECONDS n room=150 c_a c_b c0_a c0_b p_a peak max held_ok=0 sampler drops
	n=$(sc 1000)
	phase_start
	# (The gateways' ESP flow is an entry too.)
	c0_a=$(ct_count "$gwa"); c0_b=$(ct_count "$gwb")
	ip netns exec "$server" python3 "$UDPSTREAM" recv 9003 "$tmp/udp3" &
	defer kill $!
	wait_until 20000 sh -c "ip netns exec $server ss -Hln | grep -q ':9003 '"
	stream_start s5 1 20000
	wait_until 30000 gauge_is "$gwa" 1 && wait_until 30000 gauge_is "$gwb" 1
	p_a=$(cnt "$gwa" flows_preserved)
	c_a=$(ct_count "$gwa"); c_b=$(ct_count "$gwb")
	max=$(( (c_a > c_b ? c_a : c_b) + room ))
	( pk=0; while :; do
		v=$(ct_count "$gwa")
		[ "$v" -gt "$pk" ] && pk=$v && echo "$pk" >"$tmp/peak"
		sleep 0.2
	done ) &
	sampler=$!
	defer kill $sampler
	echo "$max" >/proc/sys/net/netfilter/nf_conntrack_max
	udp_flows $SERVER 9003 30000 $((n / 2))
	tunnel_down
	wait_until 30000 held_is "$gwa" 1
	tunnel_up
	udp_flows $SERVER 9003 31000 $((n / 2))
	wait_until 90000 held_both 0 && held_ok=1
	kill $sampler
	peak=$(cat "$tmp/peak" 2>/dev/null || echo 0)
	drops=$(ip netns exec "$gwa" conntrack -S 2>/dev/null | grep -o ' drop=[0-9]*\| early_drop=[0-9]*' |
		awk -F= '{ s += $2 } END { print s + 0 }')
	info "p5: nf_conntrack_max $max: gwa count $c_a -> peak $peak, drop+early_drop $drops, UDP delivered $(wc -l <"$tmp/udp3")/$n, gauge $(cnt "$gwa" flows)"
	ktap_check "conntrack full: the table filled up (conntrack dropped or evicted entries)" [ "$drops" -gt 0 ]
	full_ok() {
		local r=0
		stream_stop s5 1 || r=1
		[ "$held_ok" = 1 ] && [ "$(cnt "$gwa" flows_preserved)" -gt "$p_a" ] || r=1
		return $r
	}
	ktap_check "conntrack full: the stream was preserved and resumed, intact (sha256)" full_ok
	bounded() {
		# Entries conntrack evicted are released by the module's GC.
		wait_until 30000 ct_le "$gwa" "$max" && wait_until 30000 ct_le "$gwb" "$max" &&
			[ "$(cnt "$gwa" flows)" -le "$max" ] && [ "$(cnt "$gwb" flows)" -le "$max" ]
	}
	ktap_check "conntrack full: counts back within nf_conntrack_max, gauges too" bounded
	echo "$CT_MAX0" >/proc/sys/net/netfilter/nf_conntrack_max
	back5() {
		# At most the baseline: an entry of it may expire meanwhile (with
		# phases skipped, one left by the phase before did).
		ct_clean && wait_until 30000 ct_le "$gwa" "$c0_a" && wait_until 30000 ct_le "$gwb" "$c0_b" ||
			{ info "p5: gauge $(cnt "$gwa" flows)/$(cnt "$gwb" flows), count $(ct_count "$gwa")/$(ct_count "$gwb") (want 0/0, $c0_a/$c0_b)"; return 1; }
		consistent_both
	}
	ktap_check "conntrack full: gauge back to zero, conntrack count to its baseline, counters consistent" back5
	info "phase 5 (conntrack full): max $max, $n UDP flows + 1 TCP stream, 1 flap, $((SECONDS - t0)) s"
}
phase 5 4

# ======================================================================
# Phase 6: the per-namespace flow limit (module parameter max_flows).
# Beyond it new flows are not tracked and are counted in flows_untracked
# (the module never evicts a tracked flow to make room).
p6()
{
	local t0=$SECONDS n l=100 u_a u_b u0
	n=$(sc 300)
	phase_start
	ip netns exec "$server" python3 "$UDPSTREAM" recv 9004 "$tmp/udp4" &
	defer kill $!
	wait_until 20000 sh -c "ip netns exec $server ss -Hln | grep -q ':9004 '"
	u_a=$(cnt "$gwa" flows_untracked); u_b=$(cnt "$gwb" flows_untracked)
	echo "$l" >$PARAMS/max_flows
	udp_flows $SERVER 9004 40000 "$n"
	wait_until 30000 sh -c "[ \$(wc -l <$tmp/udp4) = $n ]"
	lim_ok() {
		local da db
		da=$(( $(cnt "$gwa" flows_untracked) - u_a )); db=$(( $(cnt "$gwb" flows_untracked) - u_b ))
		info "p6: max_flows $l: gauge $(cnt "$gwa" flows) / $(cnt "$gwb" flows); untracked +$da / +$db (expected +$((n - l))); UDP delivered $(wc -l <"$tmp/udp4")/$n"
		gauge_is "$gwa" "$l" && gauge_is "$gwb" "$l" && [ "$da" = $((n - l)) ] && [ "$db" = $((n - l)) ]
	}
	ktap_check "max_flows $l: $n new flows, each namespace tracks exactly $l, the excess counted in flows_untracked" lim_ok
	ktap_check "max_flows: untracked flows are still forwarded" [ "$(wc -l <"$tmp/udp4")" = "$n" ]
	# One multi-packet TCP connection beyond the limit: what it counts.
	u0=$(cnt "$gwa" flows_untracked)
	ip netns exec "$client" python3 "$TCPSTREAM" churn $SERVER 5001 1 1 "$tmp/churn6.out"
	info "p6: one TCP connection ($(cat "$tmp/churn6.out")) beyond the limit: flows_untracked +$(( $(cnt "$gwa" flows_untracked) - u0 )) on gwa"
	ktap_check "max_flows: a TCP connection beyond the limit is counted once in flows_untracked, not per packet" \
		[ "$(( $(cnt "$gwa" flows_untracked) - u0 ))" = 1 ]
	echo 1048576 >$PARAMS/max_flows
	udp_flows $SERVER 9004 41000 50
	ktap_check "max_flows raised again: new flows tracked at once" wait_until 30000 gauge_is "$gwa" $((l + 50))
	back6() { ct_clean && consistent_both; }
	ktap_check "max_flows: gauges back to zero, counters consistent" back6
	p6_evict
	info "phase 6 (max_flows): limit $l, $((n + 51)) flows, then eviction: $((SECONDS - t0)) s"
}
# Eviction: C chatty TCP connections, then K idle ones, are preserved
# across a flap; after it the chatty ones resume (they send every 0.2 s)
# and the idle ones stay held, behind the C chatty ones in their tunnel's
# flow list. With max_flows L, N new UDP flows: L-C-K are tracked, the
# next K each evict a preserved flow (torn down: conntrack entry gone,
# logged, flows_evicted), the rest are counted untracked. Eviction finds
# the preserved flows however many others come first (a scan of the first
# 16 of each tunnel's list found none, and left the new flows untracked).
p6_evict()
{
	local c=17 k=4 l=40 n=40 idle e_a e_b u_a u_b log0
	rm -f "$tmp/idle.stop" "$tmp/idle.ready"
	ip netns exec "$client" python3 - $SERVER 5001 $c $k "$tmp/idle" <<-'PY' &
	import os, socket, sys, time
	dst, port, c, k, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
	def conn(sport):
	    s = socket.socket()
	    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	    s.bind(('0.0.0.0', sport))
	    s.settimeout(30)
	    s.connect((dst, port))
	    s.sendall(b'x' * 100)
	    return s
	# chatty first (sports 47000-), so they come first in the flow lists
	chatty = [conn(47000 + i) for i in range(c)]
	idle = [conn(46000 + i) for i in range(k)]
	open(base + '.ready', 'w').close()
	while not os.path.exists(base + '.stop'):
	    for s in chatty:
	        try:
	            s.send(b'y')
	        except OSError:
	            pass
	    time.sleep(0.2)
	PY
	idle=$!
	defer kill $idle
	held_setup()
	{
		wait_until 30000 test -f "$tmp/idle.ready" &&
		wait_until 30000 gauge_is "$gwa" $((c + k)) && wait_until 30000 gauge_is "$gwb" $((c + k)) &&
		tunnel_down && wait_until 30000 held_both $((c + k)) && tunnel_up &&
		wait_until 30000 one_tunnel_each && wait_until 30000 held_both $k ||
		{ info "p6: gauge $(cnt "$gwa" flows)/$(cnt "$gwb" flows), held $(cnt "$gwa" flows_held)/$(cnt "$gwb" flows_held)"; return 1; }
	}
	ktap_check "eviction: $c chatty then $k idle TCP flows preserved across a flap; the chatty resume, the idle stay held" held_setup
	e_a=$(cnt "$gwa" flows_evicted); e_b=$(cnt "$gwb" flows_evicted)
	u_a=$(cnt "$gwa" flows_untracked); u_b=$(cnt "$gwb" flows_untracked)
	log0=$(dmesg | grep -c 'Preserved flow limit reached')
	echo "$l" >$PARAMS/max_flows
	udp_flows $SERVER 9004 42000 "$n"
	idle_left() { ip netns exec "$1" conntrack -L -p tcp --dport 5001 2>/dev/null | grep -c 'sport=4600[0-9] '; }
	evict_ok()
	{
		local de_a de_b du_a du_b lines ct_a ct_b
		wait_until 30000 held_both 0
		de_a=$(( $(cnt "$gwa" flows_evicted) - e_a )); de_b=$(( $(cnt "$gwb" flows_evicted) - e_b ))
		du_a=$(( $(cnt "$gwa" flows_untracked) - u_a )); du_b=$(( $(cnt "$gwb" flows_untracked) - u_b ))
		lines=$(( $(dmesg | grep -c 'Preserved flow limit reached') - log0 ))
		ct_a=$(idle_left "$gwa"); ct_b=$(idle_left "$gwb")
		info "p6: max_flows $l, $c active + $k held + $n new: gauge $(cnt "$gwa" flows)/$(cnt "$gwb" flows), held $(cnt "$gwa" flows_held)/$(cnt "$gwb" flows_held), evicted +$de_a/+$de_b, untracked +$du_a/+$du_b, log lines $lines, idle TCP entries left $ct_a/$ct_b"
		gauge_is "$gwa" $l && gauge_is "$gwb" $l && held_both 0 &&
		[ "$de_a" = $k ] && [ "$de_b" = $k ] &&
		[ "$du_a" = $((n - l + c)) ] && [ "$du_b" = $((n - l + c)) ] &&
		[ "$lines" = $((2 * k)) ] && [ "$ct_a" = 0 ] && [ "$ct_b" = 0 ]
	}
	ktap_check "eviction: $n new flows at max_flows $l evict the $k preserved ones behind $c active (torn down, logged, counted), the rest untracked" evict_ok
	touch "$tmp/idle.stop"
	wait_until 30000 sh -c "! kill -0 $idle 2>/dev/null"
	echo 1048576 >$PARAMS/max_flows
	back6e() { ct_clean && consistent_both; }
	ktap_check "eviction: gauges back to zero, counters consistent" back6e
}
phase 6 8

# ======================================================================
# Phase 7: namespaces created and destroyed in a loop with live tunnels,
# tracked and preserved flows, pending SA events and module unloads.
NSP=stress-$(mktemp -u XXXXXX)
defer "for n in \$(ip netns list | awk '/^$NSP-/ { print \$1 }'); do ip netns del \$n; done"
# p7_pair I: namespaces na and nb (names set) joined by a veth, with a
# manual-SA tunnel between 10.1.0.0/24 (na) and 10.2.0.0/24 (nb).
p7_pair()
{
	na=$NSP-a$1
	nb=$NSP-b$1
	ip netns add "$na" && ip netns add "$nb" &&
	ip link add w netns "$na" type veth peer name w netns "$nb" || return 1
	{
		printf '%s\n' "link set lo up" "link set w up" "addr add 10.1.0.1/32 dev lo" \
			"addr add $GWA/24 dev w" "route add 10.2.0.0/24 via $GWB dev w src 10.1.0.1"
		sa_ops up a 0
		echo "xfrm policy add src 10.1.0.0/24 dst 10.2.0.0/24 dir out tmpl src $GWA dst $GWB proto esp reqid 1 mode tunnel"
		echo "xfrm policy add src 10.2.0.0/24 dst 10.1.0.0/24 dir in tmpl src $GWB dst $GWA proto esp reqid 1 mode tunnel"
	} >"$tmp/p7.a"
	{
		printf '%s\n' "link set lo up" "link set w up" "addr add 10.2.0.1/32 dev lo" \
			"addr add $GWB/24 dev w" "route add 10.1.0.0/24 via $GWA dev w src 10.2.0.1"
		sa_ops up b 0
		echo "xfrm policy add src 10.2.0.0/24 dst 10.1.0.0/24 dir out tmpl src $GWB dst $GWA proto esp reqid 1 mode tunnel"
		echo "xfrm policy add src 10.1.0.0/24 dst 10.2.0.0/24 dir in tmpl src $GWA dst $GWB proto esp reqid 1 mode tunnel"
	} >"$tmp/p7.b"
	batch "$na" "$tmp/p7.a" && batch "$nb" "$tmp/p7.b"
}
p7()
{
	local t0=$SECONDS c f=8 i tracked=0 preserved=0 want_p=0 unloads=0 unload_ok=0 deleted=0
	local ct0 slack sk src
	c=$(sc 8)
	ct0=$(slab_objects nf_conntrack)
	# New namespaces start with preserve-vpn-flows on.
	echo 1 >$PARAMS/preserve_vpn_flows
	local ts tl
	for ((i = 0; i < c; i++)); do
		ts=$SECONDS tl=
		p7_pair "$i" || { info "p7: cycle $i: setup failed"; continue; }
		tl+=" pair $((SECONDS - ts))"
		ip netns exec "$nb" python3 "$TCPSTREAM" sink 5001 "$tmp/p7.sink" &
		sk=$!
		wait_until 20000 sh -c "ip netns exec $nb ss -Hltn | grep -q ':5001 '"
		rm -f "$tmp/p7.stop"
		ip netns exec "$na" python3 "$TCPSTREAM" source 10.2.0.1 5001 $f 5000 "$tmp/p7.stop" "$tmp/p7.out" 120 &
		src=$!
		tl+=" sink $((SECONDS - ts))"
		if wait_until 30000 gauge_is "$na" $f && wait_until 30000 gauge_is "$nb" $f; then
			tracked=$((tracked + 1))
		else
			info "p7: cycle $i: tracked $(cnt "$na" flows)/$(cnt "$nb" flows) of $f"
		fi
		tl+=" tracked $((SECONDS - ts))"
		if ((i % 4 != 2)); then
			# Tunnel down: the flows are preserved on both sides.
			want_p=$((want_p + 1))
			ip -n "$na" xfrm state flush; ip -n "$nb" xfrm state flush
			wait_until 30000 held_is "$na" $f && wait_until 30000 held_is "$nb" $f &&
				preserved=$((preserved + 1))
		fi
		tl+=" held $((SECONDS - ts))"
		case $((i % 4)) in
		1)	# SA events just queued: reconcile work pending at deletion.
			sa_ops up a 1 >"$tmp/p7.r"
			ip -n "$na" -batch "$tmp/p7.r" && ip -n "$nb" -batch "$tmp/p7.r" ;;
		2)	;; # the tunnel up, the flows active, traffic running
		3)	# Unload with these namespaces alive, preserved flows held.
			unloads=$((unloads + 1))
			if rmmod vpnflow_preserve && vpnflow_load; then
				echo 1 >$PARAMS/preserve_vpn_flows && V "$gwa" connection preserve-vpn-flows &&
					V "$gwb" connection preserve-vpn-flows && unload_ok=$((unload_ok + 1))
			fi ;;
		esac
		ip netns del "$na" && ip netns del "$nb" && deleted=$((deleted + 1))
		kill "$src" "$sk" 2>/dev/null
		wait "$src" "$sk" 2>/dev/null
		[ $((SECONDS - ts)) -lt 10 ] || info "p7: cycle $i took $((SECONDS - ts)) s:$tl"
	done
	echo 0 >$PARAMS/preserve_vpn_flows
	info "p7: $c cycles: tracked in $tracked, preserved in $preserved/$want_p, $unload_ok/$unloads unloads, $deleted pairs deleted"
	ktap_check "netns churn: $c pairs of namespaces, $f flows each, all tracked on both sides" [ "$tracked" = "$c" ]
	ktap_check "netns churn: flows preserved at every tunnel down ($want_p)" [ "$preserved" = "$want_p" ]
	ktap_check "netns churn: $unloads module unloads with preserved flows in live namespaces" \
		[ "$unload_ok" = "$unloads" -a "$deleted" = "$c" ]
	# The destroyed namespaces are cleaned up and their conntrack entries
	# freed: a reference the module kept would keep them allocated (and
	# hold up the namespace's cleanup for ever).
	slack=16
	gone_ok() {
		wait_until 120000 ct_objects_le $((ct0 + slack))
		local rc=$?
		info "p7: conntrack objects $ct0 before, $(slab_objects nf_conntrack) after ($((2 * f * c)) entries made)"
		return $rc
	}
	ktap_check "netns churn: the namespaces' conntrack entries are all freed" gone_ok
	info "phase 7 (netns churn): $c cycles, $((2 * c)) namespaces, $((2 * f * c)) flows, $unloads unloads, $((SECONDS - t0)) s"
}
phase 7 4

# ======================================================================
# Phase 8: rmmod under traffic, with preserved flows, and with SA events
# still being delivered and reconciled (and a namespace with an SA going
# away at the same time); the module is loaded again each time.
p8()
{
	local t0=$SECONDS i np unl=0 rel=0 inflight=0 bat=0 scratch ev del
	np=$(sc 6)
	phase_start
	stream_start s8 2 10000
	wait_until 30000 gauge_is "$gwa" 2 && wait_until 30000 gauge_is "$gwb" 2
	preserve_on() { V "$gwa" connection preserve-vpn-flows && V "$gwb" connection preserve-vpn-flows; }
	r1() {
		rmmod vpnflow_preserve && ! vpnflow_loaded && advancing && vpnflow_load && preserve_on &&
			wait_until 30000 gauge_is "$gwa" 2 && wait_until 30000 gauge_is "$gwb" 2
	}
	ktap_check "rmmod under traffic: unloads, traffic goes on, flows tracked again after reload" r1
	r2() {
		tunnel_down && wait_until 30000 held_is "$gwa" 2 && wait_until 30000 held_is "$gwb" 2 &&
			rmmod vpnflow_preserve && tunnel_up && advancing && vpnflow_load && preserve_on
	}
	ktap_check "rmmod with preserved flows: unloads, the flows go on when the tunnel is back" r2
	ev_ge() { [ "$(cnt "$1" sa_events)" -ge "$2" ]; }
	for ((i = 0; i < np; i++)); do
		churn_ops a 400 "$tmp/ch8.a" >/dev/null
		churn_ops b 400 "$tmp/ch8.b" >/dev/null
		sa_ops rekey a "$GEN" 20 >"$tmp/rk8.a"
		sa_ops rekey b "$GEN" 20 >"$tmp/rk8.b"
		scratch=$NSP-r$i
		ip netns add "$scratch" && xfrm_sa_add "$scratch" 192.0.2.7 192.0.2.8 0x777
		ev=$(cnt "$gwa" sa_events)
		run_bg c8a batch "$gwa" "$tmp/ch8.a"
		run_bg c8b batch "$gwb" "$tmp/ch8.b"
		run_bg r8 both "$tmp/rk8.a" "$tmp/rk8.b"
		# Unload once events are arriving, while they still do (with a
		# namespace going away too); load again at once.
		wait_until 30000 ev_ge "$gwa" $((ev + 50))
		ip netns del "$scratch" &
		del=$!
		if rmmod vpnflow_preserve; then
			unl=$((unl + 1))
			bg_done c8a c8b r8 || inflight=$((inflight + 1))
		fi
		vpnflow_load && preserve_on && rel=$((rel + 1))
		wait_until 120000 bg_done c8a c8b r8
		rc_ok c8a c8b r8 && bat=$((bat + 1))
		GEN=$((GEN + 20))
		wait "$del"
	done
	info "p8: $unl/$np unloads ($inflight while the SA commands still ran), $rel reloads, $bat/$np churn runs complete"
	ktap_check "rmmod with SA events pending: $np unloads and reloads while SAs churned" \
		[ "$unl" = "$np" -a "$rel" = "$np" -a "$bat" = "$np" ]
	r3() {
		local r=0
		wait_until 60000 one_tunnel_each ||
			{ info "p8: tunnels $(ntunnels "$gwa")/$(ntunnels "$gwb"), want 1/1"; r=1; }
		wait_until 30000 gauge_is "$gwa" 2 ||
			{ info "p8: gauge $(cnt "$gwa" flows) on gwa, want 2"; r=1; }
		advancing || { info "p8: the stream does not advance"; r=1; }
		stream_stop s8 2 || r=1
		consistent_both || r=1
		return $r
	}
	ktap_check "rmmod: after the reloads, the tunnel and flows are tracked again, stream intact" r3
	info "phase 8 (rmmod): $((np + 2)) unloads and reloads, $np of them during churn ($np x $((2 * (400 * 9 / 8 + 80))) SA operations), $((SECONDS - t0)) s"
}
phase 8 4

# ======================================================================
teardown()
{
	local slack rc
	pkill -f "tcpstream.py .* $tmp/" 2>/dev/null
	pkill -f "udpstream.py .* $tmp/" 2>/dev/null
	_run_defer
	vpnflow_loaded && return 1
	slack=16
	wait_until 120000 ct_objects_le $((base_ct_objs + slack))
	rc=$?
	info "conntrack objects: $base_ct_objs at the start, $(slab_objects nf_conntrack) after teardown"
	return $rc
}
ktap_check "teardown: module unloaded, namespaces gone, conntrack entries all freed" teardown
# no_warning: none in the kernel log; else the first report and its stack.
no_warning()
{
	local n
	n=$(dmesg | grep -nE 'WARNING:|BUG:|Call Trace:|refcount_t:|rcu: INFO|soft lockup' | head -n 1 | cut -d: -f1)
	[ -z "$n" ] && return 0
	dmesg | sed -n "$((n > 5 ? n - 5 : 1)),$((n + 60))p" | sed 's/^/# /'
	return 1
}
ktap_check "no kernel warning during the stress" no_warning
info "stress total: $((SECONDS - t_start)) s (STRESS_SCALE=$SCALE)"
ktap_finish
