// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: reclassify-vpn (the ASA's sysopt connection
 * reclassify-vpn).
 *
 * When a tunnel comes up, conntrack entries that fall inside its traffic
 * selectors but were created outside it (MASQUERADEd or forwarded in
 * cleartext while it was down) are removed, so that their next packet is
 * classified again and enters the tunnel. The selectors are those of the
 * outbound policies whose tunnel-mode template points at the tunnel (same
 * outer addresses, if_id and mark); an entry matches when its original
 * tuple goes from one side of a selector to the other, in either
 * direction, with the selector's protocol and ports. Entries we track
 * (they went through some tunnel-mode SA, or are preserved) are never
 * touched. strongSwan installs SAs before policies, so a tunnel whose
 * policies are not there yet is retried on the next policy event.
 *
 * Route-based tunnels (xfrm interfaces, VTI) have wildcard selectors:
 * what enters them is decided by routing, so for them an entry is the
 * tunnel's traffic when the route towards either end of its original
 * tuple leads into one of the tunnel's devices (route.c), and route
 * changes trigger a pass too. As routing is decided per packet, only
 * entries that pinned their path (NAT bindings, flowtable offload) are
 * removed for a route.
 *
 * Runs from the reconcile work (process context); conntrack's iteration
 * reschedules between buckets, so the data path is not stalled.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/xfrm.h>

#include "compat/nf_conntrack.h"
#include "flow.h"
#include "netlink.h"
#include "reclassify.h"
#include "route.h"
#include "tunnel.h"
#include "vpnflow.h"

#define VPNFLOW_MAX_SELECTORS 32
#define VPNFLOW_MAX_TUNNEL_DEVS 8

struct vpnflow_reclass {
	struct vpnflow_net *vn;
	const struct vpnflow_tunnel_key *key;
	unsigned int npol;		/* outbound policies pointing at the tunnel */
	unsigned int nsel;		/* their non-wildcard selectors */
	unsigned int ndev;		/* devices leading into the tunnel */
	unsigned int matched;
	struct xfrm_selector sel[VPNFLOW_MAX_SELECTORS];
	int dev[VPNFLOW_MAX_TUNNEL_DEVS];
};

static int vpnflow_policy_collect(struct xfrm_policy *xp, int dir, int count, void *ptr)
{
	struct vpnflow_reclass *r = ptr;
	struct vpnflow_tunnel_key k;
	int i;

	if (dir != XFRM_POLICY_OUT || xp->walk.dead)
		return 0;
	for (i = 0; i < xp->xfrm_nr; i++) {
		const struct xfrm_tmpl *tmpl = &xp->xfrm_vec[i];
		const xfrm_address_t *s = &tmpl->saddr, *d = &tmpl->id.daddr;
		size_t len = tmpl->encap_family == AF_INET6 ? sizeof(struct in6_addr) :
							      sizeof(__be32);

		if (tmpl->mode != XFRM_MODE_TUNNEL)
			continue;
		memset(&k, 0, sizeof(k));
		if (memcmp(s, d, len) > 0)
			swap(s, d);
		memcpy(&k.lo, s, len);
		memcpy(&k.hi, d, len);
		k.if_id = xp->if_id;
		k.mark = xp->mark.v & xp->mark.m;
		k.family = tmpl->encap_family;
		if (!vpnflow_tunnel_key_eq(&k, r->key))
			continue;
		r->npol++;
		/* Wildcard selectors (route-based tunnels): routing decides. */
		if (!xp->selector.prefixlen_s && !xp->selector.prefixlen_d)
			return 0;
		if (r->nsel < VPNFLOW_MAX_SELECTORS)
			r->sel[r->nsel++] = xp->selector;
		return 0;
	}
	return 0;
}

static bool vpnflow_addr_in(const union nf_inet_addr *a, const xfrm_address_t *net,
			    u8 plen, u16 family)
{
	if (family == AF_INET)
		return addr4_match(a->ip, net->a4, plen);
	return addr_match(&a->in6, &net->in6, plen);
}

static bool vpnflow_port_in(__be16 port, __be16 sel, __be16 mask)
{
	return !((port ^ sel) & mask);
}

