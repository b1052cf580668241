// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: a namespace's work items: the reconcile, queued by
 * events, and the periodic flow GC, which also runs deferred passes.
 *
 * Both run under vn->work_lock on the unbound workqueue, the only
 * context that frees tunnels and runs reclassify-vpn passes.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/workqueue.h>

#include "flow.h"
#include "labels.h"
#include "nfhooks.h"
#include "reclassify.h"
#include "route.h"
#include "tunnel.h"
#include "vpnflow.h"
#include "work.h"

/* Preserved flows expire and gone conntrack entries are released this often. */
#define VPNFLOW_GC_INTERVAL	(2 * HZ)

/* Down tunnels taken per hold of vn->tlock; their flows are handled outside it. */
#define VPNFLOW_DOWN_BATCH	16

/* Route-triggered reclassify-vpn passes: at most four a second. */
#define VPNFLOW_ROUTES_MIN_GAP	(HZ / 4)

/* Unbound: a namespace's two works may run at once, hence vn->work_lock. */
static struct workqueue_struct *vpnflow_wq;

/* Queue a reconcile of this namespace's tunnels (any context). */
void vpnflow_work_kick(struct vpnflow_net *vn)
{
	if (!READ_ONCE(vn->dead))
		queue_work(vpnflow_wq, &vn->event_work);
}

/*
 * Routes changed (route.c): route-based tunnels that are up get another
 * reclassify-vpn pass, once routes have been still for
 * VPNFLOW_ROUTES_SETTLE and at most every VPNFLOW_ROUTES_MIN_GAP; until
 * then the GC work, brought forward, takes the change up.
 */
static void vpnflow_work_routes_changed(struct vpnflow_net *vn)
{
	unsigned long now = jiffies, next = now, settled;
	struct vpnflow_tunnel *t;
	int bkt;

	if (!test_bit(VPNFLOW_REVISIT_ROUTES, &vn->revisit))
		return;
	smp_rmb();			/* the bit, then the time of its change */
	if (vn->routes_pass && time_before(next, vn->routes_pass + VPNFLOW_ROUTES_MIN_GAP))
		next = vn->routes_pass + VPNFLOW_ROUTES_MIN_GAP;
	settled = READ_ONCE(vn->routes_changed) + VPNFLOW_ROUTES_SETTLE;
	if (time_before(next, settled))
		next = settled;
	if (time_after(next, now)) {
		if (!READ_ONCE(vn->dead))
			mod_delayed_work(vpnflow_wq, &vn->gc_work, next - now);
		return;
	}
	clear_bit(VPNFLOW_REVISIT_ROUTES, &vn->revisit);
	vn->routes_pass = now;
	if (!READ_ONCE(vn->opts.reclassify_vpn))
		return;
	spin_lock_bh(&vn->tlock);
	hash_for_each(vn->tunnels, bkt, t, node) {
		if (t->up && vpnflow_tunnel_key_routed(&t->key) && !t->reclassify)
			t->reclassify = VPNFLOW_RECLASSIFY_ROUTES;
	}
	spin_unlock_bh(&vn->tlock);
}

/*
 * Outbound policies added to a tunnel after its pass (strongSwan installs
 * a CHILD_SA's policies one by one; the pass may have run between two):
 * another pass, which walks if the selectors are new. Policy-based
 * tunnels only: routes decide for route-based ones.
 */
static void vpnflow_work_policy_news(struct vpnflow_net *vn)
{
	struct vpnflow_tunnel *t;
	int bkt;

	spin_lock_bh(&vn->tlock);
	hash_for_each(vn->tunnels, bkt, t, node) {
		if (!t->policy_news)
			continue;
		t->policy_news = false;
		t->no_policy = false;		/* its policies came: try again */
		if (t->up && t->passed && !t->reclassify && !vpnflow_tunnel_key_routed(&t->key) &&
		    READ_ONCE(vn->opts.reclassify_vpn))
			t->reclassify = VPNFLOW_RECLASSIFY_POLICIES;
	}
	spin_unlock_bh(&vn->tlock);
}

/*
 * reclassify-vpn for tunnels that came up, once their policies are in
 * place. A tunnel whose pass finds no policy (SAs installed by hand, an
 * SA-only set-up, marks that differ between SA and policy) is skipped
 * until a policy event names it: it neither holds up the tunnels after
 * it nor walks the policies again at every reconcile. Only this work
 * frees tunnels and changes ->reclassify and ->no_policy, so a tunnel
 * found here stays valid.
 */
