// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: crypto ipsec fragmentation before-encryption, the
 * ASA's look-ahead fragmentation of inner IPv4 packets.
 *
 * An inner IPv4 packet without DF that will not fit its tunnel-mode SA
 * once encapsulated goes to xfrm whole: xfrm4_tunnel_check_size() only
 * stops packets with DF, the ESP packet is then larger than the WAN's MTU
 * and ip_finish_output() fragments it (after-encryption, Linux's own
 * behaviour). The peer reassembles ESP fragments before it can decrypt,
 * and a WAN hop that drops fragments loses every such packet.
 *
 * Before-encryption fragments the inner packet here instead, at the MTU
 * xfrm itself checks DF packets against (the bundle's, dst_mtu()), and
 * hands each fragment to xfrm_output(), as __xfrm4_output() would have
 * the whole packet: the peer decrypts whole ESP packets, and the inner
 * fragments are reassembled by the destination. The hook runs after
 * every other POST_ROUTING hook but conntrack's confirm, which would not
 * see the fragments: an unconfirmed entry is confirmed here first, as
 * that hook would have. An entry with a helper or sequence adjustment
 * needs that hook's own work on the whole packet: its packets are left
 * to after-encryption (counted as failures).
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/ip.h>
#include <net/dst.h>
#include <net/ip.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_core.h>
#include <net/netfilter/nf_conntrack_helper.h>
#include <net/xfrm.h>

#include <uapi/linux/vpnflow.h>

#include "frag.h"
#include "ifopts.h"
#include "vpnflow.h"

/* ip_do_fragment()'s output: each fragment, into the SA. */
static int vpnflow_frag_output(struct net *net, struct sock *sk, struct sk_buff *skb)
{
	atomic64_inc(&vpnflow_pernet(net)->cnt.prefrag_fragments);
	return xfrm_output(sk, skb);
}

/* Can this entry do without conntrack's confirm hook on these packets? */
static bool vpnflow_frag_ct_ok(struct sk_buff *skb)
{
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

	if (!ct)
		return true;
	return !nfct_help(ct) && !test_bit(IPS_SEQ_ADJUST_BIT, &ct->status);
}

unsigned int vpnflow_frag_hook(void *priv, struct sk_buff *skb,
			       const struct nf_hook_state *state)
{
	struct vpnflow_net *vn = priv;
	const struct xfrm_state *x;
	struct dst_entry *dst;
	unsigned int mtu;
	int ret;

	if (likely(!vpnflow_fragmentation_any(vn)))
		return NF_ACCEPT;
	dst = skb_dst(skb);
	x = dst ? dst->xfrm : NULL;
	if (!x || x->props.mode != XFRM_MODE_TUNNEL)
		return NF_ACCEPT;
	/* The setting of the interface the ESP packet will leave through. */
	if (vpnflow_fragmentation_for(vn, dst->dev) !=
	    VPNFLOW_FRAGMENTATION_BEFORE_ENCRYPTION)
		return NF_ACCEPT;
	if ((ip_hdr(skb)->frag_off & htons(IP_DF)) && !skb->ignore_df)
		return NF_ACCEPT;	/* xfrm answers it with frag needed */
	mtu = dst_mtu(dst);
	if (skb->len <= mtu || skb_is_gso(skb))
		return NF_ACCEPT;
	if (!vpnflow_frag_ct_ok(skb)) {
		atomic64_inc(&vn->cnt.prefrag_failures);
		return NF_ACCEPT;
	}
	ret = nf_conntrack_confirm(skb);
	if (ret != NF_ACCEPT)
		return ret;
	/* ip_do_fragment() takes the smaller of this and the route's. */
	if (!IPCB(skb)->frag_max_size || IPCB(skb)->frag_max_size > mtu)
		IPCB(skb)->frag_max_size = mtu;
	if (ip_do_fragment(state->net, state->sk, skb, vpnflow_frag_output))
		atomic64_inc(&vn->cnt.prefrag_failures);
	else
		atomic64_inc(&vn->cnt.prefrag_packets);
	return NF_STOLEN;
}
