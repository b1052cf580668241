#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build the test VM's initramfs for kernel KVER: busybox-static, the
# virtio/9p/overlay modules (from MODDIR, default /lib/modules/KVER) and
# ./init. A module not found under MODDIR/kernel is taken to be built in:
# a kernel with all of them built in (debug-kernel.sh) gets none.
#
#   mkinitramfs.sh KVER OUT.cpio.gz [MODDIR]
set -eu
kver=$1
out=$2
moddir=${3:-/lib/modules/$kver}
here=$(cd "$(dirname "$0")" && pwd)
mods="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
      netfs fscache 9pnet 9pnet_virtio 9p overlay"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/modules" "$work/proc" "$work/sys" "$work/dev" "$work/newroot"
cp /bin/busybox "$work/bin/busybox"
if ldd /bin/busybox >/dev/null 2>&1; then
	echo "mkinitramfs: /bin/busybox is not static (install busybox-static)" >&2
	exit 1
fi
: >"$work/modules.list"
for m in $mods; do
	f=
	[ ! -d "$moddir/kernel" ] || f=$(find "$moddir/kernel" -name "$m.ko*" | head -n 1)
	if [ -z "$f" ]; then
		# Built in (or not needed by this kernel's configuration),
		# nothing to load.
		continue
	fi
	case "$f" in
	*.ko.xz) xz -dc "$f" >"$work/modules/$m.ko" ;;
	*.ko.zst) zstd -qdc "$f" >"$work/modules/$m.ko" ;;
	*.ko.gz) gzip -dc "$f" >"$work/modules/$m.ko" ;;
	*) cp "$f" "$work/modules/$m.ko" ;;
	esac
	echo "$m" >>"$work/modules.list"
done
install -m 0755 "$here/init" "$work/init"
# Guests started at once (check-debug's lanes) may build it side by side:
# each writes its own file and renames it into place.
(cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.$$.tmp"
mv "$out.$$.tmp" "$out"
