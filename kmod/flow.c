// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: the flows tunnels carry: tracked, preserved or torn
 * down when their tunnel goes, and their GC.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/hash.h>
#include <linux/inet.h>
#include <linux/netdevice.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_tuple.h>

#include "flow.h"
#include "labels.h"
#include "netlink.h"
#include "nfhooks.h"
#include "params.h"
#include "tunnel.h"
#include "vpnflow.h"
#include "work.h"

/*
 * A flow is a conntrack entry whose packets were encrypted by, or
 * decrypted from, a tunnel-mode SA here; the data path (nfhooks.c) tells
 * us so. Flows hang off their tunnel, so the work done when a tunnel goes
 * down grows with that tunnel's flows, not with the conntrack table:
 *
 *  - preserve-vpn-flows on: TCP flows are kept (PRESERVED). Their entry is
 *    held: its timeout is set to the preserve deadline now and re-asserted
 *    after conntrack has seen each packet, and packets that would leave
 *    unprotected are dropped. The first packet protected by a tunnel-mode
 *    SA again resumes the flow with conntrack's own timeout. Other
 *    protocols are removed, so they are re-created correctly later.
 *  - preserve-vpn-flows off: the flows are torn down (conntrack entries
 *    removed), each logged like the ASA's 302014.
 *
 * We hold a reference on each tracked conntrack entry; a periodic GC
 * releases the ones conntrack has since deleted.
 */

/*
 * A flow is keyed by its conntrack entry's address, looked up on every
 * tunneled packet: hashed with one multiplication and compared as one word
 * (the defaults are jhash2 and a memcmp() call).
 */
static u32 vpnflow_flow_hash(const void *data, u32 len, u32 seed)
{
	return hash_64((unsigned long)*(struct nf_conn * const *)data ^ seed, 32);
}

static int vpnflow_flow_cmp(struct rhashtable_compare_arg *arg, const void *obj)
{
	const struct vpnflow_flow *f = obj;

	return f->ct != *(struct nf_conn * const *)arg->key;
}

static const struct rhashtable_params vpnflow_flow_params = {
	.key_len		= sizeof(struct nf_conn *),
	.key_offset		= offsetof(struct vpnflow_flow, ct),
	.head_offset		= offsetof(struct vpnflow_flow, rnode),
	.hashfn			= vpnflow_flow_hash,
	.obj_cmpfn		= vpnflow_flow_cmp,
	.automatic_shrinking	= true,
};

int vpnflow_flows_init(struct vpnflow_net *vn)
{
	INIT_LIST_HEAD(&vn->preserved);
	atomic_set(&vn->nflows, 0);
	atomic_set(&vn->npreserved, 0);
	return rhashtable_init(&vn->flows, &vpnflow_flow_params);
}

static void vpnflow_flow_free_one(void *ptr, void *arg)
{
	struct vpnflow_flow *f = ptr;

	nf_ct_put(f->ct);
	kfree(f);
}

/* Netns exit / unload: the hooks are unregistered and RCU has settled. */
void vpnflow_flows_destroy(struct vpnflow_net *vn)
{
	struct vpnflow_tunnel *t;
	int bkt;

	spin_lock_bh(&vn->tlock);
	hash_for_each(vn->tunnels, bkt, t, node)
		INIT_LIST_HEAD(&t->flows);
	INIT_LIST_HEAD(&vn->preserved);
	spin_unlock_bh(&vn->tlock);
	vn->walk_next = NULL;
	rhashtable_free_and_destroy(&vn->flows, vpnflow_flow_free_one, NULL);
	atomic_set(&vn->nflows, 0);
	atomic_set(&vn->npreserved, 0);
}

/* Under rcu_read_lock (the data path) or vn->tlock. */
struct vpnflow_flow *vpnflow_flow_lookup(struct vpnflow_net *vn,
					 const struct nf_conn *ct)
{
	return rhashtable_lookup(&vn->flows, &ct, vpnflow_flow_params);
}

