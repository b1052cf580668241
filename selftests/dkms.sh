#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS: `make dkms-install KVER=<this kernel>` ran before booting
# (selftests/vm/check.sh), in the userland of the kernel's own suite: the
# host's, or the root of that suite (VPNFLOW_DKMS_ROOT, when this guest
# runs another userland); here a plain `modprobe vpnflow_preserve` must
# load the DKMS-built module and vpnsysopt must talk to it.
#
#   +------------------------------+
#   | VM (this kernel), init netns |
#   |  modprobe vpnflow_preserve   |
#   |  vpnsysopt show run all      |
#   +------------------------------+
source "$(dirname "$0")/lib.sh"
require_vm
[ "${VPNFLOW_DKMS:-0}" = 1 ] || ktap_skip_all "dkms install was not run on the host (make check does it)"
ktap_plan 10
kver=$(uname -r)
version=$(cat "$VPNFLOW_TOP/VERSION")

dkms_root=${VPNFLOW_DKMS_ROOT:-/}

# What the installing userland's dkms says (in its root, with /dev and /proc).
dkms_status()
{
	if [ "$dkms_root" = / ]; then
		dkms status -m vpnflow_preserve -k "$kver"
	else
		unshare -m --propagation private -- sh -c 'mount --rbind /dev "$1/dev" &&
			mount -t proc proc "$1/proc" && chroot "$1" dkms status -m vpnflow_preserve -k "$2"' \
			sh "$dkms_root" "$kver"
	fi
}

# The version of the dkms.conf make dkms-install put in /usr/src there.
conf_version()
{
	bash -c '. "$1" && echo "$PACKAGE_VERSION"' \
		sh "${dkms_root%/}/usr/src/vpnflow_preserve-$version/dkms.conf"
}

vpnflow_unload
ktap_info "installed dkms.conf: PACKAGE_VERSION $(conf_version 2>&1)"
ktap_check "the installed dkms.conf's version is VERSION's ($version)" \
	[ "$(conf_version 2>/dev/null)" = "$version" ]
status=$(dkms_status 2>&1)
ktap_info "dkms status ($dkms_root): $status"
ktap_check "dkms ($dkms_root) lists vpnflow_preserve/$version installed for $kver" \
	sh -c 'printf "%s\n" "$1" | grep -F -e "vpnflow_preserve/$2, $3, " -e "vpnflow_preserve, $2, $3, " |
		grep -q ": installed"' sh "$status" "$version" "$kver"
path=$(modinfo -n vpnflow_preserve 2>/dev/null)
ktap_info "modinfo -n: $path"
ktap_check "modprobe finds the DKMS module under updates/" \
	sh -c "echo '$path' | grep -q '^/lib/modules/$kver/updates/'"
ktap_check "modprobe vpnflow_preserve loads it" modprobe vpnflow_preserve
ktap_check "the loaded module is version $version" \
	sh -c "[ \"\$(cat /sys/module/vpnflow_preserve/version)\" = '$version' ]"
ktap_check "vpnsysopt talks to it" \
	sh -c "'$VPNSYSOPT' show running-config all | grep -qx 'no sysopt connection preserve-vpn-flows'"
ktap_check "modprobe -r removes it" sh -c 'modprobe -r vpnflow_preserve && ! [ -d /sys/module/vpnflow_preserve ]'
# Looking never loads the module (a loaded one changes forwarding: tcpmss
# 1380 by default); changing an option does, as iptables loads a table.
reads_do_not_load()
{
	local rc1 rc2 rc3
	"$VPNSYSOPT" show running-config all >/dev/null 2>&1; rc1=$?
	"$VPNSYSOPT" show conn >/dev/null 2>&1; rc2=$?
	setpriv --reuid=65534 --regid=65534 --clear-groups "$VPNSYSOPT" show counters >/dev/null 2>&1; rc3=$?
	ktap_info "reads with the module unloaded: exit $rc1, $rc2, $rc3 (unprivileged)"
	[ "$rc1" = 3 ] && [ "$rc2" = 3 ] && [ "$rc3" = 3 ] && ! vpnflow_loaded
}
ktap_check "reads (show running-config all, show conn, as nobody too) do not load the module (exit 3)" \
	reads_do_not_load
ktap_check "nobody's option change does not load it either" \
	sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups '$VPNSYSOPT' connection preserve-vpn-flows >/dev/null 2>&1 && ! [ -d /sys/module/vpnflow_preserve ]"
ktap_check "an option change loads the installed module and applies" \
	sh -c "'$VPNSYSOPT' connection preserve-vpn-flows && [ -d /sys/module/vpnflow_preserve ] &&
		'$VPNSYSOPT' show running-config | grep -qx 'sysopt connection preserve-vpn-flows' && modprobe -r vpnflow_preserve"
ktap_finish
