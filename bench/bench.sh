#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vpnflow benchmarks. Runs in the test VM (bench/run.sh boots it);
# numbers, not pass/fail. Writes results.jsonl, table.txt and table.md to
# $BENCH_OUT (default /mnt, the VM's results folder).
#
#  client             gwa                          gwb              server
#  lan0 -------- lan0    wan0 ==== ESP tunnels ==== wan0    lan0 -------- lan0
#  198.51.100.2  .1      192.0.2.10-13            192.0.2.110-113   203.0.113.1 .2
#                        dummy0: 198.18.0.0/15 (cleartext "elsewhere":
#                        background conntrack entries, SYN-rate sink)
#
#  tunnel k (k = 0..3): outer 192.0.2.(10+k) <-> 192.0.2.(110+k), manual ESP
#  SAs (rfc4106 gcm-aes-128), policies 198.51.100.(16k)/28 <-> 203.0.113.(16k)/28.
#    T0 carries iperf3 and the latency probe; T1, T2, T3 carry flowgen's
#    TCP flows (F1 < F2 < F3, default 1k, 10k, 100k) from 198.51.100.(16k+1)
#    to 203.0.113.(16k+1). Those addresses are not local anywhere: the
#    gateways reach them through static neighbour entries, so no kernel
#    answers flowgen's packets with a RST.
#
# Parts: 1 forwarding overhead (iperf3 TCP and 64-byte UDP through T0,
# module not loaded vs loaded with everything on, without tcpmss, and
# with the data-path knobs on too, alternating), 3 SYN rate
# with tcpmss variants, 2 tunnel events at scale (module vs conntrack(8)
# from a script; latency of T0 meanwhile), 4 memory, 5 and 6 A/Bs of two
# modules (tunnel-down pass; flow dump and latency of T0 meanwhile), 7
# resume after a tunnel outage, fast-resume off vs on (a download across
# a real strongSwan flap, lib-ipsec.sh's flap_scenario, in namespaces of
# its own; BENCH_RESUME_REPS rounds, BENCH_RESUME_OUTAGE s of WAN outage).
#
# Scale: BENCH_SCALE=full (default), quick, or smoke (`make check`: does
# every part still measure what it says; no figure worth reading); BENCH_FLOWS (largest tunnel,
# F3), BENCH_TABLE (conntrack entries in gwa for the big-table points),
# BENCH_PAIRS (throughput pairs), BENCH_REPS (module events per point),
# BENCH_PARTS (default "1 3 2 4 7", smoke "1 3 2 4"; 5 and 6 are A/Bs
# of BENCH_KO and BENCH_KO_B: the tunnel-down pass, and a flow dump).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=../selftests/lib.sh
. "$top/selftests/lib.sh"

OUT=${BENCH_OUT:-/mnt}
FG=$here/flowgen
AN="python3 $here/analyze.py"
VS=$VPNSYSOPT
W=$OUT/work
mkdir -p "$W" "$OUT"
RES=$OUT/results.jsonl
: >"$RES"

PROFILE=1
case ${BENCH_SCALE:-full} in
quick) F3=${BENCH_FLOWS:-20000}; TABLE=${BENCH_TABLE:-100000}; PAIRS=${BENCH_PAIRS:-3}
       REPS=${BENCH_REPS:-2}; SYN_ROUNDS=3; TPUT_S=2; SYN_S=1; RESUME_REPS=1 ;;
smoke) F3=${BENCH_FLOWS:-1000}; TABLE=${BENCH_TABLE:-5000}; PAIRS=${BENCH_PAIRS:-1}
       REPS=${BENCH_REPS:-1}; SYN_ROUNDS=1; TPUT_S=1; SYN_S=1; PROFILE=0; RESUME_REPS=1 ;;
*)     F3=${BENCH_FLOWS:-100000}; TABLE=${BENCH_TABLE:-1000000}; PAIRS=${BENCH_PAIRS:-8}
       REPS=${BENCH_REPS:-3}; SYN_ROUNDS=6; TPUT_S=3; SYN_S=2; RESUME_REPS=3 ;;
esac
F2=$((F3 / 10))
F1=$((F3 / 100))
RESUME_REPS=${BENCH_RESUME_REPS:-$RESUME_REPS}
RESUME_OUTAGE=${BENCH_RESUME_OUTAGE:-30}
# The smoke run leaves part 7 to selftests/fast_resume.sh (make check).
if [ "${BENCH_SCALE:-full}" = smoke ]; then PARTS=${BENCH_PARTS:-1 3 2 4}; else PARTS=${BENCH_PARTS:-1 3 2 4 7}; fi

log() { echo "bench: $(date +%T) $*"; }
rec() { echo "$*" >>"$RES"; }
now() { "$FG" now; }

C=bclient A=bgwa B=bgwb S=bserver
T=/sys/kernel/tracing

