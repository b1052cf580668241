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
#
# libreswan is not installed (Debian's package conflicts with strongSwan's):
# selftests/vm/libreswan.sh downloads and extracts it into the VM cache,
# last; pluto's shared libraries and certutil are in the list below.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
libreswan() { "$here/../selftests/vm/libreswan.sh" >/dev/null; }
pkgs="build-essential make gcc pkg-config python3 python3-yaml libmnl-dev
      clang-14 libclang-rt-14-dev
      linux-image-amd64 linux-headers-amd64 linux-source-6.1 sparse
      linux-image-6.12-amd64 linux-headers-6.12-amd64 debootstrap
      qemu-system-x86 qemu-utils e2fsprogs busybox-static cpio kmod dkms
      strongswan-charon strongswan-swanctl strongswan-libcharon libstrongswan-standard-plugins
      libnss3-tools libnss3 libnspr4 libevent-core-2.1-7 libevent-pthreads-2.1-7 libldns3
      libunbound8 libcurl3-nss libldap-2.5-0 libaudit1 libcap-ng0 libpam0g libsystemd0
      iproute2 iptables nftables conntrack tcpdump socat iperf3 netcat-openbsd
      keepalived conntrackd
      procps psmisc util-linux xz-utils iputils-ping python3
      debhelper dh-dkms bash-completion lintian"
[ "${1:-}" != debug ] || pkgs="$pkgs bc bison flex libelf-dev libssl-dev"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	libreswan
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
	exit 1
fi
# What each package is for, said before apt runs (a first run on a fresh
# machine downloads for a few minutes, quietly).
why()
{
	case $1 in
	build-essential|make|gcc|pkg-config|libmnl-dev) echo "building the module and vpnsysopt" ;;
	python3|python3-yaml) echo "the netlink code generator and the selftests' traffic tools" ;;
	clang-14|libclang-rt-14-dev) echo "vpnsysopt's fuzz harnesses (libFuzzer)" ;;
	linux-image-amd64|linux-headers-amd64) echo "the test VM's kernel, and its headers to build the module" ;;
	linux-source-6.1) echo "checkpatch (make style) and the debug kernel's sources" ;;
	sparse) echo "make sparse" ;;
	linux-image-6.12-amd64|linux-headers-6.12-amd64) echo "the Debian 12 6.12 kernel make check also tests" ;;
	debootstrap) echo "the other Debian suites' roots (make check's other kernels)" ;;
	qemu-system-x86|busybox-static|cpio) echo "the test VM (qemu, TCG) and its initramfs" ;;
	kmod|dkms) echo "loading the module; the DKMS install checks" ;;
	strongswan-*|libstrongswan-*) echo "the IPsec tunnels of the selftests and of make demo" ;;
	libnss3*|libnspr4|libevent-*|libldns3|libunbound8|libcurl3-nss|libldap-*|libaudit1|libcap-ng0|libpam0g|libsystemd0)
		echo "libreswan's pluto (ike_setups.sh; selftests/vm/libreswan.sh extracts it)" ;;
	iproute2|iptables|nftables|conntrack|tcpdump|socat|iperf3|netcat-openbsd|iputils-ping)
		echo "the selftests' gateways, firewalls and traffic" ;;
	keepalived|conntrackd) echo "the failover selftest's VRRP and conntrack sync (failover.sh)" ;;
	bc|bison|flex|libelf-dev|libssl-dev) echo "building the debug kernel (make check-debug)" ;;
	*) echo "the selftests' tools" ;;
	esac
}
echo "deps: vpnflow's build and tests need Debian packages that are not installed:"
for p in $missing; do
	printf 'deps:   %-30s %s\n' "$p" "$(why "$p")"
done
echo "deps: installing them with apt-get (the package lists first); this takes a few minutes the first time ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
libreswan
echo "deps: done"
