#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# libreswan for selftests/ike_setups.sh, without installing it: Debian's
# libreswan package conflicts with strongSwan's, which the rest of the
# suite needs. Its package of the host's suite (bookworm: libreswan 4.x) is
# downloaded with the host's apt (`apt-get download`) and extracted with
# `dpkg -x` into a root of its own; the test VM sees the host's file
# system, so pluto, whack and addconn run from there in the guest. Their
# shared libraries are ordinary packages that scripts/deps.sh installs.
#
#   libreswan.sh          fetch and extract it (nothing to do when it is
#                         there); print the root
#   libreswan.sh -p       print the root only (it may not exist)
#
# In ${VPNFLOW_VM_CACHE:-~/.cache/vpnflow-vm}/libreswan:
#   libreswan_*.deb     the package as downloaded
#   root/               its files (pluto is root/usr/libexec/ipsec/pluto)
#   root/.version       the package's version, written last
set -eu -o pipefail
cache=${VPNFLOW_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vpnflow-vm}
dir=$cache/libreswan
root=$dir/root

die() { echo "libreswan: $*" >&2; exit 1; }

if [ "${1:-}" = -p ]; then
	echo "$root"
	exit 0
fi
if [ -s "$root/.version" ] && [ -x "$root/usr/libexec/ipsec/pluto" ]; then
	echo "$root"
	exit 0
fi
command -v apt-get >/dev/null || die "apt-get not found"
mkdir -p "$dir"
cd "$dir"
rm -rf root root.new libreswan_*.deb
# apt's sandbox user cannot write into root's home: as root, download
# as root (apt would do so anyway, with a warning).
sandbox=()
[ "$(id -u)" != 0 ] || sandbox=(-o APT::Sandbox::User=root)
apt-get download -q "${sandbox[@]}" libreswan >/dev/null ||
	die "apt-get download libreswan failed"
debs=(libreswan_*.deb)
deb=${debs[0]}
[ -f "$deb" ] || die "no libreswan package downloaded"
dpkg -x "$deb" root.new
[ -x root.new/usr/libexec/ipsec/pluto ] || die "$deb has no usr/libexec/ipsec/pluto"
dpkg-deb -f "$deb" Version >root.new/.version
mv root.new root
echo "$root"
