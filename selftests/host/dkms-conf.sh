#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The DKMS source tree (`make dkms-src`, what dkms-install puts in
# /usr/src) takes its version from VERSION: its dkms.conf, read as dkms
# reads it (sourced by bash), names the version VERSION holds, also after
# VERSION changed, and the module that dkms.conf's MAKE command builds in
# that tree carries the same version. Nothing is installed: the trees are
# made in a temporary folder.
#
#   dkms-conf.sh [KVER]     (default: the host's headers, guest-kver.sh)
source "$(dirname "$0")/../lib.sh"
top=$VPNFLOW_TOP
kver=${1:-$("$top/selftests/vm/guest-kver.sh")} || ktap_skip_all "no kernel headers"
kdir=/lib/modules/$kver/build
[ -d "$kdir" ] || ktap_skip_all "no kernel build tree at $kdir"
ktap_plan 6
tmp=$(mktemp -d)
defer rm -rf "$tmp"
version=$(cat "$top/VERSION")

# dkms_var TREE VAR: VAR of TREE/dkms.conf, sourced as dkms does.
dkms_var()
{
	kernelver=$kver kernel_source_dir=$kdir bash -c '. "$1/dkms.conf" && eval "echo \"\${$2}\""' \
		sh "$1" "$2"
}


ktap_quiet "make dkms-src DKMS_DIR=... makes the tree" \
	make -C "$top" dkms-src DKMS_DIR="$tmp/real"
got=$(dkms_var "$tmp/real" PACKAGE_VERSION)
ktap_info "VERSION $version, dkms.conf's PACKAGE_VERSION ${got:-(none)}"
ktap_check "its dkms.conf's version is VERSION's ($version), nothing left to fill in" \
	sh -c "[ '$got' = '$version' ] && ! grep -q @ '$tmp/real/dkms.conf'"

# Another version: a copy of the tree whose VERSION says so.
other=9.8.7~test
mkdir -p "$tmp/src"
cp -r "$top/Makefile" "$top/Kbuild" "$top/dkms.conf.in" "$top/kmod" "$top/include" "$tmp/src/"
echo "$other" >"$tmp/src/VERSION"
ktap_quiet "with VERSION $other: make dkms-src" make -C "$tmp/src" dkms-src DKMS_DIR="$tmp/other"
ktap_check "its dkms.conf's version follows: $other" \
	[ "$(dkms_var "$tmp/other" PACKAGE_VERSION)" = "$other" ]

# What dkms build runs: MAKE[0] in the tree, then the module at
# BUILT_MODULE_LOCATION[0]/BUILT_MODULE_NAME[0].ko.
cmd=$(dkms_var "$tmp/other" 'MAKE[0]')
ko=$tmp/other/$(dkms_var "$tmp/other" 'BUILT_MODULE_LOCATION[0]')/$(dkms_var "$tmp/other" 'BUILT_MODULE_NAME[0]').ko
ktap_info "MAKE[0]: $cmd"
# shellcheck disable=SC2086 # dkms runs MAKE[0] as words
ktap_quiet "dkms.conf's MAKE[0] builds the module in that tree" \
	sh -c "cd '$tmp/other' && $cmd && [ -f '$ko' ]"
ktap_check "the module's version is the same: $other" \
	[ "$(modinfo -F version "$ko" 2>/dev/null)" = "$other" ]
ktap_finish
