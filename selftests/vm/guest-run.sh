#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs selftests inside the VM, kselftest runner style: each test's KTAP is
# nested ("# " prefixed) under one top-level result per test. Prints
# "# Totals:" counting every test case of every script; a script that exits
# non-zero (or stops short of its plan) without reporting a failure is
# counted as one failed case.
#
#   guest-run.sh [-t PER_TEST_TIMEOUT_S] TEST...
set -u
per_test=900
while getopts t: o; do
	case $o in
	t) per_test=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))

pass=0
fail=0
skip=0
n=0
echo "KTAP version 1"
echo "1..$#"
for t in "$@"; do
	n=$((n + 1))
	name=$(basename "$t")
	out=$(mktemp)
	timeout -k 5 "$per_test" "$t" 2>&1 | tee "$out" | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
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
		echo "not ok $n $name"
	elif [ "$rc" = 4 ]; then
		echo "ok $n $name # SKIP"
	else
		echo "ok $n $name"
	fi
	rm -f "$out"
done
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[ "$fail" = 0 ]
