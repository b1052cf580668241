// SPDX-License-Identifier: GPL-2.0
/*
 * Probe: genl_family.resv_start_op (6.1). With it, the core rejects the
 * attributes of a request whose operation has no policy; before it, the
 * core ignores them.
 */
#include <net/genetlink.h>

#ifndef VPNFLOW_PROBE_WITHOUT
struct genl_family vpnflow_probe_family = { .resv_start_op = 1 };
#else
struct genl_family vpnflow_probe_family = { .netnsok = true };
#endif
