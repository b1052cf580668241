#!/bin/bash
# Rig fixture: crashes the guest kernel before reporting anything.
source "$(dirname "$0")/../../lib.sh"
ktap_plan 1
echo c > /proc/sysrq-trigger
ktap_ok "never reached"
ktap_finish
