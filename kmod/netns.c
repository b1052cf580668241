// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: per network namespace state.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/moduleparam.h>
#include <linux/module.h>
#include <linux/sysfs.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include <uapi/linux/vpnflow.h>

#include "flow.h"
#include "nfhooks.h"
#include "reclassify.h"
#include "route.h"
#include "tunnel.h"
#include "vpnflow.h"

#define VPNFLOW_GC_INTERVAL	(2 * HZ)

unsigned int vpnflow_net_id __read_mostly;

/*
 * Options of a new namespace: the ASA's defaults ("show run all sysopt" on
 * a fresh ASA) unless module parameters say otherwise. Changing a
 * parameter later affects namespaces created afterwards.
 */
static struct vpnflow_options vpnflow_defaults = {
	.preserve_vpn_flows	= 0,
	.reclassify_vpn		= 1,
	.tcpmss_auto		= 0,
	.tcpmss			= 1380,
	.tcpmss_minimum		= 0,
	.preserve_timeout	= 3600,
};

static int vpnflow_param_set_flag(const char *val, const struct kernel_param *kp)
{
	bool v;
	int err = kstrtobool(val, &v);

	if (err) {
		pr_err("%s: expected 0 or 1, got '%s'\n", kp->name, val);
		return err;
	}
	*(u8 *)kp->arg = v;
	return 0;
}

static int vpnflow_param_get_u8(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%u\n", *(u8 *)kp->arg);
}

static const struct kernel_param_ops vpnflow_param_flag_ops = {
	.set = vpnflow_param_set_flag,
	.get = vpnflow_param_get_u8,
};

/* tcpmss, tcpmss_minimum: 0 (off) or VPNFLOW_TCPMSS_MIN..VPNFLOW_TCPMSS_MAX. */
static int vpnflow_param_set_mss(const char *val, const struct kernel_param *kp)
{
	unsigned int v;
	int err = kstrtouint(val, 0, &v);

	if (err || (v && (v < VPNFLOW_TCPMSS_MIN || v > VPNFLOW_TCPMSS_MAX))) {
		pr_err("%s: must be 0 (off) or %u-%u, got '%s'\n",
		       kp->name, VPNFLOW_TCPMSS_MIN, VPNFLOW_TCPMSS_MAX, val);
		return -EINVAL;
	}
	*(u32 *)kp->arg = v;
	return 0;
}

static int vpnflow_param_set_timeout(const char *val, const struct kernel_param *kp)
{
	unsigned int v;
	int err = kstrtouint(val, 0, &v);

	if (err || v < 1 || v > VPNFLOW_PRESERVE_TIMEOUT_MAX) {
		pr_err("%s: must be 1-%u seconds, got '%s'\n",
		       kp->name, VPNFLOW_PRESERVE_TIMEOUT_MAX, val);
		return -EINVAL;
	}
	*(u32 *)kp->arg = v;
	return 0;
}

static const struct kernel_param_ops vpnflow_param_mss_ops = {
	.set = vpnflow_param_set_mss,
	.get = param_get_uint,
};

static const struct kernel_param_ops vpnflow_param_timeout_ops = {
	.set = vpnflow_param_set_timeout,
	.get = param_get_uint,
};

module_param_cb(preserve_vpn_flows, &vpnflow_param_flag_ops,
		&vpnflow_defaults.preserve_vpn_flows, 0644);
MODULE_PARM_DESC(preserve_vpn_flows, "Default of sysopt connection preserve-vpn-flows for new namespaces (0)");
module_param_cb(reclassify_vpn, &vpnflow_param_flag_ops, &vpnflow_defaults.reclassify_vpn, 0644);
MODULE_PARM_DESC(reclassify_vpn, "Default of sysopt connection reclassify-vpn (1)");
module_param_cb(tcpmss, &vpnflow_param_mss_ops, &vpnflow_defaults.tcpmss, 0644);
MODULE_PARM_DESC(tcpmss, "Default of sysopt connection tcpmss: 0 or 48-65535 (1380)");
module_param_cb(tcpmss_minimum, &vpnflow_param_mss_ops, &vpnflow_defaults.tcpmss_minimum, 0644);
MODULE_PARM_DESC(tcpmss_minimum, "Default of sysopt connection tcpmss minimum: 0 or 48-65535 (0)");
module_param_cb(tcpmss_auto, &vpnflow_param_flag_ops, &vpnflow_defaults.tcpmss_auto, 0644);
MODULE_PARM_DESC(tcpmss_auto, "Default of sysopt connection tcpmss auto (0)");
module_param_cb(preserve_timeout, &vpnflow_param_timeout_ops,
		&vpnflow_defaults.preserve_timeout, 0644);
MODULE_PARM_DESC(preserve_timeout, "Default preserve timeout in seconds: 1-2147483 (3600)");
module_param_cb(tcpmss_tunneled_only, &vpnflow_param_flag_ops,
		&vpnflow_defaults.tcpmss_tunneled_only, 0644);
MODULE_PARM_DESC(tcpmss_tunneled_only, "Default of sysopt connection tcpmss tunneled-only (0)");

/* Queue a reconcile of this namespace's tunnels (any context). */
void vpnflow_netns_kick(struct vpnflow_net *vn)
{
	if (!READ_ONCE(vn->dead))
		queue_work(vpnflow_wq, &vn->event_work);
}

static void vpnflow_event_work(struct work_struct *work)
{
	struct vpnflow_net *vn = container_of(work, struct vpnflow_net, event_work);

	mutex_lock(&vn->work_lock);
	vpnflow_tunnel_reconcile(vn);
	mutex_unlock(&vn->work_lock);
	if (vn->nf_ops && !READ_ONCE(vn->dead))
		queue_delayed_work(vpnflow_wq, &vn->gc_work, VPNFLOW_GC_INTERVAL);
}

static void vpnflow_gc_work(struct work_struct *work)
{
	struct vpnflow_net *vn = container_of(to_delayed_work(work), struct vpnflow_net,
					      gc_work);

	mutex_lock(&vn->work_lock);
	vpnflow_flows_gc(vn);
	/* Expired preserved flows may leave tunnels empty: reconcile frees them. */
	vpnflow_tunnel_reconcile(vn);
	vpnflow_nf_hold_idle(vn);
	mutex_unlock(&vn->work_lock);
	if (!READ_ONCE(vn->dead))
		queue_delayed_work(vpnflow_wq, &vn->gc_work, VPNFLOW_GC_INTERVAL);
}

static int __net_init vpnflow_net_init(struct net *net)
{
	struct vpnflow_net *vn = vpnflow_pernet(net);
	int err;

	vn->net = net;
	mutex_init(&vn->opts_lock);
	mutex_init(&vn->nf_lock);
	mutex_init(&vn->work_lock);
	kernel_param_lock(THIS_MODULE);
	vn->opts = vpnflow_defaults;
	kernel_param_unlock(THIS_MODULE);
	if (vn->opts.tcpmss && vn->opts.tcpmss_minimum > vn->opts.tcpmss)
		vn->opts.tcpmss_minimum = vn->opts.tcpmss;
	spin_lock_init(&vn->tlock);
	hash_init(vn->tunnels);
	INIT_LIST_HEAD(&vn->armed);
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
	vpnflow_route_unwatch(vn);
	vpnflow_nf_disable(vn);		/* no packet is in our hooks after this */
	vpnflow_flows_destroy(vn);
	vpnflow_tunnel_free_all(vn);
	vpnflow_reclassify_free(vn);
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
