// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: the netfilter hooks of a namespace (hold, track,
 * forward) and their registration.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/slab.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/xfrm.h>

#include "bypass.h"
#include "dfbit.h"
#include "frag.h"
#include "flow.h"
#include "hint.h"
#include "labels.h"
#include "mss.h"
#include "nfhooks.h"
#include "reclassify.h"
#include "route.h"
#include "tunnel.h"
#include "vpnflow.h"

/*
 * IPv4 and IPv6, registered when the namespace's first tunnel shows up
 * (or label-vpn-flows and preserve-vpn-flows are on: entries to adopt):
 *  - hold (PRE_ROUTING and LOCAL_OUT, right after conntrack; registered
 *    only while flows are preserved): conntrack has just rewritten the
 *    timeout of a preserved flow's entry (e.g. to max_retrans or
 *    unacknowledged); save that value and re-assert the preserve deadline.
 *  - track (POST_ROUTING after SNAT, and LOCAL_IN): a packet protected by a
 *    tunnel-mode SA (its dst is an xfrm bundle on the way out, or its
 *    secpath says it was decrypted) tracks, moves or resumes its flow; a
 *    preserved flow's packet that is not protected is dropped instead of
 *    leaving in cleartext (or being NATed), and so is an active flow's in
 *    a direction that left encrypted, with preserve-vpn-flows on (its
 *    tunnel's outbound policy is gone or going), and an untracked entry
 *    labelled tunneled is adopted as a preserved flow (label-vpn-flows,
 *    flow.c) rather than leave. A new entry outside
 *    any tunnel is offered to reclassify-vpn, which records it if it falls
 *    in the selectors of a tunnel it has armed.
 *  - forward (FORWARD, before the filter tables): a forwarded packet
 *    that track would drop is dropped here already, before a firewall
 *    rule sees it: nft's "flow add @ft" would otherwise offload the held
 *    flow to a flowtable along its cleartext route, and from then on its
 *    packets would skip POST_ROUTING and leave unprotected. Then tcpmss
 *    clamping (mss.c).
 *  - df-bit (IPv4 POST_ROUTING, after track): the outer DF bit of the
 *    ESP packets themselves (dfbit.c).
 *  - fragmentation (IPv4 POST_ROUTING, last before conntrack's confirm):
 *    inner packets without DF too large for their SA, fragmented before
 *    encryption (frag.c).
 *
 * And, with or without tunnels, while tcp-state-bypass is on:
 *  - bypass (PRE_ROUTING and LOCAL_OUT, right after conntrack, before
 *    hold): a marked TCP packet conntrack refused is attached to its
 *    flow's entry again (bypass.c).
 */

static unsigned int vpnflow_nf_hold(void *priv, struct sk_buff *skb,
				    const struct nf_hook_state *state)
{
	struct vpnflow_net *vn = priv;
	enum ip_conntrack_info ctinfo;
	struct vpnflow_flow *f;
	struct nf_conn *ct;

	if (!atomic_read(&vn->npreserved))
		return NF_ACCEPT;
	ct = nf_ct_get(skb, &ctinfo);
	if (!ct)
		return NF_ACCEPT;
	f = vpnflow_flow_lookup(vn, ct);
	if (f && READ_ONCE(f->state) == VPNFLOW_FLOW_STATE_PRESERVED) {
		WRITE_ONCE(f->ct_timeout, READ_ONCE(ct->timeout));
		WRITE_ONCE(ct->timeout, READ_ONCE(f->deadline));
	}
	return NF_ACCEPT;
}

/*
 * An active flow's packet, unprotected, in a direction that used to leave
 * here encrypted: its tunnel's outbound policy is gone or going (an IKE
 * daemon takes a CHILD_SA's policies out before its SAs; the tunnel is
 * seen down later, in process context). xfrm unlinks a policy before it
 * tells its listeners, so this is decided per packet, not on the
 * notification: a packet routed in between would leave in cleartext.
 * With preserve-vpn-flows on it is held like a preserved flow's packet.
 * ICMP errors (RELATED) are not the flow's own packets: they pass.
 */
static bool vpnflow_flow_unsealed(const struct vpnflow_net *vn,
				  const struct vpnflow_flow *f,
				  enum ip_conntrack_info ctinfo)
{
	return (ctinfo == IP_CT_ESTABLISHED || ctinfo == IP_CT_ESTABLISHED_REPLY) &&
	       (READ_ONCE(f->sealed) & BIT(CTINFO2DIR(ctinfo))) &&
	       READ_ONCE(vn->opts.preserve_vpn_flows);
}

