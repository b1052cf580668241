// SPDX-License-Identifier: GPL-2.0
/*
 * vpnflow_preserve: label-vpn-flows. The conntrack entries of tunneled
 * flows carry the label bit VPNFLOW_CT_LABEL_TUNNELED, and
 * VPNFLOW_CT_LABEL_PRESERVED while preserve-vpn-flows holds them, so that
 * conntrack -o labels, nft's ct label and conntrackd (which replicates
 * labels) see what the module sees. ct mark and secmark stay the
 * operator's.
 *
 * Conntrack adds its label extension only to entries it creates while
 * someone in the namespace has asked for labels (nf_connlabels_get()):
 * entries older than the option carry none, and are left unlabelled.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <linux/bitops.h>
#include <net/netfilter/nf_conntrack_ecache.h>
#include <net/netfilter/nf_conntrack_labels.h>

#include <uapi/linux/vpnflow.h>

#include "labels.h"

#define VPNFLOW_CT_LABEL_LONGS	(NF_CT_LABELS_MAX_SIZE / sizeof(long))

int vpnflow_labels_sync(struct vpnflow_net *vn, bool on)
{
	int err;

	lockdep_assert_held(&vn->opts_lock);
	if (on == vn->labels_held)
		return 0;
	if (on) {
		/* Its argument is the highest bit used. */
		err = nf_connlabels_get(vn->net, max(VPNFLOW_CT_LABEL_TUNNELED,
						     VPNFLOW_CT_LABEL_PRESERVED));
		if (err)
			return err;
	} else {
		nf_connlabels_put(vn->net);
	}
	vn->labels_held = on;
	return 0;
}

void vpnflow_labels_release(struct vpnflow_net *vn)
{
	if (vn->labels_held)
		nf_connlabels_put(vn->net);
	vn->labels_held = false;
}

bool vpnflow_labels_tunneled(const struct nf_conn *ct)
{
	struct nf_conn_labels *labels = nf_ct_labels_find(ct);

	return labels && test_bit(VPNFLOW_CT_LABEL_TUNNELED, labels->bits);
}

void vpnflow_labels_set(const struct vpnflow_net *vn, struct nf_conn *ct, bool preserved)
{
	/* Built as the extension's own unsigned longs: nft and xt use bit ops on them. */
	unsigned long data[VPNFLOW_CT_LABEL_LONGS] = {}, mask[VPNFLOW_CT_LABEL_LONGS] = {};

	if (!READ_ONCE(vn->opts.label_vpn_flows))
		return;
	__set_bit(VPNFLOW_CT_LABEL_TUNNELED, mask);
	__set_bit(VPNFLOW_CT_LABEL_PRESERVED, mask);
	__set_bit(VPNFLOW_CT_LABEL_TUNNELED, data);
	if (preserved)
		__set_bit(VPNFLOW_CT_LABEL_PRESERVED, data);
	/* -ENOSPC: an entry older than the labels; it stays unlabelled. */
	if (nf_connlabels_replace(ct, (u32 *)data, (u32 *)mask,
				  NF_CT_LABELS_MAX_SIZE / sizeof(u32)))
		return;
	/*
	 * A confirmed entry's change is cached until its next packet, which a
	 * preserved flow may not see for long: deliver it now. An unconfirmed
	 * entry's goes out with its IPCT_NEW at confirm.
	 */
	if (nf_ct_is_confirmed(ct))
		nf_ct_deliver_cached_events(ct);
}