# --- topology ---
topology()
{
	local ns k
	for ns in $C $A $B $S; do
		ip netns del "$ns" 2>/dev/null
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		defer ip netns del "$ns"
	done
	ip link add lan0 netns $C type veth peer name lan0 netns $A || return 1
	ip link add wan0 netns $A type veth peer name wan0 netns $B || return 1
	ip link add lan0 netns $B type veth peer name lan0 netns $S || return 1
	ip -n $A link add dummy0 type dummy
	ip -n $C addr add 198.51.100.2/24 dev lan0
	ip -n $A addr add 198.51.100.1/24 dev lan0
	ip -n $A addr add 192.0.2.1/24 dev wan0
	ip -n $B addr add 192.0.2.101/24 dev wan0
	ip -n $B addr add 203.0.113.1/24 dev lan0
	ip -n $S addr add 203.0.113.2/24 dev lan0
	for k in 0 1 2 3; do
		ip -n $A addr add 192.0.2.$((10 + k))/32 dev wan0
		ip -n $B addr add 192.0.2.$((110 + k))/32 dev wan0
	done
	# dummy0's tx counter counts part 3's forwarded SYNs: no IPv6 on it
	# (its router solicitations and MLD reports would be counted too).
	ip netns exec $A sysctl -qw net.ipv6.conf.dummy0.disable_ipv6=1
	for ns in $C $A $B $S; do
		for l in lan0 wan0 dummy0; do
			ip -n "$ns" link set "$l" up 2>/dev/null
		done
	done
	ip -n $C route add default via 198.51.100.1
	ip -n $S route add default via 203.0.113.1
	ip -n $A route add 203.0.113.0/24 via 192.0.2.101
	ip -n $A route add 198.18.0.0/15 dev dummy0
	ip -n $B route add 198.51.100.0/24 via 192.0.2.1
	for ns in $A $B; do
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
	done
	# The flows' end addresses: not local, reached by static neighbours.
	CMAC=$(ip netns exec $C cat /sys/class/net/lan0/address)
	SMAC=$(ip netns exec $S cat /sys/class/net/lan0/address)
	GWAMAC=$(ip netns exec $A cat /sys/class/net/lan0/address)
	for k in 1 2 3; do
		ip -n $A neigh add 198.51.100.$((16 * k + 1)) lladdr "$CMAC" dev lan0 nud permanent
		ip -n $B neigh add 203.0.113.$((16 * k + 1)) lladdr "$SMAC" dev lan0 nud permanent
	done
	ip -n $A neigh add 198.51.100.250 lladdr "$CMAC" dev lan0 nud permanent
	# A stateful gateway firewall on both sides (conntrack is always on,
	# module or not, as on any real gateway).
	for ns in $A $B; do
		ip netns exec "$ns" nft -f - <<-'NFT' || return 1
		table inet gw {
			chain forward {
				type filter hook forward priority filter; policy accept;
				ct state invalid counter drop
				ct state established,related accept
			}
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "wan0" rt ipsec missing masquerade
			}
		}
		NFT
	done
	ip netns exec $A sysctl -qw net.netfilter.nf_conntrack_udp_timeout=3600 \
		net.netfilter.nf_conntrack_udp_timeout_stream=3600
	for k in 0 1 2 3; do
		tunnel_policies "$k" || return 1
		tunnel_sas $A "$k" 0 add || return 1
		tunnel_sas $B "$k" 0 add || return 1
		GEN[$k]=0
	done
}

KEY=0x0102030405060708090a0b0c0d0e0f1011121314
ga() { echo 192.0.2.$((10 + $1)); }
gb() { echo 192.0.2.$((110 + $1)); }
neta() { echo 198.51.100.$((16 * $1))/28; }
netb() { echo 203.0.113.$((16 * $1))/28; }
spi() { printf '0x%x' $((0x10000 * $1 + 0x100 * $3 + $2 + 0x1000)); }	# DIR K GEN

tunnel_policies()
{
	local k=$1
	ip -n $A xfrm policy add src "$(neta "$k")" dst "$(netb "$k")" dir out \
		tmpl src "$(ga "$k")" dst "$(gb "$k")" proto esp reqid $((100 + k)) mode tunnel || return 1
	ip -n $A xfrm policy add src "$(netb "$k")" dst "$(neta "$k")" dir fwd \
		tmpl src "$(gb "$k")" dst "$(ga "$k")" proto esp reqid $((100 + k)) mode tunnel || return 1
	ip -n $B xfrm policy add src "$(netb "$k")" dst "$(neta "$k")" dir out \
		tmpl src "$(gb "$k")" dst "$(ga "$k")" proto esp reqid $((100 + k)) mode tunnel || return 1
	ip -n $B xfrm policy add src "$(neta "$k")" dst "$(netb "$k")" dir fwd \
		tmpl src "$(ga "$k")" dst "$(gb "$k")" proto esp reqid $((100 + k)) mode tunnel
}

# tunnel_sas NS K GEN add|del: both SAs of tunnel K, generation GEN (SPIs).
tunnel_sas()
{
	local ns=$1 k=$2 g=$3 op=$4
	if [ "$op" = add ]; then
		ip -n "$ns" -batch - <<-EOF
		xfrm state add src $(ga "$k") dst $(gb "$k") proto esp spi $(spi 1 "$k" "$g") reqid $((100 + k)) mode tunnel aead rfc4106(gcm(aes)) $KEY 128
		xfrm state add src $(gb "$k") dst $(ga "$k") proto esp spi $(spi 2 "$k" "$g") reqid $((100 + k)) mode tunnel aead rfc4106(gcm(aes)) $KEY 128
		EOF
	else
		ip -n "$ns" -batch - <<-EOF
		xfrm state delete src $(ga "$k") dst $(gb "$k") proto esp spi $(spi 1 "$k" "$g")
		xfrm state delete src $(gb "$k") dst $(ga "$k") proto esp spi $(spi 2 "$k" "$g")
		EOF
	fi
}

# --- the module ---
# mod_load [PARAM=VALUE...]: every feature on (preserve-vpn-flows, and the
# defaults reclassify-vpn and tcpmss 1380) unless PARAMs say otherwise.
mod_load()
{
	vpnflow_loaded && return 0
	for dep in $(modinfo -F depends "$VPNFLOW_KO" | tr , ' '); do
		modprobe "$dep" || return 1
	done
	insmod "$VPNFLOW_KO" preserve_vpn_flows=1 "$@" || return 1
	busywait 20000 mod_ready
}
mod_ready()
{
	[ "$(ctr $A tunnels_up)" -ge 4 ] 2>/dev/null && [ "$(ctr $B tunnels_up)" -ge 4 ] 2>/dev/null
}
# ctr NS KEY: one counter of vpnsysopt -j show counters.
ctr() { vpnflow_field "$1" "$2" show counters; }
ctrs() { "$VS" -n "$1" -j show counters; }

