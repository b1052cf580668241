/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: a namespace's work items (the reconcile, the flow GC).
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_WORK_H
#define _VPNFLOW_WORK_H

struct vpnflow_net;

/* Module load and unload: the workqueue the works of every namespace run on. */
int vpnflow_work_module_init(void);
void vpnflow_work_module_exit(void);
/* Queue a reconcile of the namespace's tunnels (any context). */
void vpnflow_work_kick(struct vpnflow_net *vn);
/* Namespace init: set the work items up; nothing is queued. */
void vpnflow_work_init(struct vpnflow_net *vn);
/* Namespace exit: queue nothing more, and wait for what runs. */
void vpnflow_work_stop(struct vpnflow_net *vn);

#endif /* _VPNFLOW_WORK_H */
