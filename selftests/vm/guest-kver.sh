#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The release of the Debian linux-image-amd64 kernel installed on this host
# (the guest kernel of the test VM), newest first.
for d in $(ls -d /lib/modules/*-amd64 2>/dev/null | sort -rV); do
	k=${d##*/}
	if [ -f "/boot/vmlinuz-$k" ] && [ -d "$d/build" ]; then
		echo "$k"
		exit 0
	fi
done
echo "guest-kver: no linux-image-amd64 with matching linux-headers-amd64 installed" >&2
exit 1