# --- part 1: forwarding overhead ---
iperf_run() # STATE PAIR
{
	local st=$1 p=$2 j v rx0 rx1 t0 t1
	j=$W/iperf-tcp-$st-$p.json
	ip netns exec $C iperf3 -J -c 203.0.113.2 -t "$TPUT_S" -O 1 >"$j" 2>&1
	v=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]/1e6)' "$j" 2>/dev/null)
	rec "{\"part\":\"tput\",\"test\":\"tcp\",\"state\":\"$st\",\"pair\":$p,\"value\":${v:-null}}"
	log "tput tcp $st pair $p: ${v:-?} Mbit/s"
	# Small UDP: what reaches the server's interface (iperf3's own loss
	# accounting goes wrong when the sender outruns the path).
	j=$W/iperf-udp-$st-$p.json
	rx0=$(ip netns exec $S cat /sys/class/net/lan0/statistics/rx_packets)
	t0=$(now)
	ip netns exec $C iperf3 -J -u -l 64 -b 0 -c 203.0.113.2 -t "$TPUT_S" >"$j" 2>&1
	t1=$(now)
	rx1=$(ip netns exec $S cat /sys/class/net/lan0/statistics/rx_packets)
	v=$(python3 -c 'import json,sys
s = json.load(open(sys.argv[1]))["end"]["sum"]
print(int(sys.argv[2]) / s["seconds"])' "$j" $((rx1 - rx0)) 2>/dev/null)
	rec "{\"part\":\"tput\",\"test\":\"udp64\",\"state\":\"$st\",\"pair\":$p,\"value\":${v:-null}}"
	log "tput udp64 $st pair $p: ${v:-?} pkt/s reached the server"
}

part1()
{
	local p order st
	log "part 1: forwarding overhead, $PAIRS pairs of ${TPUT_S}s runs"
	ip netns exec $S iperf3 -s -D -B 203.0.113.2 || return 1
	defer pkill -x iperf3
	sleep 0.5
	# Warm-up (ARP, first SAs, page cache).
	ip netns exec $C iperf3 -c 203.0.113.2 -t 1 >/dev/null 2>&1
	vpnflow_unload
	# Rounds of four states, the order rotating: not loaded, loaded with
	# everything on, loaded with everything on but tcpmss (which makes
	# segments smaller: the per-packet cost of the whole path shows), and
	# everything on plus the data-path knobs: df-bit clear-df (rewrites
	# every ESP packet of the TCP runs, whose inner packets have DF),
	# fragmentation before-encryption (its test on every packet) and
	# tcp-state-bypass (its mark test on every packet; none is marked).
	local states=(off on on_nomss on_knobs) i
	for ((p = 1; p <= PAIRS; p++)); do
		for ((i = 0; i < ${#states[@]}; i++)); do
			st=${states[$(((i + p) % ${#states[@]}))]}
			vpnflow_unload
			case $st in
			on) mod_load || return 1 ;;
			on_nomss) mod_load tcpmss=0 || return 1 ;;
			on_knobs) mod_load df_bit=clear-df fragmentation=before-encryption \
				tcp_state_bypass=0x10/0x10 || return 1 ;;
			esac
			iperf_run "$st" "$p"
			# What the module did in this loaded round (tcpmss on: it
			# lowered the TCP runs' SYNs; the knobs: DF cleared).
			[ "$st" = off ] ||
				rec "{\"part\":\"tput_check\",\"state\":\"$st\",\"pair\":$p,\"flows\":$(ctr $A flows),\"syns_lowered\":$(ctr $A syns_lowered),\"esp_df_rewritten\":$(ctr $A esp_df_rewritten)}"
		done
	done
	# Part 1 leaves the module loaded with everything on (part 3 expects it).
	vpnflow_unload
	mod_load
	[ "$PROFILE" = 0 ] || perf_profile tcp
}

# perf_profile TEST: where the loaded module's forwarding time goes (cpu-clock
# samples over the whole VM during one iperf3 run).
perf_profile()
{
	local t=$1 args="" pc
	[ "$t" = udp64 ] && args="-u -l 64 -b 0"
	command -v perf >/dev/null || return 0
	# shellcheck disable=SC2086
	ip netns exec $C iperf3 -c 203.0.113.2 -t 12 $args >"$W/perf-$t-iperf.txt" 2>&1 &
	busywait 10000 grep -q 'sec' "$W/perf-$t-iperf.txt"
	sleep 1
	perf record -q -e cpu-clock -F 499 -a -o "$W/perf-$t.data" -- sleep 4 >/dev/null 2>&1
	wait
	perf report -q -i "$W/perf-$t.data" --sort dso --stdio 2>/dev/null >"$OUT/perf-$t-dso.txt"
	perf report -q -i "$W/perf-$t.data" --sort sym --stdio 2>/dev/null |
		grep -v '^$' | head -n 60 >"$OUT/perf-$t-sym.txt"
	pc=$(awk '/vpnflow_preserve/ { sub("%", "", $1); print $1; exit }' "$OUT/perf-$t-dso.txt")
	idle=$(awk '/native_safe_halt/ { sub("%", "", $1); print $1; exit }' "$OUT/perf-$t-sym.txt")
	rec "{\"part\":\"perf\",\"test\":\"$t\",\"module_pct\":${pc:-0},\"idle_pct\":${idle:-0},\"dso\":\"$OUT/perf-$t-dso.txt\",\"sym\":\"$OUT/perf-$t-sym.txt\"}"
	log "perf $t: vpnflow_preserve ${pc:-0}% of samples (idle ${idle:-0}%)"
}

# --- part 3: SYN rate with tcpmss variants ---
SYNFIRST=0
clamp_variant()
{
	ip netns exec $A nft delete table inet mss 2>/dev/null
	ip netns exec $A iptables -t mangle -F FORWARD 2>/dev/null
	"$VS" -n $A no connection tcpmss
	case $1 in
	module) "$VS" -n $A connection tcpmss 1380 ;;
	iptables) ip netns exec $A iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN \
			-j TCPMSS --set-mss 1380 ;;
	nft) ip netns exec $A nft -f - <<-'NFT'
		table inet mss {
			chain forward {
				type filter hook forward priority mangle; policy accept;
				tcp flags & (syn | rst) == syn counter tcp option maxseg size set 1380
			}
		}
		NFT
		;;
	esac
}

clamped_count()
{
	case $1 in
	module) ctr $A syns_lowered ;;
	iptables) ip netns exec $A iptables -t mangle -L FORWARD -vnx | awk '/TCPMSS/ { print $1; exit }' ;;
	nft) ip netns exec $A nft list table inet mss | sed -n 's/.*counter packets \([0-9]*\).*/\1/p' ;;
	*) echo 0 ;;
	esac
}

