#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What stress.sh's phases share (sourced by stress.sh, after lib.sh and
# lib-pair.sh; defines, runs nothing): the manual-SA tunnel and its
# generations, SA churn, the module's consistency checks, the TCP and UDP
# streams, commands in the background. See stress.sh for the topology.

TOOLS=$VPNFLOW_TOP/selftests/tools
TCPSTREAM=$TOOLS/tcpstream.py
UDPSTREAM=$TOOLS/udpstream.py
KEY=0x0102030405060708090a0b0c0d0e0f1011121314
AHKEY=0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
PARAMS=/sys/module/vpnflow_preserve/parameters

V() { local ns=$1; shift; "$VPNSYSOPT" -n "$ns" "$@"; }
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

# --- the manual tunnel ---
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
		busywait 60000 sh -c "! kill -0 $pid 2>/dev/null" || kill "$pid" 2>/dev/null
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
		ktap_info "the live tunnel needs a reset: $(sa_count "$gwa") / $(sa_count "$gwb") SAs"
		tunnel_down; tunnel_up
	fi
	ct_clean || ktap_info "flows left tracked: $(vpnflow_counter "$gwa" flows) / $(vpnflow_counter "$gwb" flows)"
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
	busywait 20000 consistent_quiet && return 0
	consistent "$gwa"
	consistent "$gwb"
	return 1
}

held_is() { [ "$(vpnflow_counter "$1" flows_held)" = "$2" ]; }
held_both() { held_is "$gwa" "$1" && held_is "$gwb" "$1"; }
held_ge() { [ "$(vpnflow_counter "$1" flows_held)" -ge "$2" ]; }
gauge_is() { [ "$(vpnflow_counter "$1" flows)" = "$2" ]; }
gauge_ge() { [ "$(vpnflow_counter "$1" flows)" -ge "$2" ]; }
ntunnels() { V "$1" -j show vpn-context | grep -o '"id":' | wc -l; }
one_tunnel_each() { [ "$(ntunnels "$gwa")" = 1 ] && [ "$(ntunnels "$gwb")" = 1 ]; }
# ct_clean: conntrack forgets the (finished) flows of earlier phases, the
# module's GC follows: both gauges back to 0.
ct_clean()
{
	local ns
	# Connections of the last phase still closing would be picked up
	# again (mid-stream, loose tracking) after the delete.
	busywait 60000 tcp_quiet || ktap_info "TCP connections still closing: $(tcp_open)"
	for ns in "$gwa" "$gwb"; do
		ip netns exec "$ns" conntrack -D -p tcp >/dev/null 2>&1
		ip netns exec "$ns" conntrack -D -p udp >/dev/null 2>&1
	done
	busywait 30000 gauge_is "$gwa" 0 && busywait 30000 gauge_is "$gwb" 0
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
# (stress.sh starts the sinks: TCP on the server's port 5001, UDP on 9001.)
sink_progress() { cat "$tmp/sink.progress" 2>/dev/null || echo 0; }
# advancing: the sink got 20 kB more within 60 s.
advancing()
{
	local p0
	p0=$(sink_progress)
	busywait 60000 sh -c "[ \$(cat $tmp/sink.progress 2>/dev/null || echo 0) -ge $((p0 + 20000)) ]"
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
	busywait 30000 gauge_is "$gwa" 5 && busywait 30000 gauge_is "$gwb" 5 ||
		ktap_info "$1: flows tracked: $(vpnflow_counter "$gwa" flows) / $(vpnflow_counter "$gwb" flows) of 5"
}
# stream_stop NAME N: stop it; every connection delivered exactly what it
# sent (bytes and sha256), checked by the sink.
stream_stop()
{
	local pid
	pid=$(cat "$tmp/$1.pid")
	touch "$tmp/$1.stop"
	busywait 180000 sh -c "! kill -0 $pid 2>/dev/null"
	wait "$pid"
	local rc=$?
	rm -f "$tmp/$1.pid"
	ktap_info "stream $1: $(awk '{ n++; b += $2 } END { print n " connections, " b " bytes" }' "$tmp/$1.out" 2>/dev/null)"
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