/*
 * Could a packet outside any tunnel be a tracked flow's, leaving in
 * cleartext (vpnflow_flow_unsealed())? Not while preserve-vpn-flows is off
 * or nothing is tracked, and never an ESP or AH packet: those are the
 * tunnels' own, after encryption, and they need no flow lookup.
 */
static bool vpnflow_may_leak_net(const struct vpnflow_net *vn)
{
	return READ_ONCE(vn->opts.preserve_vpn_flows) && atomic_read(&vn->nflows);
}

static bool vpnflow_may_leak(const struct vpnflow_net *vn, const struct nf_conn *ct)
{
	u8 proto = nf_ct_protonum(ct);

	return vpnflow_may_leak_net(vn) && proto != IPPROTO_ESP && proto != IPPROTO_AH;
}

/*
 * Is f's packet, protected by no tunnel-mode SA (x NULL) and leaving by
 * out, one to drop: its flow preserved, or unsealed?
 */
static bool vpnflow_flow_held(const struct vpnflow_net *vn, const struct vpnflow_flow *f,
			      enum ip_conntrack_info ctinfo, const struct xfrm_state *x,
			      const struct net_device *out)
{
	return f && !x && !vpnflow_dev_is_tunnel(out) &&
	       (READ_ONCE(f->state) == VPNFLOW_FLOW_STATE_PRESERVED ||
		vpnflow_flow_unsealed(vn, f, ctinfo));
}

/*
 * Drop a held flow's packet (keep the flow, not the packet: no cleartext,
 * no NAT): counted, and answered by fast-resume's hints.
 */
static unsigned int vpnflow_drop_held(struct vpnflow_net *vn, struct vpnflow_flow *f,
				      const struct nf_conn *ct,
				      enum ip_conntrack_info ctinfo, struct sk_buff *skb,
				      const struct nf_hook_state *state)
{
	atomic64_inc(&vn->cnt.pkts_dropped);
	vpnflow_hint_dropped(vn, f, ct, ctinfo, skb, state);
	return NF_DROP;
}

/*
 * A packet leaving outside any tunnel, of an entry no flow tracks: is it
 * a tunneled flow to adopt (vpnflow_flow_adopt())? Only the own packets
 * (not ICMP errors) of a confirmed TCP entry with the tunneled label,
 * while label-vpn-flows and preserve-vpn-flows are on. Return: true if
 * the flow was adopted; the packet is then to be dropped, and is counted
 * and hinted as a held flow's first drop (vpnflow_drop_held()).
 */
static bool vpnflow_adopted(struct vpnflow_net *vn, struct nf_conn *ct,
			    enum ip_conntrack_info ctinfo, struct sk_buff *skb,
			    const struct nf_hook_state *state)
{
	struct vpnflow_flow *f;

	if (!state->out || vpnflow_dev_is_tunnel(state->out) || !vpnflow_adopt_on(vn) ||
	    ctinfo == IP_CT_RELATED || ctinfo == IP_CT_RELATED_REPLY ||
	    !nf_ct_is_confirmed(ct) || nf_ct_protonum(ct) != IPPROTO_TCP ||
	    !vpnflow_labels_tunneled(ct))
		return false;
	f = vpnflow_flow_adopt(vn, ct, CTINFO2DIR(ctinfo), skb);
	if (!f)
		return false;
	vpnflow_drop_held(vn, f, ct, ctinfo, skb, state);
	return true;
}

