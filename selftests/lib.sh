#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers for vpnflow selftests, in the manner of the kernel's
# tools/testing/selftests/net/lib.sh: KTAP output, random netns names,
# deferred cleanup, polling waits.
#
# A test script sources this, calls ktap_plan N, reports each case with
# ktap_result / ktap_ok / ktap_fail / ktap_skip, and ends with ktap_finish.

set -u

KSFT_SKIP=4

_ktap_n=0
_ktap_pass=0
_ktap_fail=0
_ktap_skipped=0

VPNFLOW_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VPNFLOW_KO=${VPNFLOW_KO:-$VPNFLOW_TOP/kmod/vpnflow_preserve.ko}
VPNSYSOPT=${VPNSYSOPT:-$VPNFLOW_TOP/tools/vpnsysopt}

ktap_plan()
{
	echo "KTAP version 1"
	echo "1..$1"
}

# ktap_result RC DESCRIPTION: RC 0 pass, 4 skip, anything else fail.
ktap_result()
{
	local rc=$1
	shift
	_ktap_n=$((_ktap_n + 1))
	case $rc in
	0) _ktap_pass=$((_ktap_pass + 1)); echo "ok $_ktap_n $*" ;;
	4) _ktap_skipped=$((_ktap_skipped + 1)); echo "ok $_ktap_n $* # SKIP" ;;
	*) _ktap_fail=$((_ktap_fail + 1)); echo "not ok $_ktap_n $*" ;;
	esac
}

ktap_ok() { ktap_result 0 "$@"; }
ktap_fail() { ktap_result 1 "$@"; }
ktap_skip() { ktap_result 4 "$@"; }

# ktap_check DESCRIPTION COMMAND...: pass if COMMAND succeeds. A check
# that took 2 s or more says how long (a "# (N s)" line before its result):
# the long scripts must stay bounded in time.
ktap_check()
{
	local desc=$1 t=$SECONDS rc
	shift
	"$@"
	rc=$?
	[ $((SECONDS - t)) -lt 2 ] || ktap_info "($((SECONDS - t)) s)"
	if [ "$rc" = 0 ]; then ktap_ok "$desc"; else ktap_fail "$desc"; fi
}

ktap_info() { echo "# $*"; }

# ktap_quiet DESCRIPTION CMD...: one test point for CMD (a build, an
# install), its output kept out of the way; on failure its last 20 lines.
ktap_quiet()
{
	local desc=$1 log rc
	shift
	log=$(mktemp)
	"$@" >"$log" 2>&1
	rc=$?
	[ "$rc" = 0 ] || sed 's/^/# /' "$log" | tail -n 20
	rm -f "$log"
	ktap_result "$rc" "$desc"
}

ktap_finish()
{
	echo "# Totals: pass:$_ktap_pass fail:$_ktap_fail xfail:0 xpass:0 skip:$_ktap_skipped error:0"
	[ "$_ktap_fail" -eq 0 ] || exit 1
	[ "$_ktap_pass" -gt 0 ] || [ "$_ktap_skipped" -eq 0 ] || exit "$KSFT_SKIP"
	exit 0
}

# Skip the whole script: print a plan of 1 with a skipped case.
ktap_skip_all()
{
	ktap_plan 1
	ktap_skip "$*"
	echo "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0"
	exit "$KSFT_SKIP"
}

# --- deferred cleanup (run in reverse order at exit) ---
_defer_cmds=()
defer()
{
	_defer_cmds+=("$*")
}

