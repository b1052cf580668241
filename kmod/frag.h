/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: crypto ipsec fragmentation (frag.c).
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_FRAG_H
#define _VPNFLOW_FRAG_H

#include <linux/netfilter.h>

/*
 * IPv4 POST_ROUTING, last before conntrack's confirm: an inner packet
 * without DF too large for its tunnel-mode SA is fragmented before it is
 * encrypted, as the option says.
 */
unsigned int vpnflow_frag_hook(void *priv, struct sk_buff *skb,
			       const struct nf_hook_state *state);

#endif /* _VPNFLOW_FRAG_H */