part3()
{
	local r v vars c0 c1 tx0 tx1 out sent ns
	log "part 3: SYN rate, $SYN_ROUNDS rounds x 4 variants x ${SYN_S}s"
	vars=(none module iptables nft)
	for ((r = 1; r <= SYN_ROUNDS; r++)); do
		for ((i = 0; i < 4; i++)); do
			v=${vars[$(((i + r) % 4))]}
			clamp_variant "$v"
			ip netns exec $A conntrack -F >/dev/null 2>&1
			c0=$(clamped_count "$v")
			tx0=$(ip netns exec $A cat /sys/class/net/dummy0/statistics/tx_packets)
			out=$("$FG" syn -c $C:lan0 -g "$GWAMAC" -a 198.51.100.250 -b 198.18.0.0 \
				-t "$SYN_S" -f "$SYNFIRST")
			tx1=$(ip netns exec $A cat /sys/class/net/dummy0/statistics/tx_packets)
			c1=$(clamped_count "$v")
			SYNFIRST=$(echo "$out" | awk '{ print $6 }')
			sent=$(echo "$out" | awk '{ print $2 }')
			ns=$(echo "$out" | awk '{ print $4 }')
			rec "{\"part\":\"syn\",\"variant\":\"$v\",\"round\":$r,\"sent\":$sent,\"forwarded\":$((tx1 - tx0)),\"ns\":$ns,\"clamped\":$((c1 - c0))}"
			log "syn $v round $r: forwarded $((tx1 - tx0)) in $((ns / 1000000)) ms, clamped $((c1 - c0))"
		done
	done
	clamp_variant module
	ip netns exec $A conntrack -F >/dev/null 2>&1
}

# --- part 2: tunnel events ---
trace_setup()
{
	mountpoint -q $T || mount -t tracefs nodev $T || return 1
	echo 0 >$T/tracing_on
	echo mono >$T/trace_clock
	echo 32768 >$T/buffer_size_kb
	echo >$T/kprobe_events
	cat >>$T/kprobe_events <<-'EOF' || return 1
	p:vf/notify vpnflow_preserve:vpnflow_km_notify
	p:vf/work vpnflow_preserve:vpnflow_event_work
	r:vf/work_end vpnflow_preserve:vpnflow_event_work
	p:vf/down vpnflow_preserve:vpnflow_flows_tunnel_down
	r:vf/down_end vpnflow_preserve:vpnflow_flows_tunnel_down
	p:vf/recl vpnflow_preserve:vpnflow_reclassify
	r:vf/recl_end vpnflow_preserve:vpnflow_reclassify
	p:vf/gc vpnflow_preserve:vpnflow_flows_gc
	r:vf/gc_end vpnflow_preserve:vpnflow_flows_gc
	EOF
	# The reconcile: vpnflow_reconcile, vpnflow_tunnel_reconcile in
	# modules before work.c.
	recon=vpnflow_reconcile
	grep -qw "$recon" /proc/kallsyms || recon=vpnflow_tunnel_reconcile
	printf 'p:vf/recon vpnflow_preserve:%s\nr:vf/recon_end vpnflow_preserve:%s\n' \
		"$recon" "$recon" >>$T/kprobe_events || return 1
	# One GC lock hold (modules since the batched GC; optional, so older
	# modules can be measured too).
	cat >>$T/kprobe_events <<-'EOF' 2>/dev/null || log "no vpnflow_flows_gc_batch: GC lock holds not timed"
	p:vf/gch vpnflow_preserve:vpnflow_flows_gc_batch
	r:vf/gch_end vpnflow_preserve:vpnflow_flows_gc_batch
	EOF
	echo 1 >$T/events/vf/enable
	echo >$T/trace
	echo 1 >$T/tracing_on
}
mark() { echo "$*" >$T/trace_marker; }

PROBE_PID=
probe_start() # NAME
{
	"$FG" probe -c $C -b 203.0.113.2 -i 1000 -o "$W/probe-$1.txt" &
	PROBE_PID=$!
	rec "{\"part\":\"probe\",\"file\":\"$W/probe-$1.txt\"}"
}
probe_stop()
{
	[ -n "$PROBE_PID" ] || return 0
	kill "$PROBE_PID"
	wait "$PROBE_PID"
	PROBE_PID=
}

ctcount() { ip netns exec $A cat /proc/sys/net/netfilter/nf_conntrack_count; }
wait_ge() { [ "$(ctr $A "$1")" -ge "$2" ]; } # KEY VALUE
trace_has() { grep -q "$1" $T/trace; }

