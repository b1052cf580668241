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

#include "vpnflow.h"

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

static int __net_init vpnflow_net_init(struct net *net)
{
	struct vpnflow_net *vn = vpnflow_pernet(net);

	vn->net = net;
	mutex_init(&vn->lock);
	vn->opts = vpnflow_default_options;
	atomic64_set(&vn->cnt.sa_events, 0);
	atomic64_set(&vn->cnt.policy_events, 0);
	return 0;
}

static void __net_exit vpnflow_net_exit(struct net *net)
{
	struct vpnflow_net *vn = vpnflow_pernet(net);

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
