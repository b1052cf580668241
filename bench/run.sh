#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: build, boot the test VM, run bench/bench.sh in it, print the
# table. Results (results.jsonl, table.txt, table.md, console log) land in
# $BENCH_RESULTS (default build/bench). `make bench-doc` then puts
# table.md into docs/benchmarks.md.
#
# Environment: BENCH_SCALE=full|quick, BENCH_FLOWS, BENCH_TABLE,
# BENCH_PAIRS, BENCH_REPS, BENCH_PARTS, BENCH_RESUME_REPS,
# BENCH_RESUME_OUTAGE (see bench/bench.sh), BENCH_MEM
# (guest MiB, default 4096), BENCH_TIMEOUT (s, default 5400), BENCH_KO
# (measure that vpnflow_preserve.ko instead of this tree's), BENCH_KO_B
# (part 5: the A/B of BENCH_KO and this one),
# BENCH_ICOUNT=SHIFT (run the VM with one CPU under qemu's instruction
# counting, run-vm.sh -i: durations measured in the guest then count
# instructions, 2^SHIFT ns each, unaffected by what else the host runs;
# for A/B comparisons of the module's own work, not for throughput).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
res=${BENCH_RESULTS:-$top/build/bench}
mkdir -p "$res"
res=$(cd "$res" && pwd)
kver=$(selftests/vm/guest-kver.sh) || exit 1
make -s module KVER="$kver" >"$res/build.log" 2>&1 && make -s tools >>"$res/build.log" 2>&1 &&
	make -s -C bench flowgen >>"$res/build.log" 2>&1 ||
	{ cat "$res/build.log" >&2; echo "bench: build failed" >&2; exit 1; }
calib=$(bench/flowgen calib) || exit 1
echo "bench: host calibration $calib ns/step; booting the VM (results in $res)"
start=$(date +%s)
# The guest sees the host's files at the same absolute paths.
ko=$(realpath "${BENCH_KO:-$top/kmod/vpnflow_preserve.ko}") || exit 1
kob=${BENCH_KO_B:+$(realpath "$BENCH_KO_B")}
selftests/vm/run-vm.sh -k "$kver" -m "${BENCH_MEM:-4096}" -t "${BENCH_TIMEOUT:-5400}" \
	${BENCH_ICOUNT:+-i "$BENCH_ICOUNT"} -r "$res" -- \
	env BENCH_OUT=/mnt BENCH_HOST_CALIB="$calib" VPNFLOW_KO="$ko" BENCH_ICOUNT="${BENCH_ICOUNT:-}" \
	BENCH_KO_B="$kob" \
	BENCH_SCALE="${BENCH_SCALE:-full}" BENCH_FLOWS="${BENCH_FLOWS:-}" \
	BENCH_TABLE="${BENCH_TABLE:-}" BENCH_PAIRS="${BENCH_PAIRS:-}" \
	BENCH_REPS="${BENCH_REPS:-}" BENCH_PARTS="${BENCH_PARTS:-}" \
	BENCH_RESUME_REPS="${BENCH_RESUME_REPS:-}" BENCH_RESUME_OUTAGE="${BENCH_RESUME_OUTAGE:-}" \
	"$top/bench/bench.sh" >"$res/run.log" 2>&1
rc=$?
echo "bench: VM finished (status $rc) after $(($(date +%s) - start)) s"
if [ -s "$res/table.txt" ]; then
	cat "$res/table.txt"
	echo
	echo "bench: markdown table in $res/table.md; 'make bench-doc' copies it into docs/benchmarks.md"
else
	echo "bench: no table; see $res/output and $res/console.log" >&2
	rc=1
fi
exit "$rc"
