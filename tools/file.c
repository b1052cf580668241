// SPDX-License-Identifier: GPL-2.0
/*
 * vpnsysopt -f FILE: apply a configuration file.
 *
 * The file has one command a line, in the command line's grammar
 * ("connection preserve-vpn-flows", "no sysopt connection tcpmss auto",
 * "timeout preserve-vpn-flows 1:30:00"), so that what "show running-config
 * [all]" prints is a valid file. "#" starts a comment that runs to the end
 * of the line; blank lines are skipped. Only configuration commands may
 * appear (no show, clear, monitor or help).
 *
 * Every line is parsed before anything is sent. A bad line is reported as
 * "FILE:LINE: message", with the same words and caret as on the command
 * line, and then nothing is applied. Otherwise the options the file sets
 * (the last line wins for an option set twice) go to the kernel in one
 * OPTIONS_SET request, which it applies all or nothing. Options the file
 * does not mention keep their values.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vpnsysopt.h"

#define FILE_LINE_MAX	4096	/* characters in a line, without its newline */
#define FILE_ERRORS_MAX	10	/* errors reported before giving up */
#define FILE_SPACE	" \t\r\v\f"	/* \r: files written on Windows */

/*
 * Read a line into @buf, without its newline. Returns its length, or -1
 * at the end of the file; *bad says what is wrong with the line, if
 * anything.
 */
static int file_getline(FILE *f, char *buf, size_t sz, const char **bad)
{
	size_t n = 0;
	int c;

	*bad = NULL;
	while ((c = getc(f)) != EOF && c != '\n') {
		if (!c)
			*bad = "a NUL character (not a text file?)";
		else if (n + 1 < sz)
			buf[n++] = c;
		else if (!*bad)
			*bad = "line too long";
	}
	buf[n] = '\0';
	if (c == EOF && !n && !*bad)
		return -1;
	return n;
}

/* Split @line into words (in place); returns how many. */
static int file_words(char *line, char **words, int max)
{
	char *save, *w;
	int n = 0;

	for (w = strtok_r(line, FILE_SPACE, &save); w && n < max;
	     w = strtok_r(NULL, FILE_SPACE, &save))
		words[n++] = w;
	return n;
}

/* Parse one line's words as a command; returns 0 or VS_EXIT_USAGE. */
static int file_line(struct vs *vs, int argc, char **argv)
{
	vs->argc = argc;
	vs->argv = argv;
	vs->no = false;
	return vs_parse(vs, argc, argv) ? VS_EXIT_USAGE : 0;
}

/*
 * Parse the lines of @f (named vs->file_name in messages) into vs->set and
 * make vs->exec apply it, if it sets anything. Returns 0 or an exit code,
 * having reported every bad line (up to FILE_ERRORS_MAX).
 */
int vs_file_read(struct vs *vs, FILE *f)
{
	static char buf[FILE_LINE_MAX + 1];
	static char *words[FILE_LINE_MAX / 2 + 1];
	unsigned int errors = 0;
	const char *bad;
	char *hash;
	int n, err;

	while (errors < FILE_ERRORS_MAX &&
	       file_getline(f, buf, sizeof(buf), &bad) >= 0) {
		vs->line++;
		if (bad) {
			fprintf(stderr, "%s:%u: %s\n", vs->file_name, vs->line,
				bad);
			errors++;
			continue;
		}
		hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		n = file_words(buf, words, ARRAY_SIZE(words));
		if (n && file_line(vs, n, words))
			errors++;
	}
	err = ferror(f) ? (errno ? errno : EIO) : 0;
	vs->line = 0;
	vs->argc = 0;
	vs->argv = NULL;
	vs->no = false;

	if (err) {
		fprintf(stderr, PROG ": %s: read error: %s\n", vs->file_name,
			strerror(err));
		return VS_EXIT_SYS;
	}
	if (errors >= FILE_ERRORS_MAX) {
		fprintf(stderr, PROG ": %s: too many errors, nothing applied\n",
			vs->file_name);
		return VS_EXIT_USAGE;
	}
	if (errors) {
		fprintf(stderr, PROG ": %s: %u error%s, nothing applied\n",
			vs->file_name, errors, errors == 1 ? "" : "s");
		return VS_EXIT_USAGE;
	}
	/*
	 * A file of comments only, like the one the package installs, sets
	 * nothing: no request, so no module is loaded either.
	 */
	vs->exec = vs->set.present || vs->set.nif ? vs_opts_apply : NULL;
	return 0;
}

/* Open vs->file ("-": standard input) and read it, vs_file_read(). */
int vs_file_parse(struct vs *vs)
{
	FILE *f;
	int rc;

	if (!strcmp(vs->file, "-")) {
		f = stdin;
		vs->file_name = "<stdin>";
	} else {
		f = fopen(vs->file, "re");
		vs->file_name = vs->file;
	}
	if (!f) {
		fprintf(stderr, PROG ": cannot open \"%s\": %s\n", vs->file,
			strerror(errno));
		return VS_EXIT_SYS;
	}
	rc = vs_file_read(vs, f);
	if (f != stdin)
		fclose(f);
	return rc;
}
