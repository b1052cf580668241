// SPDX-License-Identifier: GPL-2.0
/* Probe: conntrack iteration takes a struct nf_ct_iter_data. */
#include <net/netfilter/nf_conntrack.h>

void vpnflow_probe(struct nf_ct_iter_data *d);
void vpnflow_probe(struct nf_ct_iter_data *d)
{
	nf_ct_iterate_cleanup_net(NULL, d);
}
