#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The libreswan that ike_setups.sh runs in the VM, checked on the host
# (the guest sees the same files): selftests/vm/libreswan.sh extracted
# bookworm's package (scripts/deps.sh runs it), its pluto and whack start
# with the installed libraries, pluto takes every option lib-libreswan.sh
# gives it, the ipsec.conf lsw_conf writes passes addconn
# --checkconfig, and certutil makes an NSS database. Nothing is started: the
# host has no ESP.
source "$(dirname "$0")/../lib.sh"
source "$VPNFLOW_TOP/selftests/lib-libreswan.sh"
root=$("$VPNFLOW_TOP/selftests/vm/libreswan.sh" -p)
[ -d "$root" ] || ktap_skip_all "libreswan not extracted (selftests/vm/libreswan.sh)"
LSW_ROOT=$root
LSW_BIN=$root/usr/libexec/ipsec
ktap_plan 5
tmp=$(mktemp -d)
defer rm -rf "$tmp"

ktap_info "libreswan $(cat "$root/.version" 2>/dev/null || echo '?') in $root"
ktap_check "the extracted pluto runs (pluto --version)" \
	sh -c "'$LSW_BIN/pluto' --version | grep -q '^Libreswan [0-9]'"
ktap_check "pluto knows the options lib-libreswan.sh gives it" \
	sh -c "h=\$('$LSW_BIN/pluto' --help 2>&1); for o in --nofork --config --rundir --nssdir --ipsecdir --secretsfile; do
		printf '%s\n' \"\$h\" | grep -q -- \"\\\\[\$o\" || exit 1; done"
ktap_check "whack runs" sh -c "'$LSW_BIN/whack' --version >/dev/null 2>&1"
# Each set-up's ipsec.conf as lsw_conf writes it, checked by addconn.
IPSEC_DIR=$tmp
checkconfig()
{
	local a
	for a in "auto=start dpd=restart" "auto=ondemand dpd=clear" "auto=start dpd=restart if=5"; do
		# shellcheck disable=SC2086 # the settings are words
		lsw_conf gwa 192.0.2.1 203.0.113.2 198.51.100.0/26 198.51.100.64/26 $a &&
			"$LSW_BIN/addconn" --config "$tmp/gwa/ipsec.conf" --checkconfig || return 1
	done
}
ktap_check "addconn accepts lsw_conf's ipsec.conf (auto=start, ondemand, ipsec-interface)" checkconfig
ktap_check "certutil makes pluto's NSS database" \
	certutil -N -d "sql:$tmp" --empty-password
ktap_finish
