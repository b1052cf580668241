// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: persistent IPsec tunneled flows for Linux xfrm
 * gateways; module entry points.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/module.h>
#include <net/genetlink.h>

#include "vpnflow.h"

/*
 * Registration order is per-netns state first (so
 * that every later callback finds it), then the generic netlink family,
 * then the xfrm key-manager listener; teardown is the reverse.
 */

struct workqueue_struct *vpnflow_wq;

static int __init vpnflow_init(void)
{
	int err;

	vpnflow_wq = alloc_workqueue("vpnflow", WQ_UNBOUND, 0);
	if (!vpnflow_wq)
		return -ENOMEM;

	err = vpnflow_netns_init();
	if (err)
		goto err_wq;

	err = vpnflow_nl_init();
	if (err)
		goto err_netns;

	err = vpnflow_xfrm_init();
	if (err)
		goto err_nl;

	pr_info("loaded\n");
	return 0;

err_nl:
	vpnflow_nl_exit();
err_netns:
	vpnflow_netns_exit();
err_wq:
	destroy_workqueue(vpnflow_wq);
	return err;
}

static void __exit vpnflow_exit(void)
{
	vpnflow_xfrm_exit();
	vpnflow_nl_exit();
	vpnflow_netns_exit();
	destroy_workqueue(vpnflow_wq);
	pr_info("unloaded\n");
}

module_init(vpnflow_init);
module_exit(vpnflow_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The vpnflow authors");
MODULE_DESCRIPTION("Persistent IPsec tunneled flows (preserve-vpn-flows, reclassify-vpn, tcpmss)");
MODULE_VERSION(VPNFLOW_VERSION);
/*
 * No MODULE_ALIAS_GENL_FAMILY: a family lookup (any read, by any user)
 * would load the module, and a loaded module changes forwarding (tcpmss
 * 1380 by default). modprobe, or vpnsysopt changing an option, loads it.
 */
