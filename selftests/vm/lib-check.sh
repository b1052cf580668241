#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared by check.sh (`make check`) and check-debug.sh (`make check-debug`):
# the host-side KTAP bookkeeping. Every host step is one top-level KTAP
# line; the cases of host tests and of the VM run are added to the
# pass/fail/skip totals that end the run.

pass=0
fail=0
skip=0
step=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# select_tests [TEST...]: the selftests to run in the VM, in $tests: those
# named, or every selftests/*.sh but the libraries (then $full is 1).
select_tests()
{
	if [ $# -gt 0 ]; then
		tests=("$@")
		full=0
	else
		mapfile -t tests < <(ls selftests/*.sh | grep -v '/lib[^/]*\.sh$')
		full=1
	fi
}

# result NAME RC: one top-level KTAP line per host step.
result()
{
	step=$((step + 1))
	case $2 in
	0) pass=$((pass + 1)); echo "ok $step $1" ;;
	4) skip=$((skip + 1)); echo "ok $step $1 # SKIP" ;;
	*) fail=$((fail + 1)); echo "not ok $step $1" ;;
	esac
}

# host_ktap NAME CMD...: run a host test that prints KTAP; count its cases.
host_ktap()
{
	local name=$1 out rc p s f
	shift
	out=$log/$step.out
	"$@" >"$out" 2>&1
	rc=$?
	sed 's/^/# /' "$out"
	p=$(grep -cE '^ok [0-9]+ ' "$out")
	s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$out")
	f=$(grep -cE '^not ok [0-9]+ ' "$out")
	pass=$((pass + p - s))
	skip=$((skip + s))
	fail=$((fail + f))
	if [ "$rc" != 0 ] && [ "$rc" != 4 ] && [ "$f" = 0 ]; then
		fail=$((fail + 1))
		echo "# $name: exit status $rc"
	fi
	step=$((step + 1))
	[ "$rc" = 0 ] || [ "$rc" = 4 ] && echo "ok $step $name" || echo "not ok $step $name"
}

# run_step NAME CMD...: a plain command, pass on exit 0, output kept short.
run_step()
{
	local name=$1 rc
	shift
	"$@" >"$log/step.out" 2>&1
	rc=$?
	[ "$rc" = 0 ] || tail -n 40 "$log/step.out" | sed 's/^/# /'
	result "$name" "$rc"
	return "$rc"
}

# vm_verdict NAME RESULTS_DIR: evaluate.sh's verdict on a VM run, its
# cases counted.
vm_verdict()
{
	local verdict rc counts
	verdict=$(selftests/vm/evaluate.sh "$2")
	rc=$?
	echo "$verdict" | grep '^#'
	counts=$(echo "$verdict" | tail -n 1)
	pass=$((pass + $(echo "$counts" | sed -E 's/pass:([0-9]+).*/\1/')))
	fail=$((fail + $(echo "$counts" | sed -E 's/.*fail:([0-9]+).*/\1/')))
	skip=$((skip + $(echo "$counts" | sed -E 's/.*skip:([0-9]+).*/\1/')))
	step=$((step + 1))
	[ "$rc" = 0 ] && echo "ok $step $1" || echo "not ok $step $1"
}

# totals: the KTAP totals and the line CI looks for.
totals()
{
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
	echo "$pass passed, $fail failed"
}