static u32 vpnflow_deadline(const struct vpnflow_flow *f, u32 timeout_s)
{
	return (u32)(f->preserved_at + (unsigned long)timeout_s * HZ);
}

/* Caller holds vn->tlock. */
static void vpnflow_flow_link(struct vpnflow_net *vn, struct vpnflow_flow *f,
			      struct vpnflow_tunnel *t)
{
	lockdep_assert_held(&vn->tlock);
	list_add_tail(&f->tnode, &t->flows);
	f->tun = t;
	WRITE_ONCE(f->tunnel_id, t->id);
	t->nflows++;
	if (f->state == VPNFLOW_FLOW_STATE_PRESERVED)
		t->npreserved++;
}

/* Caller holds vn->tlock. */
static void vpnflow_flow_unlink_tunnel(struct vpnflow_flow *f)
{
	struct vpnflow_tunnel *t = f->tun;

	list_del_init(&f->tnode);
	t->nflows--;
	if (f->state == VPNFLOW_FLOW_STATE_PRESERVED)
		t->npreserved--;
	f->tun = NULL;
}

/* Caller holds vn->tlock: forget the flow entirely (freed by the caller). */
static void vpnflow_flow_unlink(struct vpnflow_net *vn, struct vpnflow_flow *f)
{
	lockdep_assert_held(&vn->tlock);
	if (vn->walk_next == f)
		vn->walk_next = NULL;	/* a walk's place: see vpnflow_flows_gc_batch() */
	if (f->state == VPNFLOW_FLOW_STATE_PRESERVED) {
		list_del_init(&f->pnode);
		atomic_dec(&vn->npreserved);
	}
	vpnflow_flow_unlink_tunnel(f);
	rhashtable_remove_fast(&vn->flows, &f->rnode, vpnflow_flow_params);
	atomic_dec(&vn->nflows);
}

static void vpnflow_flow_free_rcu(struct rcu_head *head)
{
	struct vpnflow_flow *f = container_of(head, struct vpnflow_flow, rcu);

	nf_ct_put(f->ct);
	kfree(f);
}

/*
 * Free an unlinked flow. Readers under RCU (the data path, flow dumps)
 * may still look at it and at its conntrack entry until a grace period
 * has passed: the entry's reference is dropped only then, so f->ct never
 * points at an entry conntrack has freed and reused (nf_conn is
 * SLAB_TYPESAFE_BY_RCU).
 */
static void vpnflow_flow_release(struct vpnflow_flow *f)
{
	call_rcu(&f->rcu, vpnflow_flow_free_rcu);
}

/* Caller holds vn->tlock. */
static void vpnflow_flow_resume_locked(struct vpnflow_net *vn, struct vpnflow_flow *f,
				       struct nf_conn *ct)
{
	u32 saved = READ_ONCE(f->ct_timeout);
	unsigned long back = f->tun->back_at;
	u32 delay = VPNFLOW_RESUME_DELAY_NONE;

	lockdep_assert_held(&vn->tlock);
	/* The tunnel carrying it now came back after the flow was preserved. */
	if (back && time_after_eq(back, f->preserved_at) && time_after_eq(jiffies, back))
		delay = min_t(unsigned long, jiffies_to_msecs(jiffies - back),
			      VPNFLOW_RESUME_DELAY_NONE - 1);
	WRITE_ONCE(f->resume_delay, delay);
	WRITE_ONCE(f->resumes, f->resumes + 1);
	WRITE_ONCE(f->state, VPNFLOW_FLOW_STATE_ACTIVE);
	WRITE_ONCE(f->hint_burst, 0);
	list_del_init(&f->pnode);
	f->tun->npreserved--;
	atomic_dec(&vn->npreserved);
	atomic64_inc(&vn->cnt.flows_resumed);
	/*
	 * Conntrack's own timeout for this packet was saved by the hold hook
	 * before it re-asserted the deadline: put it back.
	 */
	if (saved)
		WRITE_ONCE(ct->timeout, saved);
	vpnflow_labels_set(vn, ct, false);
	vpnflow_nl_flow_event(vn, f, VPNFLOW_EVENT_TYPE_RESUMED, GFP_ATOMIC);
}

