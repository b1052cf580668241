#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark's smoke run, for `make check`: `make bench` at
# BENCH_SCALE=smoke (1k-flow tunnel, 5k-entry table, one round of each
# part), then analyze.py check: every part measured what it says it
# measured (every flow preserved, resumed, found and torn down, every SYN
# clamped, armed re-installs walked nothing, rmmod freed the flows). KTAP;
# no speed is judged (the numbers of a smoke run under TCG mean nothing).
#
#   smoke.sh [RESULTS_DIR]      (default build/bench-smoke)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
res=${1:-$top/build/bench-smoke}
rm -rf "$res"
BENCH_SCALE=smoke BENCH_RESULTS=$res BENCH_MEM=${BENCH_MEM:-2048} BENCH_TIMEOUT=${BENCH_TIMEOUT:-1200} \
	bench/run.sh >"$res.log" 2>&1
rc=$?
sed 's/^/# /' "$res.log" | grep -v '^# |' | tail -n 5
[ -s "$res/results.jsonl" ] || { echo "# no results.jsonl (bench/run.sh status $rc); see $res"; exit 1; }
python3 bench/analyze.py check "$res/results.jsonl" || exit 1
[ "$rc" = 0 ] || { echo "# bench/run.sh status $rc"; exit 1; }
