#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The debug kernel's leak check, the last test of `make check-debug` (run by
# debug-guest.sh, after every selftest): unload vpnflow_preserve, let
# kmemleak scan twice and report what it finds.
#
# Fails on a leaked object with a module of ours (vpnflow_*) in its
# allocation backtrace: a frame named [vpnflow_...], or an address in the
# module area that no longer resolves to a symbol -- a module that has been
# unloaded; on the debug kernel everything else is built in, so that can
# only be one of ours. Other suspects (kernel-internal) are listed too;
# they fail the run only with VPNFLOW_KMEMLEAK_STRICT=1.
#
#   +--------------------------------------+
#   | VM (debug kernel), init netns        |
#   |  rmmod vpnflow_preserve               |
#   |  echo scan > .../kmemleak (twice)    |
#   +--------------------------------------+
source "$(dirname "$0")/../lib.sh"
require_vm
km=/sys/kernel/debug/kmemleak
[ -w "$km" ] || ktap_skip_all "no kmemleak in this kernel (not the debug kernel)"
ktap_plan 3
tmp=$(mktemp -d)
defer rm -rf "$tmp"

vpnflow_unload
ktap_check "vpnflow_preserve is unloaded" sh -c '! [ -d /sys/module/vpnflow_preserve ]'

# kmemleak reports objects older than 5 s that no scan found a reference
# to; namespace teardown is asynchronous (cleanup_net). A second scan
# after a pause drops objects that were only in flight during the first.
sleep 5
echo scan >"$km"
sleep 5
echo scan >"$km"
cat "$km" >"$tmp/report"

# in_module_area FILE: a backtrace frame of FILE is an address in the
# x86-64 module area (from 0xffffffffa0000000) that resolves to no symbol.
in_module_area()
{
	local a
	for a in $(sed -nE 's/^ +\[<[0-9a-f]+>\] 0x([0-9a-f]{16})$/\1/p' "$1"); do
		[[ $a > ffffffffa0000000 && $a < ffffffffff000000 ]] && return 0
	done
	return 1
}

# Split the report into one file per object; classify by its backtrace.
awk -v dir="$tmp" '
	/^unreferenced object/ { n++; f = sprintf("%s/obj.%05d", dir, n) }
	n { print > f }
' "$tmp/report"
ours=0
other=0
for f in "$tmp"/obj.*; do
	[ -e "$f" ] || continue
	if grep -qE '\[vpnflow_[a-z_]+\]$' "$f" || in_module_area "$f"; then
		ours=$((ours + 1))
		mv "$f" "$f.ours"
	else
		other=$((other + 1))
	fi
done
ktap_info "kmemleak: $((ours + other)) unreferenced objects, $ours allocated by a vpnflow module"
for f in "$tmp"/obj.*.ours; do
	[ -e "$f" ] && sed 's/^/#   /' "$f"
done
if [ "$other" -gt 0 ]; then
	ktap_info "kmemleak: kernel-internal suspects (first 30):"
	for f in $(ls "$tmp"/obj.* | grep -v '\.ours$' | head -n 30); do
		sed 's/^/#   /' "$f"
	done
fi
ktap_check "kmemleak: no leaked object allocated by a vpnflow module" [ "$ours" = 0 ]
if [ "${VPNFLOW_KMEMLEAK_STRICT:-0}" = 1 ]; then
	ktap_check "kmemleak: no other unreferenced object (VPNFLOW_KMEMLEAK_STRICT=1)" [ "$other" = 0 ]
else
	ktap_ok "kmemleak: $other other (kernel-internal) suspects, not judged"
fi
ktap_finish