static void vpnflow_flow_note_dev(struct vpnflow_flow *f, enum ip_conntrack_dir dir,
				  bool sealed, const struct sk_buff *skb,
				  const struct net_device *out)
{
	if (sealed && !(f->sealed & BIT(dir)))
		WRITE_ONCE(f->sealed, f->sealed | BIT(dir));
	if (!f->ifindex_in[dir] && skb->skb_iif)
		WRITE_ONCE(f->ifindex_in[dir], skb->skb_iif);
	if (!f->ifindex_out[dir] && out)
		WRITE_ONCE(f->ifindex_out[dir], out->ifindex);
}

static void vpnflow_flow_log_teardown(struct vpnflow_net *vn, const struct vpnflow_flow *f,
				      const char *reason);

/*
 * max_flows is reached: make room for a new flow by evicting the flow that
 * has been preserved longest. Preserved flows are waiting for a tunnel
 * that is gone; flows in a working tunnel are never evicted. vn->preserved
 * holds them in the order they were preserved, so the victim is its head:
 * constant work under vn->tlock, however many tunnels and flows there
 * are (the data path calls this). The victim is torn down like a flow
 * whose tunnel went down with preserve-vpn-flows off, and counted in
 * flows_evicted. Returns false if there was nothing to evict. Data path,
 * under RCU.
 */
static bool vpnflow_flow_evict(struct vpnflow_net *vn)
{
	struct vpnflow_flow *victim;

	if (!atomic_read(&vn->npreserved))
		return false;
	spin_lock_bh(&vn->tlock);
	victim = list_first_entry_or_null(&vn->preserved, struct vpnflow_flow, pnode);
	if (victim)
		vpnflow_flow_unlink(vn, victim);
	spin_unlock_bh(&vn->tlock);
	if (!victim)
		return false;

	vpnflow_flow_log_teardown(vn, victim, "Preserved flow limit reached");
	vpnflow_nl_flow_event(vn, victim, VPNFLOW_EVENT_TYPE_TEARDOWN, GFP_ATOMIC);
	nf_ct_kill(victim->ct);
	atomic64_inc(&vn->cnt.flows_evicted);
	vpnflow_flow_release(victim);
	return true;
}

/*
 * Take one of max_flows' places for a new flow (vn->nflows counts them):
 * exact however many CPUs see new flows at once (a check, then an
 * increment after the insert, would let two CPUs take the last place).
 */
static bool vpnflow_flow_slot(struct vpnflow_net *vn)
{
	unsigned int max = READ_ONCE(vpnflow_max_flows);
	int n = atomic_read(&vn->nflows);

	do {
		if ((unsigned int)n >= max)
			return false;
	} while (!atomic_try_cmpxchg(&vn->nflows, &n, n + 1));
	return true;
}

/*
 * A new flow of @ct in @state, unlinked, whose place vpnflow_flow_slot()
 * has taken; NULL without memory, the place given back. Softirq.
 */
static struct vpnflow_flow *vpnflow_flow_new(struct vpnflow_net *vn, struct nf_conn *ct,
					     u8 state)
{
	struct vpnflow_flow *f = kzalloc(sizeof(*f), GFP_ATOMIC);

	if (!f) {
		atomic_dec(&vn->nflows);
		return NULL;
	}
	f->ct = ct;
	f->proto = nf_ct_protonum(ct);
	f->start = jiffies;
	f->state = state;
	INIT_LIST_HEAD(&f->tnode);
	INIT_LIST_HEAD(&f->pnode);
	return f;
}

/*
 * The data path saw a packet of @ct protected by tunnel-mode SA @x (about
 * to be encrypted by it if @sealed, else decrypted by it): track the flow,
 * move it to @x's tunnel if it was elsewhere, and resume it if it was
 * preserved. Softirq or process context, under RCU.
 */
