// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: per network namespace state.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "flow.h"
#include "ifopts.h"
#include "labels.h"
#include "nfhooks.h"
#include "params.h"
#include "reclassify.h"
#include "route.h"
#include "tunnel.h"
#include "vpnflow.h"
#include "work.h"

/* Teardown and reclassify messages: a burst of 100 per 5 s per namespace. */
#define VPNFLOW_LOG_INTERVAL	(5 * HZ)
#define VPNFLOW_LOG_BURST	100

unsigned int vpnflow_net_id __read_mostly;

static int __net_init vpnflow_net_init(struct net *net)
{
	struct vpnflow_net *vn = vpnflow_pernet(net);
	int err;

	vn->net = net;
	mutex_init(&vn->opts_lock);
	mutex_init(&vn->nf_lock);
	mutex_init(&vn->work_lock);
	vpnflow_params_defaults(&vn->opts);
	spin_lock_init(&vn->tlock);
	spin_lock_init(&vn->hint_lock);
	vn->hint_window = jiffies - HZ;
	hash_init(vn->tunnels);
	INIT_LIST_HEAD(&vn->armed);
	vpnflow_work_init(vn);
	ratelimit_state_init(&vn->log_rs, VPNFLOW_LOG_INTERVAL, VPNFLOW_LOG_BURST);
	ratelimit_set_flags(&vn->log_rs, RATELIMIT_MSG_ON_RELEASE);
	err = vpnflow_flows_init(vn);
	if (err)
		return err;
	/* tcp_state_bypass=: on from the start. */
	if (vpnflow_nf_bypass_prepare(vn, &vn->opts)) {
		pr_warn("cannot register the tcp-state-bypass hooks: off in this namespace\n");
		vn->opts.tcp_state_bypass_mask = 0;
		vn->opts.tcp_state_bypass_mark = 0;
	}
	/* label_vpn_flows=: labels asked for from the start. */
	mutex_lock(&vn->opts_lock);
	if (vpnflow_labels_sync(vn, vn->opts.label_vpn_flows)) {
		pr_warn("conntrack labels not available: label-vpn-flows off in this namespace\n");
		vn->opts.label_vpn_flows = 0;
	}
	mutex_unlock(&vn->opts_lock);
	/* Tunnels that exist already (module loaded on a live gateway). */
	vpnflow_work_kick(vn);
	return 0;
}

static void __net_exit vpnflow_net_exit(struct net *net)
{
	struct vpnflow_net *vn = vpnflow_pernet(net);

	vpnflow_work_stop(vn);
	vpnflow_route_unwatch(vn);
	vpnflow_nf_disable(vn);		/* no packet is in our hooks after this */
	vpnflow_flows_destroy(vn);
	vpnflow_tunnel_free_all(vn);
	vpnflow_reclassify_free(vn);
	vpnflow_if_opts_free(vn);
	vpnflow_labels_release(vn);
	ratelimit_state_exit(&vn->log_rs);
	mutex_destroy(&vn->work_lock);
	mutex_destroy(&vn->nf_lock);
	mutex_destroy(&vn->opts_lock);
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
	rcu_barrier();		/* flows released by call_rcu() are freed */
}
