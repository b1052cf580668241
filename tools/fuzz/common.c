// SPDX-License-Identifier: GPL-2.0
/*
 * vpnsysopt fuzz harnesses: capturing stdout and stderr, and the checks
 * both harnesses make beyond "no crash" (see fuzz.h).
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "fuzz.h"

struct fuzz_out fuzz_stdout, fuzz_stderr;

static FILE *real_stdout, *real_stderr;
static FILE *cap_stdout, *cap_stderr;
static bool capturing;

static ssize_t cap_write(void *cookie, const char *buf, size_t size)
{
	struct fuzz_out *o = cookie;
	size_t room = sizeof(o->buf) - 1;

	if (o->len < room) {
		size_t n = size < room - o->len ? size : room - o->len;

		memcpy(o->buf + o->len, buf, n);
		o->buf[o->len + n] = '\0';
	}
	o->len += size;
	return size;
}

static FILE *cap_open(struct fuzz_out *o)
{
	cookie_io_functions_t io = { .write = cap_write };
	FILE *f = fopencookie(o, "w", io);

	if (!f) {
		perror("fuzz: fopencookie");
		abort();
	}
	return f;
}

void fuzz_capture_begin(void)
{
	if (!cap_stdout) {
		cap_stdout = cap_open(&fuzz_stdout);
		cap_stderr = cap_open(&fuzz_stderr);
	}
	fuzz_stdout.len = 0;
	fuzz_stdout.buf[0] = '\0';
	fuzz_stderr.len = 0;
	fuzz_stderr.buf[0] = '\0';
	real_stdout = stdout;
	real_stderr = stderr;
	stdout = cap_stdout;
	stderr = cap_stderr;
	capturing = true;
}

void fuzz_capture_end(void)
{
	if (!capturing)
		return;
	fflush(cap_stdout);
	fflush(cap_stderr);
	stdout = real_stdout;
	stderr = real_stderr;
	capturing = false;
}

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fuzz_capture_end();
	fprintf(stderr, "\n==== vpnsysopt fuzz: invariant broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n---- stdout (%zu bytes):\n%s\n---- stderr (%zu bytes):\n%s\n----\n",
		fuzz_stdout.len, fuzz_stdout.buf, fuzz_stderr.len,
		fuzz_stderr.buf);
	abort();
}

void fuzz_check_opts(const struct vs_opts *o)
{
	int attr;

	for (attr = 0; attr <= VPNFLOW_A_OPTIONS_MAX; attr++) {
		uint32_t v = o->val[attr];

		if (!(o->present & (1U << attr)))
			continue;
		switch (attr) {
		case VPNFLOW_A_OPTIONS_PRESERVE_VPN_FLOWS:
		case VPNFLOW_A_OPTIONS_RECLASSIFY_VPN:
		case VPNFLOW_A_OPTIONS_TCPMSS_AUTO:
		case VPNFLOW_A_OPTIONS_TCPMSS_TUNNELED_ONLY:
		case VPNFLOW_A_OPTIONS_FAST_RESUME:
		case VPNFLOW_A_OPTIONS_LABEL_VPN_FLOWS:
			if (v > 1)
				fuzz_fail("option %d: flag value %u", attr, v);
			break;
		case VPNFLOW_A_OPTIONS_TCPMSS:
		case VPNFLOW_A_OPTIONS_TCPMSS_MINIMUM:
			if ((v && v < VPNFLOW_TCPMSS_MIN) ||
			    v > VPNFLOW_TCPMSS_MAX)
				fuzz_fail("option %d: MSS %u", attr, v);
			break;
		case VPNFLOW_A_OPTIONS_DF_BIT:
			if (v > VPNFLOW_DF_BIT_SET_DF)
				fuzz_fail("option %d: df-bit %u", attr, v);
			break;
		case VPNFLOW_A_OPTIONS_FRAGMENTATION:
			if (v > VPNFLOW_FRAGMENTATION_BEFORE_ENCRYPTION)
				fuzz_fail("option %d: fragmentation %u", attr, v);
			break;
		case VPNFLOW_A_OPTIONS_PRESERVE_TIMEOUT:
			if (v < 1 || v > VPNFLOW_PRESERVE_TIMEOUT_MAX)
				fuzz_fail("option %d: timeout %u", attr, v);
			break;
		case VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MARK:
		case VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK: {
			/* Always set together: a valid mark under its mask, or both 0. */
			const int mk = VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MARK;
			const int ms = VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK;

			if (!(o->present & (1U << mk)) || !(o->present & (1U << ms)) ||
			    (o->val[mk] & ~o->val[ms]) || (!o->val[mk] != !o->val[ms]))
				fuzz_fail("tcp-state-bypass mark 0x%x/0x%x", o->val[mk], o->val[ms]);
			break;
		}
		default:
			fuzz_fail("option %d set, which no command sets", attr);
		}
	}
	for (attr = 0; attr < (int)o->nif; attr++) {
		const struct vs_if *e = &o->ifs[attr];
		size_t len = strnlen(e->name, sizeof(e->name));

		if (!len || len == sizeof(e->name) || strchr(e->name, '/'))
			fuzz_fail("interface name \"%.16s\"", e->name);
		if (e->df_bit > VPNFLOW_DF_BIT_SET_DF || e->df_bit < VS_IF_REMOVE ||
		    e->fragmentation > VPNFLOW_FRAGMENTATION_BEFORE_ENCRYPTION ||
		    e->fragmentation < VS_IF_REMOVE ||
		    (e->df_bit == VS_IF_NONE && e->fragmentation == VS_IF_NONE))
			fuzz_fail("interface %s: df-bit %d, fragmentation %d",
				  e->name, e->df_bit, e->fragmentation);
	}
}