/* @t's original direction crosses @sel (either way round). */
static bool vpnflow_sel_match(const struct xfrm_selector *sel,
			      const struct nf_conntrack_tuple *t)
{
	u16 family = t->src.l3num == NFPROTO_IPV6 ? AF_INET6 : AF_INET;
	bool ports = t->dst.protonum == IPPROTO_TCP || t->dst.protonum == IPPROTO_UDP ||
		     t->dst.protonum == IPPROTO_SCTP || t->dst.protonum == IPPROTO_UDPLITE;

	if (sel->family != family || (sel->proto && sel->proto != t->dst.protonum))
		return false;
	if (vpnflow_addr_in(&t->src.u3, &sel->saddr, sel->prefixlen_s, family) &&
	    vpnflow_addr_in(&t->dst.u3, &sel->daddr, sel->prefixlen_d, family) &&
	    (!ports || (vpnflow_port_in(t->src.u.all, sel->sport, sel->sport_mask) &&
			vpnflow_port_in(t->dst.u.all, sel->dport, sel->dport_mask))))
		return true;
	return vpnflow_addr_in(&t->src.u3, &sel->daddr, sel->prefixlen_d, family) &&
	       vpnflow_addr_in(&t->dst.u3, &sel->saddr, sel->prefixlen_s, family) &&
	       (!ports || (vpnflow_port_in(t->src.u.all, sel->dport, sel->dport_mask) &&
			   vpnflow_port_in(t->dst.u.all, sel->sport, sel->sport_mask)));
}

/* conntrack iteration callback: non-zero deletes the entry. */
static int vpnflow_reclassify_one(struct nf_conn *ct, void *data)
{
	struct vpnflow_reclass *r = data;
	const struct nf_conntrack_tuple *t = &ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	bool tracked;
	unsigned int i;

	rcu_read_lock();
	tracked = vpnflow_flow_lookup(r->vn, ct);
	rcu_read_unlock();
	if (tracked)
		return 0;	/* inside a tunnel, or preserved: never touched */
	for (i = 0; i < r->nsel; i++) {
		if (vpnflow_sel_match(&r->sel[i], t)) {
			r->matched++;
			return 1;
		}
	}
	/*
	 * Routing is decided per packet: only what conntrack pinned (a NAT
	 * binding, a flowtable offload) keeps a flow out of a tunnel its
	 * route now leads into. MASQUERADE bindings are also dropped by
	 * conntrack when the output device changes, at the cost of a packet.
	 */
	if (r->ndev && (ct->status & (IPS_NAT_MASK | IPS_OFFLOAD)) &&
	    vpnflow_route_into(r->vn->net, r->key, t, r->dev, r->ndev)) {
		r->matched++;
		return 1;
	}
	return 0;
}

bool vpnflow_reclassify(struct vpnflow_net *vn, struct vpnflow_tunnel *t, u8 why)
{
	struct vpnflow_reclass *r;
	struct xfrm_policy_walk walk;

	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return true;	/* nothing we can do; do not spin */
	r->vn = vn;
	r->key = &t->key;

	xfrm_policy_walk_init(&walk, XFRM_POLICY_TYPE_ANY);
	xfrm_policy_walk(vn->net, &walk, vpnflow_policy_collect, r);
	xfrm_policy_walk_done(&walk, vn->net);
	if (!r->npol) {
		kfree(r);
		return false;
	}
	r->ndev = vpnflow_route_devices(vn->net, &t->key, r->dev, ARRAY_SIZE(r->dev));

	if (r->nsel || r->ndev)
		compat_nf_ct_iterate_net(vn->net, vpnflow_reclassify_one, r);
	atomic64_add(r->matched, &vn->cnt.flows_reclassified);
	/* A route change that moved nothing is not worth a line or an event. */
	if (why == VPNFLOW_RECLASSIFY_ROUTES && !r->matched) {
		kfree(r);
		return true;
	}
	if (__ratelimit(&vn->log_rs))
		pr_info("reclassify-vpn: tunnel %u %s, %u flows cleared to enter it\n",
			t->id, why == VPNFLOW_RECLASSIFY_ROUTES ? "routes changed" : "up",
			r->matched);
	vpnflow_nl_tunnel_event(vn, t, VPNFLOW_EVENT_TYPE_RECLASSIFIED, r->matched);
	kfree(r);
	return true;
}
