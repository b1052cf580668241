// SPDX-License-Identifier: GPL-2.0
/*
 * Debug rig fixture (check-debug): a module whose init makes the debug
 * kernel report each kind of problem the run must catch, in an order where
 * no report silences a later one: lockdep turns itself off after its first
 * report, and so does KASAN's taint, so the RCU check (lockdep's) and the
 * circular locking dependency come before KASAN:
 *   sleeping in atomic context, suspicious RCU usage, a circular locking
 *   dependency, UBSAN, KASAN and a memory leak (kmemleak, found after the
 *   module is gone). It loads; rmmod it afterwards.
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

static DEFINE_SPINLOCK(rig_lock);
static DEFINE_MUTEX(rig_a);
static DEFINE_MUTEX(rig_b);
static int __rcu *rig_rcu_ptr;
static int rig_shift = 40;
static int rig_index = 16;
module_param(rig_shift, int, 0444);
module_param(rig_index, int, 0444);

static noinline void rig_sleep_in_atomic(void)
{
	spin_lock(&rig_lock);
	might_sleep();
	spin_unlock(&rig_lock);
}

static noinline void rig_rcu_outside_read_lock(void)
{
	int *p = rcu_dereference(rig_rcu_ptr);

	pr_info("vpnflow rig: rcu pointer %p\n", p);
}

static noinline void rig_ubsan_shift(void)
{
	pr_info("vpnflow rig: shifted %d\n", 1 << rig_shift);
}

static noinline void rig_kasan_oob(void)
{
	char *p = kmalloc(16, GFP_KERNEL);

	if (!p)
		return;
	pr_info("vpnflow rig: read %d\n", READ_ONCE(p[rig_index]));
	kfree(p);
}

static noinline void rig_leak(void)
{
	void *p = kmalloc(200, GFP_KERNEL);

	if (p)
		memset(p, 0x5a, 200);
	OPTIMIZER_HIDE_VAR(p);
}

static noinline void rig_circular_locking(void)
{
	mutex_lock(&rig_a);
	mutex_lock(&rig_b);
	mutex_unlock(&rig_b);
	mutex_unlock(&rig_a);
	mutex_lock(&rig_b);
	mutex_lock(&rig_a);
	mutex_unlock(&rig_a);
	mutex_unlock(&rig_b);
}

static int __init vpnflow_rig_debug_init(void)
{
	rig_sleep_in_atomic();
	rig_rcu_outside_read_lock();
	rig_circular_locking();
	rig_ubsan_shift();
	rig_kasan_oob();
	rig_leak();
	return 0;
}
module_init(vpnflow_rig_debug_init);

static void __exit vpnflow_rig_debug_exit(void)
{
}
module_exit(vpnflow_rig_debug_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vpnflow VM rig self-test: deliberate debug-kernel reports");
