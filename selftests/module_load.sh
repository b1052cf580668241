#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Module lifecycle: load, per-netns state, the generic netlink family, the
# xfrm key-manager listener, and repeated load/unload with namespaces
# created and destroyed (with live SAs) in between.
#
#   +----------------------------+   +----------------------------+
#   | netns a                    |   | netns b                    |
#   |  SA 192.0.2.1 -> 192.0.2.2 |   |  (nothing)                 |
#   |  policy 198.51.100.0/24    |   |                            |
#   +----------------------------+   +----------------------------+
#   No links, no traffic: xfrm state and policy only (TEST-NET addresses).
source "$(dirname "$0")/lib.sh"
require_vm
ktap_plan 9

vpnflow_unload
dmesg -C
if vpnflow_load && dmesg | grep -q 'vpnflow_preserve: loaded'; then
	ktap_ok "module loads"
else
	ktap_fail "module loads"
	ktap_finish
fi

family_listed() { genl ctrl list 2>/dev/null | grep -q 'Name: vpnflow$'; }
ktap_check "generic netlink family vpnflow is registered" family_listed

setup_ns a b
ktap_check "family is reachable from a new netns" \
	sh -c "ip netns exec $a genl ctrl list | grep -q 'Name: vpnflow$'"

# The listener sees SA events and charges them to the SA's own netns.
sa_events_ok()
{
	local before after_add after_del other
	before=$(vpnflow_counter "$a" sa_events) || return 1
	xfrm_sa_add "$a" 192.0.2.1 192.0.2.2 0x1000 || return 1
	after_add=$(vpnflow_counter "$a" sa_events) || return 1
	ip -n "$a" xfrm state delete src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 || return 1
	after_del=$(vpnflow_counter "$a" sa_events) || return 1
	other=$(vpnflow_counter "$b" sa_events) || return 1
	ktap_info "sa_events in a: $before -> $after_add -> $after_del; in b: $other"
	[ "$after_add" -eq $((before + 1)) ] && [ "$after_del" -eq $((before + 2)) ] &&
		[ "$other" -eq 0 ]
}
ktap_check "xfrm SA add/delete reach the listener, in their own netns only" sa_events_ok

policy_events_ok()
{
	local n
	ip -n "$a" xfrm policy add src 198.51.100.0/24 dst 203.0.113.0/24 dir out \
		tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel reqid 1 || return 1
	ip -n "$a" xfrm policy flush || return 1
	n=$(vpnflow_counter "$a" policy_events) || return 1
	ktap_info "policy_events in a after add+flush: $n"
	[ "$n" -eq 2 ] && [ "$(vpnflow_counter "$b" policy_events)" -eq 0 ]
}
ktap_check "xfrm policy add/flush reach the listener" policy_events_ok

options_per_netns()
{
	"$VPNSYSOPT" -n "$a" connection preserve-vpn-flows || return 1
	[ "$(vpnflow_field "$a" preserve_vpn_flows show running-config all)" = true ] &&
		[ "$(vpnflow_field "$b" preserve_vpn_flows show running-config all)" = false ]
}
ktap_check "options are per network namespace" options_per_netns

# Unload with live SAs and policies in a netns, then churn.
churn()
{
	local i c d
	xfrm_sa_add "$a" 192.0.2.1 192.0.2.2 0x2000 || return 1
	for i in $(seq 1 "$ncycles"); do
		rmmod vpnflow_preserve || { ktap_info "rmmod failed in cycle $i"; return 1; }
		family_listed && { ktap_info "family left after rmmod ($i)"; return 1; }
		c=churn-c-$(mktemp -u XXXXXX)
		ip netns add "$c" && xfrm_sa_add "$c" 192.0.2.3 192.0.2.4 0x3000 || return 1
		vpnflow_load || { ktap_info "load failed in cycle $i"; return 1; }
		d=churn-d-$(mktemp -u XXXXXX)
		ip netns add "$d" || return 1
		ip netns del "$c"
		# A fresh netns starts with defaults and zero counters.
		[ "$(vpnflow_field "$d" preserve_vpn_flows show running-config all)" = false ] || return 1
		[ "$(vpnflow_counter "$d" sa_events)" -eq 0 ] || return 1
		xfrm_sa_add "$d" 192.0.2.5 192.0.2.6 0x4000 || return 1
		[ "$(vpnflow_counter "$d" sa_events)" -eq 1 ] || return 1
		ip netns del "$d"
	done
	ktap_info "$ncycles load/unload cycles with netns churn done"
}
ncycles=20
[ "$VPNFLOW_CORE" = 0 ] || ncycles=8
ktap_check "$ncycles load/unload cycles with namespaces and live SAs in between" churn

unload_clean()
{
	[ "$(awk '$1 == "vpnflow_preserve" { print $3 }' /proc/modules)" = 0 ] || return 1
	rmmod vpnflow_preserve || return 1
	! vpnflow_loaded && ! family_listed
}
ktap_check "module unloads (refcount 0) and its family is gone" unload_clean

ktap_check "dmesg says unloaded" sh -c "dmesg | grep -q 'vpnflow_preserve: unloaded'"
ktap_finish