# make_flows K N: N TCP flows through tunnel K.
make_flows()
{
	local k=$1 n=$2 out f0
	f0=$(ctr $A flows)
	out=$("$FG" tcp -c $C:lan0 -s $S:lan0 -g "$GWAMAC" -a 198.51.100.$((16 * k + 1)) \
		-b 203.0.113.$((16 * k + 1)) -n "$n" -w 256)
	log "flows T$k: $out; module flows $f0 -> $(ctr $A flows), table $(ctcount)"
	rec "{\"part\":\"populate\",\"tunnel\":$k,\"n\":$n,\"out\":\"$out\",\"flows\":$(ctr $A flows),\"table\":$(ctcount)}"
}

# verify_flows K N: ESTABLISHED entries of tunnel K in gwa (conntrack -L).
verify_flows()
{
	local k=$1 n=$2 c
	c=$(ip netns exec $A conntrack -L -p tcp --state ESTABLISHED -s 198.51.100.$((16 * k + 1)) 2>/dev/null | wc -l)
	log "T$k: $c ESTABLISHED entries in gwa's conntrack (expected $n)"
	rec "{\"part\":\"verify\",\"tunnel\":$k,\"expected\":$n,\"established\":$c}"
}

# event_down K N TABLE REP: delete tunnel K's SAs in gwa, time until its flows are preserved.
event_down()
{
	local k=$1 n=$2 tab=$3 rep=$4 p0 f=$W/trace-down-$k-$tab-$rep.txt
	p0=$(ctr $A flows_preserved)
	echo >$T/trace
	mark "BENCH down $k $rep"
	tunnel_sas $A "$k" "${GEN[$k]}" del
	busywait 600000 wait_ge flows_preserved $((p0 + n))
	busywait 10000 trace_has down_end
	sleep 0.3
	cp $T/trace "$f"
	rec "$($AN event "$f" down "$k" "$n" "$tab" "$rep" $(($(ctr $A flows_preserved) - p0)))"
	log "down T$k ($n flows, table $tab): $(tail -n 1 "$RES")"
}

# event_up K N TABLE REP: new SAs for tunnel K (gwb first, make-before-break
# there), time gwa's re-install until reclassify-vpn has run.
event_up()
{
	local k=$1 n=$2 tab=$3 rep=$4 f=$W/trace-up-$k-$tab-$rep.txt w0 x0
	tunnel_sas $B "$k" $((GEN[k] + 1)) add
	tunnel_sas $B "$k" "${GEN[$k]}" del
	# Which kind of pass (modules with these counters): a walk of the
	# table, or the strays recorded since the last pass.
	w0=$(ctr $A reclassify_walks); x0=$(ctr $A reclassify_examined)
	echo >$T/trace
	mark "BENCH up $k $rep"
	tunnel_sas $A "$k" $((GEN[k] + 1)) add
	GEN[$k]=$((GEN[k] + 1))
	busywait 600000 trace_has recl_end
	sleep 0.3
	cp $T/trace "$f"
	rec "$($AN event "$f" up "$k" "$n" "$tab" "$rep" 0 \
		"${w0:+$(($(ctr $A reclassify_walks) - w0))}" "${x0:+$(($(ctr $A reclassify_examined) - x0))}")"
	log "up T$k: $(tail -n 1 "$RES")"
}

# touch K N TABLE REP KIND: one packet per flow of tunnel K; with preserved
# flows (KIND resume) until all are resumed.
touch_flows()
{
	local k=$1 n=$2 tab=$3 rep=$4 kind=$5 r0 t0 t1 out g
	r0=$(ctr $A flows_resumed)
	# function_graph on the module's per-packet slow path (track: new
	# flow, resume, tunnel change): each call's kernel time.
	# Patch that one function only: enabling the graph tracer on every
	# function live-locks the TCG guest (int3 text patching under traffic).
	echo 0 >$T/tracing_on
	echo vpnflow_flow_track >$T/set_ftrace_filter
	echo vpnflow_flow_track >$T/set_graph_function
	echo 1 >$T/max_graph_depth
	echo function_graph >$T/current_tracer
	echo funcgraph-abstime >$T/trace_options
	echo >$T/trace
	echo 1 >$T/tracing_on
	t0=$(now)
	out=$("$FG" touch -c $C:lan0 -g "$GWAMAC" -a 198.51.100.$((16 * k + 1)) \
		-b 203.0.113.$((16 * k + 1)) -n "$n")
	if [ "$kind" = resume ] && ! busywait 60000 wait_ge flows_resumed $((r0 + n)); then
		log "touch: not all resumed after 60 s ($(($(ctr $A flows_resumed) - r0))/$n): touching again"
		"$FG" touch -c $C:lan0 -g "$GWAMAC" -a 198.51.100.$((16 * k + 1)) \
			-b 203.0.113.$((16 * k + 1)) -n "$n" >/dev/null
		busywait 60000 wait_ge flows_resumed $((r0 + n))
	fi
	t1=$(now)
	echo 0 >$T/tracing_on
	g=$W/graph-$kind-$k-$tab-$rep.txt
	cp $T/trace "$g"
	echo nop >$T/current_tracer
	echo >$T/set_graph_function
	echo >$T/set_ftrace_filter
	echo >$T/trace
	echo 1 >$T/tracing_on
	rec "$($AN graph "$g" "$kind" "$k" "$n" "$tab" "$rep")"
	rec "{\"part\":\"event\",\"kind\":\"touch_$kind\",\"tunnel\":$k,\"n\":$n,\"table\":$tab,\"rep\":$rep,\"ms\":$(echo "$out" | awk '{ print $4 }'),\"until_counted_ms\":$(((t1 - t0) / 1000000)),\"t0\":$t0,\"t1\":$t1,\"resumed\":$(($(ctr $A flows_resumed) - r0))}"
	log "touch ($kind) T$k: $(tail -n 1 "$RES")"
}

