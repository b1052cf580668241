#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vpnsysopt <-> module round trip over generic netlink: defaults, every
# option set and read back (text and JSON), `no` forms, per-netns state,
# the kernel's extack text on a rejected request (state unchanged), and
# permissions (unprivileged user, user namespace without CAP_NET_ADMIN
# over the netns).
#
#   +----------------------+      +----------------------+
#   | init netns           |      | netns a              |
#   |  vpnsysopt ...       |      |  vpnsysopt -n a ...  |
#   +----------------------+      +----------------------+
#   No links, no traffic: configuration only.
source "$(dirname "$0")/lib.sh"
require_vm
ktap_plan 10

vpnflow_load || ktap_skip_all "cannot load the module"
defer vpnflow_unload
setup_ns a
V() { "$VPNSYSOPT" -n "$a" "$@"; }

defaults="sysopt connection tcpmss 1380
sysopt connection tcpmss minimum 0
sysopt connection reclassify-vpn
no sysopt connection preserve-vpn-flows
no sysopt connection preserve-vpn-flows fast-resume
no sysopt connection tcpmss auto
no sysopt connection tcpmss tunneled-only
timeout preserve-vpn-flows 1:00:00
no sysopt connection label-vpn-flows
no sysopt connection tcp-state-bypass mark
crypto ipsec df-bit copy-df
crypto ipsec fragmentation after-encryption"

# expect_out DESC EXPECTED CMD...: CMD exits 0 and prints exactly EXPECTED.
expect_out()
{
	local desc=$1 want=$2 got
	shift 2
	got=$("$@" 2>&1)
	if [ $? = 0 ] && [ "$got" = "$want" ]; then
		ktap_ok "$desc"
	else
		ktap_info "expected:"; printf '%s\n' "$want" | sed 's/^/#   /'
		ktap_info "got:"; printf '%s\n' "$got" | sed 's/^/#   /'
		ktap_fail "$desc"
	fi
}

expect_out "show running-config all prints the ASA defaults" "$defaults" V show running-config all
expect_out "show running-config prints nothing on defaults" "" V show running-config

set_all()
{
	V connection preserve-vpn-flows &&
	V connection preserve-vpn-flows fast-resume &&
	V no connection reclassify-vpn &&
	V connection tcpmss 1200 &&
	V connection tcpmss minimum 400 &&
	V connection tcpmss auto &&
	V timeout preserve-vpn-flows 1:30:00 &&
	V connection label-vpn-flows &&
	V connection tcp-state-bypass mark 0x40/0xc0 &&
	V crypto ipsec df-bit set-df &&
	V crypto ipsec fragmentation before-encryption
}
ktap_check "every option can be set" set_all
expect_out "show running-config all reads every option back" "sysopt connection tcpmss 1200
sysopt connection tcpmss minimum 400
no sysopt connection reclassify-vpn
sysopt connection preserve-vpn-flows
sysopt connection preserve-vpn-flows fast-resume
sysopt connection tcpmss auto
no sysopt connection tcpmss tunneled-only
timeout preserve-vpn-flows 1:30:00
sysopt connection label-vpn-flows
sysopt connection tcp-state-bypass mark 0x40/0xc0
crypto ipsec df-bit set-df
crypto ipsec fragmentation before-encryption" V show running-config all

json_ok()
{
	V -j show running-config all | python3 -c '
import json, sys
j = json.load(sys.stdin)
want = {"preserve_vpn_flows": True, "reclassify_vpn": False, "tcpmss": 1200,
        "tcpmss_minimum": 400, "tcpmss_auto": True, "preserve_timeout": 5400,
        "fast_resume": True, "df_bit": "set-df", "fragmentation": "before-encryption",
        "label_vpn_flows": True,
        "tcp_state_bypass_mark": 0x40, "tcp_state_bypass_mask": 0xc0}
bad = {k: (j.get(k), v) for k, v in want.items() if j.get(k) != v}
print("# json mismatches:", bad)
sys.exit(1 if bad else 0)'
}
ktap_check "JSON output carries the same values" json_ok

expect_out "the init netns still has the defaults" "$defaults" "$VPNSYSOPT" show running-config all

# The kernel checks tcpmss minimum against tcpmss; its extack text must
# reach the user and the state must stay as it was.
rejected()
{
	local out rc
	out=$(V connection tcpmss minimum 1300 2>&1)
	rc=$?
	ktap_info "exit $rc: $out"
	[ "$rc" = 2 ] && echo "$out" | grep -q 'tcpmss minimum cannot exceed tcpmss' &&
		[ "$(vpnflow_field "$a" tcpmss_minimum show running-config all)" = 400 ]
}
ktap_check "a rejected request shows the kernel's message and changes nothing" rejected

undo_all()
{
	V no connection preserve-vpn-flows &&
	V no connection preserve-vpn-flows fast-resume &&
	V connection reclassify-vpn &&
	V connection tcpmss 1380 &&
	V no connection tcpmss minimum &&
	V no connection tcpmss auto &&
	V timeout preserve-vpn-flows 3600 &&
	V no crypto ipsec df-bit &&
	V no crypto ipsec fragmentation &&
	V no connection label-vpn-flows &&
	V no connection tcp-state-bypass mark &&
	[ -z "$(V show running-config)" ]
}
ktap_check "undoing every change leaves running-config empty" undo_all

unprivileged()
{
	local out rc
	out=$(ip netns exec "$a" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$VPNSYSOPT" connection preserve-vpn-flows 2>&1)
	rc=$?
	ktap_info "exit $rc: $out"
	[ "$rc" = 4 ] && [ "$(vpnflow_field "$a" preserve_vpn_flows show running-config all)" = false ] &&
		setpriv --reuid=65534 --regid=65534 --clear-groups \
			"$VPNSYSOPT" show running-config all >/dev/null
}
ktap_check "unprivileged: changes refused (exit 4), reads allowed" unprivileged

userns()
{
	local out rc
	# root inside a new user namespace has no CAP_NET_ADMIN over a netns
	# that the initial user namespace owns.
	out=$(ip netns exec "$a" unshare --user --map-root-user \
		"$VPNSYSOPT" connection preserve-vpn-flows 2>&1)
	rc=$?
	ktap_info "exit $rc: $out"
	[ "$rc" = 4 ] && [ "$(vpnflow_field "$a" preserve_vpn_flows show running-config all)" = false ]
}
ktap_check "user namespace without CAP_NET_ADMIN over the netns is refused" userns
ktap_finish
