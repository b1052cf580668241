/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: tcpmss clamping.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_MSS_H
#define _VPNFLOW_MSS_H

#include <linux/netfilter.h>

struct vpnflow_net;

unsigned int vpnflow_mss_clamp(struct vpnflow_net *vn, struct sk_buff *skb,
			       const struct nf_hook_state *state);

#endif /* _VPNFLOW_MSS_H */
