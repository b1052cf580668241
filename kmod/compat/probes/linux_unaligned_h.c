// SPDX-License-Identifier: GPL-2.0
/* Probe: the unaligned access helpers live in <linux/unaligned.h>. */
#include <linux/unaligned.h>

u16 vpnflow_probe(const void *p);
u16 vpnflow_probe(const void *p)
{
	return get_unaligned_be16(p);
}
