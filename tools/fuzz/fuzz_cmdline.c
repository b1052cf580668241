// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: vpnsysopt's command line, up to (not including) the
 * netlink request: vs_cmdline(), what main() runs before netlink.
 *
 * The input is split into the words of argv (after argv[0] "vpnsysopt"):
 * runs of blanks (space, \t, \n, \r, \v, \f) separate words, and each NUL
 * ends one, so that two NULs make an empty word. Each word is a malloc()
 * of its own, for AddressSanitizer to see reads past its end. -f FILE
 * takes a file name only (the file harness reads files), so no input can
 * make the harness open a file or a socket.
 *
 * Beyond "no crash, no leak, no undefined behaviour", it checks that the
 * parse yields either a request or an error text:
 *   - success: nothing on stderr; a command to run with nothing on
 *     stdout, or -f FILE, or -h/-V/help that printed to stdout and run
 *     nothing;
 *     a change sets exactly one option, to a valid value, that reads back
 *     the same through "show running-config all" and -f (fuzz.h);
 *   - exit 1: nothing on stdout; stderr has "vpnsysopt: <message>" (or the
 *     usage), with the command's words and a caret under one of them.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define BLANKS	" \t\n\r\v\f"

static void check(const struct vs *vs, int rc, int argc)
{
	const char *err = fuzz_stderr.buf;

	if (rc > 0) {
		if (rc != VS_EXIT_USAGE)
			fuzz_fail("exit code %d from parsing alone", rc);
		if (fuzz_stdout.len)
			fuzz_fail("an error, and output on stdout");
		if (!fuzz_stderr.len)
			fuzz_fail("an error without a message");
		if (fuzz_stderr.len >= sizeof(fuzz_stderr.buf))
			return;	/* too long to check whole */
		if (err[fuzz_stderr.len - 1] != '\n')
			fuzz_fail("an error message without a newline at its end");
		if (!strncmp(err, "Usage: ", 7))
			return;
		if (strncmp(err, PROG ": ", strlen(PROG ": ")) ||
		    err[strlen(PROG ": ")] == '\n' ||
		    err[strlen(PROG ": ")] == '\0')
			fuzz_fail("an error that does not start with \"" PROG ": <message>\"");
		fuzz_check_carets(err);
		return;
	}

	if (fuzz_stderr.len)
		fuzz_fail("success, with something on stderr");
	if (!rc) {
		/* -h or -V: printed, and nothing more to do */
		if (!fuzz_stdout.len || vs->exec || vs->set.present)
			fuzz_fail("exit 0 before netlink, yet not -h or -V");
		return;
	}
	if (rc != -1)
		fuzz_fail("vs_cmdline() returned %d", rc);
	if (vs->file) {
		if (vs->exec || fuzz_stdout.len || vs->set.present)
			fuzz_fail("-f FILE, and something else was done");
		if (optind != argc)
			fuzz_fail("-f FILE, and words after the options");
		return;
	}
	if (!vs->exec) {
		/* help */
		if (!fuzz_stdout.len)
			fuzz_fail("nothing to run, and nothing printed");
		return;
	}
	if (fuzz_stdout.len)
		fuzz_fail("a command to run, and output on stdout while parsing");
	if (vs->exec != vs_opts_apply) {
		if (vs->set.present || vs->set.nif)
			fuzz_fail("options set (0x%x, %u interfaces) by a command that does not apply them",
				  vs->set.present, vs->set.nif);
		return;
	}
	/* An interface's setting: that alone. */
	if (vs->set.nif) {
		if (vs->set.present || vs->set.nif != 1)
			fuzz_fail("an interface command that sets options 0x%x and %u interfaces",
				  vs->set.present, vs->set.nif);
		fuzz_check_opts(&vs->set);
		fuzz_round_trip(&vs->set);
		return;
	}
	/* One option per command; tcp-state-bypass's mark and mask together. */
	if (__builtin_popcount(vs->set.present) != 1 &&
	    vs->set.present != (1U << VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MARK |
				1U << VPNFLOW_A_OPTIONS_TCP_STATE_BYPASS_MASK))
		fuzz_fail("a command that sets options 0x%x, not one",
			  vs->set.present);
	fuzz_check_opts(&vs->set);
	fuzz_round_trip(&vs->set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char **argv = malloc((size + 2) * sizeof(*argv));
	struct vs vs;
	size_t i, start = 0;
	int argc = 0, rc;

	if (!argv)
		return 0;
	argv[argc++] = strdup(PROG);
	for (i = 0; i <= size; i++) {
		bool nul = i < size && !data[i];
		bool end = i == size || nul ||
			   strchr(BLANKS, data[i]);

		if (!end)
			continue;
		if (i > start || nul) {
			argv[argc] = malloc(i - start + 1);
			memcpy(argv[argc], data + start, i - start);
			argv[argc][i - start] = '\0';
			argc++;
		}
		start = i + 1;
	}
	argv[argc] = NULL;

	memset(&vs, 0, sizeof(vs));
	optind = 0;		/* glibc: start over, "+" included */
	fuzz_capture_begin();
	rc = vs_cmdline(&vs, argc, argv);
	fuzz_capture_end();
	check(&vs, rc, argc);

	for (i = 0; i < (size_t)argc; i++)
		free(argv[i]);
	free(argv);
	return 0;
}
