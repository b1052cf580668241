#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The release of the host's Debian kernel (the one its linux-image-amd64
# depends on, headers installed): the test VM's default kernel.
exec "$(dirname "$0")/kernels.sh" prepare bookworm
