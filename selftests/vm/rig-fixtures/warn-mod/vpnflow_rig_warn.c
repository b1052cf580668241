// SPDX-License-Identifier: GPL-2.0
/*
 * Rig self-test fixture: a module whose init WARNs and then refuses to load,
 * so the VM runner's dmesg check has a real kernel WARNING to catch.
 */
#include <linux/module.h>

static int __init vpnflow_rig_warn_init(void)
{
	WARN(1, "vpnflow rig self-test: deliberate warning\n");
	return -EAGAIN;
}
module_init(vpnflow_rig_warn_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vpnflow VM rig self-test: deliberate WARN");
