/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnflow_preserve: where get/put_unaligned_be16() live (see compat.h).
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef _VPNFLOW_COMPAT_UNALIGNED_H
#define _VPNFLOW_COMPAT_UNALIGNED_H

#ifdef VPNFLOW_HAVE_LINUX_UNALIGNED_H
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

#endif /* _VPNFLOW_COMPAT_UNALIGNED_H */
