#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot Debian's kernel under qemu (TCG) with the host's root over 9p and run
# one command in it; the console streams to stdout.
#
#   run-vm.sh [-k KVER | -K TREE] [-R ROOT] [-t TIMEOUT_S] [-m MEM] [-a APPEND]
#             [-s SHARED_DIR] [-c CPUS] [-i SHIFT] [-P] -r RESULTS_DIR -- COMMAND...
#
# -k boots Debian's kernel KVER (default: guest-kver.sh): the host's
# /boot/vmlinuz-KVER, or one that kernels.sh installed in a root of another
# suite (its modules then appear at /lib/modules/KVER in the guest).
# -R: the guest's root is ROOT (a kernels.sh root, e.g. a Debian 13
# gateway) instead of the host's /. -K boots the
# bzImage of a kernel tree built by debug-kernel.sh (everything built in,
# 4 GB of RAM unless -m says otherwise; its modules.builtin is installed in
# the guest's /lib/modules/RELEASE so modprobe of built-in modules works).
# -a adds to the kernel command line. A -K kernel boots with no5lvl: under
# KASAN with 5-level paging (-cpu max has LA57) an interrupt during
# identify_cpu(), which clears and re-reads the CPU feature bits, makes
# KASAN take direct-map addresses for wild accesses (reports at boot, and
# lockdep is off for the rest of the run). And with acpi=noirq: that slow
# a kernel runs the i440FX DSDT's _PRT loop into ACPI's 30 s loop timeout,
# three times per boot; PCI IRQ routing from the BIOS table is enough
# (virtio uses MSI-X).
# COMMAND runs as root in the guest with RESULTS_DIR mounted rw at /mnt and
# the host's file system (read-only, writable /tmp /run /etc /var /root
# /lib/modules) around it. The guest has no NIC. Afterwards RESULTS_DIR holds:
#   console.log  everything the serial console printed
#   output       COMMAND's stdout and stderr alone
#   dmesg        the guest's kernel log at the end of COMMAND
#   kmsg         every kernel message of the run (/dev/kmsg records), also
#                those a test cleared with dmesg -C
#   status       COMMAND's exit status (missing: crash or timeout)
# -s mounts SHARED_DIR rw at /run/vpnflow-share in the guest: a folder
# several guests running at once see (no caching: a mkdir there is atomic
# across them).
# -c: virtual CPUs (default 2). -i: instruction counting (qemu -icount
# shift=SHIFT, one CPU only): the guest's clock advances 2^SHIFT ns per
# instruction it executes, so durations measured in the guest count
# instructions, whatever else the host is doing (bench/run.sh
# BENCH_ICOUNT); idle time passes in real time.
# Before COMMAND, pin-nf-keys.sh keeps the netfilter hooks' static keys on,
# so that registering and unregistering hooks under traffic never patches
# kernel text: qemu 7.2's TCG can livelock a vCPU on a jump label being
# patched (see pin-nf-keys.sh; tcg-smc-repro.sh shows it). -P leaves them
# alone.
# A kernel that dies while booting, before COMMAND starts, boots once more
# (the first console is kept as console-boot1.log): the same stale
# translations, of text the kernel patches on one vCPU while the other
# runs it, killed 7.3 guests here with "Oops: int3" in sched_clock_cpu()
# at 1.6 s, with no module loaded.
# Exit status: COMMAND's, or 124 on timeout, 125 if the guest died first.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
kver=
tree=
root=/
timeout_s=1200
mem=
append=
results=
share=
cpus=2
icount=
pin=1
while getopts k:K:R:t:m:a:r:s:c:i:P o; do
	case $o in
	k) kver=$OPTARG ;;
	K) tree=$OPTARG ;;
	R) root=$(cd "$OPTARG" && pwd) || exit 2 ;;
	a) append=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	m) mem=$OPTARG ;;
	r) results=$OPTARG ;;
	s) share=$(cd "$OPTARG" && pwd) || exit 2 ;;
	c) cpus=$OPTARG ;;
	i) icount=$OPTARG ;;
	P) pin= ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = -- ] && shift
