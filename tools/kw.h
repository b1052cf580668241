/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnsysopt: keyword tables, ASA-style abbreviations, syntax errors.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef VPNSYSOPT_KW_H
#define VPNSYSOPT_KW_H

struct vs;

/* Handles the words after its keyword; returns 0 or an exit code. */
typedef int (*kw_fn_t)(struct vs *vs, int argc, char **argv);

#define KW_NO		0x1	/* may follow "no" */
#define KW_NOFILE	0x2	/* not a configuration command: not in -f FILE */

struct kw {
	const char *name;
	kw_fn_t fn;
	unsigned int flags;
};

#define KW_END		{ .name = NULL }	/* ends a table */

int kw_dispatch(struct vs *vs, const struct kw *tbl, int argc, char **argv,
		const char *alt);
int kw_end(struct vs *vs, int argc, char **argv);
#ifndef __printf
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#endif

__printf(3, 4)
int kw_error(struct vs *vs, char **at, const char *fmt, ...);

#endif /* VPNSYSOPT_KW_H */