static unsigned int vpnflow_nf_track(void *priv, struct sk_buff *skb,
				     const struct nf_hook_state *state)
{
	struct vpnflow_net *vn = priv;
	enum ip_conntrack_info ctinfo;
	const struct xfrm_state *xo, *x;
	struct vpnflow_tunnel *t = NULL;
	struct vpnflow_flow *f;
	struct nf_conn *ct;

	ct = nf_ct_get(skb, &ctinfo);
	if (!ct || nf_ct_is_template(ct))
		return NF_ACCEPT;
	xo = vpnflow_skb_out_state(skb);
	x = xo ?: vpnflow_skb_in_state(skb);
	/*
	 * Outside any tunnel (the ESP packets themselves, cleartext traffic),
	 * a packet only matters here while a flow is preserved, a tracked
	 * flow's packet may leave unprotected or reclassify-vpn is armed.
	 */
	if (!x && !atomic_read(&vn->npreserved) && !READ_ONCE(vn->narmed) &&
	    !vpnflow_may_leak(vn, ct) && !vpnflow_adopt_on(vn))
		return NF_ACCEPT;
	f = atomic_read(&vn->nflows) ? vpnflow_flow_lookup(vn, ct) : NULL;
	if (f)
		t = READ_ONCE(f->tun);	/* RCU keeps it valid */

	if (vpnflow_flow_held(vn, f, ctinfo, x, state->out))
		return vpnflow_drop_held(vn, f, ct, ctinfo, skb, state);
	if (!x && !f && vpnflow_adopted(vn, ct, ctinfo, skb, state))
		return NF_DROP;
	/*
	 * The lock is only taken for news: new flow, resume, tunnel change,
	 * first packet out in this direction (LOCAL_IN has no out device).
	 */
	if (x && (!f || !t || READ_ONCE(f->state) == VPNFLOW_FLOW_STATE_PRESERVED ||
		  !READ_ONCE(t->up) ||
		  (state->out && !READ_ONCE(f->ifindex_out[CTINFO2DIR(ctinfo)])))) {
		vpnflow_flow_track(vn, ct, CTINFO2DIR(ctinfo), x, x == xo, skb,
				   state->out);
		/* The packet that created the flow counts in its bytes too. */
		if (!f)
			f = vpnflow_flow_lookup(vn, ct);
	}
	/* A new entry outside any tunnel: reclassify-vpn's candidate? */
	if (!x && !f && READ_ONCE(vn->narmed) && !nf_ct_is_confirmed(ct) &&
	    !vpnflow_dev_is_tunnel(state->out))
		vpnflow_reclassify_note(vn, ct);
	if (f && x) {
		atomic64_add(skb->len, &f->bytes);
		/* Through a tunnel again: fast-resume's next drop is a first. */
		if (unlikely(READ_ONCE(f->hint_burst) & BIT(CTINFO2DIR(ctinfo))))
			clear_bit(CTINFO2DIR(ctinfo), &f->hint_burst);
	}
	return NF_ACCEPT;
}

/*
 * FORWARD: a held flow's packet goes no further than here (see the top of
 * the file); tcpmss on forwarded SYNs. The route is known, so the out
 * bundle is; a packet decrypted here carries its secpath: both are the
 * tunnel's and pass, to resume their flow at POST_ROUTING.
 */
static unsigned int vpnflow_nf_forward(void *priv, struct sk_buff *skb,
				       const struct nf_hook_state *state)
{
	struct vpnflow_net *vn = priv;
	enum ip_conntrack_info ctinfo;
	const struct xfrm_state *x;
	struct vpnflow_flow *f;
	struct nf_conn *ct;

	if (atomic_read(&vn->npreserved) || vpnflow_may_leak_net(vn) || vpnflow_adopt_on(vn)) {
		ct = nf_ct_get(skb, &ctinfo);
		if (ct && !nf_ct_is_template(ct) && nf_ct_is_confirmed(ct)) {
			x = vpnflow_skb_out_state(skb) ?: vpnflow_skb_in_state(skb);
			f = x ? NULL : vpnflow_flow_lookup(vn, ct);
			if (vpnflow_flow_held(vn, f, ctinfo, NULL, state->out))
				return vpnflow_drop_held(vn, f, ct, ctinfo, skb, state);
			if (!x && !f && vpnflow_adopted(vn, ct, ctinfo, skb, state))
				return NF_DROP;
		}
	}
	return vpnflow_mss_clamp(vn, skb, state);
}

static const struct nf_hook_ops vpnflow_nf_ops_template[] = {
	{
		.hook		= vpnflow_nf_forward,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_FORWARD,
		.priority	= NF_IP_PRI_MANGLE + 1,
	}, {
		.hook		= vpnflow_nf_forward,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_FORWARD,
		.priority	= NF_IP6_PRI_MANGLE + 1,
	}, {
		.hook		= vpnflow_nf_track,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_POST_ROUTING,
		.priority	= NF_IP_PRI_NAT_SRC + 1,
	}, {
		.hook		= vpnflow_df_bit_hook,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_POST_ROUTING,
		.priority	= NF_IP_PRI_NAT_SRC + 2,
	}, {
		.hook		= vpnflow_frag_hook,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_POST_ROUTING,
		.priority	= NF_IP_PRI_CONNTRACK_CONFIRM - 1,
	}, {
		.hook		= vpnflow_nf_track,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_LOCAL_IN,
		.priority	= NF_IP_PRI_NAT_SRC + 1,
	}, {
		.hook		= vpnflow_nf_track,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_POST_ROUTING,
		.priority	= NF_IP6_PRI_NAT_SRC + 1,
	}, {
		.hook		= vpnflow_nf_track,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_LOCAL_IN,
		.priority	= NF_IP6_PRI_NAT_SRC + 1,
	},
};

