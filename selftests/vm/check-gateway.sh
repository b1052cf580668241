#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check-gateway`: the Debian packages on a real gateway, end to end.
# The gateway image (gateway-image.sh: Debian 12, systemd, strongSwan's
# strongswan.service initiating a tunnel at boot, nftables, a lab of
# namespaces around it) boots from a copy-on-write overlay of its disk,
# so every run starts from the same clean system, with the .debs of
# `make deb`. gateway-guest.sh does the work in the guest, once per boot:
#
#   qemu run 1  boot 1: fresh gateway, tunnel up without vpnflow; apt
#               install the .debs (DKMS builds in the guest), write
#               /etc/vpnsysopt.conf; the guest reboots itself (systemctl
#               reboot, qemu resets) into
#               boot 2: module loaded and options applied before strongSwan
#               brought the tunnel up, running-config is the file; poweroff
#   qemu run 2  boot 3: the same after a cold start; a download survives a
#               flap with no cleartext; poweroff
#   qemu run 3  boot 4: upgrade to bookworm's 6.12 kernel, DKMS builds for
#               it; poweroff
#   qemu run 4  boot 5, on the 6.12 kernel and initramfs the guest made:
#               the module loads and the options are applied before the
#               tunnel there too; apt purge leaves nothing behind; poweroff
# Under TCG a DKMS build takes about 5 minutes, and the kernel upgrade
# (unpacking it and its headers, DKMS, a new initramfs) more than 15; a
# run starts only if the boots before it finished.
#
# Prints KTAP (test points numbered here, in boot order; a boot that did
# not finish is a failure), the boot times, and "N passed, N failed".
#
#   check-gateway.sh [-q | -n] [-r RESULTS] [-t TIMEOUT_S]
#
# -q: qemu run 1 only (install, reboot, the options before the tunnel;
# about 9 minutes), the part `make check` runs.
# -n: the negative control of the ordering check instead (qemu run 1
# only): the options are applied at boot 2 only after the tunnel is up,
# and the check must say so (gateway-guest.sh, VPNFLOW_GW_LATE).
#
# RESULTS (default build/check-gateway) keeps the overlay disk, the
# consoles (console.N), and the guest's folder ctl/ (ktap.BOOT, facts.BOOT,
# kmsg.BOOT, apt logs). Each qemu run is killed after TIMEOUT_S (default
# 900), the kernel upgrade's after twice that.
set -u
# Read whole before it runs: an edit of this file during a run does not
# change the run.
{
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
results=$top/build/check-gateway
timeout_s=900
late=0
quick=0
while getopts nqr:t: o; do
	case $o in
	n) late=1 ;;
	q) quick=1 ;;
	r) results=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	*) echo "usage: $0 [-q | -n] [-r RESULTS] [-t TIMEOUT_S]" >&2; exit 2 ;;
	esac
done
die() { echo "check-gateway: $*" >&2; exit 2; }
t_start=$(date +%s)

img=$("$here/gateway-image.sh") || die "cannot build the gateway image"
echo "# gateway image: $img ($(cat "$img/kver"))" >&2
rm -rf "$results"
mkdir -p "$results/ctl/debs"
results=$(cd "$results" && pwd)
ctl=$results/ctl
DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" "$top/scripts/deb.sh" "$results/deb" >"$results/deb.log" 2>&1 ||
	{ tail -n 20 "$results/deb.log" >&2; die "make deb failed"; }
cp "$results"/deb/vpnflow-dkms_*.deb "$results"/deb/vpnsysopt_*.deb "$ctl/debs/"
qemu-img create -q -f qcow2 -b "$img/base.qcow2" -F qcow2 "$results/disk.qcow2" ||
	die "cannot make the overlay disk"
cat >"$ctl/cmd" <<EOF
#!/bin/bash
# Run by the guest's vpnflow-agent with the boot count.
export VPNFLOW_IN_VM=1 HOME=/root TERM=dumb VPNFLOW_GW_LATE=$late
journalctl -k -b -f --no-pager >/mnt/ctl/kmsg.\$1 2>&1 &
$(printf '%q' "$here/gateway-guest.sh") "\$1" 2>&1 | tee -a /mnt/ctl/guest.log
EOF

