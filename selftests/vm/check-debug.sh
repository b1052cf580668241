#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check-debug`: the selftests on a debug kernel.
#   1. build (or take from the cache) the debug kernel: Debian's
#      linux-source-6.1 with debug.config (KASAN, kmemleak, lockdep,
#      PROVE_RCU, DEBUG_ATOMIC_SLEEP, UBSAN, DEBUG_LIST, panic on oops)
#   2. build the module against that tree (with -g, for file:line) and vpnsysopt
#   3. the debug rig's self-test: the run must catch each kind of report
#   4. boot the debug kernel and run every selftests/*.sh in it, then
#      kmemleak.sh; judged by evaluate.sh: any failed case, missing result,
#      splat, lockdep report or kmemleak finding of ours fails the run
# Ends with "N passed, N failed" and exits non-zero on any failure. The
# guest's results (console.log, dmesg, output) and the module built for it
# stay in ${VPNFLOW_VM_CACHE:-~/.cache/vpnflow-vm}/debug-results.
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

rm -rf "$res"
mkdir -p "$res"
cp kmod/vpnflow_preserve.ko tools/vpnsysopt "$res/"
echo "# the selftests on $kver; results in $res"
selftests/vm/run-vm.sh -K "$tree" -t 14400 -a kasan_multi_shot -r "$res" -- \
	env VPNFLOW_DKMS=0 VPNFLOW_KO=/mnt/vpnflow_preserve.ko VPNSYSOPT=/mnt/vpnsysopt \
	VPNFLOW_SLOW="${VPNFLOW_SLOW:-3}" VPNFLOW_KMEMLEAK_STRICT="${VPNFLOW_KMEMLEAK_STRICT:-0}" \
	selftests/vm/debug-guest.sh -t 3600 "${tests[@]}" | grep --line-buffered -v $'\e'
vm_verdict "selftests on the debug kernel" "$res"
echo "# check-debug took $(( ($(date +%s) - start) / 60 )) min"
finish
