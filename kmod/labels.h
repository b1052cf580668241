/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: conntrack labels for tunneled and preserved flows
 * (labels.c).
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_LABELS_H
#define _VPNFLOW_LABELS_H

#include <net/netfilter/nf_conntrack.h>

#include "vpnflow.h"

/* options-set and netns init: take or drop conntrack's labels; opts_lock. */
int vpnflow_labels_sync(struct vpnflow_net *vn, bool on);
/* Netns exit. */
void vpnflow_labels_release(struct vpnflow_net *vn);
/* The flow of @ct is tunneled, and preserved or not; any context. */
void vpnflow_labels_set(const struct vpnflow_net *vn, struct nf_conn *ct, bool preserved);
/* Does @ct carry the tunneled label (set here, or where conntrackd got it)? */
bool vpnflow_labels_tunneled(const struct nf_conn *ct);

/* Entries labelled tunneled that no flow tracks are adopted (flow.c). */
static inline bool vpnflow_adopt_on(const struct vpnflow_net *vn)
{
	return READ_ONCE(vn->opts.label_vpn_flows) && READ_ONCE(vn->opts.preserve_vpn_flows);
}

#endif /* _VPNFLOW_LABELS_H */