# vm N KERNEL INITRD: boot the disk; the guest reboots itself as it likes
# and the run ends when it powers off. Its time in run-time.N.
vm()
{
	local n=$1 kernel=$2 initrd=$3 limit=${4:-$timeout_s} rc
	date +%s >"$results/run-start.$n"
	timeout -k 10 "$limit" qemu-system-x86_64 \
		-accel tcg -cpu max -smp 2 -m 2048 \
		-nodefaults -nographic -display none -monitor none -serial stdio -nic none \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 root=/dev/vda rw loglevel=4 panic=0 mitigations=off nokaslr tsc=reliable vpnflow_repo=$top" \
		-drive "file=$results/disk.qcow2,if=virtio,format=qcow2" \
		-virtfs "local,path=$ctl,mount_tag=vpnflow-ctl,security_model=none,multidevs=remap" \
		-virtfs "local,path=$top,mount_tag=repo,security_model=none,readonly=on,multidevs=remap" \
		</dev/null 2>&1 | sed -u 's/\r$//' >"$results/console.$n"
	rc=${PIPESTATUS[0]}
	echo $(( $(date +%s) - $(cat "$results/run-start.$n" 2>/dev/null || date +%s) )) >"$results/run-time.$n"
	echo "# qemu run $n: $(cat "$results/run-time.$n") s, exit $rc" >&2
	[ "$rc" != 124 ] || echo "# qemu run $n timed out after ${limit}s" >&2
	return 0
}

# finished B: the guest got to the end of boot B.
finished() { grep -Eq '^# (rebooting|powering off)' "$ctl/ktap.$1" 2>/dev/null; }

boots="1 2 3 4 5"
[ "$late" = 0 ] && [ "$quick" = 0 ] || boots="1 2"
vm 1 "$img/vmlinuz" "$img/initrd.img"
if [ "$boots" != "1 2" ]; then
	finished 2 && vm 2 "$img/vmlinuz" "$img/initrd.img"
	finished 3 && vm 3 "$img/vmlinuz" "$img/initrd.img" $((2 * timeout_s))
	finished 4 && [ -f "$ctl/vmlinuz-next" ] && [ -f "$ctl/initrd.img-next" ] &&
		vm 4 "$ctl/vmlinuz-next" "$ctl/initrd.img-next"
fi

# KTAP: the guest's points in boot order, numbered; a boot that did not
# finish, and a kernel log with a splat, are failures.
splat='(WARNING:|BUG:|BUG |Oops|general protection fault|Kernel panic|Call Trace:|'
splat+='possible circular locking|inconsistent lock state|suspicious RCU usage|'
splat+='soft lockup|hung_task|blocked for more than|refcount_t:|use-after-free|'
splat+='sleeping function called from invalid context|scheduling while atomic)'
lines=()
for b in $boots; do
	f=$ctl/ktap.$b
	if [ -f "$f" ]; then
		while IFS= read -r l; do lines+=("$l"); done <"$f"
	fi
	if ! finished "$b"; then
		lines+=("not ok - boot $b: the guest did not finish it (see $results/console.*)")
	fi
	if [ -f "$ctl/kmsg.$b" ]; then
		if grep -Eq "$splat" "$ctl/kmsg.$b"; then
			lines+=("not ok - boot $b: the kernel log is clean")
			while IFS= read -r l; do lines+=("# $l"); done < <(grep -E "$splat" "$ctl/kmsg.$b" | head -n 5)
		else
			lines+=("ok - boot $b: the kernel log is clean")
		fi
	fi
done
plan=0
for l in "${lines[@]}"; do
	case $l in ok*|"not ok"*) plan=$((plan + 1)) ;; esac
done
echo "KTAP version 1"
echo "1..$plan"
n=0 pass=0 fail=0
for l in "${lines[@]}"; do
	case $l in
	ok*) n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - ${l#ok - }" ;;
	"not ok"*) n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - ${l#not ok - }" ;;
	*) echo "$l" ;;
	esac
done

# Boot times, from the guest's monotonic clock (seconds since the kernel
# started): multi-user.target reached, charon started, tunnel up.
fact() { sed -n "s/^$2=//p" "$ctl/facts.$1" 2>/dev/null | head -n 1; }
sec() { [ -n "$1" ] && [ "$1" != 0 ] && awk -v u="$1" 'BEGIN { printf "%.1f", u / 1e6 }' || echo -; }
echo "# boot  kernel              vpnflow  multi-user  charon  tunnel-up  (s since kernel start)"
for b in $boots; do
	[ -f "$ctl/facts.$b" ] || continue
	v=yes
	[ "$b" = 1 ] || [ "$(fact "$b" options_applied)" = 0 ] && v=no
	printf '# %-5s %-19s %-8s %-11s %-7s %s\n' "$b" "$(fact "$b" kernel)" "$v" \
		"$(sec "$(fact "$b" multi_user)")" "$(sec "$(fact "$b" strongswan_start)")" \
		"$(sec "$(fact "$b" tunnel_up)")"
done
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
echo "# qemu runs: $(cd "$results" && for f in run-time.*; do [ -f "$f" ] && printf '%s s, ' "$(cat "$f")"; done)$(( $(date +%s) - t_start )) s in all (image and make deb included)"
echo "$pass passed, $fail failed"
if [ "$fail" = 0 ] && [ "$pass" -gt 0 ]; then exit 0; fi
exit 1
}
