// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: reclassify-vpn: conntrack entries of a tunnel's traffic
 * created outside it are cleared when it comes up, so they enter it.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/jhash.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_core.h>
#include <net/netfilter/nf_conntrack_zones.h>
#include <net/xfrm.h>

#include "compat/nf_conntrack.h"
#include "flow.h"
#include "labels.h"
#include "netlink.h"
#include "reclassify.h"
#include "route.h"
#include "tunnel.h"
#include "vpnflow.h"

/*
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
 * The walk of conntrack's table costs what the table holds, but after a
 * policy-based tunnel's first pass the entries it would remove can only
 * have been created since. So a pass *arms* the tunnel: a snapshot of its
 * selectors is published (vn->armed, by tunnel identity: it outlives the
 * tunnel object, which is freed when the tunnel goes down without flows),
 * and from then on the track hook records every new conntrack entry that
 * leaves or arrives outside any tunnel and falls in an armed tunnel's
 * selectors, up to VPNFLOW_MAX_CANDIDATES per tunnel. At the next up, if
 * the selectors are the snapshot's and nothing overflowed, only those
 * candidates are looked up and tested; otherwise the table is walked (and
 * the tunnel armed again). Route-based tunnels are never armed: routing
 * decides what enters them. Entries the module tracks are spared either
 * way; a tunneled flow left untracked by max_flows, which a walk would
 * clear, is not a candidate (it never left in cleartext).
 */

/*
 * Bounds of one pass and of what is armed: selectors kept per tunnel
 * (more are ignored), devices leading into a route-based tunnel, armed
 * tunnels per namespace, entries recorded per armed tunnel (beyond that
 * its next pass walks the table).
 */
#define VPNFLOW_MAX_SELECTORS 32
#define VPNFLOW_MAX_TUNNEL_DEVS 8
#define VPNFLOW_MAX_ARMED 64
#define VPNFLOW_MAX_CANDIDATES 512

/* Candidates looked up between two chances to reschedule. */
#define VPNFLOW_CAND_RESCHED 64

/* 32-bit words of one selector as hashed: 5 fields and two IPv6 addresses. */
#define VPNFLOW_SEL_WORDS (5 + 2 * 4)

struct vpnflow_cand {
	struct nf_conntrack_tuple tuple;	/* original direction */
	struct nf_conntrack_zone zone;
};

/*
 * An armed tunnel. key and sel[] never change once the object is on
 * vn->armed (arming again publishes a new one); the candidates are under
 * ->lock. The list is changed by the reconcile work only (and netns exit),
 * read by the track hook under RCU.
 */
struct vpnflow_armed {
	struct list_head node;		/* vn->armed, newest first */
	struct rcu_head rcu;
	struct vpnflow_tunnel_key key;
	unsigned int nsel;
	struct xfrm_selector sel[VPNFLOW_MAX_SELECTORS];
	spinlock_t lock;		/* the candidates: track hook vs pass */
	unsigned int ncand;		/* ->lock */
	bool overflow;			/* ->lock: more than the array holds */
	struct vpnflow_cand cand[VPNFLOW_MAX_CANDIDATES];
};

struct vpnflow_reclass {
	struct vpnflow_net *vn;
	const struct vpnflow_tunnel_key *key;
	unsigned int npol;		/* outbound policies pointing at the tunnel */
	unsigned int nsel;		/* their non-wildcard selectors */
	unsigned int ndev;		/* devices leading into the tunnel */
	unsigned int matched;
	unsigned int examined;		/* entries looked at */
	struct xfrm_selector sel[VPNFLOW_MAX_SELECTORS];
	int dev[VPNFLOW_MAX_TUNNEL_DEVS];
	struct vpnflow_cand cand[VPNFLOW_MAX_CANDIDATES];	/* taken from the armed tunnel */
};

