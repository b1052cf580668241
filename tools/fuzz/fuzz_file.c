// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: vpnsysopt's configuration-file reader (-f FILE),
 * vs_file_read(), on the input as the file's content (named "fuzz.conf").
 *
 * Beyond "no crash, no leak, no undefined behaviour", it checks:
 *   - nothing is ever printed on stdout;
 *   - exit 0: nothing on stderr, the file is applied (vs->exec), every
 *     value is valid, and the options read back the same through "show
 *     running-config all" and -f (round trip, fuzz.h);
 *   - exit 1: every report is "fuzz.conf:LINE: <message>" for a line of
 *     the file, in order, each with the words and a caret when about a
 *     word, then "N errors, nothing applied" with N the number of reports
 *     (or "too many errors" after 10);
 *   - the parser's per-line state is reset at the end.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define NAME		"fuzz.conf"
#define ERRORS_MAX	10	/* file.c's FILE_ERRORS_MAX */

static unsigned int count_lines(const uint8_t *data, size_t size)
{
	unsigned int n = 0;
	size_t i;

	for (i = 0; i < size; i++)
		n += data[i] == '\n';
	return n + (size && data[size - 1] != '\n');
}

static void check_errors(const char *err, unsigned int lines)
{
	const char *p, *next, *last = NULL;
	unsigned int reports = 0, prev = 0, want;
	char tail[128];

	for (p = err; p && *p; p = next) {
		const char *nl = strchr(p, '\n');
		char *end;
		unsigned long n;

		next = nl ? nl + 1 : NULL;
		if (p[0] == ' ')
			continue;	/* words and caret: fuzz_check_carets() */
		if (strncmp(p, NAME ":", strlen(NAME ":"))) {
			last = p;
			continue;
		}
		if (last)
			fuzz_fail("a report after the summary");
		n = strtoul(p + strlen(NAME ":"), &end, 10);
		if (strncmp(end, ": ", 2) || end[2] == '\n' || !end[2])
			fuzz_fail("a report that is not \"" NAME ":LINE: <message>\"");
		if (!n || n > lines || n <= prev)
			fuzz_fail("a report about line %lu (the file has %u, the one before was %u)",
				  n, lines, prev);
		prev = n;
		reports++;
	}
	if (!last)
		fuzz_fail("errors without a summary");
	if (reports > ERRORS_MAX)
		fuzz_fail("%u reports, more than %d", reports, ERRORS_MAX);
	want = reports;
	if (reports == ERRORS_MAX)
		snprintf(tail, sizeof(tail), PROG ": " NAME ": too many errors, nothing applied\n");
	else
		snprintf(tail, sizeof(tail), PROG ": " NAME ": %u error%s, nothing applied\n",
			 want, want == 1 ? "" : "s");
	if (strcmp(last, tail))
		fuzz_fail("the summary is not \"%.*s\" (%u reports)",
			  (int)strlen(tail) - 1, tail, reports);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vs vs;
	int rc;

	memset(&vs, 0, sizeof(vs));
	fuzz_capture_begin();
	rc = fuzz_read_file(&vs, NAME, data, size);
	fuzz_capture_end();

	if (fuzz_stdout.len)
		fuzz_fail("output on stdout");
	if (vs.line || vs.argc || vs.argv || vs.no)
		fuzz_fail("per-line state left behind (line %u, argc %d, no %d)",
			  vs.line, vs.argc, vs.no);
	if (rc == VS_EXIT_OK) {
		if (fuzz_stderr.len)
			fuzz_fail("success, with something on stderr");
		/* A file that sets nothing (no option, no interface) sends nothing. */
		if (vs.exec != (vs.set.present || vs.set.nif ? vs_opts_apply : NULL))
			fuzz_fail("success, and the file is %s",
				  vs.set.present || vs.set.nif ? "not applied" :
								"sent though it sets nothing");
		fuzz_check_opts(&vs.set);
		fuzz_round_trip(&vs.set);
		return 0;
	}
	if (rc != VS_EXIT_USAGE)
		fuzz_fail("exit code %d", rc);
	if (!fuzz_stderr.len)
		fuzz_fail("an error without a message");
	if (fuzz_stderr.len >= sizeof(fuzz_stderr.buf))
		return 0;	/* too long to check whole */
	if (fuzz_stderr.buf[fuzz_stderr.len - 1] != '\n')
		fuzz_fail("an error message without a newline at its end");
	fuzz_check_carets(fuzz_stderr.buf);
	check_errors(fuzz_stderr.buf, count_lines(data, size));
	return 0;
}
