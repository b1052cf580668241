/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnsysopt: keyword tables, ASA-style abbreviations, syntax errors.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef VPNSYSOPT_KW_H
#define VPNSYSOPT_KW_H

#include <stdio.h>

struct vs;

/* Handles the words after its keyword; returns 0 or an exit code. */
typedef int (*kw_fn_t)(struct vs *vs, int argc, char **argv);

#define KW_NO		0x1	/* may follow "no" */
#define KW_NOFILE	0x2	/* not a configuration command: not in -f FILE */
#define KW_OPTS		0x4	/* ->sub holds optional words of this command */
#define KW_ALT		0x8	/* in a KW_OPTS table: or the word before it */

/*
 * One keyword of a table. The tables form the grammar and its help
 * (-h, help): ->sub is the table the words after this one are looked up
 * in, either commands of their own or, with KW_OPTS, the optional words
 * of this command; ->arg is how help shows the value this keyword takes,
 * if any (a command with both, like "tcpmss", takes either). A keyword
 * without ->fn goes on in ->sub.
 */
struct kw {
	const char *name;
	kw_fn_t fn;
	unsigned int flags;
	const struct kw *sub;
	const char *arg;
};

#define KW_END		{ .name = NULL }	/* ends a table */

int kw_dispatch(struct vs *vs, const struct kw *tbl, int argc, char **argv,
		const char *alt);
int kw_end(struct vs *vs, int argc, char **argv);
void kw_help(FILE *f, const struct kw *tbl);
#ifndef __printf
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#endif

__printf(3, 4)
int kw_error(struct vs *vs, char **at, const char *fmt, ...);

#endif /* VPNSYSOPT_KW_H */
