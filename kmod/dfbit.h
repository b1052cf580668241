/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: crypto ipsec df-bit (dfbit.c).
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_DFBIT_H
#define _VPNFLOW_DFBIT_H

#include <linux/netfilter.h>

/* IPv4 POST_ROUTING: the outer DF bit of ESP packets, as the option says. */
unsigned int vpnflow_df_bit_hook(void *priv, struct sk_buff *skb,
				 const struct nf_hook_state *state);

#endif /* _VPNFLOW_DFBIT_H */
