#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: build the module and vpnsysopt for the VM's kernel, boot the
# VM and run demo-guest.sh there: a download across a tunnel flap on stock
# Linux, with preserve-vpn-flows off and on, side by side. The guest's
# lines are shown as it writes them (its output file in the results
# folder, which the guest writes through 9p), the table last.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
kver=$(selftests/vm/guest-kver.sh) || exit 1
echo "building vpnflow_preserve for $kver and vpnsysopt ..."
make -s module KVER="$kver" >/dev/null 2>&1 && make -s tools >/dev/null 2>&1 ||
	{ echo "demo: build failed (run: make KVER=$kver)" >&2; exit 1; }
echo "booting the VM (qemu, TCG): about 6 minutes in all, its progress follows"
res=$(mktemp -d)
vm=
trap '[ -z "$vm" ] || kill "$vm" 2>/dev/null; rm -rf "$res"' EXIT
selftests/vm/run-vm.sh -k "$kver" -t 1200 -r "$res" -- selftests/vm/demo-guest.sh >/dev/null 2>&1 &
vm=$!

# show: the guest's complete lines not shown yet (a line still being
# written waits for its end); show all: the rest, at the end.
shown=0
show()
{
	local n
	if [ "${1:-}" = all ]; then
		tail -n +$((shown + 1)) "$res/output" 2>/dev/null
		return
	fi
	n=$(wc -l 2>/dev/null <"$res/output") || return 0
	[ "$n" -gt "$shown" ] || return 0
	sed -n "$((shown + 1)),${n}p" "$res/output"
	shown=$n
}
while kill -0 "$vm" 2>/dev/null; do
	show
	sleep 1
done
wait "$vm"
vm=
show all
if [ ! -f "$res/status" ]; then
	echo "demo: the VM did not finish (crash or timeout); the end of its console:" >&2
	tail -n 30 "$res/console.log" >&2
	exit 1
fi
[ "$(cat "$res/status")" = 0 ]
