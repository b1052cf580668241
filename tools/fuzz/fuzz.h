/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpnsysopt fuzz harnesses: what both share (common.c).
 *
 * Copyright (C) 2026 The vpnflow authors.
 */
#ifndef VPNSYSOPT_FUZZ_H
#define VPNSYSOPT_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../vpnsysopt.h"

/* What the code under test wrote to stdout or stderr. */
struct fuzz_out {
	char buf[64 * 1024];	/* the first bytes, NUL-terminated */
	size_t len;		/* bytes written in all */
};

extern struct fuzz_out fuzz_stdout, fuzz_stderr;

/* Send stdout and stderr to fuzz_stdout and fuzz_stderr (emptied). */
void fuzz_capture_begin(void);
/* Flush them and give the real stdout and stderr back. */
void fuzz_capture_end(void);

/* Say what broke, with what was captured, and abort() (a finding). */
__attribute__((format(printf, 1, 2), noreturn))
void fuzz_fail(const char *fmt, ...);

/* Every value in @o is one the parser may produce; or fuzz_fail(). */
void fuzz_check_opts(const struct vs_opts *o);

/*
 * Every kw_error() report in @err is well formed: a non-empty message,
 * then the words, then a caret under the start of a word (or just past
 * the last one).
 */
void fuzz_check_carets(const char *err);

/*
 * Round trip: @o printed as "show running-config all" and read back as a
 * configuration file is @o again; printed as "show running-config" (no
 * defaults) and read back, it prints the same.
 */
void fuzz_round_trip(const struct vs_opts *o);

/* Parse @len bytes as a configuration file named @name. */
int fuzz_read_file(struct vs *vs, const char *name, const void *data,
		   size_t len);

#endif /* VPNSYSOPT_FUZZ_H */
