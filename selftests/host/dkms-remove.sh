#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host side of the DKMS test (check.sh ran `make dkms-install` before the VM
# booted, and the VM modprobed the DKMS-built module): `make dkms-remove`
# must leave nothing behind.
#
#   dkms-remove.sh KVER
source "$(dirname "$0")/../lib.sh"
kver=$1
top=$VPNFLOW_TOP
ktap_plan 5
ktap_check "make dkms-remove succeeds" sh -c "make -s -C '$top' dkms-remove >/dev/null 2>&1"
ktap_check "dkms no longer lists vpnflow_preserve" \
	sh -c '[ -z "$(dkms status -m vpnflow_preserve 2>/dev/null)" ]'
ktap_check "no sources left in /usr/src or /var/lib/dkms" \
	sh -c '! ls -d /usr/src/vpnflow_preserve-* /var/lib/dkms/vpnflow_preserve 2>/dev/null | grep -q .'
ktap_check "no module left under /lib/modules/$kver" \
	sh -c "! find /lib/modules/$kver -name 'vpnflow_preserve.ko*' | grep -q ."
ktap_check "modules.dep no longer names it" \
	sh -c "! grep -q vpnflow_preserve /lib/modules/$kver/modules.dep"
ktap_finish
