#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot Debian's kernel under qemu (TCG) with the host's root over 9p and run
# one command in it; the console streams to stdout.
#
#   run-vm.sh [-k KVER] [-t TIMEOUT_S] [-m MEM] -r RESULTS_DIR -- COMMAND...
#
# COMMAND runs as root in the guest with RESULTS_DIR mounted rw at /mnt and
# the host's file system (read-only, writable /tmp /run /etc /var /root
# /lib/modules) around it. The guest has no NIC. Afterwards RESULTS_DIR holds:
#   console.log  everything the serial console printed
#   output       COMMAND's stdout and stderr alone
#   dmesg        the guest's kernel log at the end of COMMAND
#   status       COMMAND's exit status (missing: crash or timeout)
# Exit status: COMMAND's, or 124 on timeout, 125 if the guest died first.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
kver=
timeout_s=1200
mem=2048
results=
while getopts k:t:m:r: o; do
	case $o in
	k) kver=$OPTARG ;;
	t) timeout_s=$OPTARG ;;
	m) mem=$OPTARG ;;
	r) results=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = -- ] && shift
[ -n "$results" ] && [ $# -gt 0 ] || { echo "usage: $0 [-k KVER] [-t S] -r DIR -- CMD..." >&2; exit 2; }
[ -n "$kver" ] || kver=$("$here/guest-kver.sh") || exit 2

cache=${VPNFLOW_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vpnflow-vm}
mkdir -p "$cache" "$results"
results=$(cd "$results" && pwd)
initrd=$cache/initramfs-$kver.cpio.gz
if [ ! -f "$initrd" ] || [ "$here/init" -nt "$initrd" ] || [ "$here/mkinitramfs.sh" -nt "$initrd" ]; then
	"$here/mkinitramfs.sh" "$kver" "$initrd" || exit 2
fi

# The command file the guest's init runs; its exit status lands in status.
rm -f "$results/status" "$results/dmesg" "$results/console.log" "$results/output"
{
	echo '#!/bin/sh'
	echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	echo 'export HOME=/root TERM=dumb VPNFLOW_IN_VM=1'
	echo "cd $(printf '%q' "$PWD")"
	# The command's own output also goes to /mnt/output, apart from kernel
	# messages that interleave with it on the console.
	echo '{'
	printf '%q ' "$@"
	echo
	echo 'echo $? > /mnt/status'
	echo '} 2>&1 | tee /mnt/output'
	echo 'dmesg > /mnt/dmesg'
	echo 'sync'
	echo 'echo o > /proc/sysrq-trigger'
	# init must not exit (that panics) while the power-off completes; the
	# 9p root may already be gone, so no external command here.
	echo 'while :; do :; done'
} >"$results/cmd"

# KVM cannot run guests on these machines: TCG only.
timeout -k 10 "$timeout_s" qemu-system-x86_64 \
	-accel tcg -cpu max -smp 2 -m "$mem" \
	-nodefaults -nographic -no-reboot -display none -monitor none \
	-serial stdio -nic none \
	-kernel "/boot/vmlinuz-$kver" -initrd "$initrd" \
	-append "console=ttyS0 loglevel=4 panic=-1 oops=panic rdinit=/init mitigations=off nokaslr tsc=reliable vpnflow_repo=$top" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$results,mount_tag=results,security_model=none,multidevs=remap" \
	-virtfs "local,path=$top,mount_tag=repo,security_model=none,multidevs=remap" \
	</dev/null 2>&1 | sed -u 's/\r$//' | tee "$results/console.log"
rc=${PIPESTATUS[0]}
[ "$rc" = 124 ] && { echo "run-vm: guest timed out after ${timeout_s}s" >&2; exit 124; }
[ -f "$results/status" ] || { echo "run-vm: guest died before the command finished" >&2; exit 125; }
exit "$(cat "$results/status")"