/*
 * Only while tcp-state-bypass is on (vpnflow_nf_bypass_prepare()). Before
 * hold: a packet bypass attaches to a preserved flow's entry gets its
 * deadline back there.
 */
static const struct nf_hook_ops vpnflow_nf_bypass_template[] = {
	{
		.hook		= vpnflow_bypass_hook,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= NF_IP_PRI_CONNTRACK + 1,
	}, {
		.hook		= vpnflow_bypass_hook,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP_PRI_CONNTRACK + 1,
	}, {
		.hook		= vpnflow_bypass_hook,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= NF_IP6_PRI_CONNTRACK + 1,
	}, {
		.hook		= vpnflow_bypass_hook,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP6_PRI_CONNTRACK + 1,
	},
};

/* Only while flows are preserved (vpnflow_nf_hold_enable()). */
static const struct nf_hook_ops vpnflow_nf_hold_template[] = {
	{
		.hook		= vpnflow_nf_hold,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= NF_IP_PRI_CONNTRACK + 2,
	}, {
		.hook		= vpnflow_nf_hold,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP_PRI_CONNTRACK + 2,
	}, {
		.hook		= vpnflow_nf_hold,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= NF_IP6_PRI_CONNTRACK + 2,
	}, {
		.hook		= vpnflow_nf_hold,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_LOCAL_OUT,
		.priority	= NF_IP6_PRI_CONNTRACK + 2,
	},
};

/* Caller holds vn->nf_lock. */
static struct nf_hook_ops *vpnflow_nf_register(struct vpnflow_net *vn,
					       const struct nf_hook_ops *template,
					       unsigned int n)
{
	struct nf_hook_ops *ops;
	unsigned int i;
	int err;

	ops = kmemdup(template, n * sizeof(*template), GFP_KERNEL);
	if (!ops)
		return ERR_PTR(-ENOMEM);
	for (i = 0; i < n; i++)
		ops[i].priv = vn;
	err = nf_register_net_hooks(vn->net, ops, n);
	if (err) {
		kfree(ops);
		return ERR_PTR(err);
	}
	return ops;
}

/*
 * Register @n hooks of @template in *@ops: allocated at the first
 * registration, reused by the next ones, and kept until the namespace
 * goes (a packet may still be in a hook after it is unregistered).
 * Caller holds vn->nf_lock.
 */
static int vpnflow_nf_reregister(struct vpnflow_net *vn, struct nf_hook_ops **ops,
				 const struct nf_hook_ops *template, unsigned int n)
{
	struct nf_hook_ops *p;

	lockdep_assert_held(&vn->nf_lock);
	if (*ops)
		return nf_register_net_hooks(vn->net, *ops, n);
	p = vpnflow_nf_register(vn, template, n);
	if (IS_ERR(p))
		return PTR_ERR(p);
	*ops = p;
	return 0;
}

/* The reconcile (process context, vn->work_lock). Idempotent. */
int vpnflow_nf_enable(struct vpnflow_net *vn)
{
	struct nf_hook_ops *ops;
	int err;

	lockdep_assert_held(&vn->work_lock);	/* the reconcile: see @nf_ops */
	mutex_lock(&vn->nf_lock);
	if (vn->nf_ops) {
		mutex_unlock(&vn->nf_lock);
		return 0;
	}
	/* We need conntrack in this namespace, for both families. */
	err = nf_ct_netns_get(vn->net, NFPROTO_INET);
	if (err)
		goto out;
	ops = vpnflow_nf_register(vn, vpnflow_nf_ops_template,
				  ARRAY_SIZE(vpnflow_nf_ops_template));
	err = PTR_ERR_OR_ZERO(ops);
	if (err) {
		nf_ct_netns_put(vn->net, NFPROTO_INET);
		goto out;
	}
	vn->nf_ops = ops;
out:
	mutex_unlock(&vn->nf_lock);
	if (err)
		pr_warn_ratelimited("cannot register netfilter hooks: %d\n", err);
	return err;
}

/*
 * The hooks that hold preserved flows' conntrack entries (right after
 * conntrack, on every packet the namespace receives or sends) are only
 * registered while flows are preserved: a tunnel-down pass registers them
 * before it preserves the first flow, the GC unregisters them once none
 * is left. Both run under vn->work_lock, the only place flows become
 * preserved, so vn->npreserved cannot grow while the GC looks at it.
 * The ops stay allocated until the namespace goes: a packet may still be
 * in vpnflow_nf_hold() after unregistering, which does not wait for it.
 */
