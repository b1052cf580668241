/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: the module parameters.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_PARAMS_H
#define _VPNFLOW_PARAMS_H

struct vpnflow_options;

/* max_flows: most flows tracked per namespace; READ_ONCE(). */
extern unsigned int vpnflow_max_flows;

/* Fill @o with the options of a new namespace. */
void vpnflow_params_defaults(struct vpnflow_options *o);

#endif /* _VPNFLOW_PARAMS_H */
