#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: the whole test suite.
#   1. build the module for the VM's kernel (Debian linux-image-amd64) and vpnsysopt
#   2. host checks: netlink spec in sync, checkpatch, sparse, CLI host tests,
#      the CLI's fuzz harnesses for a bounded time, the VM rig's own
#      self-test (it must catch a failing test and a WARN)
#   3. DKMS: install for the VM's kernel on the host
#   4. the selftests in the VM (KTAP streamed), judged by evaluate.sh
#   5. DKMS: remove, and nothing may be left behind
# Ends with "N passed, N failed" and exits non-zero on any failure.
#
#   check.sh [-k KVER] [TEST...]      (TEST: selftests/<name>.sh; default all)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
kver=
while getopts k: o; do
	case $o in
	k) kver=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ -n "$kver" ] || kver=$(selftests/vm/guest-kver.sh) || exit 1

if [ $# -gt 0 ]; then
	tests=("$@")
	full=0
else
	mapfile -t tests < <(ls selftests/*.sh | grep -v '/lib[^/]*\.sh$')
	full=1
fi

pass=0
fail=0
skip=0
step=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

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

echo "KTAP version 1"
echo "# vpnflow selftests, guest kernel $kver"

if ! run_step "build module for $kver" make module KVER="$kver" ||
   ! run_step "build vpnsysopt" make tools; then
	echo "$pass passed, $fail failed"
	exit 1
fi

if [ "$full" = 1 ]; then
	run_step "netlink spec and generated files in sync" scripts/check-spec.sh
	run_step "checkpatch clean (make style)" scripts/style.sh
	run_step "sparse clean (make sparse)" scripts/sparse.sh "/lib/modules/$kver/build"
	host_ktap "vpnsysopt host tests" bash tools/tests/cli-host.sh
	run_step "build the fake vpnflow family (LD_PRELOAD)" make -C tools tests/fake-vpnflow.so
	host_ktap "vpnsysopt output against a fake vpnflow family" bash tools/tests/cli-fake.sh
	# 200000 inputs per harness, 40 s at most each: 30-50 s with the
	# build beside three qemu VMs on 2 cores, 90 s at most.
	host_ktap "vpnsysopt fuzz harnesses (bounded)" \
		make -s -C tools fuzz-run FUZZ_RUNS=200000 FUZZ_TIME=40
	host_ktap "VM rig catches failures" selftests/vm/rig-selftest.sh -k "$kver"
fi

dkms=0
if [ "$full" = 1 ] || printf '%s\n' "${tests[@]}" | grep -q dkms; then
	run_step "dkms install for $kver" make dkms-install KVER="$kver" && dkms=1
fi

# The guest runs a snapshot of what was just built (in the results folder,
# /mnt in the guest), so rebuilding the tree meanwhile cannot disturb it.
res=$log/vm
mkdir -p "$res"
cp kmod/vpnflow_preserve.ko tools/vpnsysopt "$res/"
selftests/vm/run-vm.sh -k "$kver" -t 3000 -r "$res" -- \
	env VPNFLOW_DKMS=$dkms RR_VTI=${RR_VTI:-0} VPNFLOW_KO=/mnt/vpnflow_preserve.ko VPNSYSOPT=/mnt/vpnsysopt \
	selftests/vm/guest-run.sh "${tests[@]}" | grep --line-buffered -v $'\e'
verdict=$(selftests/vm/evaluate.sh "$res")
rc=$?
echo "$verdict" | grep '^#'
counts=$(echo "$verdict" | tail -n 1)
pass=$((pass + $(echo "$counts" | sed -E 's/pass:([0-9]+).*/\1/')))
fail=$((fail + $(echo "$counts" | sed -E 's/.*fail:([0-9]+).*/\1/')))
skip=$((skip + $(echo "$counts" | sed -E 's/.*skip:([0-9]+).*/\1/')))
step=$((step + 1))
[ "$rc" = 0 ] && echo "ok $step selftests in the VM" || echo "not ok $step selftests in the VM"

if [ "$dkms" = 1 ]; then
	host_ktap "dkms remove leaves nothing behind" selftests/host/dkms-remove.sh "$kver"
fi

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