void vpnflow_flow_track(struct vpnflow_net *vn, struct nf_conn *ct,
			enum ip_conntrack_dir dir, const struct xfrm_state *x,
			bool sealed, const struct sk_buff *skb,
			const struct net_device *out)
{
	struct vpnflow_tunnel_key k;
	struct vpnflow_tunnel *t;
	struct vpnflow_flow *f;

	vpnflow_tunnel_key_from_state(&k, x);
	f = vpnflow_flow_lookup(vn, ct);
	if (f) {
		spin_lock_bh(&vn->tlock);
		if (!f->tun)
			goto unlock;	/* being released */
		vpnflow_flow_note_dev(f, dir, sealed, skb, out);
		if (!vpnflow_tunnel_key_eq(&f->tun->key, &k)) {
			t = vpnflow_tunnel_get_or_create(vn, &k, GFP_ATOMIC);
			if (!t)
				goto unlock;
			vpnflow_flow_unlink_tunnel(f);
			vpnflow_flow_link(vn, f, t);
		}
		if (f->state == VPNFLOW_FLOW_STATE_PRESERVED)
			vpnflow_flow_resume_locked(vn, f, ct);
unlock:
		spin_unlock_bh(&vn->tlock);
		return;
	}

	/* At max_flows, a preserved flow may make room (once). */
	if (!vpnflow_flow_slot(vn) && (!vpnflow_flow_evict(vn) || !vpnflow_flow_slot(vn)))
		goto untracked;
	f = vpnflow_flow_new(vn, ct, VPNFLOW_FLOW_STATE_ACTIVE);
	if (!f)
		goto untracked;
	vpnflow_flow_note_dev(f, dir, sealed, skb, out);

	spin_lock_bh(&vn->tlock);
	t = vpnflow_tunnel_get_or_create(vn, &k, GFP_ATOMIC);
	if (!t || rhashtable_lookup_insert_fast(&vn->flows, &f->rnode, vpnflow_flow_params)) {
		/* No memory, or another CPU tracked it first. */
		spin_unlock_bh(&vn->tlock);
		kfree(f);
		atomic_dec(&vn->nflows);
		if (!t)
			goto untracked;
		return;
	}
	nf_conntrack_get(&ct->ct_general);
	vpnflow_flow_link(vn, f, t);
	spin_unlock_bh(&vn->tlock);
	vpnflow_labels_set(vn, ct, false);
	return;

untracked:
	/* Once per flow: its first packet, before conntrack confirms it. */
	if (!nf_ct_is_confirmed(ct))
		atomic64_inc(&vn->cnt.flows_untracked);
}

/*
 * Adoption: @ct, a confirmed TCP entry, carries the tunneled label but no
 * flow tracks it (conntrackd brought it from the gateway that was active,
 * or it is older than the module), and its packet is about to leave
 * outside any tunnel. Take it as a flow preserved from now on, on its
 * family's adoption tunnel: a key without addresses, which no SA has, so
 * it never comes up. The first packet a tunnel-mode SA carries moves the
 * flow to that SA's tunnel and resumes it (vpnflow_flow_track()); if none
 * does within the preserve timeout, it expires as any preserved flow.
 * Softirq, under RCU. Return: @ct's flow if it is now preserved (the
 * packet is to be dropped), else NULL.
 */
