#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The module builds through the kernel's own build entry, as DKMS and
# distribution packaging call it: `make -C KDIR M=DIR modules` on a clean
# copy of the tree (kbuild generates the feature probes itself, before any
# object), the top Makefile's `module` target too, and both cleans remove
# what was generated. Every message the module prints carries the module's
# prefix exactly once (pr_fmt, from kmod/Kbuild).
#
#   kbuild.sh [KVER]     (default: the host's headers, guest-kver.sh)
source "$(dirname "$0")/../lib.sh"
top=$VPNFLOW_TOP
kver=${1:-$("$top/selftests/vm/guest-kver.sh")} || ktap_skip_all "no kernel headers"
kdir=/lib/modules/$kver/build
[ -d "$kdir" ] || ktap_skip_all "no kernel build tree at $kdir"
ktap_plan 9
tmp=$(mktemp -d)
defer rm -rf "$tmp"
src=$tmp/vpnflow
ko=$src/kmod/vpnflow_preserve.ko
probes=$src/kmod/compat/generated/probes.h

# A clean copy: what dkms-install copies, without anything built.
mkdir -p "$src"
cp -r "$top/Makefile" "$top/Kbuild" "$top/VERSION" "$top/kmod" "$top/include" "$src/"
make -s -C "$src" clean >/dev/null 2>&1
if [ -e "$probes" ] || [ -e "$ko" ]; then
	ktap_skip_all "make clean left generated files in the copy"
fi


ktap_quiet "make -C $kdir M=<clean copy> modules builds vpnflow_preserve.ko" \
	make -j2 -C "$kdir" M="$src" modules
ktap_check "kbuild generated the probes (one line per probe)" \
	sh -c "[ \$(grep -c VPNFLOW_HAVE_ '$probes') = \$(ls '$src'/kmod/compat/probes/*.c | wc -l) ]"

# Every printk format in the module: the strings of its .rodata sections
# that start with KERN_SOH and a level digit.
: >"$tmp/msgs"
for s in $(readelf -SW "$ko" 2>/dev/null | grep -o '\.rodata[^ ]*' | sort -u); do
	objcopy --dump-section "$s=$tmp/section" "$ko" "$tmp/scratch.o" &&
		tr '\0' '\n' <"$tmp/section" | grep -a $'^\001[0-7]' | cut -c3- >>"$tmp/msgs"
done
ktap_info "$(wc -l <"$tmp/msgs") messages, e.g. $(grep -m 1 -a 'loaded' "$tmp/msgs")"
ktap_check "every message starts with \"vpnflow_preserve: \"" \
	sh -c "[ -s '$tmp/msgs' ] && ! grep -av '^vpnflow_preserve: ' '$tmp/msgs' | sed 's/^/# no prefix: /' | grep ."
ktap_check "no message has it twice" \
	sh -c "! grep -a 'vpnflow_preserve: vpnflow_preserve: ' '$tmp/msgs' | sed 's/^/# twice: /' | grep ."

stamp=$(stat -c %y "$ko" 2>/dev/null)
ktap_quiet "a second build with nothing changed succeeds" \
	sh -c "make -C '$kdir' M='$src' modules >'$tmp/log' 2>&1 || { cat '$tmp/log'; exit 1; }"
ktap_check "and rebuilds nothing (the probes are not run again)" \
	sh -c "[ -n '$stamp' ] && [ \"\$(stat -c %y '$ko')\" = '$stamp' ] && ! grep -q PROBE '$tmp/log'"

ktap_quiet "the kernel's clean (make -C KDIR M=DIR clean) removes the probes" \
	sh -c "make -C '$kdir' M='$src' clean && [ ! -e '$probes' ] && [ ! -e '$ko' ]"

ktap_quiet "make module (the top Makefile, as DKMS calls it) builds it" \
	sh -c "make -C '$src' module KVER='$kver' && [ -f '$ko' ] && [ -f '$probes' ]"
ktap_quiet "make clean removes the generated files" \
	sh -c "make -C '$src' clean && [ ! -e '$src/kmod/compat/generated' ] && [ ! -e '$ko' ]"
ktap_finish
