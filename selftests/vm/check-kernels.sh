#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check-kernels`: the selftests on the kernels of kernels.sh other
# than the host's own (`make check` runs the whole suite there, and on
# these what kernels.sh's CI column says), each built with its suite's
# compiler, DKMS in its userland, a VM booting it. The whole suite takes
# 20 to 40 minutes per kernel under TCG.
# Ends with "N passed, N failed" and exits non-zero on any failure.
#
#   check-kernels.sh [-m full|core|short] [-t 'TEST...'] [TARGET...]
#                    (default: full, every target but bookworm; -t runs
#                    only these selftests/<name>.sh, whole, on each)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
mode=full
KERNEL_TESTS=
while getopts m:t: o; do
	case $o in
	m) mode=$OPTARG ;;
	t) KERNEL_TESTS=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
case $mode in full|core|short) ;; *) echo "check-kernels: -m full|core|short" >&2; exit 2 ;; esac
source selftests/vm/lib-check.sh

targets=("$@")
[ $# -gt 0 ] || mapfile -t targets < <(selftests/vm/kernels.sh list | grep -vx bookworm)

echo "KTAP version 1"
echo "# vpnflow selftests ($mode) on: ${targets[*]}"
run_step "build vpnsysopt" make tools
for t in "${targets[@]}"; do
	kernel_check "$t" "$mode"
done
totals
[ "$fail" = 0 ]
