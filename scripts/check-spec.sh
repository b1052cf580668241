#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The netlink API is declared once (spec/vpnflow.yaml): regenerate the uapi
# header and the kernel policy tables and fail if the committed ones differ.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scripts/ynl-gen.py spec/vpnflow.yaml --uapi "$tmp/vpnflow.h" \
	--kernel-h "$tmp/netlink-gen.h" --kernel-c "$tmp/netlink-gen.c"
rc=0
for pair in "vpnflow.h include/uapi/linux/vpnflow.h" "netlink-gen.h kmod/netlink-gen.h" \
	    "netlink-gen.c kmod/netlink-gen.c"; do
	set -- $pair
	if ! diff -u "$2" "$tmp/$1"; then
		echo "check-spec: $2 is out of date: run 'make regen'" >&2
		rc=1
	fi
done
exit $rc
