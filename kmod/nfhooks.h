/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: netfilter hooks.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_NFHOOKS_H
#define _VPNFLOW_NFHOOKS_H

struct vpnflow_net;

int vpnflow_nf_enable(struct vpnflow_net *vn);
void vpnflow_nf_disable(struct vpnflow_net *vn);

#endif /* _VPNFLOW_NFHOOKS_H */
