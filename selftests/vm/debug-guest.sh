#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest command of `make check-debug`: clear kmemleak's boot-time
# suspects (they predate every test), then run the tests with guest-run.sh
# and kmemleak.sh last.
#
#   debug-guest.sh [-t PER_TEST_TIMEOUT_S] TEST...
here=$(cd "$(dirname "$0")" && pwd)
targs=()
if [ "${1:-}" = -t ]; then
	targs=(-t "$2")
	shift 2
fi
km=/sys/kernel/debug/kmemleak
if [ -w "$km" ]; then
	echo scan >"$km"
	echo clear >"$km"
fi
exec "$here/guest-run.sh" "${targs[@]}" "$@" "$here/kmemleak.sh"
