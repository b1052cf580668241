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
#  STRESS_SCALE=N multiplies every cycle and flow count (default 1, which
#  keeps the test within a few minutes under TCG).
#
# This file is the driver: the topology, the sinks, the setup case, then
# the phases in order, then the teardown cases. Each phase is a file of
# stress/ (phaseN-*.sh: its function pN and its number of cases, read one
# at a time), their shared helpers are in stress/common.sh; the KTAP plan
# adds up the phases' cases.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib-pair.sh"
pair_require

STRESS=$(dirname "$0")/stress
# Each poll runs a few programs: under TCG a faster one would take the CPU
# away from what it waits for.
BUSYWAIT_POLL=0.25
source "$STRESS/common.sh"
phase_cases=()
for f in "$STRESS"/phase[0-9]*.sh; do
	source "$f"
done

SCALE=${STRESS_SCALE:-1}
sc() { echo $(($1 * SCALE)); }
# STRESS_PHASES="1 3": run only these phases (the others' cases are skipped).
PHASES=${STRESS_PHASES:-${!phase_cases[*]}}
# phase N: run pN if selected, else skip its cases.
phase()
{
	local i
	if [[ " $PHASES " == *" $1 "* ]]; then
		"p$1"
	else
		for ((i = 0; i < phase_cases[$1]; i++)); do ktap_skip "phase $1 not selected (STRESS_PHASES)"; done
	fi
}
# The setup case, every phase's, then the teardown and the kernel log.
plan=3
for n in "${!phase_cases[@]}"; do
	plan=$((plan + phase_cases[n]))
done
ktap_plan "$plan"

CT_MAX0=$(sysctl -n net.netfilter.nf_conntrack_max)

tmp=$(mktemp -d)
defer rm -rf "$tmp"
t_start=$SECONDS

vpnflow_unload
dmesg -C
base_ct_objs=$(slab_objects nf_conntrack)

# --- the topology (lib-pair.sh; the manual tunnel: stress/common.sh) ---
# (Churn entries stay until deleted by hand: flow counts are exact.)
gw_pair || ktap_skip_all "cannot create the namespaces"

# --- traffic ---
# A sink on the server (port 5001) for every TCP stream; a UDP sink on 9001.
ip netns exec "$server" python3 "$TCPSTREAM" sink 5001 "$tmp/sink" &
defer kill $!
ip netns exec "$server" python3 "$UDPSTREAM" recv 9001 "$tmp/udp" &
defer kill $!

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
	busywait 20000 test -f "$tmp/sink.progress" || return 1
	stream_start s0 1 20000
	busywait 30000 gauge_is "$gwa" 1 && busywait 30000 gauge_is "$gwb" 1 && stream_stop s0 1 && ct_clean
}
ktap_check "setup: manual-SA tunnel carries a checked TCP stream, tracked on both gateways" setup_ok

# ======================================================================
# The phases, each in its file (stress/phaseN-*.sh; a new one is called
# here too, or the plan, counted from the files, is not what ran).
phase 1		# SA churn: rekeys and SAs to other peers, while flows run
phase 2		# tunnel flaps with preserve-vpn-flows
phase 3		# concurrent configuration from several processes
phase 4		# flow churn: thousands of short flows
phase 5		# conntrack table full
phase 6		# max_flows: the per-namespace limit, eviction
# Phases 7 and 8 make namespaces of their own, named $NSP-*.
NSP=stress-$(mktemp -u XXXXXX)
defer "for n in \$(ip netns list | awk '/^$NSP-/ { print \$1 }'); do ip netns del \$n; done"
phase 7		# namespaces created and destroyed with live tunnels
phase 8		# rmmod under traffic, preserved flows, pending SA events

# ======================================================================
teardown()
{
	local slack rc
	pkill -f "tcpstream.py .* $tmp/" 2>/dev/null
	pkill -f "udpstream.py .* $tmp/" 2>/dev/null
	_run_defer
	vpnflow_loaded && return 1
	slack=16
	busywait 120000 ct_objects_le $((base_ct_objs + slack))
	rc=$?
	ktap_info "conntrack objects: $base_ct_objs at the start, $(slab_objects nf_conntrack) after teardown"
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
ktap_info "stress total: $((SECONDS - t_start)) s (STRESS_SCALE=$SCALE)"
ktap_finish
