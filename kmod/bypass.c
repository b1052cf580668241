// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: tcp-state-bypass, for TCP flows whose packets a
 * stateful gateway must not judge (asymmetric routing, where it sees one
 * direction only; encapsulations such as IPsec over TCP whose segments
 * break window tracking under loss).
 *
 * The operator names the flows with a mark, set on their packets before
 * conntrack (an nft chain at priority raw): skb->mark under the option's
 * mask equal to its value. When conntrack refuses such a packet for TCP
 * state or window reasons, it leaves the skb without an entry, as
 * INVALID, and a hardened ruleset drops it. This hook, right after
 * conntrack, looks the packet's entry up again by its tuple and attaches
 * the packet to it as ESTABLISHED in its direction: NAT, preserve and the
 * firewall's ESTABLISHED rules see it as the flow's packet. The entry is
 * made liberal about windows in both directions (as the flowtable does for
 * the flows it offloads), and kept for the established timeout, as its
 * state may never reach ESTABLISHED. Only an existing entry is used: a
 * bypass never creates a connection, and flows without the mark stay
 * strictly tracked. Linux's alternatives are global
 * (nf_conntrack_tcp_be_liberal) or lose NAT (notrack).
 *
 * Entries of the default conntrack zone only.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_core.h>
#include <net/netfilter/nf_conntrack_l4proto.h>
#include <net/netfilter/nf_conntrack_zones.h>

#include "bypass.h"
#include "vpnflow.h"

static void vpnflow_bypass_liberal(struct nf_conn *ct)
{
	/* A racy peek only decides whether to take the lock; stale, it costs one. */
	const u8 both = data_race(ct->proto.tcp.seen[0].flags & ct->proto.tcp.seen[1].flags);

	if (both & IP_CT_TCP_FLAG_BE_LIBERAL)
		return;
	spin_lock_bh(&ct->lock);
	ct->proto.tcp.seen[0].flags |= IP_CT_TCP_FLAG_BE_LIBERAL;
	ct->proto.tcp.seen[1].flags |= IP_CT_TCP_FLAG_BE_LIBERAL;
	spin_unlock_bh(&ct->lock);
}

unsigned int vpnflow_bypass_hook(void *priv, struct sk_buff *skb,
				 const struct nf_hook_state *state)
{
	struct vpnflow_net *vn = priv;
	u32 mask = READ_ONCE(vn->opts.tcp_state_bypass_mask);
	const struct nf_conntrack_tuple_hash *h;
	struct nf_conntrack_tuple tuple;
	enum ip_conntrack_info ctinfo;
	unsigned int timeout;
	struct nf_conn *ct;

	if (!mask || (skb->mark & mask) != READ_ONCE(vn->opts.tcp_state_bypass_mark))
		return NF_ACCEPT;

	ct = nf_ct_get(skb, &ctinfo);
	if (ct) {
		/* Tracked: its windows need not fit from now on. */
		if (!nf_ct_is_template(ct) && nf_ct_protonum(ct) == IPPROTO_TCP)
			vpnflow_bypass_liberal(ct);
		return NF_ACCEPT;
	}
	if (ctinfo == IP_CT_UNTRACKED)	/* notrack: the operator's choice */
		return NF_ACCEPT;

	/* Refused by conntrack (or a fragment, or not TCP): its entry, if any. */
	if (!nf_ct_get_tuplepr(skb, skb_network_offset(skb), state->pf, state->net, &tuple) ||
	    tuple.dst.protonum != IPPROTO_TCP)
		return NF_ACCEPT;
	h = nf_conntrack_find_get(state->net, &nf_ct_zone_dflt, &tuple);
	if (!h)
		return NF_ACCEPT;
	ct = nf_ct_tuplehash_to_ctrack(h);
	ctinfo = NF_CT_DIRECTION(h) == IP_CT_DIR_ORIGINAL ? IP_CT_ESTABLISHED :
							    IP_CT_ESTABLISHED_REPLY;
	vpnflow_bypass_liberal(ct);
	/* Never shorten it: a preserved flow's deadline may be later. */
	timeout = nf_tcp_pernet(state->net)->timeouts[TCP_CONNTRACK_ESTABLISHED];
	if (nf_ct_expires(ct) < timeout)
		nf_ct_refresh_acct(ct, ctinfo, skb, timeout);
	nf_ct_set(skb, ct, ctinfo);	/* the skb takes find_get's reference */
	atomic64_inc(&vn->cnt.tcp_state_bypassed);
	return NF_ACCEPT;
}
