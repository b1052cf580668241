#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The gateway image: a Debian 12 (bookworm) system booted from a disk by
# its own kernel and initramfs, systemd as PID 1, strongSwan's
# strongswan.service (charon-systemd, swanctl), nftables.service, the
# lab of gateway/rootfs/ (vpnflow-lab(8): gwa is the machine itself, its
# peer gwb, client, server and the wan router are network namespaces made
# at boot), Debian's kernel the VM boots (guest-kver.sh) with its headers,
# and DKMS with a compiler, so that the project's packages install and
# build offline in the guest. The 6.12 kernel of bookworm-security
# (linux-image-6.12-amd64, linux-headers-6.12-amd64) is downloaded into
# apt's cache, not installed: a kernel upgrade for the guest to make.
#
#   gateway-image.sh [-u]    build it, or bring it up to date; print the
#                            directory that holds it
#
# In ${VPNFLOW_VM_CACHE:-~/.cache/vpnflow-vm}/gateway:
#   root/              the system's tree (debootstrap, kept between runs)
#   base.qcow2         its ext4 file system, whole disk (/dev/vda, no
#                      partitions): boot overlays of it, never it
#   vmlinuz, initrd.img  the image's kernel and initramfs (Debian's
#                      initramfs-tools, which mounts root=/dev/vda)
#   kver               their release
# Without -u, a built image whose inputs (this script, gateway/rootfs/,
# the package list, the kernel) have not changed is left as it is; -u
# also updates the packages from the archive. The archive is the one the
# host's apt sources name (kernels.sh archive). Run as root: chroot.
set -eu -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${VPNFLOW_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vpnflow-vm}
dir=$cache/gateway
root=$dir/root
update=
while getopts u o; do
	case $o in
	u) update=1 ;;
	*) echo "usage: $0 [-u]" >&2; exit 2 ;;
	esac
done