/* The line of @s starting at @p: its length, and *next the one after. */
static size_t line_len(const char *p, const char **next)
{
	const char *nl = strchr(p, '\n');

	if (!nl) {
		*next = NULL;
		return strlen(p);
	}
	*next = nl + 1;
	return nl - p;
}

void fuzz_check_carets(const char *err)
{
	const char *p = err, *next, *echo = NULL, *head = NULL;
	size_t len, echo_len = 0, c;

	for (; p && *p; p = next) {
		len = line_len(p, &next);
		if (len < 2 || p[0] != ' ' || p[1] != ' ') {
			/* a message line: something must be said */
			if (!len)
				fuzz_fail("an empty line in an error report");
			if (p[0] == ' ')
				fuzz_fail("a line that starts with one space");
			head = p;
			echo = NULL;
			continue;
		}
		if (!echo) {
			/* the command's words, after a message */
			if (!head)
				fuzz_fail("the words of a command, but no message before them");
			echo = p;
			echo_len = len;
			continue;
		}
		/* the caret under them */
		for (c = 2; c < len && p[c] == ' '; c++)
			;
		if (c != len - 1 || p[c] != '^')
			fuzz_fail("a line after the words that is not a caret");
		if (c > echo_len + 1)
			fuzz_fail("the caret is at column %zu, past the words (%zu)",
				  c, echo_len);
		if (c != 2 && c != echo_len + 1 && echo[c - 1] != ' ')
			fuzz_fail("the caret (column %zu) is not at the start of a word",
				  c);
		echo = NULL;
		head = NULL;
	}
	if (echo)
		fuzz_fail("the words of a command without a caret under them");
}

int fuzz_read_file(struct vs *vs, const char *name, const void *data,
		   size_t len)
{
	FILE *f;
	int rc;

	/* "r": fmemopen() does not write to the buffer. */
	f = fmemopen((void *)data, len, "r");
	if (!f) {
		perror("fuzz: fmemopen");
		abort();
	}
	vs->file = name;
	vs->file_name = name;
	rc = vs_file_read(vs, f);
	fclose(f);
	return rc;
}

/* @o as running-config lines, in a malloc()ed string. */
static char *print_opts(const struct vs_opts *o, bool all, size_t *len)
{
	char *txt = NULL;
	FILE *f = open_memstream(&txt, len);

	if (!f) {
		perror("fuzz: open_memstream");
		abort();
	}
	vs_opts_print(f, o, all);
	fclose(f);
	return txt;
}

/* Read @txt back as a configuration file; it must be valid. */
static void read_back(struct vs *r, const char *txt, size_t len)
{
	int rc;

	memset(r, 0, sizeof(*r));
	fuzz_capture_begin();
	rc = fuzz_read_file(r, "running-config", txt, len);
	fuzz_capture_end();
	if (rc || fuzz_stderr.len || fuzz_stdout.len)
		fuzz_fail("running-config output does not read back as a file (exit %d):\n%s",
			  rc, txt);
	if (r->exec != (r->set.present || r->set.nif ? vs_opts_apply : NULL))
		fuzz_fail("running-config output read back is %s:\n%s",
			  r->set.present ? "not applied" : "sent though it sets nothing",
			  txt);
}

void fuzz_round_trip(const struct vs_opts *o)
{
	char *all, *some, *again;
	size_t all_len, some_len, again_len;
	struct vs r;
	int attr;

	all = print_opts(o, true, &all_len);
	read_back(&r, all, all_len);
	if (r.set.present != o->present)
		fuzz_fail("running-config all read back sets options 0x%x, not 0x%x:\n%s",
			  r.set.present, o->present, all);
	for (attr = 0; attr <= VPNFLOW_A_OPTIONS_MAX; attr++)
		if ((o->present & (1U << attr)) &&
		    r.set.val[attr] != o->val[attr])
			fuzz_fail("running-config all read back: option %d is %u, not %u:\n%s",
				  attr, r.set.val[attr], o->val[attr], all);
	if (r.set.nif != o->nif)
		fuzz_fail("running-config all read back: %u interfaces, not %u:\n%s",
			  r.set.nif, o->nif, all);
	for (attr = 0; attr < (int)o->nif; attr++)
		if (strcmp(r.set.ifs[attr].name, o->ifs[attr].name) ||
		    r.set.ifs[attr].df_bit != o->ifs[attr].df_bit ||
		    r.set.ifs[attr].fragmentation != o->ifs[attr].fragmentation)
			fuzz_fail("running-config all read back: interface %s differs:\n%s",
				  o->ifs[attr].name, all);

	some = print_opts(o, false, &some_len);
	if (some_len) {
		read_back(&r, some, some_len);
		again = print_opts(&r.set, false, &again_len);
		if (again_len != some_len || memcmp(again, some, some_len))
			fuzz_fail("running-config read back prints\n%s\nnot\n%s",
				  again, some);
		free(again);
	}
	free(some);
	free(all);
}
