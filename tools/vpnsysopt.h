/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnsysopt: shared declarations.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef VPNSYSOPT_H
#define VPNSYSOPT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <uapi/linux/vpnflow.h>

#include "nl.h"

#define PROG	"vpnsysopt"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* Exit codes; documented in vpnsysopt(8). */
enum {
	VS_EXIT_OK	= 0,
	VS_EXIT_USAGE	= 1,	/* bad option, keyword or value */
	VS_EXIT_KERNEL	= 2,	/* the kernel rejected the request */
	VS_EXIT_NOMOD	= 3,	/* family "vpnflow" not registered */
	VS_EXIT_PERM	= 4,	/* permission denied */
	VS_EXIT_SYS	= 5,	/* any other system error */
};

/* A set of options, as in the VPNFLOW_A_OPTIONS nest. */
struct vs_opts {
	uint32_t present;	/* bit n: val[n] is set */
	uint32_t val[VPNFLOW_A_OPTIONS_MAX + 1];
};

_Static_assert(VPNFLOW_A_OPTIONS_MAX < 32, "vs_opts.present is too small");

struct vs;
typedef int (*vs_exec_t)(struct vs *vs);

struct vs {
	/* global options */
	const char *netns;
	bool json;
	bool pretty;

	/* the command's words, for pointing at a bad one */
	int argc;
	char **argv;

	/* set while parsing */
	bool no;		/* the command started with "no" */
	bool show_all;		/* show running-config all */
	struct vs_opts set;	/* options to change */
	vs_exec_t exec;		/* what to run once netlink is up */

	struct nl nl;
};

/* vpnsysopt.c */
int vs_talk(struct vs *vs, struct nlmsghdr *req, mnl_cb_t cb, void *data,
	    const char *what);
void vs_usage(FILE *f);

/* options.c: connection, timeout, show running-config */
int do_connection(struct vs *vs, int argc, char **argv);
int do_timeout(struct vs *vs, int argc, char **argv);
int do_show_running_config(struct vs *vs, int argc, char **argv);

/* counters.c: show counters */
int do_show_counters(struct vs *vs, int argc, char **argv);

#endif /* VPNSYSOPT_H */