# userspace K N TABLE KIND ARGS...: conntrack(8) in gwa on tunnel K's subnets.
userspace()
{
	local k=$1 n=$2 tab=$3 kind=$4 t0 t1 msg rc cnt o=$W/conntrack-$4-$1-$3.txt
	shift 4
	mark "BENCH us_$kind $k start"
	t0=$(now)
	ip netns exec $A conntrack "$@" -s 198.51.100.$((16 * k)) --mask-src 255.255.255.240 \
		-d 203.0.113.$((16 * k)) --mask-dst 255.255.255.240 >"$o.out" 2>"$o"
	rc=$?
	t1=$(now)
	mark "BENCH us_$kind $k end"
	msg=$(sed -n 's/.*: \([0-9]*\) flow entries.*/\1/p' "$o" | tail -n 1)
	cnt=$(wc -l <"$o.out")
	err=$(grep -m1 -o 'Operation failed: .*' "$o" | tr -d '"')
	rec "{\"part\":\"event\",\"kind\":\"us_$kind\",\"tunnel\":$k,\"n\":$n,\"table\":$tab,\"rep\":1,\"ns\":$((t1 - t0)),\"t0\":$t0,\"t1\":$t1,\"rc\":$rc,\"entries\":${msg:-0},\"lines\":$cnt,\"ct_error\":\"$err\",\"output\":\"$o\"}"
	log "userspace $kind T$k: $(tail -n 1 "$RES")"
}

# measure_point K N LABEL: module events (REPS times) and the userspace way.
measure_point()
{
	local k=$1 n=$2 tab rep
	tab=$(ctcount)
	log "point: T$k with $n flows, gwa table $tab entries"
	probe_start "T$k-$tab"
	sleep 1
	for ((rep = 1; rep <= REPS; rep++)); do
		event_down "$k" "$n" "$tab" "$rep"
		[ "$rep" = 1 ] && [ "$k" = 3 ] && mem_snapshot preserved
		sleep 0.5
		event_up "$k" "$n" "$tab" "$rep"
		touch_flows "$k" "$n" "$tab" "$rep" resume
		sleep 0.5
	done
	touch_flows "$k" "$n" "$tab" 1 active
	# What an updown script does: find the tunnel's entries (-L, the floor
	# of any conntrack(8) way) and hold them (-U --timeout).
	userspace "$k" "$n" "$tab" list -L -p tcp
	sleep 0.5
	userspace "$k" "$n" "$tab" hold -U -p tcp --timeout 3600
	sleep 1
	probe_stop
}

# gc_watch: the module's periodic flow GC with all flows tracked, the probe
# running through T0 meanwhile.
gc_watch()
{
	local f=$W/trace-gc.txt
	probe_start gc
	echo >$T/trace
	mark "BENCH gc 0 1"
	sleep 8
	cp $T/trace "$f"
	probe_stop
	rec "$($AN gc "$f" "$(ctr $A flows)" "$(ctcount)")"
	log "gc: $(tail -n 1 "$RES")"
}

mem_snapshot() # LABEL
{
	local fa fb ha
	cp /proc/slabinfo "$W/slabinfo-$1"
	cp /proc/meminfo "$W/meminfo-$1"
	if vpnflow_loaded; then
		fa=$(ctr $A flows) fb=$(ctr $B flows) ha=$(ctr $A flows_held)
	fi
	rec "{\"part\":\"mem\",\"label\":\"$1\",\"slabinfo\":\"$W/slabinfo-$1\",\"meminfo\":\"$W/meminfo-$1\",\"flows_a\":${fa:-0},\"flows_b\":${fb:-0},\"held_a\":${ha:-0},\"table\":$(ctcount)}"
}

part2()
{
	local bg
	log "part 2: tunnel events; tunnels of $F1 / $F2 / $F3 flows, table up to $TABLE"
	mod_load || return 1
	"$VS" -n $A connection preserve-vpn-flows
	"$VS" -n $B connection preserve-vpn-flows
	trace_setup || { log "no tracefs/kprobes"; return 1; }
	ip netns exec $C ping -c 2 -i 0.2 203.0.113.2 >/dev/null

	make_flows 2 "$F2"
	verify_flows 2 "$F2"
	measure_point 2 "$F2"

	make_flows 1 "$F1"
	mem_snapshot before_f3
	make_flows 3 "$F3"
	mem_snapshot tracked
	verify_flows 1 "$F1"
	verify_flows 3 "$F3"
	measure_point 2 "$F2"

	bg=$((TABLE - $(ctcount)))
	if [ "$bg" -gt 0 ]; then
		log "background: $bg UDP flows to 198.18.0.0/15 (cleartext)"
		out=$("$FG" udp -c $C:lan0 -g "$GWAMAC" -a 198.51.100.250 -b 198.18.0.0 -n "$bg")
		log "background: $out; table $(ctcount)"
		rec "{\"part\":\"populate\",\"tunnel\":-1,\"n\":$bg,\"out\":\"$out\",\"table\":$(ctcount)}"
	fi
	gc_watch
	measure_point 1 "$F1"
	measure_point 2 "$F2"
	measure_point 3 "$F3"

	# Teardown (option off) vs conntrack -D, T2 at the full table.
	log "teardown: preserve-vpn-flows off, T2"
	"$VS" -n $A no connection preserve-vpn-flows
	local t0 f=$W/trace-teardown.txt tab
	tab=$(ctcount)
	t0=$(ctr $A flows_torn_down)
	echo >$T/trace
	mark "BENCH teardown 2 1"
	tunnel_sas $A 2 "${GEN[2]}" del
	busywait 600000 wait_ge flows_torn_down $((t0 + F2))
	busywait 10000 trace_has down_end
	sleep 0.3
	cp $T/trace "$f"
	rec "$($AN event "$f" teardown 2 "$F2" "$tab" 1 $(($(ctr $A flows_torn_down) - t0)))"
	log "teardown T2: $(tail -n 1 "$RES")"
	tunnel_sas $B 2 $((GEN[2] + 1)) add
	tunnel_sas $B 2 "${GEN[2]}" del
	echo >$T/trace
	tunnel_sas $A 2 $((GEN[2] + 1)) add
	GEN[2]=$((GEN[2] + 1))
	busywait 60000 trace_has recl_end
	sleep 1
	make_flows 2 "$F2"
	userspace 2 "$F2" "$(ctcount)" delete -D -p tcp
	"$VS" -n $A connection preserve-vpn-flows
}

