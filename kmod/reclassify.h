/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: reclassify-vpn.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_RECLASSIFY_H
#define _VPNFLOW_RECLASSIFY_H

#include <linux/types.h>

struct vpnflow_net;
struct vpnflow_tunnel;

/*
 * @why: VPNFLOW_RECLASSIFY_UP or _ROUTES. Returns false when the tunnel's
 * policies are not installed yet (try again on the next policy event),
 * true when done.
 */
bool vpnflow_reclassify(struct vpnflow_net *vn, struct vpnflow_tunnel *t, u8 why);

#endif /* _VPNFLOW_RECLASSIFY_H */
