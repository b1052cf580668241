#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: the whole test suite.
#   1. build the module for the VM's kernel (Debian linux-image-amd64) and vpnsysopt
#   2. host checks: netlink spec in sync, checkpatch, sparse, the kernel's
#      build entry on a clean copy of the tree, CLI host tests, the
#      Debian packages (built, their contents, lintian),
#      libreswan as ike_setups.sh runs it (selftests/host/libreswan.sh),
#      the CLI's fuzz harnesses for a bounded time, the VM rig's own
#      self-test (it must catch a failing test and a WARN)
#   3. DKMS: install for the VM's kernel on the host
#   4. the selftests in the VM (KTAP streamed), judged by evaluate.sh
#   5. the benchmark's smoke run (bench/smoke.sh: make bench at its
#      smallest scale; every part measured what it says, no speed judged)
#   6. DKMS: remove, and nothing may be left behind
#   7. every other kernel of kernels.sh (Debian 11, 12 with 6.12, 13 with
#      its gateway userland, 13's backports, unstable): built with its
#      suite's compiler, DKMS in its userland, the core selftests (or, for
#      the two marked short there, load/unload, DKMS and the CLI) in a VM
#      booting it; check-kernels.sh runs the whole suite on each. Then the
#      README's table of them, and probe.sh's errors (Debian 13's headers
#      on this Debian 12 host)
#   8. the Debian packages on a gateway image booted with systemd
#      (check-gateway.sh -q): apt install, DKMS in the guest, reboot, the
#      options applied before strongSwan brings the tunnel up; make
#      check-gateway adds the flap, a kernel upgrade and the purge
# Ends with "N passed, N failed" and exits non-zero on any failure.
#
#   check.sh [-k KVER] [TEST...]      (TEST: selftests/<name>.sh; default all
#                                     but the long ones of lib-check.sh)
#   check.sh [-k KVER] -L             the long ones only (make check-long)
#   check.sh [-k KVER] -H             steps 1 and 2 only, without the rig's
#                                     self-test: no VM (make check-host)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
kver=
host_only=0
long=0
while getopts HLk: o; do
	case $o in
	H) host_only=1 ;;
	L) long=1 ;;
	k) kver=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ -n "$kver" ] || kver=$(selftests/vm/guest-kver.sh) || exit 1

source selftests/vm/lib-check.sh
[ "$host_only" = 0 ] || set --
[ "$long" = 0 ] || set -- "${long_tests[@]}"
select_tests -s "$@"

echo "KTAP version 1"
echo "# vpnflow selftests, guest kernel $kver"

if ! run_step "build module for $kver" make module KVER="$kver" ||
   ! run_step "build vpnsysopt" make tools; then
	totals
	exit 1
fi

if [ "$full" = 1 ]; then
	run_step "netlink spec and generated files in sync" scripts/check-spec.sh
	run_step "checkpatch clean (make style)" scripts/style.sh
	run_step "sparse clean (make sparse)" scripts/sparse.sh "/lib/modules/$kver/build"
	host_ktap "the kernel's build entry builds the module from a clean copy" \
		selftests/host/kbuild.sh "$kver"
	host_ktap "vpnsysopt host tests" bash tools/tests/cli-host.sh
	host_ktap "README and man pages list every command and parameter" selftests/host/docs.sh
	host_ktap "the DKMS tree's dkms.conf has VERSION's version" \
		selftests/host/dkms-conf.sh "$kver"
	host_ktap "Debian packages: built from a clean copy, their contents, lintian" \
		selftests/host/deb.sh
	host_ktap "libreswan for ike_setups.sh: extracted, pluto runs, its ipsec.conf checks" \
		selftests/host/libreswan.sh
	run_step "build the fake vpnflow family (LD_PRELOAD)" make -C tools tests/fake-vpnflow.so
	host_ktap "vpnsysopt output against a fake vpnflow family" bash tools/tests/cli-fake.sh
	# 200000 inputs per harness, 40 s at most each: 30-50 s with the
	# build beside three qemu VMs on 2 cores, 90 s at most.
	host_ktap "vpnsysopt fuzz harnesses (bounded)" \
		make -s -C tools fuzz-run FUZZ_RUNS=200000 FUZZ_TIME=40
	[ "$host_only" = 1 ] ||
		host_ktap "VM rig catches failures" selftests/vm/rig-selftest.sh -k "$kver"
fi
if [ "$host_only" = 1 ]; then
	totals
	[ "$fail" = 0 ]
	exit
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
selftests/vm/run-vm.sh -k "$kver" -t 4800 -r "$res" -- \
	env VPNFLOW_DKMS=$dkms RR_VTI="${RR_VTI:-0}" VPNFLOW_SETUPS_OFF="${VPNFLOW_SETUPS_OFF:-0}" VPNFLOW_SETUPS="${VPNFLOW_SETUPS:-}" VPNFLOW_LIBRESWAN_ROOT="$(selftests/vm/libreswan.sh -p)" VPNFLOW_KO=/mnt/vpnflow_preserve.ko VPNSYSOPT=/mnt/vpnsysopt \
	VPNFLOW_RESUME_OUTAGES="${VPNFLOW_RESUME_OUTAGES:-30}" VPNFLOW_RESUME_FAMILIES="${VPNFLOW_RESUME_FAMILIES:-4 6}" \
	VPNFLOW_RESUME_OFF_FAMILIES="${VPNFLOW_RESUME_OFF_FAMILIES:-4}" \
	selftests/vm/guest-run.sh -t "${VPNFLOW_TEST_TIMEOUT:-900}" "${tests[@]}" | grep --line-buffered -v $'\e'
vm_verdict "selftests in the VM" "$res"

# make bench at its smallest scale, in a VM of its own: each part still
# measures what it says (counts checked, no speed judged); about 4 min.
if [ "$full" = 1 ]; then
	host_ktap "benchmark smoke run (bench/smoke.sh)" bench/smoke.sh "$log/bench-smoke"
fi

if [ "$dkms" = 1 ]; then
	host_ktap "dkms remove leaves nothing behind" selftests/host/dkms-remove.sh "$kver"
fi

if [ "$full" = 1 ]; then
	# bookworm's kernel is the one the whole suite ran on above.
	for t in $(selftests/vm/kernels.sh list | grep -vx bookworm); do
		kernel_check "$t"
	done
	host_ktap "README's supported kernels" selftests/host/readme-kernels.sh
	host_ktap "probe.sh fails loudly (Debian 13's headers on this host)" selftests/host/probe-errors.sh
	host_ktap "the packages on a booted gateway: install, reboot (check-gateway.sh -q)" \
		selftests/vm/check-gateway.sh -q -r "$log/gateway"
fi

totals
[ "$fail" = 0 ]