# --- part 5: A/B of two modules on the tunnel-down pass ---
# BENCH_KO (A, default this tree's) and BENCH_KO_B (B), loaded in turn,
# AB then BA, REPS times: each time T3's flows are tracked afresh (one
# packet each), its SAs deleted (the down pass timed as in part 2) and
# re-installed. Run with BENCH_ICOUNT for instruction counts.
part5()
{
	# event_down/up name their trace files from the caller's k and tab too
	local rep m ko k=3 n i tab
	[ -n "${BENCH_KO_B:-}" ] || { log "part 5: no BENCH_KO_B"; return 1; }
	log "part 5: A/B of the tunnel-down pass, T$k, $F3 flows"
	mod_load || return 1
	make_flows $k "$F3"
	for ((rep = 1; rep <= REPS; rep++)); do
		for m in $([ $((rep % 2)) = 1 ] && echo A B || echo B A); do
			[ "$m" = A ] && ko=$VPNFLOW_KO || ko=$BENCH_KO_B
			[ -d $T/events/vf ] && echo 0 >$T/events/vf/enable && echo >$T/kprobe_events
			vpnflow_unload
			VPNFLOW_KO=$ko mod_load || return 1
			"$VS" -n $A connection preserve-vpn-flows
			"$VS" -n $B connection preserve-vpn-flows
			trace_setup || return 1
			"$FG" touch -c $C:lan0 -g "$GWAMAC" -a 198.51.100.$((16 * k + 1)) \
				-b 203.0.113.$((16 * k + 1)) -n "$F3" >/dev/null
			busywait 120000 wait_ge flows "$F3" || log "part 5: $m tracks $(ctr $A flows) flows"
			n=$(ctr $A flows)
			tab=$(ctcount)
			[ "$m" = A ] && i=$((100 + rep)) || i=$((200 + rep))
			event_down $k "$n" "$tab" "$i"
			sed -i "\$ s/}\$/,\"ab\":\"$m\",\"ko\":\"$(basename "$ko")\"}/" "$RES"
			event_up $k "$n" "$tab" "$i"
			sed -i "\$ s/}\$/,\"ab\":\"$m\"}/" "$RES"
		done
	done
}

# --- part 6: A/B of two modules on a flow dump ---
# BENCH_KO (A) and BENCH_KO_B (B), loaded in turn, AB then BA, REPS times:
# T3's F3 flows tracked afresh (one packet each), then `vpnsysopt -j show
# conn` in gwa, timed from userspace, each part of the dump (one call of
# vpnflow_nl_flow_get_dumpit) timed by kprobes, and the probe's echoes
# through T0 meanwhile. A module that walks its flow lists under vn->tlock
# holds BHs off for each whole call; one that walks under RCU holds none.
part6()
{
	local rep m ko k=3 n t0 t1 f p o
	[ -n "${BENCH_KO_B:-}" ] || { log "part 6: no BENCH_KO_B"; return 1; }
	log "part 6: A/B of a flow dump, T$k, $F3 flows"
	mod_load || return 1
	make_flows $k "$F3"
	for ((rep = 1; rep <= REPS; rep++)); do
		for m in $([ $((rep % 2)) = 1 ] && echo A B || echo B A); do
			[ "$m" = A ] && ko=$VPNFLOW_KO || ko=$BENCH_KO_B
			echo 0 >$T/tracing_on
			[ -d $T/events/vfd ] && echo 0 >$T/events/vfd/enable
			[ -d $T/events/vf ] && echo 0 >$T/events/vf/enable
			echo >$T/kprobe_events
			vpnflow_unload
			VPNFLOW_KO=$ko mod_load || return 1
			"$FG" touch -c $C:lan0 -g "$GWAMAC" -a 198.51.100.$((16 * k + 1)) \
				-b 203.0.113.$((16 * k + 1)) -n "$F3" >/dev/null
			busywait 120000 wait_ge flows "$F3" || log "part 6: $m tracks $(ctr $A flows) flows"
			n=$(ctr $A flows)
			mountpoint -q $T || mount -t tracefs nodev $T || return 1
			echo mono >$T/trace_clock
			echo 32768 >$T/buffer_size_kb
			cat >>$T/kprobe_events <<-'EOF' || return 1
			p:vfd/dump vpnflow_preserve:vpnflow_nl_flow_get_dumpit
			r:vfd/dump_end vpnflow_preserve:vpnflow_nl_flow_get_dumpit
			EOF
			echo 1 >$T/events/vfd/enable
			echo >$T/trace
			echo 1 >$T/tracing_on
			p=$W/probe-dump-$m-$rep.txt
			"$FG" probe -c $C -b 203.0.113.2 -i 1000 -o "$p" &
			PROBE_PID=$!
			sleep 1
			o=$W/dump-$m-$rep.json
			t0=$(now)
			"$VS" -n $A -j show conn >"$o"
			t1=$(now)
			sleep 1
			probe_stop
			echo 0 >$T/tracing_on
			f=$W/trace-dump-$m-$rep.txt
			cp $T/trace "$f"
			rec "$($AN dump "$f" "$p" "$o" "$t0" "$t1" "$m" "$(basename "$ko")" "$n" "$rep")"
			log "dump $m: $(tail -n 1 "$RES")"
		done
	done
	echo 0 >$T/events/vfd/enable
	echo >$T/kprobe_events
	echo 1 >$T/tracing_on
}

