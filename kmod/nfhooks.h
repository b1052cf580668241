/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: netfilter hooks.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_NFHOOKS_H
#define _VPNFLOW_NFHOOKS_H

#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <net/xfrm.h>

struct vpnflow_net;
struct vpnflow_options;

/* The tunnel-mode state that will encrypt @skb, if any. */
static inline const struct xfrm_state *vpnflow_skb_out_state(const struct sk_buff *skb)
{
	const struct dst_entry *dst;

	for (dst = skb_dst(skb); dst && dst->xfrm; dst = xfrm_dst_child(dst))
		if (dst->xfrm->props.mode == XFRM_MODE_TUNNEL)
			return dst->xfrm;
	return NULL;
}

/* The tunnel-mode state that decrypted @skb, if any. */
static inline const struct xfrm_state *vpnflow_skb_in_state(const struct sk_buff *skb)
{
	const struct sec_path *sp = skb_sec_path(skb);
	int i;

	for (i = sp ? sp->len - 1 : -1; i >= 0; i--)
		if (sp->xvec[i]->props.mode == XFRM_MODE_TUNNEL)
			return sp->xvec[i];
	return NULL;
}

int vpnflow_nf_enable(struct vpnflow_net *vn);
int vpnflow_nf_hold_enable(struct vpnflow_net *vn);
void vpnflow_nf_hold_idle(struct vpnflow_net *vn);
int vpnflow_nf_bypass_prepare(struct vpnflow_net *vn, const struct vpnflow_options *o);
void vpnflow_nf_bypass_sync(struct vpnflow_net *vn);
void vpnflow_nf_disable(struct vpnflow_net *vn);

#endif /* _VPNFLOW_NFHOOKS_H */
