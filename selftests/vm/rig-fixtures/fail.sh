#!/bin/bash
# Rig fixture: a deliberately failing case.
source "$(dirname "$0")/../../lib.sh"
ktap_plan 2
ktap_ok "fixture passes"
ktap_check "fixture fails on purpose" false
ktap_finish