# Part 7: how soon a preserved flow moves again after its tunnel's
# return, fast-resume off and on side by side (the order alternates by
# round). Each run is flap_scenario's download (server -> client, 1.2 MB
# paced at 150 kB/s) across a WAN outage that DPD turns into a tunnel
# drop, in namespaces of its own, the module loaded afresh. Recorded:
# the client's figure (the tunnel's SAs back on both gateways to the
# first resumed byte), gwb's own per-flow resume-delay (its resumed
# event), the download, leaks, and gwb's hints and drops.
part7()
{
	local rep fr d o flow ok json
	command -v swanctl >/dev/null || { log "part 7: strongSwan (swanctl) not installed"; return 1; }
	log "part 7: resume after a $RESUME_OUTAGE s outage, fast-resume off vs on, $RESUME_REPS round(s)"
	vpnflow_unload
	for ((rep = 1; rep <= RESUME_REPS; rep++)); do
		for fr in $([ $((rep % 2)) = 1 ] && echo 0 1 || echo 1 0); do
			d=$W/resume-$rep-fr$fr
			rm -rf "$d"
			mkdir -p "$d"
			(
				XFER_BYTES=1200000
				# shellcheck source=../selftests/lib-ipsec.sh
				. "$top/selftests/lib-ipsec.sh"
				OUTAGE_EXTRA=$((RESUME_OUTAGE > 20 ? RESUME_OUTAGE - 10 : 10))
				# Off, the next retransmission may come TCP_RTO_MAX after.
				FLAP_IDLE=$((RESUME_OUTAGE + 150))
				flap_hook_first()
				{
					local v=connection
					[ "$fr" = 1 ] || v="no connection"
					"$VS" -n "$gwa" $v preserve-vpn-flows fast-resume &&
						"$VS" -n "$gwb" $v preserve-vpn-flows fast-resume && ipsec_up
				}
				flap_scenario on "$d" >"$d/log" 2>&1
				python3 "$XFER" expect "$XFER_BYTES" >"$d/expect"
			)
			vpnflow_unload
			o=$d/on
			flow=$(sed -n 's|^resumed TCP .*/5001 tunnel .* resume-delay \([0-9]*\) ms$|\1|p' \
				"$o.monitor" 2>/dev/null | tail -n 1)
			ok=false
			[ "$(cut -d' ' -f1,2 "$o.xfer" 2>/dev/null)" = "$(cat "$d/expect")" ] && ok=true
			json=$(json_get icmp_hints "$o.cnt-gwb" 2>/dev/null)
			rec "{\"part\":\"resume\",\"rep\":$rep,\"fast_resume\":$fr,\"outage_s\":$RESUME_OUTAGE,\"sa_gone\":$(int_or_null "$(cat "$o.sa-gone" 2>/dev/null)"),\"resume_ms\":$(int_or_null "$(cat "$o.resume-ms" 2>/dev/null)"),\"flow_delay_ms\":$(int_or_null "$flow"),\"byte_exact\":$ok,\"leaks\":$(int_or_null "$(cat "$o.leaks" 2>/dev/null)"),\"hints\":$(int_or_null "$json"),\"drops\":$(int_or_null "$(json_get pkts_dropped "$o.cnt-gwb" 2>/dev/null)")}"
			log "resume: $(tail -n 1 "$RES")"
		done
	done
}

# int_or_null V: V if it is a whole number (-1 included), else null.
int_or_null() { [[ $1 =~ ^-?[0-9]+$ ]] && echo "$1" || echo null; }

part4()
{
	log "part 4: memory: rmmod with the flows tracked"
	ctrs $A >"$W/counters-a-end.json"
	mem_snapshot before_rmmod
	echo 0 >$T/events/vf/enable 2>/dev/null
	echo >$T/kprobe_events 2>/dev/null
	grep '^vpnflow_preserve ' /proc/modules >"$W/module-size"
	vpnflow_unload
	sleep 2	# kfree_rcu batches
	mem_snapshot after_rmmod
	rec "{\"part\":\"module_size\",\"bytes\":$(awk '{ print $2 }' "$W/module-size")}"
}

calib()
{
	local g h
	g=$("$FG" calib)
	rec "{\"part\":\"calib\",\"where\":\"guest\",\"mem_ns\":${g% *},\"cpu_ns\":${g#* }}"
	h=${BENCH_HOST_CALIB:-}
	[ -n "$h" ] && rec "{\"part\":\"calib\",\"where\":\"host\",\"mem_ns\":${h% *},\"cpu_ns\":${h#* }}"
}

# --- main ---
start=$(date +%s)
modprobe nf_conntrack || exit 1
modprobe dummy
sysctl -qw net.netfilter.nf_conntrack_max=$((TABLE * 2 + 400000)) net.core.netdev_max_backlog=10000
echo $((TABLE / 2 > 65536 ? TABLE / 2 : 65536)) >/sys/module/nf_conntrack/parameters/hashsize
vpnflow_unload
topology || { echo "bench: topology failed"; exit 1; }
rec "{\"part\":\"config\",\"scale\":\"${BENCH_SCALE:-full}\",\"f1\":$F1,\"f2\":$F2,\"f3\":$F3,\"table\":$TABLE,\"pairs\":$PAIRS,\"reps\":$REPS,\"syn_rounds\":$SYN_ROUNDS,\"kernel\":\"$(uname -r)\",\"iptables\":\"$(iptables -V)\",\"date\":\"$(date -u +%F)\",\"cpus\":$(nproc),\"icount\":\"${BENCH_ICOUNT:-}\"}"
calib
for part in $PARTS; do
	"part$part" || log "part $part failed"
done
probe_stop
rec "{\"part\":\"duration\",\"s\":$(($(date +%s) - start))}"
$AN report "$RES" "$OUT/table.md" | tee "$OUT/table.txt"