struct vpnflow_flow *vpnflow_flow_adopt(struct vpnflow_net *vn,
					struct nf_conn *ct,
					enum ip_conntrack_dir dir,
					const struct sk_buff *skb)
{
	struct vpnflow_tunnel_key k = { .family = nf_ct_l3num(ct) };
	struct vpnflow_tunnel *t;
	struct vpnflow_flow *f;

	/* No eviction for it: a flow to adopt is no more worth than a held one. */
	if (!vpnflow_flow_slot(vn))
		return NULL;
	f = vpnflow_flow_new(vn, ct, VPNFLOW_FLOW_STATE_PRESERVED);
	if (!f)
		return NULL;
	f->preserved_at = f->start;
	f->deadline = vpnflow_deadline(f, READ_ONCE(vn->opts.preserve_timeout));
	f->resume_delay = VPNFLOW_RESUME_DELAY_NONE;
	/* Where it came in; where it goes out is the SA's route, seen at resume. */
	f->ifindex_in[dir] = skb->skb_iif;

	spin_lock_bh(&vn->tlock);
	t = vpnflow_tunnel_get_or_create(vn, &k, GFP_ATOMIC);
	if (!t || rhashtable_lookup_insert_fast(&vn->flows, &f->rnode, vpnflow_flow_params)) {
		/* No memory, or another CPU tracked or adopted it first. */
		spin_unlock_bh(&vn->tlock);
		kfree(f);
		atomic_dec(&vn->nflows);
		f = vpnflow_flow_lookup(vn, ct);
		return f && READ_ONCE(f->state) == VPNFLOW_FLOW_STATE_PRESERVED ? f : NULL;
	}
	nf_conntrack_get(&ct->ct_general);
	vpnflow_flow_link(vn, f, t);
	list_add_tail(&f->pnode, &vn->preserved);
	atomic_inc(&vn->npreserved);
	WRITE_ONCE(ct->timeout, f->deadline);
	spin_unlock_bh(&vn->tlock);

	atomic64_inc(&vn->cnt.flows_adopted);
	atomic64_inc(&vn->cnt.flows_preserved);
	vpnflow_labels_set(vn, ct, true);
	if (vpnflow_nl_listening(vn))
		vpnflow_nl_flow_event(vn, f, VPNFLOW_EVENT_TYPE_PRESERVED, GFP_ATOMIC);
	/* The hold hooks are registered in process context, by the reconcile. */
	vpnflow_work_kick(vn);
	return f;
}

static const char *vpnflow_ifname(struct net *net, int ifindex, char *buf)
{
	struct net_device *dev;

	rcu_read_lock();
	dev = ifindex ? dev_get_by_index_rcu(net, ifindex) : NULL;
	strscpy(buf, dev ? dev->name : "?", IFNAMSIZ);
	rcu_read_unlock();
	return buf;
}

static void vpnflow_addr(char *buf, size_t len, const struct nf_conntrack_tuple *t,
			 bool src)
{
	const union nf_inet_addr *a = src ? &t->src.u3 : &t->dst.u3;

	if (t->src.l3num == NFPROTO_IPV6)
		snprintf(buf, len, "%pI6c", &a->in6);
	else
		snprintf(buf, len, "%pI4", &a->ip);
}

/*
 * The ASA's teardown message, with our facility:
 * %VPNFLOW-6-302014: Teardown TCP connection <id> for <if>:<addr>/<port>
 *   to <if>:<addr>/<port> duration H:MM:SS bytes N <reason>
 * <id> is conntrack's id (conntrack -L -o id). Rate-limited per netns.
 */
static void vpnflow_flow_log_teardown(struct vpnflow_net *vn, const struct vpnflow_flow *f,
				      const char *reason)
{
	const struct nf_conntrack_tuple *t = &f->ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple;
	char ifs[IFNAMSIZ], ifd[IFNAMSIZ], as[INET6_ADDRSTRLEN], ad[INET6_ADDRSTRLEN];
	unsigned long secs = (jiffies - f->start) / HZ;
	int in = f->ifindex_in[IP_CT_DIR_ORIGINAL] ?: f->ifindex_out[IP_CT_DIR_REPLY];
	int out = f->ifindex_out[IP_CT_DIR_ORIGINAL] ?: f->ifindex_in[IP_CT_DIR_REPLY];
	const char *msg, *proto;

	switch (f->proto) {
	case IPPROTO_TCP:
		msg = "302014";
		proto = "TCP";
		break;
	case IPPROTO_UDP:
		msg = "302016";
		proto = "UDP";
		break;
	default:
		return;		/* the ASA logs TCP and UDP teardowns */
	}
	if (!__ratelimit(&vn->log_rs))
		return;
	vpnflow_addr(as, sizeof(as), t, true);
	vpnflow_addr(ad, sizeof(ad), t, false);
	pr_info("%%VPNFLOW-6-%s: Teardown %s connection %u for %s:%s/%u to %s:%s/%u duration %lu:%02lu:%02lu bytes %llu %s\n",
		msg, proto, nf_ct_get_id(f->ct),
		vpnflow_ifname(vn->net, in, ifs), as, ntohs(t->src.u.all),
		vpnflow_ifname(vn->net, out, ifd), ad, ntohs(t->dst.u.all),
		secs / 3600, (secs / 60) % 60, secs % 60,
		(unsigned long long)atomic64_read(&f->bytes), reason);
}