static void vpnflow_work_reclassify_pending(struct vpnflow_net *vn)
{
	struct vpnflow_tunnel *t;
	int bkt;

	vpnflow_work_policy_news(vn);
again:
	spin_lock_bh(&vn->tlock);
	hash_for_each(vn->tunnels, bkt, t, node) {
		if (!t->reclassify || !t->up || t->no_policy)
			continue;
		if (!READ_ONCE(vn->opts.reclassify_vpn)) {
			t->reclassify = VPNFLOW_RECLASSIFY_NONE;
			continue;
		}
		spin_unlock_bh(&vn->tlock);
		if (vpnflow_reclassify(vn, t, t->reclassify)) {
			t->reclassify = VPNFLOW_RECLASSIFY_NONE;
			t->passed = true;
		} else {
			t->no_policy = true;	/* wait for one; the others go on */
		}
		cond_resched();
		goto again;
	}
	spin_unlock_bh(&vn->tlock);
}

/*
 * The flows of the tunnels that went down (or, after an option change,
 * all down tunnels' preserved flows), a few tunnels at a time, outside
 * vn->tlock. Each down tunnel is visited once per pass.
 */
static void vpnflow_work_tunnels_down(struct vpnflow_net *vn)
{
	struct vpnflow_tunnel *down[VPNFLOW_DOWN_BATCH];
	unsigned int i, ndown, gen;
	bool revisit;

	gen = ++vn->reconcile_gen;
	revisit = test_and_clear_bit(VPNFLOW_REVISIT_OPTIONS, &vn->revisit);
	do {
		ndown = vpnflow_tunnel_update(vn, gen, revisit, down, ARRAY_SIZE(down));
		for (i = 0; i < ndown; i++)
			vpnflow_flows_tunnel_down(vn, down[i]);
	} while (ndown == ARRAY_SIZE(down));
}

/*
 * The reconcile: the tunnels as the SA table shows them now, their
 * transitions, and the passes they call for. Not inlined into its two
 * works, so that a whole pass is one call to trace.
 */
static noinline void vpnflow_reconcile(struct vpnflow_net *vn)
{
	bool routed;

	lockdep_assert_held(&vn->work_lock);
	if (!vpnflow_tunnel_sync_sas(vn, &routed))
		return;

	/*
	 * Hooks are needed from the first tunnel on, or to adopt labelled
	 * entries before there is any; the hold hooks while flows are
	 * preserved (adoption preserves flows in softirq).
	 */
	if (vpnflow_tunnels_exist(vn) || vpnflow_adopt_on(vn))
		vpnflow_nf_enable(vn);
	if (atomic_read(&vn->npreserved))
		vpnflow_nf_hold_enable(vn);
	/* Route changes matter from the first route-based tunnel on. */
	if (routed)
		vpnflow_route_watch(vn);

	vpnflow_work_tunnels_down(vn);
	vpnflow_work_routes_changed(vn);
	vpnflow_work_reclassify_pending(vn);
	vn->synced = true;
}

static void vpnflow_event_work(struct work_struct *work)
{
	struct vpnflow_net *vn = container_of(work, struct vpnflow_net, event_work);
	bool hooked;

	mutex_lock(&vn->work_lock);
	vpnflow_reconcile(vn);
	hooked = vn->nf_ops;	/* set by the reconcile: see struct vpnflow_net */
	mutex_unlock(&vn->work_lock);
	if (hooked && !READ_ONCE(vn->dead))
		queue_delayed_work(vpnflow_wq, &vn->gc_work, VPNFLOW_GC_INTERVAL);
}

static void vpnflow_gc_work(struct work_struct *work)
{
	struct vpnflow_net *vn = container_of(to_delayed_work(work), struct vpnflow_net,
					      gc_work);

	mutex_lock(&vn->work_lock);
	vpnflow_flows_gc(vn);
	/* Expired preserved flows may leave tunnels empty: reconcile frees them. */
	vpnflow_reconcile(vn);
	vpnflow_nf_hold_idle(vn);
	mutex_unlock(&vn->work_lock);
	if (!READ_ONCE(vn->dead))
		queue_delayed_work(vpnflow_wq, &vn->gc_work, VPNFLOW_GC_INTERVAL);
}

void vpnflow_work_init(struct vpnflow_net *vn)
{
	INIT_WORK(&vn->event_work, vpnflow_event_work);
	INIT_DELAYED_WORK(&vn->gc_work, vpnflow_gc_work);
}

void vpnflow_work_stop(struct vpnflow_net *vn)
{
	WRITE_ONCE(vn->dead, true);
	synchronize_rcu();		/* xfrm notifiers that saw !dead are done */
	cancel_work_sync(&vn->event_work);
	cancel_delayed_work_sync(&vn->gc_work);
}

int vpnflow_work_module_init(void)
{
	vpnflow_wq = alloc_workqueue("vpnflow", WQ_UNBOUND, 0);
	return vpnflow_wq ? 0 : -ENOMEM;
}

void vpnflow_work_module_exit(void)
{
	destroy_workqueue(vpnflow_wq);
}
