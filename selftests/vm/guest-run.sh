#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs selftests inside the VM, kselftest runner style: each test's KTAP is
# nested ("# " prefixed) under one top-level result per test. Prints
# "# Totals:" counting every test case of every script; a script that exits
# non-zero (or stops short of its plan) without reporting a failure is
# counted as one failed case. Each test's duration is printed after it.
#
#   guest-run.sh [-t PER_TEST_TIMEOUT_S] [-q QUEUE_DIR] [-e TEST]... TEST...
#
# -q: several guests share the TESTs (check-debug's lanes): a guest runs a
# test only if it claims it first, by creating QUEUE_DIR/NAME (mkdir is
# atomic on the shared folder), and leaves there "result" (ok, not ok or
# skip, written when the test is over) and "seconds". The guests take the
# tests in the order given, so the longest should come first.
# -e TEST: run TEST after the others in every guest, unclaimed (the leak
# check of check-debug).
set -u
per_test=900
queue=
every=()
while getopts t:q:e: o; do
	case $o in
	t) per_test=$OPTARG ;;
	q) queue=$OPTARG ;;
	e) every+=("$OPTARG") ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))

pass=0
fail=0
skip=0
n=0
echo "KTAP version 1"
# With a queue, how many tests this guest gets is known only at the end:
# the plan comes last (TAP allows a trailing plan).
[ -n "$queue" ] || echo "1..$(($# + ${#every[@]}))"
tests=("$@")
nq=$#
tests+=(${every[@]+"${every[@]}"})
for ((i = 0; i < ${#tests[@]}; i++)); do
	t=${tests[i]}
	name=$(basename "$t")
	claim=
	if [ -n "$queue" ] && [ "$i" -lt "$nq" ]; then
		mkdir "$queue/$name" 2>/dev/null || continue
		claim=$queue/$name
	fi
	n=$((n + 1))
	out=$(mktemp)
	t0=$(date +%s)
	timeout -k 5 "$per_test" "$t" 2>&1 | tee "$out" | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
	secs=$(($(date +%s) - t0))
	echo "# $name: ${secs} s"
	plan=$(sed -n 's/^1\.\.\([0-9]\+\)$/\1/p' "$out" | head -n 1)
	p=$(grep -cE '^ok [0-9]+ ' "$out" | head -n 1)
	s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$out" | head -n 1)
	f=$(grep -cE '^not ok [0-9]+ ' "$out" | head -n 1)
	p=$((p - s))
	extra=0
	if [ "$rc" != 0 ] && [ "$rc" != 4 ] && [ "$f" = 0 ]; then
		extra=1
		echo "# $name: exited with status $rc without reporting a failure"
	elif [ -n "$plan" ] && [ $((p + s + f)) -ne "$plan" ]; then
		extra=1
		echo "# $name: planned $plan cases, reported $((p + s + f))"
	elif [ -z "$plan" ]; then
		extra=1
		echo "# $name: no KTAP plan"
	fi
	pass=$((pass + p))
	skip=$((skip + s))
	fail=$((fail + f + extra))
	if [ $((f + extra)) -gt 0 ]; then
		verdict="not ok"
		echo "not ok $n $name"
	elif [ "$rc" = 4 ]; then
		verdict=skip
		echo "ok $n $name # SKIP"
	else
		verdict=ok
		echo "ok $n $name"
	fi
	if [ -n "$claim" ]; then
		echo "$secs" >"$claim/seconds"
		echo "$verdict" >"$claim/result"
	fi
	rm -f "$out"
done
[ -z "$queue" ] || echo "1..$n"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[ "$fail" = 0 ]
