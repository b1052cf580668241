#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Module parameters set the options of new namespaces (modprobe options):
# loading with parameters, changing them later through sysfs, and refusing
# bad values with a clear message.
#
#   +-------------+   +-------------+   +-------------+
#   | init netns  |   | netns a     |   | netns b     |
#   | (at load)   |   | (after load)|   | (after sysfs|
#   +-------------+   +-------------+   |  change)    |
#                                       +-------------+
source "$(dirname "$0")/lib.sh"
require_vm
ktap_plan 8
vpnflow_unload
defer vpnflow_unload
for dep in $(modinfo -F depends "$VPNFLOW_KO" | tr , ' '); do modprobe "$dep"; done

run_all() { "$VPNSYSOPT" -n "$1" show running-config all; }

dmesg -C
ktap_check "tcpmss=20 is refused at load" sh -c "! insmod '$VPNFLOW_KO' tcpmss=20 2>/dev/null"
ktap_check "and the log says why" sh -c "dmesg | grep -q 'tcpmss: must be 0 (off) or 48-65535'"

ktap_check "loads with preserve_vpn_flows=1 tcpmss=1300 preserve_timeout=600 reclassify_vpn=0 df_bit=clear-df tcp_state_bypass=0x8/0x18 fragmentation=before-encryption label_vpn_flows=1" \
	insmod "$VPNFLOW_KO" preserve_vpn_flows=1 tcpmss=1300 preserve_timeout=600 reclassify_vpn=0 df_bit=clear-df \
	tcp_state_bypass=0x8/0x18 fragmentation=before-encryption label_vpn_flows=1
setup_ns a
want="sysopt connection tcpmss 1300
sysopt connection tcpmss minimum 0
no sysopt connection reclassify-vpn
sysopt connection preserve-vpn-flows
no sysopt connection preserve-vpn-flows fast-resume
no sysopt connection tcpmss auto
no sysopt connection tcpmss tunneled-only
timeout preserve-vpn-flows 0:10:00
sysopt connection label-vpn-flows
sysopt connection tcp-state-bypass mark 0x8/0x18
crypto ipsec df-bit clear-df
crypto ipsec fragmentation before-encryption"
got=$(run_all "$a")
[ "$got" = "$want" ] || printf '# got:\n%s\n' "$got" | sed '2,$s/^/#   /'
ktap_check "a new netns starts with the parameters' options" [ "$got" = "$want" ]

echo 0 > /sys/module/vpnflow_preserve/parameters/preserve_vpn_flows
setup_ns b
ktap_check "a sysfs change applies to namespaces created afterwards" sh -c \
	"run_all() { '$VPNSYSOPT' -n \$1 show running-config all; }
	 run_all $b | grep -qx 'no sysopt connection preserve-vpn-flows' &&
	 run_all $a | grep -qx 'sysopt connection preserve-vpn-flows'"
ktap_check "a bad sysfs value is refused and the old one kept" sh -c \
	"! echo 70000 > /sys/module/vpnflow_preserve/parameters/tcpmss 2>/dev/null &&
	 [ \$(cat /sys/module/vpnflow_preserve/parameters/tcpmss) = 1300 ]"
p=/sys/module/vpnflow_preserve/parameters/tcp_state_bypass
ktap_check "tcp_state_bypass: a mark outside its mask and a mark 0 are refused, the old value kept" sh -c \
	"! echo 0x11/0x10 > $p 2>/dev/null && ! echo 0/0xff > $p 2>/dev/null && [ \$(cat $p) = 0x8/0x18 ]"
ktap_check "tcp_state_bypass: off, and a mark alone takes the whole mask" sh -c \
	"echo off > $p && [ \$(cat $p) = off ] && echo 7 > $p && [ \$(cat $p) = 0x7/0xffffffff ]"
ktap_finish