# qemu 7.2's icount with two CPUs did not get past the kernel's start here.
[ -z "$icount" ] || cpus=1
[ -n "$results" ] && [ $# -gt 0 ] ||
	{ echo "usage: $0 [-k KVER | -K TREE] [-t S] [-m MB] [-a APPEND] [-s DIR] [-c CPUS] [-i SHIFT] [-P] -r DIR -- CMD..." >&2; exit 2; }
moddir=
if [ -n "$tree" ]; then
	tree=$(cd "$tree" && pwd) || exit 2
	kernel=$tree/arch/x86/boot/bzImage
	kver=$(cat "$tree/include/config/kernel.release") || exit 2
	moddir=$(dirname "$tree")/modroot/lib/modules/$kver
	[ -f "$kernel" ] && [ -d "$moddir" ] || { echo "run-vm: $tree is not a built debug-kernel.sh tree" >&2; exit 2; }
	[ -n "$mem" ] || mem=4096
	append="no5lvl acpi=noirq${append:+ $append}"
else
	[ -n "$kver" ] || kver=$("$here/guest-kver.sh") || exit 2
	[ -n "$mem" ] || mem=2048
	# The root whose /usr/lib/modules has the kernel: the host's, or a
	# kernels.sh root; 7.x keeps vmlinuz there rather than in /boot.
	kroot=$("$here/kernels.sh" locate "$kver") || exit 2
	kernel=${kroot%/}/boot/vmlinuz-$kver
	[ -f "$kernel" ] || kernel=${kroot%/}/usr/lib/modules/$kver/vmlinuz
	[ -f "$kernel" ] || { echo "run-vm: no vmlinuz for $kver in $kroot" >&2; exit 2; }
	[ "$kroot" = / ] || moddir=$kroot/usr/lib/modules/$kver
fi
[ "$root" = / ] || mkdir -p "$root$top" || exit 2

cache=${VPNFLOW_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vpnflow-vm}
mkdir -p "$cache" "$results"
results=$(cd "$results" && pwd)
initrd=$cache/initramfs-$kver.cpio.gz
if [ ! -f "$initrd" ] || [ "$here/init" -nt "$initrd" ] || [ "$here/mkinitramfs.sh" -nt "$initrd" ]; then
	"$here/mkinitramfs.sh" "$kver" "$initrd" ${moddir:+"$moddir"} || exit 2
fi

# The command file the guest's init runs; its exit status lands in status.
rm -f "$results/status" "$results/dmesg" "$results/kmsg" "$results/console.log" "$results/output" \
	"$results/started" "$results"/console-boot*.log
rm -rf "$results/lib-modules"
if [ -n "$tree" ]; then
	mkdir -p "$results/lib-modules" && cp -a "$moddir" "$results/lib-modules/" || exit 2
fi
{
	echo '#!/bin/sh'
	echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	echo 'export HOME=/root TERM=dumb VPNFLOW_IN_VM=1'
	echo "cd $(printf '%q' "$PWD")"
	# A kernel tree's modules.builtin and depmod files, writable (through
	# the results folder: the cache may be where the guest has a tmpfs).
	[ -z "$tree" ] || echo "mkdir -p /lib/modules && cp -a /mnt/lib-modules/$kver /lib/modules/"
	# Another root's kernel under this root: its modules, writable (DKMS,
	# depmod), over the host's file system the guest sees.
	if [ -z "$tree" ] && [ -n "$moddir" ] && [ "$root" = / ]; then
		printf 'mkdir -p /run/vm-kmod/upper /run/vm-kmod/work /lib/modules/%s && ' "$kver"
		printf 'mount -t overlay -o lowerdir=%q,upperdir=/run/vm-kmod/upper,workdir=/run/vm-kmod/work overlay /lib/modules/%s\n' \
			"$moddir" "$kver"
	fi
	# Every kernel message, in /mnt/kmsg: a /dev/kmsg reader keeps what
	# the tests' dmesg -C clears from the dmesg file.
	echo 'cat /dev/kmsg > /mnt/kmsg 2>/dev/null & kmsg=$!'
	# The command's own output also goes to /mnt/output, apart from kernel
	# messages that interleave with it on the console.
	echo ': > /mnt/started'
	echo '{'
	# Its failure is the run's (status 1, COMMAND not run).
	[ -z "$pin" ] || printf '%q && ' "$here/pin-nf-keys.sh"
	printf '%q ' "$@"
	echo
	echo 'echo $? > /mnt/status'
	echo '} 2>&1 | tee /mnt/output'
	echo 'dmesg > /mnt/dmesg'
	echo 'kill $kmsg'
	echo 'sync'
	echo 'echo o > /proc/sysrq-trigger'
	# init must not exit (that panics) while the power-off completes; the
	# 9p root may already be gone, so no external command here.
	echo 'while :; do :; done'
} >"$results/cmd"

sharefs=()
if [ -n "$share" ]; then
	sharefs=(-virtfs "local,path=$share,mount_tag=share,security_model=none,multidevs=remap")
	append="vpnflow_share=1${append:+ $append}"
fi

# KVM cannot run guests on these machines: TCG only.
run_qemu()
{
	timeout -k 10 "$timeout_s" qemu-system-x86_64 \
		-accel tcg -cpu max -smp "$cpus" -m "$mem" ${icount:+-icount "shift=$icount,sleep=on"} \
		-nodefaults -nographic -no-reboot -display none -monitor none \
		-serial stdio -nic none \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 loglevel=4 panic=-1 oops=panic rdinit=/init mitigations=off nokaslr tsc=reliable vpnflow_repo=$top${append:+ $append}" \
		-virtfs "local,path=$root,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
		-virtfs "local,path=$results,mount_tag=results,security_model=none,multidevs=remap" \
		-virtfs "local,path=$top,mount_tag=repo,security_model=none,multidevs=remap" \
		"${sharefs[@]}" \
		</dev/null 2>&1 | sed -u 's/\r$//' | tee "$results/console.log"
	return "${PIPESTATUS[0]}"
}

boot=1
while :; do
	run_qemu
	rc=$?
	[ "$rc" != 124 ] && [ ! -f "$results/status" ] && [ ! -e "$results/started" ] && [ "$boot" = 1 ] &&
		grep -qE 'Oops|Kernel panic|BUG:' "$results/console.log" && ! grep -q '^vm-init:' "$results/console.log" || break
	echo "run-vm: the kernel died while booting (console-boot$boot.log); booting again" >&2
	mv "$results/console.log" "$results/console-boot$boot.log"
	rm -f "$results/kmsg" "$results/output" "$results/dmesg"
	boot=$((boot + 1))
done
[ "$rc" = 124 ] && { echo "run-vm: guest timed out after ${timeout_s}s" >&2; exit 124; }
[ -f "$results/status" ] || { echo "run-vm: guest died before the command finished" >&2; exit 125; }
exit "$(cat "$results/status")"
