/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: shared declarations.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_H
#define _VPNFLOW_H

#include <linux/atomic.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

/* Options of one network namespace (see spec/vpnflow.yaml). */
struct vpnflow_options {
	u8 preserve_vpn_flows;
	u8 reclassify_vpn;
	u8 tcpmss_auto;
	u32 tcpmss;
	u32 tcpmss_minimum;
	u32 preserve_timeout;
};

struct vpnflow_counters {
	atomic64_t sa_events;
	atomic64_t policy_events;
};

struct vpnflow_net {
	struct net *net;
	/* Serialises option changes; readers use READ_ONCE() on each field. */
	struct mutex lock;
	struct vpnflow_options opts;
	struct vpnflow_counters cnt;
};

extern unsigned int vpnflow_net_id;

static inline struct vpnflow_net *vpnflow_pernet(const struct net *net)
{
	return net_generic(net, vpnflow_net_id);
}

/* netns.c */
int vpnflow_netns_init(void);
void vpnflow_netns_exit(void);

/* xfrm.c */
int vpnflow_xfrm_init(void);
void vpnflow_xfrm_exit(void);

/* netlink.c */
int vpnflow_nl_init(void);
void vpnflow_nl_exit(void);

#endif /* _VPNFLOW_H */
