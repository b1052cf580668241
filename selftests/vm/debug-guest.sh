#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest command of `make check-debug`: clear kmemleak's boot-time
# suspects (they predate every test), then run the tests with guest-run.sh
# and kmemleak.sh last.
#
#   debug-guest.sh [-t PER_TEST_TIMEOUT_S] [-q QUEUE_DIR] TEST...
#
# -q: this guest is one of several lanes sharing the tests (guest-run.sh
# -q); each lane ends with its own leak check.
here=$(cd "$(dirname "$0")" && pwd)
args=()
while [ $# -gt 0 ]; do
	case $1 in
	-t | -q) args+=("$1" "$2"); shift 2 ;;
	*) break ;;
	esac
done
km=/sys/kernel/debug/kmemleak
if [ -w "$km" ]; then
	echo scan >"$km"
	echo clear >"$km"
fi
exec "$here/guest-run.sh" "${args[@]}" -e "$here/kmemleak.sh" "$@"
