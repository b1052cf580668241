#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: build the module and vpnsysopt for the VM's kernel, boot the
# VM and run demo-guest.sh there: a download across a tunnel flap on stock
# Linux, with preserve-vpn-flows off and on, side by side.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
kver=$(selftests/vm/guest-kver.sh) || exit 1
echo "building vpnflow_preserve for $kver and vpnsysopt ..."
make -s module KVER="$kver" >/dev/null 2>&1 && make -s tools >/dev/null 2>&1 ||
	{ echo "demo: build failed (run: make KVER=$kver)" >&2; exit 1; }
echo "booting the VM (qemu, TCG) ... this takes about 4 minutes"
res=$(mktemp -d)
trap 'rm -rf "$res"' EXIT
selftests/vm/run-vm.sh -k "$kver" -t 1200 -r "$res" -- selftests/vm/demo-guest.sh >/dev/null 2>&1
cat "$res/output"
[ -f "$res/status" ] && [ "$(cat "$res/status")" = 0 ]
