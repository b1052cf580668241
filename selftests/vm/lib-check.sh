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

# The long selftests `make check` leaves out (about 15 minutes of its 6.1
# run under TCG); `make check-long` runs them, check-kernels and
# check-debug include them. adopt.sh is failover.sh's part in make check.
long_tests=(selftests/stress.sh selftests/preserve_events.sh selftests/failover.sh)

# all_tests: every selftests/*.sh but the libraries, one a line.
all_tests() { ls selftests/*.sh | grep -v '/lib[^/]*\.sh$'; }

# select_tests [-s] [TEST...]: the selftests to run in the VM, in $tests:
# those named, or every one (then $full is 1); -s (short of the long
# ones): every one but $long_tests.
select_tests()
{
	local skip_long=0
	[ "${1:-}" != -s ] || { skip_long=1; shift; }
	if [ $# -gt 0 ]; then
		tests=("$@")
		full=0
	elif [ "$skip_long" = 1 ]; then
		mapfile -t tests < <(all_tests | grep -vxF -f <(printf '%s\n' "${long_tests[@]}"))
		full=1
	else
		mapfile -t tests < <(all_tests)
		full=1
	fi
}

# step_time: how long the step that just ended took (CI's time budget).
step_t0=$SECONDS
step_time()
{
	echo "# ($((SECONDS - step_t0)) s)"
	step_t0=$SECONDS
}

# result NAME RC: one top-level KTAP line per host step.
result()
{
	step_time
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
	step_time
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
	step_time
	step=$((step + 1))
	[ "$rc" = 0 ] && echo "ok $step $1" || echo "not ok $step $1"
}

# totals: the KTAP totals and the line CI looks for.
totals()
{
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
	echo "$pass passed, $fail failed"
}

# The selftests of kernel_check's core and short runs (VPNFLOW_CORE=1
# trims the long scripts to their core cases). core: load/unload with
# netns churn, DKMS, the preserve flap on and off, reclassify, exact
# tcpmss, the outer DF bit, hostile netlink requests (the kernels' netlink
# cores differ), the netlink/CLI round trip; short: load/unload, DKMS,
# hostile netlink requests, the CLI.
core_tests=(selftests/module_load.sh selftests/dkms.sh selftests/preserve.sh
	    selftests/reclassify.sh selftests/tcpmss.sh selftests/df_bit.sh
	    selftests/netlink_hostile.sh selftests/vpnsysopt.sh)
short_tests=(selftests/module_load.sh selftests/dkms.sh selftests/netlink_hostile.sh
	     selftests/vpnsysopt.sh)

# kernel_check TARGET [core|short|full]: one of kernels.sh's targets end
# to end (default: what kernels.sh says `make check` runs on it):
# its kernel from the archive, the module (and, for another userland in
# the VM, vpnsysopt) built in its suite's root with that suite's compiler,
# DKMS there, the selftests in a VM booting it, DKMS removed. Every step
# is a KTAP line named after the target; the VM's cases are counted.
kernel_check()
{
	local t=$1 mode=${2:-} b res KVER ROOT VMROOT CC CI dkms=0 dkms_root= list
	local ks=selftests/vm/kernels.sh
	run_step "$t: its kernel, from the archive" $ks prepare "$t" || return 1
	eval "$($ks info "$t")"
	[ -n "$mode" ] || mode=$CI
	echo "# $t: kernel $KVER, built with $CC, VM root $VMROOT"
	# A copy per target (kernels.sh binds the tree into the roots).
	b=build/kernels/$t
	rm -rf "$b" && mkdir -p "$b" &&
		cp -r Makefile Kbuild VERSION dkms.conf.in kmod include tools "$b/" &&
		make -s -C "$b" clean >/dev/null || return 1
	run_step "$t: build the module for $KVER with $CC" \
		$ks run "$t" make -C "$b" module KVER="$KVER" || return 1
	res=$log/vm-$t
	mkdir -p "$res"
	cp "$b/kmod/vpnflow_preserve.ko" "$res/"
	if [ "$VMROOT" != / ]; then
		run_step "$t: build vpnsysopt in its userland" $ks run "$t" make -C "$b/tools" || return 1
		cp "$b/tools/vpnsysopt" "$res/"
	else
		cp tools/vpnsysopt "$res/"
	fi
	run_step "$t: dkms install for $KVER in its userland" \
		$ks run "$t" make -C "$b" dkms-install KVER="$KVER" && dkms=1
	[ "$ROOT" = "$VMROOT" ] || dkms_root=$ROOT
	case $mode in
	core) list=("${core_tests[@]}") ;;
	short) list=("${short_tests[@]}") ;;
	*) mapfile -t list < <(all_tests) ;;
	esac
	# check-kernels.sh -t: these tests only, whole.
	if [ -n "${KERNEL_TESTS:-}" ]; then
		read -ra list <<<"$KERNEL_TESTS"
		mode=full
	fi
	selftests/vm/run-vm.sh -k "$KVER" -R "$VMROOT" -t 4800 -r "$res" -- \
		env VPNFLOW_DKMS=$dkms ${dkms_root:+VPNFLOW_DKMS_ROOT=$dkms_root} \
		VPNFLOW_CORE=$([ "$mode" = full ] && echo 0 || echo 1) RR_VTI="${RR_VTI:-0}" \
		VPNFLOW_KO=/mnt/vpnflow_preserve.ko VPNSYSOPT=/mnt/vpnsysopt \
		selftests/vm/guest-run.sh "${list[@]}" | grep --line-buffered -v $'\e' |
		sed -u "s/^/# $t: /"
	vm_verdict "$t: selftests on $KVER" "$res"
	if [ "$dkms" = 1 ]; then
		host_ktap "$t: dkms remove leaves nothing behind" \
			$ks run "$t" bash selftests/host/dkms-remove.sh "$KVER"
	fi
}
