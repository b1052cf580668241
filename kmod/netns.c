// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: per network namespace state.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/module.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include <uapi/linux/vpnflow.h>

#include "flow.h"
#include "nfhooks.h"
#include "tunnel.h"
#include "vpnflow.h"

#define VPNFLOW_GC_INTERVAL	(2 * HZ)

unsigned int vpnflow_net_id __read_mostly;

/* ASA defaults: "show run all sysopt" on a fresh ASA. */
static const struct vpnflow_options vpnflow_default_options = {
	.preserve_vpn_flows	= 0,
	.reclassify_vpn		= 1,
	.tcpmss_auto		= 0,
	.tcpmss			= 1380,
	.tcpmss_minimum		= 0,
	.preserve_timeout	= 3600,
};

/* Queue a reconcile of this namespace's tunnels (any context). */
void vpnflow_netns_kick(struct vpnflow_net *vn)
{
	if (!READ_ONCE(vn->dead))
		queue_work(vpnflow_wq, &vn->event_work);
}

static void vpnflow_event_work(struct work_struct *work)
{
	struct vpnflow_net *vn = container_of(work, struct vpnflow_net, event_work);

	vpnflow_tunnel_reconcile(vn);
	if (vn->nf_ops && !READ_ONCE(vn->dead))
		queue_delayed_work(vpnflow_wq, &vn->gc_work, VPNFLOW_GC_INTERVAL);
}

static void vpnflow_gc_work(struct work_struct *work)
{
	struct vpnflow_net *vn = container_of(to_delayed_work(work), struct vpnflow_net,
					      gc_work);

	vpnflow_flows_gc(vn);
	/* Expired preserved flows may leave tunnels empty: reconcile frees them. */
	vpnflow_tunnel_reconcile(vn);
	if (!READ_ONCE(vn->dead))
		queue_delayed_work(vpnflow_wq, &vn->gc_work, VPNFLOW_GC_INTERVAL);
}

static int __net_init vpnflow_net_init(struct net *net)
{
	struct vpnflow_net *vn = vpnflow_pernet(net);
	int err;

	vn->net = net;
	mutex_init(&vn->lock);
	mutex_init(&vn->nf_lock);
	vn->opts = vpnflow_default_options;
	spin_lock_init(&vn->tlock);
	hash_init(vn->tunnels);
	INIT_WORK(&vn->event_work, vpnflow_event_work);
	INIT_DELAYED_WORK(&vn->gc_work, vpnflow_gc_work);
	/* 100 teardown messages per 5 s per namespace. */
	ratelimit_state_init(&vn->log_rs, 5 * HZ, 100);
	ratelimit_set_flags(&vn->log_rs, RATELIMIT_MSG_ON_RELEASE);
	err = vpnflow_flows_init(vn);
	if (err)
		return err;
	/* Tunnels that exist already (module loaded on a live gateway). */
	vpnflow_netns_kick(vn);
	return 0;
}

static void __net_exit vpnflow_net_exit(struct net *net)
{
	struct vpnflow_net *vn = vpnflow_pernet(net);

	WRITE_ONCE(vn->dead, true);
	synchronize_rcu();		/* xfrm notifiers that saw !dead are done */
	cancel_work_sync(&vn->event_work);
	cancel_delayed_work_sync(&vn->gc_work);
	vpnflow_nf_disable(vn);		/* no packet is in our hooks after this */
	vpnflow_flows_destroy(vn);
	vpnflow_tunnel_free_all(vn);
	ratelimit_state_exit(&vn->log_rs);
	mutex_destroy(&vn->nf_lock);
	mutex_destroy(&vn->lock);
}

static struct pernet_operations vpnflow_net_ops = {
	.init	= vpnflow_net_init,
	.exit	= vpnflow_net_exit,
	.id	= &vpnflow_net_id,
	.size	= sizeof(struct vpnflow_net),
};

int vpnflow_netns_init(void)
{
	return register_pernet_subsys(&vpnflow_net_ops);
}

void vpnflow_netns_exit(void)
{
	unregister_pernet_subsys(&vpnflow_net_ops);
}