_run_defer()
{
	local i
	for ((i = ${#_defer_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_defer_cmds[$i]}" >/dev/null 2>&1
	done
	_defer_cmds=()
}
trap _run_defer EXIT

# --- network namespaces ---
# setup_ns VAR...: create one namespace per VAR with a random name, store
# the name in VAR, bring up lo, and remove it at exit.
setup_ns()
{
	local var name
	for var in "$@"; do
		name="$var-$(mktemp -u XXXXXX)"
		ip netns add "$name" || return 1
		ip -n "$name" link set lo up
		defer ip netns del "$name"
		eval "$var=$name"
	done
}

# --- polling waits ---
# busywait TIMEOUT_MS COMMAND...: run COMMAND until it succeeds or the
# time is up; returns COMMAND's last status. VPNFLOW_SLOW=N (an integer,
# default 1) multiplies every such timeout, for slow guests (the debug
# kernel: KASAN and lockdep under TCG); what is waited for stays the same.
# BUSYWAIT_POLL: seconds between two tries (default 0.05); a script whose
# tries each run several programs polls slower (stress.sh: 0.25 s), so that
# under TCG the polling does not take the CPU from what it waits for.
VPNFLOW_SLOW=${VPNFLOW_SLOW:-1}
BUSYWAIT_POLL=${BUSYWAIT_POLL:-0.05}

# VPNFLOW_CORE=1: the long scripts run their core cases only (what every
# kernel but the main one runs in `make check`, see selftests/vm/check.sh);
# a script says which cases it leaves out.
VPNFLOW_CORE=${VPNFLOW_CORE:-0}
busywait()
{
	local end=$((${EPOCHREALTIME/./} / 1000 + $1 * VPNFLOW_SLOW)) rc
	shift
	while :; do
		"$@" && return 0
		rc=$?
		[ $((${EPOCHREALTIME/./} / 1000)) -lt "$end" ] || return "$rc"
		sleep "$BUSYWAIT_POLL"
	done
}

# --- the module ---
vpnflow_loaded() { [ -d /sys/module/vpnflow_preserve ]; }

# Load the module built in this tree (its dependencies through modprobe).
vpnflow_load()
{
	vpnflow_loaded && return 0
	for dep in $(modinfo -F depends "$VPNFLOW_KO" | tr , ' '); do
		modprobe "$dep" || return 1
	done
	insmod "$VPNFLOW_KO"
}

vpnflow_unload()
{
	vpnflow_loaded || return 0
	rmmod vpnflow_preserve
}

# vpnflow_connlabels DIR: name the module's conntrack label bits in
# /etc/xtables/connlabel.conf (conntrack) and /etc/connlabel.conf (nft);
# each file is put back as it was at the end (DIR keeps the old ones).
vpnflow_connlabels()
{
	local f
	mkdir -p /etc/xtables
	for f in /etc/xtables/connlabel.conf /etc/connlabel.conf; do
		if [ -e "$f" ]; then
			cp "$f" "$1/${f//\//_}"
			defer cp "$1/${f//\//_}" "$f"
		else
			defer rm -f "$f"
		fi
		printf '%s\n' "126 vpnflow-tunneled" "127 vpnflow-preserved" >"$f"
	done
}

# Tests need root and the VM (this module is never loaded on the host).
require_vm()
{
	[ "$(id -u)" = 0 ] || ktap_skip_all "needs root"
	[ "${VPNFLOW_IN_VM:-}" = 1 ] || ktap_skip_all "runs in the test VM (selftests/vm/check.sh)"
}

# --- vpnsysopt's JSON ---
# json_get NAME [FILE]: the member NAME of the flat JSON object in FILE
# (default: standard input), as `vpnsysopt -j show counters` and
# `-j show running-config` print it: a number, true, false, null or a
# string without escapes (printed without its quotes). Pure
# bash: no python3 to start on every poll of a counter (a fraction of a
# second under TCG). Prints nothing and fails when there is no such member, or no
# JSON; a caller that compares the value gives its own fallback
# (`|| echo -1`) where an empty one would not fail the comparison.
json_get()
{
	local j v re='[{,]"'"$1"'":(-?[0-9]+|true|false|null|"[^"\\]*")[,}]'
	if [ $# -gt 1 ]; then
		j=$(cat -- "$2" 2>/dev/null) || return 1
	else
		j=$(cat)
	fi
	j=${j//[$' \t\n']/}
	[[ $j =~ $re ]] || return 1
	v=${BASH_REMATCH[1]}
	v=${v#\"}
	echo "${v%\"}"
}

# vpnflow_counter NETNS NAME: one of NETNS's counters (vpnsysopt's JSON
# names: flows, flows_held, sa_events...), read now; as json_get.
vpnflow_counter() { vpnflow_field "$1" "$2" show counters; }

# nft_packets NETNS FAMILY TABLE NAME...: the packets the named counters
# NAME... of NETNS's nft table FAMILY TABLE have counted, summed.
nft_packets()
{
	local ns=$1 fam=$2 table=$3
	shift 3
	ip netns exec "$ns" nft -j list counters table "$fam" "$table" |
		python3 -c 'import json, sys
print(sum(o["counter"]["packets"] for o in json.load(sys.stdin)["nftables"]
	  if "counter" in o and o["counter"]["name"] in sys.argv[1:]))' "$@"
}

# vpnflow_field NETNS NAME ARGS...: one member of what the show command
# ARGS prints with -j in NETNS (vpnflow_field "$ns" tcpmss show
# running-config all); as json_get.
vpnflow_field()
{
	local ns=$1 name=$2
	shift 2
	"$VPNSYSOPT" -n "$ns" -j "$@" | json_get "$name"
}

# vpnflow_counter_ge NETNS NAME MIN: that counter is MIN or more (to
# busywait on).
vpnflow_counter_ge() { [ "$(vpnflow_counter "$1" "$2")" -ge "$3" ] 2>/dev/null; }

# json_len [FILE]: how many elements the JSON array in FILE (default:
# standard input) has, as `vpnsysopt -j show conn` and `show vpn-context`
# print them (python3: their elements are objects).
json_len()
{
	python3 -c 'import json, sys
print(len(json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)))' "$@"
}

# An ESP SA (state only: nothing is sent) for tests of the xfrm listener.
# xfrm_sa_add NETNS SRC DST SPI [REQID]
xfrm_sa_add()
{
	ip -n "$1" xfrm state add src "$2" dst "$3" proto esp spi "$4" reqid "${5:-1}" \
		mode tunnel aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128
}
