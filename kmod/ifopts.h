/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: per-interface crypto ipsec settings (ifopts.c).
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_IFOPTS_H
#define _VPNFLOW_IFOPTS_H

#include <linux/if.h>
#include <linux/netdevice.h>
#include <linux/rcupdate.h>
#include <net/genetlink.h>

#include "vpnflow.h"

#define VPNFLOW_IF_OPTS_MAX	32

/**
 * struct vpnflow_if_opt - one interface's overrides
 * @name: the interface's name, NUL-terminated.
 * @df_bit: enum vpnflow_df_bit, or -1 to follow the namespace.
 * @fragmentation: enum vpnflow_fragmentation, or -1 likewise.
 */
struct vpnflow_if_opt {
	char name[IFNAMSIZ];
	s8 df_bit;
	s8 fragmentation;
};

/**
 * struct vpnflow_if_opts - a namespace's per-interface table
 *
 * Never changed once published: options-set builds a new one and
 * replaces vpnflow_net.if_opts under vpnflow_net.opts_lock; the data path
 * reads it under RCU, the old one is freed after a grace period.
 *
 * @rcu: for kfree_rcu().
 * @n: entries in @e.
 * @e: the entries, each name once.
 */
struct vpnflow_if_opts {
	struct rcu_head rcu;
	unsigned int n;
	struct vpnflow_if_opt e[];
};

/* The data path (RCU): the setting for packets leaving through @dev. */
u8 vpnflow_df_bit_for(const struct vpnflow_net *vn, const struct net_device *dev);
u8 vpnflow_fragmentation_for(const struct vpnflow_net *vn, const struct net_device *dev);

/* Is any df-bit or fragmentation setting not the default? (RCU) */
bool vpnflow_df_bit_any(const struct vpnflow_net *vn);
bool vpnflow_fragmentation_any(const struct vpnflow_net *vn);

/* options-set: a new table from an if-options nest (extack on rejection). */
struct vpnflow_if_opts *vpnflow_if_opts_parse(const struct nlattr *nest,
					      struct netlink_ext_ack *extack);
/* Publish @t (may be NULL: none), freeing the old table; opts_lock held. */
void vpnflow_if_opts_replace(struct vpnflow_net *vn, struct vpnflow_if_opts *t);
/* options-get: the table as an if-options nest; RCU or opts_lock held. */
int vpnflow_if_opts_put(struct sk_buff *skb, const struct vpnflow_net *vn);
/* Namespace exit. */
void vpnflow_if_opts_free(struct vpnflow_net *vn);

#endif /* _VPNFLOW_IFOPTS_H */
