// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: the xfrm key-manager listener, told of every SA and
 * policy change.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/module.h>
#include <net/xfrm.h>

#include "tunnel.h"
#include "vpnflow.h"
#include "work.h"

/*
 * We register as a key manager (like af_key and xfrm_user) to be told of
 * every SA and policy change in every network namespace. ->notify runs
 * under RCU and, for expiries, from the state timer in softirq context:
 * it only records the event; anything heavier is deferred to process
 * context by its consumer.
 */

static int vpnflow_km_notify(struct xfrm_state *x, const struct km_event *c)
{
	struct net *net = x ? xs_net(x) : c->net;
	struct vpnflow_net *vn = vpnflow_pernet(net);

	atomic64_inc(&vn->cnt.sa_events);
	switch (c->event) {
	case XFRM_MSG_NEWSA:
	case XFRM_MSG_UPDSA:
		if (x)
			vpnflow_tunnel_sa_news(vn, x);
		vpnflow_work_kick(vn);
		break;
	case XFRM_MSG_DELSA:
	case XFRM_MSG_FLUSHSA:
		vpnflow_work_kick(vn);
		break;
	case XFRM_MSG_EXPIRE:
		/* A hard expiry deletes the SA; a soft one changes nothing. */
		if (c->data.hard)
			vpnflow_work_kick(vn);
		break;
	}
	return 0;
}

static int vpnflow_km_notify_policy(struct xfrm_policy *xp, int dir,
				    const struct km_event *c)
{
	struct net *net = xp ? xp_net(xp) : c->net;
	struct vpnflow_net *vn = vpnflow_pernet(net);

	atomic64_inc(&vn->cnt.policy_events);
	/*
	 * A tunnel that came up may have been waiting for its policies; one
	 * already reclassified may have more traffic now.
	 */
	switch (c->event) {
	case XFRM_MSG_NEWPOLICY:
	case XFRM_MSG_UPDPOLICY:
		if (xp && dir == XFRM_POLICY_OUT)
			vpnflow_tunnel_policy_news(vn, xp);
		vpnflow_work_kick(vn);
		break;
	}
	return 0;
}

/*
 * km_query() and xfrm_user_policy() call these without a NULL check.
 * We are a listener, not a key manager: never answer an acquire and
 * never compile a per-socket policy.
 */
static int vpnflow_km_acquire(struct xfrm_state *x, struct xfrm_tmpl *t,
			      struct xfrm_policy *xp)
{
	return -EINVAL;
}

static struct xfrm_policy *vpnflow_km_compile_policy(struct sock *sk, int opt,
						     u8 *data, int len, int *dir)
{
	*dir = -EOPNOTSUPP;
	return NULL;
}

static struct xfrm_mgr vpnflow_km = {
	.notify		= vpnflow_km_notify,
	.notify_policy	= vpnflow_km_notify_policy,
	.acquire	= vpnflow_km_acquire,
	.compile_policy	= vpnflow_km_compile_policy,
};

int vpnflow_xfrm_init(void)
{
	return compat_xfrm_register_km(&vpnflow_km);
}

void vpnflow_xfrm_exit(void)
{
	xfrm_unregister_km(&vpnflow_km);
}
