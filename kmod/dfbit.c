// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: crypto ipsec df-bit, the DF bit of the outer IPv4
 * header of the ESP packets a namespace sends.
 *
 * xfrm writes the outer header in xfrm4_tunnel_encap_add(): DF copied
 * from the inner packet (none for an SA with XFRM_STATE_NOPMTUDISC), and
 * ip_select_ident() leaves the IP ID 0 when DF is set. The encrypted
 * packet then goes through LOCAL_OUT and POST_ROUTING as this host's own,
 * before ip_finish_output() decides whether it fits its route and may be
 * fragmented: the DF bit set or cleared here is the one that decision
 * sees. An outer packet is one xfrm transformed (IPSKB_XFRM_TRANSFORMED)
 * that no further SA will (its dst has no xfrm): ESP, or ESP in UDP
 * (NAT-T). IPv6 has no DF bit: nothing to do there.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/ip.h>
#include <net/dst.h>
#include <net/ip.h>

#include <uapi/linux/vpnflow.h>

#include "dfbit.h"
#include "ifopts.h"
#include "vpnflow.h"

unsigned int vpnflow_df_bit_hook(void *priv, struct sk_buff *skb,
				 const struct nf_hook_state *state)
{
	struct vpnflow_net *vn = priv;
	const struct dst_entry *dst;
	struct iphdr *iph;
	__be16 df;
	u8 mode;

	if (likely(!vpnflow_df_bit_any(vn)))
		return NF_ACCEPT;
	if (!(IPCB(skb)->flags & IPSKB_XFRM_TRANSFORMED))
		return NF_ACCEPT;
	dst = skb_dst(skb);
	if (!dst || dst->xfrm)
		return NF_ACCEPT;
	iph = ip_hdr(skb);
	if (iph->protocol != IPPROTO_ESP && iph->protocol != IPPROTO_UDP)
		return NF_ACCEPT;
	/* The interface's own setting, else the namespace's. */
	mode = vpnflow_df_bit_for(vn, state->out);
	if (mode == VPNFLOW_DF_BIT_COPY_DF)
		return NF_ACCEPT;
	df = mode == VPNFLOW_DF_BIT_SET_DF ? htons(IP_DF) : 0;
	if ((iph->frag_off & htons(IP_DF)) == df)
		return NF_ACCEPT;
	/* Unchanged rather than dropped if the header cannot be written. */
	if (skb_ensure_writable(skb, skb_network_offset(skb) + sizeof(*iph)))
		return NF_ACCEPT;
	iph = ip_hdr(skb);
	iph->frag_off = (iph->frag_off & ~htons(IP_DF)) | df;
	/* Fragments of it need an ID: with DF, xfrm left it 0. */
	if (!df && !iph->id)
		__ip_select_ident(state->net, iph, skb_shinfo(skb)->gso_segs ?: 1);
	ip_send_check(iph);
	atomic64_inc(&vn->cnt.esp_df_rewritten);
	return NF_ACCEPT;
}
