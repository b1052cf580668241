#!/bin/bash
# Rig fixture: passes, but makes the kernel WARN.
source "$(dirname "$0")/../../lib.sh"
ktap_plan 1
insmod "$(dirname "$0")/warn-mod/vpnflow_rig_warn.ko" 2>/dev/null
ktap_ok "fixture passes while the kernel warns"
ktap_finish
