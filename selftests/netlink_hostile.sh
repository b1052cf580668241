#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The netlink API against hostile input: selftests/tools/nlhostile.py sends
# wrong types, short and unknown attributes, out-of-range values, missing
# and un-nested attributes, unknown commands, a truncated message and
# 2000 random or mutated requests; every refusal must carry an extack
# message, refused requests must change nothing, and the kernel log must
# stay clean. The same in a second netns, concurrently, must not leak
# state across namespaces.
#
#   +---------------------+     +---------------------+
#   | netns a             |     | netns b             |
#   |  nlhostile.py       |     |  nlhostile.py       |
#   +---------------------+     +---------------------+
source "$(dirname "$0")/lib.sh"
require_vm
ktap_plan 4
tool=$VPNFLOW_TOP/selftests/tools/nlhostile.py
uapi=$VPNFLOW_TOP/include/uapi/linux/vpnflow.h

# The tool's numbers must be the uapi's.
consts_ok()
{
	local name val
	for pair in CMD_OPTIONS_GET:VPNFLOW_CMD_OPTIONS_GET CMD_FLOW_GET:VPNFLOW_CMD_FLOW_GET \
		    A_OPT_PRESERVE_TIMEOUT:VPNFLOW_A_OPTIONS_PRESERVE_TIMEOUT \
		    A_FILTER_FLOW_STATE:VPNFLOW_A_FILTER_FLOW_STATE; do
		name=${pair%%:*}
		val=$(python3 - "$uapi" "${pair#*:}" <<-'PY'
		import re, sys
		text = open(sys.argv[1]).read()
		for body in re.findall(r'enum[^{]*\{([^}]*)\}', text):
		    n = 0
		    for line in body.split(','):
		        m = re.match(r'\s*(\w+)(?:\s*=\s*(\w+))?', line)
		        if not m or m.group(1).startswith('__'):
		            continue
		        n = int(m.group(2)) if m.group(2) and m.group(2).isdigit() else n
		        if m.group(1) == sys.argv[2]:
		            print(n); sys.exit(0)
		        n += 1
		PY
		)
		python3 -c "import importlib.util, sys
s = importlib.util.spec_from_file_location('t', '$tool'); m = importlib.util.module_from_spec(s); s.loader.exec_module(m)
sys.exit(getattr(m, '$name') != $val)" || { ktap_info "$name != $val"; return 1; }
	done
}
ktap_check "the test client's numbers match the uapi header" consts_ok

vpnflow_load || ktap_skip_all "cannot load the module"
defer vpnflow_unload
setup_ns a b
dmesg -C
ip netns exec "$b" "$VPNSYSOPT" connection preserve-vpn-flows
ip netns exec "$a" python3 "$tool" 2000 >"/tmp/hostile.a" 2>&1 &
pa=$!
FUZZ_SEED=2 ip netns exec "$b" python3 "$tool" 2000 >"/tmp/hostile.b" 2>&1
rb=$?
wait $pa
ra=$?
sed 's/^/# a: /' /tmp/hostile.a
ktap_check "netns a: every hostile request refused with extack, nothing changed" [ "$ra" = 0 ]
b_intact() { [ "$rb" = 0 ] && [ "$(vpnflow_field "$b" preserve_vpn_flows show running-config all)" = true ]; }
ktap_check "netns b (concurrently): the same, its own options intact" b_intact
ktap_check "kernel log clean (no WARNING/BUG)" sh -c "! dmesg | grep -qE 'WARNING:|BUG:|Call Trace'"
ktap_finish