die() { echo "gateway-image: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot)"
for t in debootstrap mkfs.ext4 qemu-img; do
	command -v "$t" >/dev/null || die "$t is not installed (scripts/deps.sh)"
done

kver=$("$here/guest-kver.sh")
pkgs="systemd systemd-sysv udev dbus kmod iproute2 procps psmisc util-linux
      linux-image-$kver linux-headers-$kver linux-image-amd64 linux-headers-amd64
      initramfs-tools zstd dkms gcc make libc6-dev libmnl0
      charon-systemd strongswan-swanctl strongswan-charon libstrongswan-standard-plugins
      nftables iptables conntrack python3 apparmor"
pkgs=$(echo $pkgs)
# The upgrade the guest makes offline: downloaded, not installed.
upgrade_pkgs="linux-image-6.12-amd64 linux-headers-6.12-amd64"

# in_root CMD...: CMD in the image's tree, with /dev and /proc, in a
# private mount namespace (nothing stays mounted).
in_root()
{
	unshare -m --propagation private -- /bin/sh -c '
		root=$1; shift
		mount --rbind /dev "$root/dev" && mount -t proc proc "$root/proc" &&
		exec chroot "$root" "$@"' \
		sh "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
}

stamp=$( { cat "$0"; (cd "$here/gateway/rootfs" && find . -type f | LC_ALL=C sort | xargs sha256sum);
	echo "$pkgs / $upgrade_pkgs / $kver"; } | sha256sum | cut -d' ' -f1)
if [ -z "$update" ] && [ -f "$dir/base.qcow2" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "$dir"
	exit 0
fi

start=$(date +%s)
read -r mirror sec < <("$here/kernels.sh" archive) ||
	die "cannot find the Debian archive in the host's apt sources"
mkdir -p "$dir"
if [ ! -f "$root/.vpnflow-gateway" ]; then
	rm -rf "$root.new"
	echo "gateway-image: debootstrap bookworm into $root" >&2
	debootstrap --variant=minbase --include=ca-certificates bookworm "$root.new" "$mirror" >&2 ||
		die "debootstrap of bookworm from $mirror failed"
	{
		echo "deb $mirror bookworm main"
		echo "deb $mirror bookworm-updates main"
		echo "deb $sec bookworm-security main"
	} >"$root.new/etc/apt/sources.list"
	mv "$root.new" "$root"
	: >"$root/.vpnflow-gateway"
	update=1
fi
# The host's judgement of its archive's Release files (a snapshot's may
# be past their Valid-Until), as kernels.sh does for its roots.
eval "$(apt-config shell vu Acquire::Check-Valid-Until cd Acquire::Check-Date)"
{
	[ -z "${vu:-}" ] || echo "Acquire::Check-Valid-Until \"$vu\";"
	[ -z "${cd:-}" ] || echo "Acquire::Check-Date \"$cd\";"
} >"$root/etc/apt/apt.conf.d/50vpnflow-host"
# No service starts in the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
trap 'rm -f "$root/usr/sbin/policy-rc.d"' EXIT
if [ -n "$update" ] || [ "$(cat "$root/.vpnflow-gateway")" != "$pkgs / $upgrade_pkgs" ]; then
	in_root apt-get update -qq >&2 || die "apt-get update in the image failed"
	in_root apt-get install -y -qq --no-install-recommends $pkgs >&2 ||
		die "cannot install the image's packages"
	# apt's cache holds the upgrade only, with what it recommends: a
	# plain apt-get install of it in the guest finds all it wants.
	in_root apt-get clean
	in_root apt-get install -y -qq --download-only $upgrade_pkgs >&2 ||
		die "cannot download $upgrade_pkgs"
	echo "$pkgs / $upgrade_pkgs" >"$root/.vpnflow-gateway"
fi
meta=$(in_root dpkg-query -W -f='${Depends}' linux-image-amd64)
case $meta in
*"linux-image-$kver "*|*"linux-image-$kver") ;;
*) die "the archive's linux-image-amd64 ($meta) is not the VM's kernel $kver: scripts/deps.sh, or gateway-image.sh -u" ;;
esac
[ -f "$root/boot/initrd.img-$kver" ] || in_root update-initramfs -c -k "$kver" >&2

# The lab and the agent, their units enabled; what slows a boot off, and
# strongswan-starter (ipsec.conf), a second charon in this namespace.
cp -a "$here/gateway/rootfs/." "$root/"
in_root systemctl enable -q nftables.service strongswan.service vpnflow-lab.service \
	vpnflow-lab-gwb.service vpnflow-agent.service
in_root systemctl mask -q apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
	e2scrub_reap.service fstrim.timer dpkg-db-backup.timer serial-getty@ttyS0.service \
	getty@tty1.service systemd-networkd-wait-online.service strongswan-starter.service
[ -s "$root/etc/machine-id" ] || in_root systemd-machine-id-setup >/dev/null
mkdir -p "$root/var/log/journal"
rm -f "$root/usr/sbin/policy-rc.d"

# The disk: ext4 made from the tree (no loop mount), room for the 6.12
# kernel and DKMS builds; qcow2 keeps only what is used.
mb=$(du -sm "$root" | cut -f1)
rm -f "$dir/base.raw" "$dir/base.qcow2.tmp"
mkfs.ext4 -q -F -L gwroot -d "$root" "$dir/base.raw" "$((mb + 3072))M" >&2 ||
	die "mkfs.ext4 -d failed"
qemu-img convert -f raw -O qcow2 "$dir/base.raw" "$dir/base.qcow2.tmp"
rm -f "$dir/base.raw"
cp "$root/boot/vmlinuz-$kver" "$dir/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$dir/initrd.img"
echo "$kver" >"$dir/kver"
mv "$dir/base.qcow2.tmp" "$dir/base.qcow2"
echo "$stamp" >"$dir/stamp"
echo "gateway-image: built in $(( $(date +%s) - start )) s: tree $mb MB, base.qcow2 $(du -m "$dir/base.qcow2" | cut -f1) MB" >&2
echo "$dir"
