#!/bin/bash
# Rig fixture: one passing case.
source "$(dirname "$0")/../../lib.sh"
ktap_plan 1
ktap_ok "fixture passes"
ktap_finish
