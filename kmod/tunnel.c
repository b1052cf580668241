// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: the tunnel table of a namespace, as xfrm state shows it.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/jhash.h>
#include <linux/slab.h>
#include <net/xfrm.h>

#include "tunnel.h"
#include "vpnflow.h"

/*
 * A tunnel is up while at least one valid tunnel-mode ESP/AH SA with its
 * identity (see struct vpnflow_tunnel_key) is installed in the namespace,
 * and down once the last one is gone (deleted, hard-expired or flushed).
 * Rather than counting SAs from notifications (which would miss SAs
 * installed before the module was loaded, and lose count on a flush),
 * every xfrm event queues one reconcile of the namespace (work.c), in
 * process context, that walks the SA table and compares. A
 * make-before-break rekey never shows a tunnel without an SA, so it is
 * not a drop.
 */

/*
 * The one constructor of a tunnel key, from an SA's or a policy
 * template's outer addresses: the pair is ordered so that the inbound and
 * the outbound side of a CHILD_SA give the same key.
 */
static void vpnflow_tunnel_key_init(struct vpnflow_tunnel_key *k, u16 family,
				    const xfrm_address_t *s, const xfrm_address_t *d,
				    u32 if_id, const struct xfrm_mark *mark)
{
	size_t len = family == AF_INET6 ? sizeof(struct in6_addr) : sizeof(__be32);

	memset(k, 0, sizeof(*k));
	if (memcmp(s, d, len) > 0)
		swap(s, d);
	memcpy(&k->lo, s, len);
	memcpy(&k->hi, d, len);
	k->if_id = if_id;
	k->mark = mark->v & mark->m;
	k->family = family;
}

void vpnflow_tunnel_key_from_state(struct vpnflow_tunnel_key *k,
				   const struct xfrm_state *x)
{
	vpnflow_tunnel_key_init(k, x->props.family, &x->props.saddr, &x->id.daddr,
				x->if_id, &x->mark);
}

bool vpnflow_tunnel_key_from_policy(const struct xfrm_policy *xp,
				    struct vpnflow_tunnel_key *k)
{
	int i;

	for (i = 0; i < xp->xfrm_nr; i++) {
		const struct xfrm_tmpl *tmpl = &xp->xfrm_vec[i];

		if (tmpl->mode != XFRM_MODE_TUNNEL)
			continue;
		vpnflow_tunnel_key_init(k, tmpl->encap_family, &tmpl->saddr,
					&tmpl->id.daddr, xp->if_id, &xp->mark);
		return true;
	}
	return false;
}