/* Flows unlinked per lock hold, then released outside it (on the stack). */
#define VPNFLOW_BATCH 64

/* A flow that has nothing left to tear down: done or going away anyway. */
static bool vpnflow_flow_finished(const struct vpnflow_flow *f)
{
	const struct nf_conn *ct = f->ct;

	if (nf_ct_is_dying(ct))
		return true;
	if (f->proto != IPPROTO_TCP)
		return false;
	switch (READ_ONCE(ct->proto.tcp.state)) {
	case TCP_CONNTRACK_TIME_WAIT:
	case TCP_CONNTRACK_CLOSE:
		return true;
	}
	return false;
}

/* A TCP flow worth keeping: not closed, not closing down for good. */
static bool vpnflow_flow_preservable(const struct vpnflow_flow *f)
{
	return f->proto == IPPROTO_TCP && !vpnflow_flow_finished(f);
}

/* Flows looked at per lock hold by the tunnel-down pass. */
#define VPNFLOW_DOWN_SCAN 256

/*
 * One lock hold of the tunnel-down pass over @t's flows: look at most
 * VPNFLOW_DOWN_SCAN of them from where the last hold stopped, preserve
 * TCP flows in place (@preserve) and unlink the others, at most
 * VPNFLOW_BATCH, into @gone. Returns how many were unlinked; *@more says
 * whether flows are left to look at.
 *
 * Preserved flows stay where they are in t->flows: the place to go on
 * from is vn->walk_next, as in the GC (see vpnflow_flows_gc_batch()). If
 * the data path took that flow away meanwhile, the walk starts again
 * from the head: flows already preserved are seen again and left as they
 * are (their deadline counts from their own preserved_at).
 */
static noinline unsigned int vpnflow_flows_down_batch(struct vpnflow_net *vn,
						      struct vpnflow_tunnel *t, bool preserve,
						      bool first, struct vpnflow_flow **gone,
						      bool *more)
{
	u32 timeout = READ_ONCE(vn->opts.preserve_timeout);
	bool listeners = vpnflow_nl_listening(vn);
	unsigned long now = jiffies;
	struct vpnflow_flow *f, *next;
	unsigned int n = 0, news = 0, scan;

	spin_lock_bh(&vn->tlock);
	f = first ? NULL : vn->walk_next;
	if (!f || f->tun != t)
		f = list_first_entry(&t->flows, struct vpnflow_flow, tnode);
	for (scan = 0; scan < VPNFLOW_DOWN_SCAN && n < VPNFLOW_BATCH &&
	     !list_entry_is_head(f, &t->flows, tnode); scan++) {
		next = list_next_entry(f, tnode);
		if (preserve && vpnflow_flow_preservable(f)) {
			if (f->state == VPNFLOW_FLOW_STATE_ACTIVE) {
				f->preserved_at = now;
				f->ct_timeout = 0;
				WRITE_ONCE(f->hint_burst, 0);
				WRITE_ONCE(f->state, VPNFLOW_FLOW_STATE_PRESERVED);
				list_add_tail(&f->pnode, &vn->preserved);
				news++;
				if (listeners)
					vpnflow_nl_flow_event(vn, f, VPNFLOW_EVENT_TYPE_PRESERVED,
							      GFP_ATOMIC);
			}
			WRITE_ONCE(f->deadline, vpnflow_deadline(f, timeout));
			WRITE_ONCE(f->ct->timeout, f->deadline);
			/* After the deadline: the label's event carries it (conntrackd). */
			vpnflow_labels_set(vn, f->ct, true);
		} else {
			vpnflow_flow_unlink(vn, f);
			gone[n++] = f;
		}
		f = next;
	}
	if (news) {
		t->npreserved += news;
		atomic_add(news, &vn->npreserved);
		atomic64_add(news, &vn->cnt.flows_preserved);
	}
	*more = !list_entry_is_head(f, &t->flows, tnode);
	vn->walk_next = *more ? f : NULL;
	spin_unlock_bh(&vn->tlock);
	return n;
}