int vpnflow_nf_hold_enable(struct vpnflow_net *vn)
{
	int err = 0;

	lockdep_assert_held(&vn->work_lock);
	mutex_lock(&vn->nf_lock);
	if (vn->nf_hold_on)
		goto out;
	err = vpnflow_nf_reregister(vn, &vn->nf_hold_ops, vpnflow_nf_hold_template,
				    ARRAY_SIZE(vpnflow_nf_hold_template));
	vn->nf_hold_on = !err;
out:
	mutex_unlock(&vn->nf_lock);
	if (err)
		pr_warn_ratelimited("cannot register netfilter hooks: %d\n", err);
	return err;
}

/* Caller holds vn->nf_lock. */
static void vpnflow_nf_hold_unregister(struct vpnflow_net *vn)
{
	if (vn->nf_hold_on)
		nf_unregister_net_hooks(vn->net, vn->nf_hold_ops,
					ARRAY_SIZE(vpnflow_nf_hold_template));
	vn->nf_hold_on = false;
}

/* The GC (process context, vn->work_lock): nothing preserved, no hold hooks. */
void vpnflow_nf_hold_idle(struct vpnflow_net *vn)
{
	lockdep_assert_held(&vn->work_lock);
	if (!vn->nf_hold_on || atomic_read(&vn->npreserved))
		return;
	mutex_lock(&vn->nf_lock);
	vpnflow_nf_hold_unregister(vn);
	mutex_unlock(&vn->nf_lock);
}

/*
 * tcp-state-bypass's hooks follow the option (an options-set, or a new
 * namespace's defaults): registered before options turning it on are
 * published (a failure changes nothing), unregistered once options
 * turning it off are. They take a reference on conntrack in the
 * namespace: bypass is of no use without it, tunnels or not. As for
 * hold, the ops stay allocated until the namespace goes.
 */
int vpnflow_nf_bypass_prepare(struct vpnflow_net *vn, const struct vpnflow_options *o)
{
	int err = 0;

	if (!o->tcp_state_bypass_mask)
		return 0;
	mutex_lock(&vn->nf_lock);
	if (vn->nf_bypass_on)
		goto out;
	err = nf_ct_netns_get(vn->net, NFPROTO_INET);
	if (err)
		goto out;
	err = vpnflow_nf_reregister(vn, &vn->nf_bypass_ops, vpnflow_nf_bypass_template,
				    ARRAY_SIZE(vpnflow_nf_bypass_template));
	if (err)
		nf_ct_netns_put(vn->net, NFPROTO_INET);
	vn->nf_bypass_on = !err;
out:
	mutex_unlock(&vn->nf_lock);
	return err;
}

/* Caller holds vn->nf_lock. */
static void vpnflow_nf_bypass_unregister(struct vpnflow_net *vn)
{
	if (!vn->nf_bypass_on)
		return;
	nf_unregister_net_hooks(vn->net, vn->nf_bypass_ops,
				ARRAY_SIZE(vpnflow_nf_bypass_template));
	nf_ct_netns_put(vn->net, NFPROTO_INET);
	vn->nf_bypass_on = false;
}

/* After options were published (under vn->opts_lock): off, no hooks. */
void vpnflow_nf_bypass_sync(struct vpnflow_net *vn)
{
	lockdep_assert_held(&vn->opts_lock);
	if (READ_ONCE(vn->opts.tcp_state_bypass_mask))
		return;
	mutex_lock(&vn->nf_lock);
	vpnflow_nf_bypass_unregister(vn);
	mutex_unlock(&vn->nf_lock);
}

/*
 * Netns exit / unload. nf_unregister_net_hooks() does not wait for packets
 * in flight through the hooks; synchronize_net() does, before the caller
 * frees the flows they look at.
 */
void vpnflow_nf_disable(struct vpnflow_net *vn)
{
	mutex_lock(&vn->nf_lock);
	vpnflow_nf_hold_unregister(vn);
	vpnflow_nf_bypass_unregister(vn);
	if (vn->nf_ops) {
		nf_unregister_net_hooks(vn->net, vn->nf_ops, ARRAY_SIZE(vpnflow_nf_ops_template));
		nf_ct_netns_put(vn->net, NFPROTO_INET);
	}
	mutex_unlock(&vn->nf_lock);
	synchronize_net();
	kfree(vn->nf_hold_ops);
	vn->nf_hold_ops = NULL;
	kfree(vn->nf_bypass_ops);
	vn->nf_bypass_ops = NULL;
	kfree(vn->nf_ops);
	vn->nf_ops = NULL;
}
