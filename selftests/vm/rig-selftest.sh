#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The VM rig's own test: a runner that cannot fail proves nothing. Boot the
# VM on fixtures that fail in each way we must catch and check the verdict:
#   run 1: a passing test, a failing test, a test that stops short of its
#          plan, and a test that passes while the kernel WARNs
#   run 2: a test that crashes the guest kernel (no results at all)
#
#   rig-selftest.sh [-k KVER]
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"
kver=
while getopts k: o; do
	case $o in
	k) kver=$OPTARG ;;
	*) exit 2 ;;
	esac
done
[ -n "$kver" ] || kver=$("$here/guest-kver.sh") || exit 1
fx=$here/rig-fixtures
tmp=$(mktemp -d)
defer rm -rf "$tmp"
ktap_plan 7

ktap_check "fixture WARN module builds for $kver" \
	sh -c "make -s -C /lib/modules/$kver/build M=$fx/warn-mod modules >/dev/null 2>&1"
defer make -s -C "/lib/modules/$kver/build" M="$fx/warn-mod" clean

"$here/run-vm.sh" -k "$kver" -t 300 -r "$tmp/r1" -- "$here/guest-run.sh" \
	"$fx/pass.sh" "$fx/fail.sh" "$fx/short.sh" "$fx/warn.sh" >"$tmp/r1.out" 2>&1
v1=$("$here/evaluate.sh" "$tmp/r1")
rc1=$?
echo "$v1" | sed 's/^/# run 1: /'
ktap_check "a failing run is judged failed" [ "$rc1" != 0 ]
ktap_check "the deliberate failure is counted" \
	grep -q '^# not ok 2 fixture fails on purpose' "$tmp/r1/output"
ktap_check "a test that stops short of its plan is counted failed" \
	grep -q 'short.sh: planned 3 cases, reported 1' "$tmp/r1/output"
ktap_check "a kernel WARNING fails the run" \
	sh -c "echo '$v1' | grep -q 'WARNING: .*vpnflow_rig_warn'"
ktap_check "verdict: 4 passed, 3 failed (1 + 1 short + 1 WARN)" \
	sh -c "echo '$v1' | tail -n 1 | grep -qx 'pass:4 fail:3 skip:0'"

"$here/run-vm.sh" -k "$kver" -t 300 -r "$tmp/r2" -- "$here/guest-run.sh" \
	"$fx/crash.sh" >"$tmp/r2.out" 2>&1
v2=$("$here/evaluate.sh" "$tmp/r2")
rc2=$?
echo "$v2" | sed 's/^/# run 2: /'
ktap_check "a guest crash (no results) fails the run" \
	sh -c "[ $rc2 != 0 ] && echo '$v2' | grep -q 'no test totals'"
ktap_finish