/*
 * Tunnel @t is down: preserve its TCP flows (option on) or tear them down,
 * and remove its other flows. Process context, under vn->work_lock (the
 * reconcile); vn->tlock is held for at most VPNFLOW_DOWN_SCAN flows at a
 * time, teardowns (log, event, conntrack delete) happen outside it.
 */
void vpnflow_flows_tunnel_down(struct vpnflow_net *vn, struct vpnflow_tunnel *t)
{
	bool preserve = READ_ONCE(vn->opts.preserve_vpn_flows);
	struct vpnflow_flow *f, *gone[VPNFLOW_BATCH];
	unsigned int n, i;
	bool more, first = true;

	lockdep_assert_held(&vn->work_lock);

	/*
	 * Preserved flows need the hold hooks. Without them (no memory) they
	 * are still preserved, but a packet conntrack sees may shorten their
	 * entry's timeout to conntrack's own.
	 */
	if (preserve)
		vpnflow_nf_hold_enable(vn);
	do {
		n = vpnflow_flows_down_batch(vn, t, preserve, first, gone, &more);
		first = false;
		for (i = 0; i < n; i++) {
			f = gone[i];
			if (!vpnflow_flow_finished(f)) {
				vpnflow_flow_log_teardown(vn, f, "Tunnel has been torn down");
				vpnflow_nl_flow_event(vn, f, VPNFLOW_EVENT_TYPE_TEARDOWN,
						      GFP_KERNEL);
				nf_ct_kill(f->ct);
				atomic64_inc(&vn->cnt.flows_torn_down);
			}
			vpnflow_flow_release(f);
		}
		cond_resched();
	} while (more);
}

/*
 * An entry conntrack has not confirmed this long after its first packet
 * never will be (its packet was dropped before the confirm): let it go.
 */
#define VPNFLOW_UNCONFIRMED_MAX	(10 * HZ)

/* A flow whose conntrack entry is gone (or was never confirmed). */
static bool vpnflow_flow_gone(const struct vpnflow_flow *f)
{
	const struct nf_conn *ct = f->ct;

	return nf_ct_is_dying(ct) ||
	       (!nf_ct_is_confirmed(ct) &&
		!time_before(jiffies, f->start + VPNFLOW_UNCONFIRMED_MAX));
}

/* Flows looked at per lock hold by the GC (at most VPNFLOW_BATCH released). */
#define VPNFLOW_GC_SCAN 256

/* Where the GC of one tunnel is, between two holds of vn->tlock. */
struct vpnflow_gc_pos {
	unsigned int budget;		/* flows still to look at in this pass */
	bool started;
};

/*
 * One lock hold of the GC of tunnel @t: look at most VPNFLOW_GC_SCAN
 * flows (and the pass's budget, the tunnel's flow count at the first
 * hold) from @pos, unlink at most VPNFLOW_BATCH gone ones into @gone.
 * Survivors stay where they are, so the list order (which flow dumps
 * count positions in) does not change.
 *
 * The next flow to look at is kept in vn->walk_next across the lock drop,
 * under vn->tlock: vpnflow_flow_unlink() clears it when it unlinks that
 * flow (the data path evicts preserved flows at max_flows, outside
 * vn->work_lock), so it never points at a freed flow. The data path may
 * also move it to another tunnel (vpnflow_flow_track()): then it is no
 * longer on t->flows. Either way the walk starts again from the head,
 * the budget bounding the pass. Flows the data path appends meanwhile
 * are met or left for the next pass. Not inlined, so that each lock
 * hold is one call to trace.
 */
