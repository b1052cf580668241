#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# README's "Supported kernels" table is what `make check` just tested: the
# rows selftests/vm/kernels.sh prints for the kernels each target has today
# (a suite whose kernel moved to another series fails this until the
# README says so).
source "$(dirname "$0")/../lib.sh"
top=$VPNFLOW_TOP
ktap_plan 1
want=$("$top/selftests/vm/kernels.sh" table) || { ktap_fail "kernels.sh table"; ktap_finish; }
have=$(awk '/^  release +kernel +compiler +tested$/ { on = 1; next } on && /^$/ { exit } on' "$top/README")
if [ "$have" = "$want" ]; then
	ktap_ok "README's supported kernels table matches the kernels tested"
else
	diff <(echo "$have") <(echo "$want") | sed 's/^/# /'
	ktap_fail "README's supported kernels table matches the kernels tested (diff: README, tested)"
fi
ktap_finish
