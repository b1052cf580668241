#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check-debug`: the selftests on a debug kernel.
#   1. build (or take from the cache) the debug kernel: Debian's
#      linux-source-6.1 with debug.config (KASAN, kmemleak, lockdep,
#      PROVE_RCU, DEBUG_ATOMIC_SLEEP, UBSAN, DEBUG_LIST, panic on oops)
#   2. build the module against that tree (with -g, for file:line) and vpnsysopt
#   3. the debug rig's self-test: the run must catch each kind of report
#   4. boot the debug kernel in VPNFLOW_LANES guests at once (default 2:
#      TCG runs a guest's tests mostly on one host core), which share the
#      selftests/*.sh through a queue (guest-run.sh -q), longest first;
#      each guest ends with kmemleak.sh. Judged by evaluate.sh per guest:
#      any failed case, test without a result, splat, lockdep report or
#      kmemleak finding of ours fails the run. A test may take 2 hours
#      (stress.sh took more than one on a loaded host). The soft-lockup
#      watchdog fires after 120 s instead of 20 (watchdog_thresh=60): a
#      TCG vCPU the host does not run for 20 s is not a kernel lockup
#      (seen: user page copies "stuck" 22-90 s with the host at load 8)
# Ends with "N passed, N failed" and exits non-zero on any failure. Each
# guest's results (console.log, dmesg, kmsg, output) are in laneN/ of
# ${VPNFLOW_VM_CACHE:-~/.cache/vpnflow-vm}/debug-results, the queue (which
# lane ran what, its result and seconds) in queue/; the durations order
# the next run's tests (debug-durations next to it).
#
#   check-debug.sh [TEST...]      (TEST: selftests/<name>.sh; default all)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

source selftests/vm/lib-check.sh

finish()
{
	totals
	[ "$fail" = 0 ]
	exit
}

select_tests "$@"
cache=${VPNFLOW_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vpnflow-vm}
res=$cache/debug-results

echo "KTAP version 1"
start=$(date +%s)
tree=$(selftests/vm/debug-kernel.sh -q 2>/dev/null) ||
	echo "# building the debug kernel first (cached afterwards)"
run_step "debug kernel built" selftests/vm/debug-kernel.sh || finish
tree=$(selftests/vm/debug-kernel.sh -q) || finish
kver=$(cat "$tree/include/config/kernel.release")
echo "# debug kernel $kver: $tree"

run_step "build module for $kver" make module KDIR="$tree" KCFLAGS=-g || finish
run_step "build vpnsysopt" make tools || finish

if [ "$full" = 1 ]; then
	host_ktap "debug rig catches splats, lockdep and leaks" selftests/vm/rig-debug.sh "$tree"
fi

# Longest first, by the last run's durations (seconds) if it recorded
# every test; else stress.sh and preserve.sh, then the rest by size
# (bytes: the two units are never mixed in one sort).
durs=$cache/debug-durations
mapfile -t tests < <(
	known=1
	for t in "${tests[@]}"; do
		grep -q "^$(basename "$t") [0-9]" "$durs" 2>/dev/null || known=0
	done
	for t in "${tests[@]}"; do
		n=$(basename "$t")
		if [ "$known" = 1 ]; then
			w=$(awk -v n="$n" '$1 == n { print $2; exit }' "$durs")
		else
			case $n in stress.sh) w=200000000 ;; preserve.sh) w=100000000 ;;
			*) w=$(stat -c %s "$t") ;; esac
		fi
		echo "$w $t"
	done | sort -rn | cut -d' ' -f2-)
lanes=${VPNFLOW_LANES:-2}
[ "$lanes" -ge 1 ] 2>/dev/null || lanes=1
[ "$lanes" -le "${#tests[@]}" ] || lanes=${#tests[@]}

rm -rf "$res"
mkdir -p "$res/queue"
echo "# the selftests on $kver in $lanes guests; results in $res"
# lane N: one guest of the queue. Debian 12's qemu (7.2) has been seen to
# segfault while booting (host dmesg "segfault ... in qemu-system-x86_64",
# console ending at "Booting from ROM..."). A guest that died before its
# command started (no output file: it cannot have taken a test from the
# queue) is booted again, twice at most; one that died later is a failure.
lane()
{
	local l=$1 try rc
	for try in 1 2 3; do
		selftests/vm/run-vm.sh -K "$tree" -t 14400 -a "kasan_multi_shot watchdog_thresh=60" \
			-s "$res/queue" -r "$res/lane$l" -- \
			env VPNFLOW_DKMS=0 VPNFLOW_KO=/mnt/vpnflow_preserve.ko VPNSYSOPT=/mnt/vpnsysopt \
			VPNFLOW_SLOW="${VPNFLOW_SLOW:-3}" VPNFLOW_KMEMLEAK_STRICT="${VPNFLOW_KMEMLEAK_STRICT:-0}" \
			selftests/vm/debug-guest.sh -t 7200 -q /run/vpnflow-share "${tests[@]}" 2>&1
		rc=$?
		[ "$rc" = 125 ] && [ ! -e "$res/lane$l/output" ] && [ "$try" -lt 3 ] || return "$rc"
		cp "$res/lane$l/console.log" "$res/lane$l/console-died-$try.log" 2>/dev/null
		echo "check-debug: the guest died before its command started; booting it again"
	done
}

pids=()
for ((l = 1; l <= lanes; l++)); do
	mkdir -p "$res/lane$l"
	cp kmod/vpnflow_preserve.ko tools/vpnsysopt "$res/lane$l/"
	lane "$l" | grep --line-buffered -v $'\e' | sed -u "s/^/# lane$l: /" &
	pids+=($!)
done
wait "${pids[@]}"
for ((l = 1; l <= lanes; l++)); do
	vm_verdict "selftests on the debug kernel, guest $l of $lanes" "$res/lane$l"
done
# Every test ran in some guest to its end (a guest that crashed leaves the
# test it was running claimed, without a result).
missing=0
: >"$log/durations"
for t in "${tests[@]}"; do
	n=$(basename "$t")
	if [ -f "$res/queue/$n/result" ]; then
		echo "$n $(cat "$res/queue/$n/seconds")" >>"$log/durations"
	else
		[ -d "$res/queue/$n" ] && why="started, never finished" || why="never started"
		result "$n ran to its end in a guest ($why)" 1
		missing=$((missing + 1))
	fi
done
[ "$missing" = 0 ] && result "every selftest ran to its end in a guest" 0
# This run's durations, and the last known of the tests it did not run.
{ cat "$log/durations"; cat "$durs" 2>/dev/null; } | awk '!seen[$1]++' >"$durs.new" &&
	mv "$durs.new" "$durs"
echo "# seconds per test: $(sort -k2 -rn "$log/durations" | tr '\n' ' ')"
echo "# check-debug took $(( ($(date +%s) - start) / 60 )) min"
finish
