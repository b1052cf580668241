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
#include "work.h"

/*
 * Registration order is the workqueue, per-netns state (so that every
 * later callback finds it), the generic netlink family, then the xfrm
 * key-manager listener; teardown is the reverse.
 */

static int __init vpnflow_init(void)
{
	int err;

	err = vpnflow_work_module_init();
	if (err)
		return err;

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
	vpnflow_work_module_exit();
	return err;
}

static void __exit vpnflow_exit(void)
{
	vpnflow_xfrm_exit();
	vpnflow_nl_exit();
	vpnflow_netns_exit();
	vpnflow_work_module_exit();
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
