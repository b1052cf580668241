// SPDX-License-Identifier: GPL-2.0
/* Probe: the unaligned access helpers live in <linux/unaligned.h> (6.12). */
#ifndef VPNFLOW_PROBE_WITHOUT
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

u16 vpnflow_probe(const void *p);
u16 vpnflow_probe(const void *p)
{
	return get_unaligned_be16(p);
}
