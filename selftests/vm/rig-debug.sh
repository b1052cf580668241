#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The debug rig's own test (check-debug): boot the debug kernel on a fixture
# module that makes it report each kind of problem check-debug must catch,
# and check that evaluate.sh and kmemleak.sh catch every one, in the
# formats this kernel prints them.
#
#   rig-debug.sh TREE        (TREE: debug-kernel.sh's kernel tree)
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"
tree=$1
fx=$here/rig-fixtures
tmp=$(mktemp -d)
defer rm -rf "$tmp"
ktap_plan 8

ktap_check "fixture debug module builds against the debug kernel" \
	sh -c "make -s -C '$tree' M='$fx/debug-mod' modules >/dev/null 2>&1"
defer make -s -C "$tree" M="$fx/debug-mod" clean

"$here/run-vm.sh" -K "$tree" -t 900 -a kasan_multi_shot -r "$tmp/r" -- \
	"$here/debug-guest.sh" "$fx/pass.sh" "$fx/debug.sh" >"$tmp/out" 2>&1
v=$("$here/evaluate.sh" "$tmp/r")
rc=$?
echo "$v" | sed 's/^/# /'
grep -E '^# (not )?ok|^# +# kmemleak' "$tmp/r/output" | sed 's/^/# guest: /'
ktap_check "the run is judged failed" [ "$rc" != 0 ]
for what in "BUG: sleeping function called from invalid context" \
	    "WARNING: suspicious RCU usage" \
	    "UBSAN: shift-out-of-bounds in .*vpnflow_rig_debug.c" \
	    "BUG: KASAN: slab-out-of-bounds in rig_kasan_oob" \
	    "WARNING: possible circular locking dependency detected"; do
	ktap_check "evaluate.sh reports: $what" sh -c 'echo "$1" | grep -qE "$2"' - "$v" "$what"
done
ktap_check "kmemleak.sh fails on the leak of the unloaded fixture module" \
	grep -q '^# not ok [0-9]* kmemleak: no leaked object allocated by a vpnflow module' "$tmp/r/output"
ktap_finish
