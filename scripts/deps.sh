#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Install what building and testing vpnflow needs, from Debian's archive.
# Does nothing when everything is there already. The kernels of other
# suites are not installed here: selftests/vm/kernels.sh keeps them in
# roots of their own.
#
#   deps.sh           what `make check` and `make demo` need (and `make deb`:
#                     debian/control's Build-Depends, lintian)
#   deps.sh debug     and what building the debug kernel needs (check-debug)
set -eu
pkgs="build-essential make gcc pkg-config python3 python3-yaml libmnl-dev
      clang-14 libclang-rt-14-dev
      linux-image-amd64 linux-headers-amd64 linux-source-6.1 sparse
      linux-image-6.12-amd64 linux-headers-6.12-amd64 debootstrap
      qemu-system-x86 qemu-utils e2fsprogs busybox-static cpio kmod dkms
      strongswan-charon strongswan-swanctl strongswan-libcharon libstrongswan-standard-plugins
      iproute2 iptables nftables conntrack tcpdump socat iperf3 netcat-openbsd
      procps psmisc util-linux xz-utils iputils-ping python3
      debhelper dh-dkms bash-completion lintian"
[ "${1:-}" != debug ] || pkgs="$pkgs bc bison flex libelf-dev libssl-dev"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