static noinline unsigned int vpnflow_flows_gc_batch(struct vpnflow_net *vn,
						    struct vpnflow_tunnel *t,
						    struct vpnflow_flow **gone,
						    struct vpnflow_gc_pos *pos)
{
	struct vpnflow_flow *f, *next;
	unsigned int n = 0, scan;

	spin_lock_bh(&vn->tlock);
	if (!pos->started) {
		pos->started = true;
		pos->budget = t->nflows;
	}
	f = vn->walk_next;
	if (!f || f->tun != t)
		f = list_first_entry(&t->flows, struct vpnflow_flow, tnode);
	for (scan = 0; scan < VPNFLOW_GC_SCAN && pos->budget && n < VPNFLOW_BATCH &&
	     !list_entry_is_head(f, &t->flows, tnode); scan++, pos->budget--) {
		next = list_next_entry(f, tnode);
		if (vpnflow_flow_gone(f)) {
			if (f->state == VPNFLOW_FLOW_STATE_PRESERVED) {
				atomic64_inc(&vn->cnt.flows_expired);
				vpnflow_nl_flow_event(vn, f, VPNFLOW_EVENT_TYPE_EXPIRED,
						      GFP_ATOMIC);
			}
			vpnflow_flow_unlink(vn, f);
			gone[n++] = f;
		}
		f = next;
	}
	if (list_entry_is_head(f, &t->flows, tnode))
		pos->budget = 0;
	vn->walk_next = pos->budget ? f : NULL;
	spin_unlock_bh(&vn->tlock);
	return n;
}

/* GC of one tunnel's flows, a lock hold at a time, releasing outside it. */
static void vpnflow_flows_gc_tunnel(struct vpnflow_net *vn, struct vpnflow_tunnel *t)
{
	struct vpnflow_gc_pos pos = { };
	struct vpnflow_flow *gone[VPNFLOW_BATCH];
	unsigned int n, i;

	do {
		n = vpnflow_flows_gc_batch(vn, t, gone, &pos);
		for (i = 0; i < n; i++)
			vpnflow_flow_release(gone[i]);
		cond_resched();
	} while (pos.budget);
}

/*
 * Periodic GC: release flows whose conntrack entry is gone (deleted,
 * expired, or never confirmed). A preserved flow that ends this way has
 * expired while preserved (or was removed by hand). Cost: our flows only,
 * and vn->tlock (BHs off) is held for at most VPNFLOW_GC_SCAN flows at a
 * time, so the data path of other tunnels is not stalled by a big one.
 *
 * Why the tunnel pointers stay valid across the lock drops: tunnels are
 * freed only by the reconcile (work.c) (and at netns exit, after this
 * work is cancelled), and the reconcile runs under vn->work_lock, which
 * the GC work holds too (asserted below). The data path may add tunnels meanwhile
 * (hash_add under vn->tlock), which would make walking vn->tunnels
 * across a lock drop unsafe: so the tunnels are snapshotted into an array
 * under the lock first; tunnels created after the snapshot wait for the
 * next pass (their flows are at most 2 s old).
 */
void vpnflow_flows_gc(struct vpnflow_net *vn)
{
	struct vpnflow_tunnel *t, **tun;
	unsigned int ntun = 0, cap = 0, i;
	int bkt;

	lockdep_assert_held(&vn->work_lock);

	spin_lock_bh(&vn->tlock);
	hash_for_each(vn->tunnels, bkt, t, node)
		cap++;
	spin_unlock_bh(&vn->tlock);
	if (!cap)
		return;
	tun = kmalloc_array(cap, sizeof(*tun), GFP_KERNEL);
	if (!tun)
		return;		/* try again at the next pass */

	spin_lock_bh(&vn->tlock);
	hash_for_each(vn->tunnels, bkt, t, node) {
		if (ntun < cap)
			tun[ntun++] = t;
	}
	spin_unlock_bh(&vn->tlock);

	for (i = 0; i < ntun; i++)
		vpnflow_flows_gc_tunnel(vn, tun[i]);
	kfree(tun);
}
