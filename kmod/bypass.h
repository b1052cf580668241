/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: tcp-state-bypass (bypass.c).
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_BYPASS_H
#define _VPNFLOW_BYPASS_H

#include <linux/netfilter.h>

/* PRE_ROUTING and LOCAL_OUT, right after conntrack (nfhooks.c). */
unsigned int vpnflow_bypass_hook(void *priv, struct sk_buff *skb,
				 const struct nf_hook_state *state);

#endif /* _VPNFLOW_BYPASS_H */
