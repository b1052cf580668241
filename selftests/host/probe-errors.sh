#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kmod/compat/probe.sh fails loudly: a kernel whose compiler is missing, a
# compiler that cannot build against the kernel, and a probe neither of
# whose forms compiles are errors that say so, never "feature absent".
# Debian 13's headers (the trixie root of selftests/vm/kernels.sh, made by
# gcc-14) are bound at their own paths in a private mount namespace on
# this Debian 12 host, which has gcc-12 only; the host's own headers
# (gcc-12) carry the broken probe.
#
#   probe-errors.sh [TARGET]     (default trixie; host KDIR: guest-kver.sh)
source "$(dirname "$0")/../lib.sh"
top=$VPNFLOW_TOP
t=${1:-trixie}
ktap_plan 5
tmp=$(mktemp -d)
defer rm -rf "$tmp"
eval "$("$top/selftests/vm/kernels.sh" info "$t")" || ktap_skip_all "no $t root"
rel=${KVER%-amd64}
kdir=/usr/src/linux-headers-$KVER
cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\{0,1\}\([^ "]*\).*/\1/p' "$ROOT$kdir/include/config/auto.conf")
command -v "$cc" >/dev/null && ktap_skip_all "$cc is installed here: nothing is missing"

# foreign CMD...: CMD with the root's headers and kbuild at their paths.
foreign()
{
	unshare -m --propagation private -- sh -c '
		root=$1 rel=$2; shift 2
		for d in /usr/src/linux-headers-$rel-amd64 /usr/src/linux-headers-$rel-common \
			 /usr/lib/linux-kbuild-$rel; do
			mkdir -p "$d" && mount --bind "$root$d" "$d" || exit 99
		done
		exec "$@"' sh "$ROOT" "$rel" "$@"
}

foreign sh "$top/kmod/compat/probe.sh" "$kdir" "$tmp/p1.h" >"$tmp/missing" 2>&1
rc=$?
sed 's/^/# /' "$tmp/missing" | tail -n 3
ktap_check "$KVER's compiler ($cc) missing: probe.sh fails and names it" \
	sh -c "[ $rc = 1 ] && [ ! -e '$tmp/p1.h' ] && grep -q \"vpnflow: .*wants the compiler '$cc', which is not installed\" '$tmp/missing'"

foreign make -s -C "$top" module KDIR="$kdir" CC=gcc-12 >"$tmp/wrong" 2>&1
rc=$?
sed 's/^/# /' "$tmp/wrong" | grep -E 'error:|vpnflow:' | head -n 3
ktap_check "gcc-12 against $KVER (made by $cc): the build stops, naming both compilers" \
	sh -c "[ $rc != 0 ] && grep -q \"vpnflow: 'gcc-12' .*cannot compile against .*built with: $cc\" '$tmp/wrong'"

# A probe neither of whose forms compiles, beside the real ones, against
# the host's own headers.
hk=$("$top/selftests/vm/guest-kver.sh") || ktap_skip_all "no host kernel headers"
mkdir -p "$tmp/compat"
cp -r "$top/kmod/compat/probe.sh" "$top/kmod/compat/probes" "$tmp/compat/"
cat >"$tmp/compat/probes/vpnflow_no_such_api.c" <<'C'
// SPDX-License-Identifier: GPL-2.0
#include <linux/kernel.h>
int vpnflow_probe(void);
#ifndef VPNFLOW_PROBE_WITHOUT
int vpnflow_probe(void) { return vpnflow_no_such_function(); }
#else
int vpnflow_probe(void) { return vpnflow_no_such_function_either(); }
#endif
C
sh "$tmp/compat/probe.sh" "/lib/modules/$hk/build" "$tmp/p3.h" >"$tmp/neither" 2>&1
rc=$?
sed 's/^/# /' "$tmp/neither" | tail -n 2
ktap_check "a probe neither form of which compiles is an error naming it" \
	sh -c "[ $rc = 1 ] && [ ! -e '$tmp/p3.h' ] && grep -q 'vpnflow: probe vpnflow_no_such_api: neither form' '$tmp/neither'"

sh "$top/kmod/compat/probe.sh" "/lib/modules/$hk/build" "$tmp/p4.h" >"$tmp/good" 2>&1
rc=$?
ktap_check "the real probes against $hk: one line per probe" \
	sh -c "[ $rc = 0 ] && [ \$(grep -c VPNFLOW_HAVE_ '$tmp/p4.h') = \$(ls '$top'/kmod/compat/probes/*.c | wc -l) ]"
# The two forms disagree on the host's kernel for every feature 6.1 has
# or lacks: none is ever set by accident (e.g. a broken toolchain).
ktap_check "on $hk: GENL_REQ_ATTR_CHECK and nf_ct_iter_data set, genl_dumpit_info.info and linux/unaligned.h not" \
	sh -c "grep -qx '#define VPNFLOW_HAVE_GENL_REQ_ATTR_CHECK 1' '$tmp/p4.h' &&
	       grep -qx '#define VPNFLOW_HAVE_NF_CT_ITER_DATA 1' '$tmp/p4.h' &&
	       grep -q 'VPNFLOW_HAVE_GENL_DUMPIT_INFO_INFO is not set' '$tmp/p4.h' &&
	       grep -q 'VPNFLOW_HAVE_LINUX_UNALIGNED_H is not set' '$tmp/p4.h'"
ktap_finish
