/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: fast-resume, RFC 6069 hints to the senders of held
 * flows.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_HINT_H
#define _VPNFLOW_HINT_H

#include <linux/netfilter.h>
#include <linux/skbuff.h>
#include <net/netfilter/nf_conntrack.h>

struct vpnflow_net;
struct vpnflow_flow;

void vpnflow_hint_dropped(struct vpnflow_net *vn, struct vpnflow_flow *f,
			  const struct nf_conn *ct, enum ip_conntrack_info ctinfo,
			  struct sk_buff *skb, const struct nf_hook_state *state);

#endif /* _VPNFLOW_HINT_H */