static int vpnflow_policy_collect(struct xfrm_policy *xp, int dir, int count, void *ptr)
{
	struct vpnflow_reclass *r = ptr;
	struct vpnflow_tunnel_key k;

	if (dir != XFRM_POLICY_OUT || xp->walk.dead)
		return 0;
	if (!vpnflow_tunnel_key_from_policy(xp, &k) || !vpnflow_tunnel_key_eq(&k, r->key))
		return 0;
	r->npol++;
	/* Wildcard selectors (route-based tunnels): routing decides. */
	if (!xp->selector.prefixlen_s && !xp->selector.prefixlen_d)
		return 0;
	if (r->nsel < VPNFLOW_MAX_SELECTORS)
		r->sel[r->nsel++] = xp->selector;
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

/*
 * @ct is one of our flows (inside a tunnel, or preserved), or labelled
 * tunneled (label-vpn-flows): a flow that went through a tunnel here or
 * on the gateway conntrackd replicated it from, not one created outside
 * one. Never touched.
 */
static bool vpnflow_reclass_tracked(struct vpnflow_reclass *r, const struct nf_conn *ct)
{
	bool tracked;

	if (READ_ONCE(r->vn->opts.label_vpn_flows) && vpnflow_labels_tunneled(ct))
		return true;
	rcu_read_lock();
	tracked = vpnflow_flow_lookup(r->vn, ct);
	rcu_read_unlock();
	return tracked;
}

/*
 * @ct is to be cleared. The cheap tests come first (selectors, the status
 * bits): a walk calls this for every entry of the namespace; the lookup in
 * our flow table is made only for an entry that would otherwise go.
 */
static bool vpnflow_reclass_match(struct vpnflow_reclass *r, struct nf_conn *ct)
{
	const struct nf_conntrack_tuple *t = &ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	unsigned int i;

	for (i = 0; i < r->nsel; i++)
		if (vpnflow_sel_match(&r->sel[i], t))
			return !vpnflow_reclass_tracked(r, ct);
	/*
	 * Routing is decided per packet: only what conntrack pinned (a NAT
	 * binding, a flowtable offload) keeps a flow out of a tunnel its
	 * route now leads into. MASQUERADE bindings are also dropped by
	 * conntrack when the output device changes, at the cost of a packet.
	 */
	return r->ndev && (ct->status & (IPS_NAT_MASK | IPS_OFFLOAD)) &&
	       !vpnflow_reclass_tracked(r, ct) &&
	       vpnflow_route_into(r->vn->net, r->key, t, r->dev, r->ndev);
}

/* conntrack iteration callback: non-zero deletes the entry. */
static int vpnflow_reclassify_one(struct nf_conn *ct, void *data)
{
	struct vpnflow_reclass *r = data;

	r->examined++;
	if (!vpnflow_reclass_match(r, ct))
		return 0;
	r->matched++;
	return 1;
}

/* The armed snapshot of @key, if any. Reconcile work (or RCU). */
static struct vpnflow_armed *vpnflow_armed_find(struct vpnflow_net *vn,
						const struct vpnflow_tunnel_key *key)
{
	struct vpnflow_armed *a;

	list_for_each_entry_rcu(a, &vn->armed, node,
				lockdep_is_held(&vn->work_lock))
		if (vpnflow_tunnel_key_eq(&a->key, key))
			return a;
	return NULL;
}

static void vpnflow_armed_del(struct vpnflow_net *vn, struct vpnflow_armed *a)
{
	list_del_rcu(&a->node);
	WRITE_ONCE(vn->narmed, vn->narmed - 1);
	kvfree_rcu(a, rcu);
}

/*
 * Arm @r's tunnel with @r's selectors, replacing @old (may be NULL), before
 * the walk: an entry the walk misses because it came after is recorded.
 * Beyond VPNFLOW_MAX_ARMED the tunnel armed first is dropped (its next
 * pass walks the table). Without memory the tunnel is left unarmed.
 */
static void vpnflow_arm(struct vpnflow_net *vn, struct vpnflow_reclass *r,
			struct vpnflow_armed *old)
{
	struct vpnflow_armed *a;

	a = kvzalloc(sizeof(*a), GFP_KERNEL);
	if (!a) {
		if (old)
			vpnflow_armed_del(vn, old);
		return;
	}
	a->key = *r->key;
	a->nsel = r->nsel;
	memcpy(a->sel, r->sel, r->nsel * sizeof(r->sel[0]));
	spin_lock_init(&a->lock);
	if (old) {
		/* In place: moving an entry under readers could skip others. */
		list_replace_rcu(&old->node, &a->node);
		kvfree_rcu(old, rcu);
		return;
	}
	if (vn->narmed == VPNFLOW_MAX_ARMED)
		vpnflow_armed_del(vn, list_last_entry(&vn->armed, struct vpnflow_armed, node));
	list_add_rcu(&a->node, &vn->armed);
	WRITE_ONCE(vn->narmed, vn->narmed + 1);
}

/* A hash of @n selectors, field by field (padding is whatever was sent). */
static u32 vpnflow_sel_hash(const struct xfrm_selector *sel, unsigned int n)
{
	u32 h = n, w[VPNFLOW_SEL_WORDS];
	unsigned int i, k;

	for (i = 0; i < n; i++, sel++) {
		k = 0;
		w[k++] = sel->family | sel->proto << 16;
		w[k++] = sel->prefixlen_d | sel->prefixlen_s << 8;
		w[k++] = (__force u32)sel->dport | (__force u32)sel->dport_mask << 16;
		w[k++] = (__force u32)sel->sport | (__force u32)sel->sport_mask << 16;
		w[k++] = sel->ifindex;
		if (sel->family == AF_INET) {
			w[k++] = (__force u32)sel->daddr.a4;
			w[k++] = (__force u32)sel->saddr.a4;
		} else {
			memcpy(&w[k], sel->daddr.a6, 16);
			memcpy(&w[k + 4], sel->saddr.a6, 16);
			k += 8;
		}
		h = jhash2(w, k, h);
	}
	return h;
}

/*
 * Selectors in a fixed order, field by field (a selector's padding is
 * whatever its creator sent): the policy walk lists the newest policy
 * first, and updating a policy (as a rekey does) makes it the newest.
 */
static int vpnflow_sel_cmp(const void *pa, const void *pb)
{
	const struct xfrm_selector *a = pa, *b = pb;
	size_t alen = a->family == AF_INET ? sizeof(__be32) : sizeof(struct in6_addr);
	int d;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	d = memcmp(&a->daddr, &b->daddr, alen);
	if (!d)
		d = memcmp(&a->saddr, &b->saddr, alen);
	if (!d)
		d = (int)a->prefixlen_d - b->prefixlen_d;
	if (!d)
		d = (int)a->prefixlen_s - b->prefixlen_s;
	if (!d)
		d = (int)a->proto - b->proto;
	if (!d)
		d = (int)ntohs(a->dport) - ntohs(b->dport);
	if (!d)
		d = (int)ntohs(a->dport_mask) - ntohs(b->dport_mask);
	if (!d)
		d = (int)ntohs(a->sport) - ntohs(b->sport);
	if (!d)
		d = (int)ntohs(a->sport_mask) - ntohs(b->sport_mask);
	if (!d && a->ifindex != b->ifindex)
		d = a->ifindex < b->ifindex ? -1 : 1;
	return d;
}

static bool vpnflow_sel_eq(const struct xfrm_selector *a, const struct xfrm_selector *b)
{
	return !vpnflow_sel_cmp(a, b);
}

/*
 * The candidates of @a, taken into @r (@a starts afresh), if they are all
 * there is to look at: the snapshot's selectors (both sorted), no overflow.
 */
static bool vpnflow_armed_take(struct vpnflow_armed *a, struct vpnflow_reclass *r,
			       unsigned int *n)
{
	unsigned int i;
	bool ok;

	if (a->nsel != r->nsel)
		return false;
	for (i = 0; i < r->nsel; i++)
		if (!vpnflow_sel_eq(&a->sel[i], &r->sel[i]))
			return false;
	spin_lock_bh(&a->lock);
	ok = !a->overflow;
	*n = a->ncand;
	if (ok)
		memcpy(r->cand, a->cand, a->ncand * sizeof(a->cand[0]));
	a->ncand = 0;
	a->overflow = false;
	spin_unlock_bh(&a->lock);
	return ok;
}

/* Look up the @n candidates taken into @r; clear those that still match. */
static void vpnflow_reclassify_cands(struct vpnflow_reclass *r, unsigned int n)
{
	struct nf_conntrack_tuple_hash *h;
	struct nf_conn *ct;
	unsigned int i;

	for (i = 0; i < n; i++) {
		r->examined++;
		h = nf_conntrack_find_get(r->vn->net, &r->cand[i].zone, &r->cand[i].tuple);
		if (!h)
			continue;
		ct = nf_ct_tuplehash_to_ctrack(h);
		if (!nf_ct_is_dying(ct) && vpnflow_reclass_match(r, ct) &&
		    nf_ct_delete(ct, 0, 0))
			r->matched++;
		nf_ct_put(ct);
		if (!(i % VPNFLOW_CAND_RESCHED))
			cond_resched();
	}
}

/*
 * Track hook (softirq or process context, under RCU): @ct is new and its
 * packet is neither leaving through nor arriving from a tunnel. Record it
 * in each armed tunnel whose selectors it falls in.
 */
void vpnflow_reclassify_note(struct vpnflow_net *vn, const struct nf_conn *ct)
{
	const struct nf_conntrack_tuple *t = &ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	struct vpnflow_armed *a;
	unsigned int i;

	list_for_each_entry_rcu(a, &vn->armed, node) {
		for (i = 0; i < a->nsel; i++)
			if (vpnflow_sel_match(&a->sel[i], t))
				break;
		if (i == a->nsel)
			continue;
		spin_lock_bh(&a->lock);
		if (a->ncand < VPNFLOW_MAX_CANDIDATES) {
			a->cand[a->ncand].tuple = *t;
			a->cand[a->ncand].zone = *nf_ct_zone(ct);
			a->ncand++;
		} else {
			a->overflow = true;
		}
		spin_unlock_bh(&a->lock);
	}
}

/* Netns exit, after the hooks are gone. */
void vpnflow_reclassify_free(struct vpnflow_net *vn)
{
	struct vpnflow_armed *a, *tmp;

	list_for_each_entry_safe(a, tmp, &vn->armed, node) {
		list_del(&a->node);
		kvfree(a);
	}
	vn->narmed = 0;
}

/* The outbound policies pointing at @r's tunnel: their selectors into @r. */
static void vpnflow_reclass_policies(struct vpnflow_reclass *r)
{
	struct xfrm_policy_walk walk;

	xfrm_policy_walk_init(&walk, XFRM_POLICY_TYPE_ANY);
	xfrm_policy_walk(r->vn->net, &walk, vpnflow_policy_collect, r);
	xfrm_policy_walk_done(&walk, r->vn->net);
}

/*
 * Clear @r's entries: only the candidates @a recorded when they are all
 * there is to look at, else a walk of the table (arming the tunnel again,
 * or disarming it when it is route-based or has no selectors left).
 */
static void vpnflow_reclass_clear(struct vpnflow_net *vn, struct vpnflow_reclass *r,
				  struct vpnflow_armed *a)
{
	unsigned int n;

	if (a && !r->ndev && vpnflow_armed_take(a, r, &n)) {
		vpnflow_reclassify_cands(r, n);
		return;
	}
	if (r->nsel && !r->ndev)
		vpnflow_arm(vn, r, a);
	else if (a)
		vpnflow_armed_del(vn, a);
	if (r->nsel || r->ndev) {
		compat_nf_ct_iterate_net(vn->net, vpnflow_reclassify_one, r);
		atomic64_inc(&vn->cnt.reclassify_walks);
	}
}

/* Count the pass; log and announce it if it came up or moved something. */
static void vpnflow_reclass_report(struct vpnflow_net *vn, struct vpnflow_tunnel *t,
				   const struct vpnflow_reclass *r, u8 why)
{
	atomic64_inc(&vn->cnt.reclassify_passes);
	atomic64_add(r->examined, &vn->cnt.reclassify_examined);
	atomic64_add(r->matched, &vn->cnt.flows_reclassified);
	/* A route or policy change that moved nothing: no line, no event. */
	if (why != VPNFLOW_RECLASSIFY_UP && !r->matched)
		return;
	if (__ratelimit(&vn->log_rs))
		pr_info("reclassify-vpn: tunnel %u %s, %u flows cleared to enter it\n",
			t->id, why == VPNFLOW_RECLASSIFY_ROUTES ? "routes changed" :
			why == VPNFLOW_RECLASSIFY_POLICIES ? "policies added" : "up",
			r->matched);
	vpnflow_nl_tunnel_event(vn, t, VPNFLOW_EVENT_TYPE_RECLASSIFIED, r->matched);
}

bool vpnflow_reclassify(struct vpnflow_net *vn, struct vpnflow_tunnel *t, u8 why)
{
	struct vpnflow_reclass *r;
	struct vpnflow_armed *a;
	u32 hash;

	r = kvzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return true;	/* nothing we can do; do not spin */
	r->vn = vn;
	r->key = &t->key;

	vpnflow_reclass_policies(r);
	if (!r->npol) {
		kvfree(r);
		return false;
	}
	r->ndev = vpnflow_route_devices(vn->net, &t->key, r->dev, ARRAY_SIZE(r->dev));
	sort(r->sel, r->nsel, sizeof(r->sel[0]), vpnflow_sel_cmp, NULL);
	hash = vpnflow_sel_hash(r->sel, r->nsel);

	a = vpnflow_armed_find(vn, &t->key);
	/*
	 * Policies re-installed as they were (a rekey updates them): nothing
	 * new to look at, unless the tunnel is armed and recorded strays.
	 */
	if (why == VPNFLOW_RECLASSIFY_POLICIES && hash == t->sel_hash && !a) {
		kvfree(r);
		return true;
	}
	t->sel_hash = hash;
	vpnflow_reclass_clear(vn, r, a);
	vpnflow_reclass_report(vn, t, r, why);
	kvfree(r);
	return true;
}