bool vpnflow_tunnel_key_eq(const struct vpnflow_tunnel_key *a,
			   const struct vpnflow_tunnel_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static u32 vpnflow_tunnel_hash(const struct vpnflow_tunnel_key *k)
{
	return jhash2((const u32 *)k, sizeof(*k) / sizeof(u32), 0);
}

/* Caller holds vn->tlock. */
static struct vpnflow_tunnel *vpnflow_tunnel_find(struct vpnflow_net *vn,
						  const struct vpnflow_tunnel_key *k)
{
	struct vpnflow_tunnel *t;

	hash_for_each_possible(vn->tunnels, t, node, vpnflow_tunnel_hash(k))
		if (vpnflow_tunnel_key_eq(&t->key, k))
			return t;
	return NULL;
}

/*
 * Caller holds vn->tlock. A tunnel created here starts down: only the
 * reconcile, which has looked at the SA table, declares a tunnel up.
 */
struct vpnflow_tunnel *vpnflow_tunnel_get_or_create(struct vpnflow_net *vn,
						    const struct vpnflow_tunnel_key *k,
						    gfp_t gfp)
{
	struct vpnflow_tunnel *t;

	lockdep_assert_held(&vn->tlock);
	t = vpnflow_tunnel_find(vn, k);
	if (t)
		return t;
	t = kzalloc(sizeof(*t), gfp);
	if (!t)
		return NULL;
	t->key = *k;
	INIT_LIST_HEAD(&t->flows);
	t->id = ++vn->next_tunnel_id;
	t->changed = jiffies;
	hash_add(vn->tunnels, &t->node, vpnflow_tunnel_hash(k));
	return t;
}

/*
 * SAs copied per step of the SA walk: the copy is made under xfrm's
 * state lock, and applied under vn->tlock; a small batch bounds both.
 */
#define VPNFLOW_SA_BATCH	32

/* What one pass over the SA table found, a batch at a time. */
struct vpnflow_sa_batch {
	unsigned int n;
	struct {
		struct vpnflow_tunnel_key key;
		u32 reqid;
		u8 proto;
	} sa[VPNFLOW_SA_BATCH];
};

static int vpnflow_sa_collect(struct xfrm_state *x, int count, void *ptr)
{
	struct vpnflow_sa_batch *b = ptr;

	if (x->props.mode != XFRM_MODE_TUNNEL || x->km.state != XFRM_STATE_VALID ||
	    (x->id.proto != IPPROTO_ESP && x->id.proto != IPPROTO_AH))
		return 0;
	if (b->n == ARRAY_SIZE(b->sa))
		return -ENOBUFS;	/* the walk resumes at this state */
	vpnflow_tunnel_key_from_state(&b->sa[b->n].key, x);
	b->sa[b->n].reqid = x->props.reqid;
	b->sa[b->n].proto = x->id.proto;
	b->n++;
	return 0;
}

static void vpnflow_tunnel_free_rcu(struct vpnflow_net *vn, struct vpnflow_tunnel *t)
{
	hash_del(&t->node);
	kfree_rcu(t, rcu);
}

/* The tunnels of one batch of SAs exist, and are seen. Under vn->tlock. */
static bool vpnflow_tunnel_see_batch(struct vpnflow_net *vn,
				     const struct vpnflow_sa_batch *b)
{
	struct vpnflow_tunnel *t;
	bool routed = false;
	unsigned int i;

	for (i = 0; i < b->n; i++) {
		t = vpnflow_tunnel_get_or_create(vn, &b->sa[i].key, GFP_ATOMIC);
		if (!t)
			continue;
		t->seen = true;
		t->nsa++;
		routed |= vpnflow_tunnel_key_routed(&t->key);
		t->reqid = b->sa[i].reqid;
		t->proto = b->sa[i].proto;
	}
	return routed;
}

bool vpnflow_tunnel_sync_sas(struct vpnflow_net *vn, bool *routed)
{
	struct vpnflow_sa_batch *b;
	struct xfrm_state_walk walk;
	struct vpnflow_tunnel *t;
	int bkt, err;

	lockdep_assert_held(&vn->work_lock);
	*routed = false;
	b = kmalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return false;

	spin_lock_bh(&vn->tlock);
	hash_for_each(vn->tunnels, bkt, t, node) {
		t->seen = false;
		t->nsa = 0;
	}
	spin_unlock_bh(&vn->tlock);

	xfrm_state_walk_init(&walk, IPSEC_PROTO_ANY, NULL);
	do {
		b->n = 0;
		err = xfrm_state_walk(vn->net, &walk, vpnflow_sa_collect, b);
		spin_lock_bh(&vn->tlock);
		*routed |= vpnflow_tunnel_see_batch(vn, b);
		spin_unlock_bh(&vn->tlock);
		cond_resched();
	} while (err == -ENOBUFS);
	xfrm_state_walk_done(&walk, vn->net);
	kfree(b);
	return true;
}

/* @t's SAs appeared or all went: its up/down transition. Under vn->tlock. */
static void vpnflow_tunnel_transition(struct vpnflow_net *vn, struct vpnflow_tunnel *t)
{
	if (t->seen && !t->up) {
		WRITE_ONCE(t->up, true);
		t->changed = jiffies;
		atomic64_inc(&vn->cnt.tunnels_up);
		/* Not for tunnels that were up when the module came. */
		t->reclassify = vn->synced ? VPNFLOW_RECLASSIFY_UP :
					     VPNFLOW_RECLASSIFY_NONE;
		t->no_policy = false;
	} else if (!t->seen && t->up) {
		WRITE_ONCE(t->up, false);
		t->reclassify = VPNFLOW_RECLASSIFY_NONE;
		t->no_policy = false;
		t->passed = false;
		t->changed = jiffies;
		atomic64_inc(&vn->cnt.tunnels_down);
	}
}

unsigned int vpnflow_tunnel_update(struct vpnflow_net *vn, unsigned int gen, bool revisit,
				   struct vpnflow_tunnel **down, unsigned int max)
{
	struct vpnflow_tunnel *t;
	struct hlist_node *tmp;
	unsigned int ndown = 0;
	int bkt;

	lockdep_assert_held(&vn->work_lock);
	spin_lock_bh(&vn->tlock);
	hash_for_each_safe(vn->tunnels, bkt, tmp, t, node) {
		vpnflow_tunnel_transition(vn, t);
		if (t->up || t->visited == gen)
			continue;
		if (list_empty(&t->flows)) {
			vpnflow_tunnel_free_rcu(vn, t);
			continue;
		}
		/* Active flows to preserve or tear down, or preserved ones to revisit. */
		if (revisit || t->nflows != t->npreserved ||
		    !READ_ONCE(vn->opts.preserve_vpn_flows)) {
			t->visited = gen;
			down[ndown++] = t;
			if (ndown == max)
				break;
		}
	}
	spin_unlock_bh(&vn->tlock);
	return ndown;
}

/*
 * xfrm notifier (process context): a tunnel-mode SA was added or updated.
 * For a tunnel that is down (its flows preserved), this is its return:
 * a resumed flow's delay counts from the newest such SA. The reconcile,
 * which marks the tunnel up, runs later; resumes may come first.
 */
void vpnflow_tunnel_sa_news(struct vpnflow_net *vn, const struct xfrm_state *x)
{
	struct vpnflow_tunnel_key k;
	struct vpnflow_tunnel *t;

	if (x->props.mode != XFRM_MODE_TUNNEL)
		return;
	vpnflow_tunnel_key_from_state(&k, x);
	spin_lock_bh(&vn->tlock);
	t = vpnflow_tunnel_find(vn, &k);
	if (t && !t->up)
		t->back_at = jiffies ?: 1;
	spin_unlock_bh(&vn->tlock);
}

/*
 * xfrm notifier (any context): an outbound policy was added or updated.
 * Marks the tunnel it points at; the reconcile it kicks decides.
 */
void vpnflow_tunnel_policy_news(struct vpnflow_net *vn, const struct xfrm_policy *xp)
{
	struct vpnflow_tunnel_key k;
	struct vpnflow_tunnel *t;

	if (!vpnflow_tunnel_key_from_policy(xp, &k))
		return;
	spin_lock_bh(&vn->tlock);
	t = vpnflow_tunnel_find(vn, &k);
	if (t)
		t->policy_news = true;
	spin_unlock_bh(&vn->tlock);
}

/*
 * The data path creates tunnels under vn->tlock with no other lock held,
 * so vn->tunnels is only read under it.
 */
bool vpnflow_tunnels_exist(struct vpnflow_net *vn)
{
	bool any;

	spin_lock_bh(&vn->tlock);
	any = !hash_empty(vn->tunnels);
	spin_unlock_bh(&vn->tlock);
	return any;
}

/* Netns exit / module unload: hooks are gone and flows released. */
void vpnflow_tunnel_free_all(struct vpnflow_net *vn)
{
	struct vpnflow_tunnel *t;
	struct hlist_node *tmp;
	int bkt;

	spin_lock_bh(&vn->tlock);
	hash_for_each_safe(vn->tunnels, bkt, tmp, t, node) {
		WARN_ON_ONCE(!list_empty(&t->flows));
		vpnflow_tunnel_free_rcu(vn, t);
	}
	spin_unlock_bh(&vn->tlock);
}
