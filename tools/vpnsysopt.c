// SPDX-License-Identifier: GPL-2.0
/*
 * vpnsysopt: the ASA's "sysopt connection" and related commands for the
 * vpnflow_preserve kernel module, over its generic netlink family.
 *
 *   vpnsysopt [-n NETNS] [-j] [-p] [-V] [-h] [no] [sysopt] COMMAND
 *   vpnsysopt [-n NETNS] -f FILE
 *
 * This file has main(), the global options, the top of the command
 * grammar and the mapping of failures to messages and exit codes. Each
 * area of commands lives in its own file (options.c, counters.c,
 * tunnels.c, flows.c) and hooks into the keyword tables below; file.c
 * reads configuration files (-f) through the same grammar.
 *
 * Copyright (C) 2026 The vpnflow authors.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kw.h"
#include "vpnsysopt.h"

#ifndef VPNSYSOPT_VERSION
#define VPNSYSOPT_VERSION	"unknown"
#endif

#define NETNS_RUN_DIR		"/run/netns"
#define MODULE_NAME		"vpnflow_preserve"

static int vs_errno_exit(int err)
{
	return err == EPERM || err == EACCES ? VS_EXIT_PERM : VS_EXIT_SYS;
}

/* Report a failed nl_talk() about @what; returns the exit code. */
static int vs_nl_error(struct vs *vs, int err, const char *what)
{
	const struct nl_err *e = &vs->nl.err;

	if (!e->kernel) {
		fprintf(stderr, PROG ": %s: %s\n", what, strerror(err));
		return vs_errno_exit(err);
	}

	fprintf(stderr, "Error: %s\n", e->msg[0] ? e->msg : strerror(err));
	switch (err) {
	case EPERM:
	case EACCES:
		fprintf(stderr, PROG ": permission denied: %s needs %s\n",
			what, "CAP_NET_ADMIN over the network namespace");
		return VS_EXIT_PERM;
	case EOPNOTSUPP:
		fprintf(stderr, PROG ": %s: not supported by the loaded "
			MODULE_NAME " module\n", what);
		break;
	}
	return VS_EXIT_KERNEL;
}

/*
 * Send a request to the vpnflow family and run @cb on the replies. Returns
 * 0 or an exit code, having said why.
 */
int vs_talk(struct vs *vs, struct nlmsghdr *req, mnl_cb_t cb, void *data,
	    const char *what)
{
	const struct genlmsghdr *genl = mnl_nlmsg_get_payload(req);
	int err;

	if (!nl_family_has_op(&vs->nl, genl->cmd)) {
		fprintf(stderr, PROG ": %s: not supported by the loaded "
			MODULE_NAME " module (older than " PROG "?)\n", what);
		return VS_EXIT_KERNEL;
	}
	err = nl_talk(&vs->nl, req, cb, data);
	if (err)
		return vs_nl_error(vs, -err, what);
	if (vs->nl.err.msg[0])
		fprintf(stderr, "Warning: %s\n", vs->nl.err.msg);
	if (vs->nl.err.intr)
		fprintf(stderr, "Warning: %s: dump interrupted, output may be inconsistent\n",
			what);
	return 0;
}

/* Like ip -n: enter the network namespace before opening the socket. */
static int vs_netns(const char *name)
{
	char path[PATH_MAX];
	int fd, err;

	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", name);

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		fprintf(stderr, PROG ": cannot open network namespace \"%s\": %s\n",
			name, strerror(err));
		return vs_errno_exit(err);
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		err = errno;
		fprintf(stderr, PROG ": cannot enter network namespace \"%s\": %s\n",
			name, strerror(err));
		close(fd);
		return vs_errno_exit(err);
	}
	close(fd);
	return 0;
}

/*
 * Load the module for a command that changes options, as iptables loads a
 * table's module: reads never do (the family has no module alias), so
 * looking at a gateway never changes how it forwards (a loaded module
 * applies the ASA's default tcpmss 1380 in namespaces with tunnels).
 * Returns whether modprobe succeeded; modprobe says why it did not.
 */
static bool vs_modprobe(void)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return false;
	if (!pid) {
		execlp("modprobe", "modprobe", MODULE_NAME, (char *)NULL);
		execl("/sbin/modprobe", "modprobe", MODULE_NAME, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Open the socket, find the family and run the parsed command. */
static int vs_run(struct vs *vs)
{
	int rc;

	if (vs->netns) {
		rc = vs_netns(vs->netns);
		if (rc)
			return rc;
	}
	/* -f of a file that sets nothing: the namespace exists, done. */
	if (!vs->exec)
		return 0;

	rc = nl_open(&vs->nl);
	if (rc) {
		fprintf(stderr, PROG ": cannot open a generic netlink socket: %s\n",
			strerror(-rc));
		return vs_errno_exit(-rc);
	}

	rc = nl_family_get(&vs->nl, VPNFLOW_FAMILY_NAME);
	if (rc == -ENOENT && vs->nl.err.kernel && vs->exec == vs_opts_apply &&
	    vs_modprobe())
		rc = nl_family_get(&vs->nl, VPNFLOW_FAMILY_NAME);
	if (rc == -ENOENT && vs->nl.err.kernel) {
		fprintf(stderr, PROG ": %s module not loaded (try: modprobe %s)\n",
			MODULE_NAME, MODULE_NAME);
		rc = VS_EXIT_NOMOD;
	} else if (rc) {
		rc = vs_nl_error(vs, -rc, "looking up the \""
				 VPNFLOW_FAMILY_NAME "\" netlink family");
	} else {
		rc = vs->exec(vs);
	}
	nl_close(&vs->nl);
	return rc;
}

/* The grammar's top: [no] [sysopt] COMMAND. */

static int do_help(struct vs *vs, int argc, char **argv);
static int do_no(struct vs *vs, int argc, char **argv);
static int do_sysopt(struct vs *vs, int argc, char **argv);

/* The ASA's long form: show asp table vpn-context. */
static const struct kw asp_table_kw[] = {
	{ .name = "vpn-context", .fn = do_show_vpn_context,
	  .flags = KW_OPTS, .sub = vpn_context_kw },
	KW_END
};

static const struct kw asp_kw[] = {
	{ .name = "table", .sub = asp_table_kw },
	KW_END
};

static const struct kw show_kw[] = {
	{ .name = "running-config", .fn = do_show_running_config,
	  .flags = KW_OPTS, .sub = running_config_kw },
	{ .name = "counters", .fn = do_show_counters },
	{ .name = "vpn-context", .fn = do_show_vpn_context,
	  .flags = KW_OPTS, .sub = vpn_context_kw },
	{ .name = "conn", .fn = do_show_conn,
	  .flags = KW_OPTS, .sub = conn_kw },
	{ .name = "asp", .sub = asp_kw },
	KW_END
};

static const struct kw clear_kw[] = {
	{ .name = "counters", .fn = do_clear_counters },
	KW_END
};

/*
 * The first word. "no" goes on with the rest of the table from "sysopt",
 * and "sysopt" with the rest from the first command, so that a command is
 * listed once and "s" stays ambiguous, as on the ASA.
 */
enum { TOP_NO, TOP_SYSOPT, TOP_COMMANDS };

static const struct kw top_kw[] = {
	[TOP_NO]	= { .name = "no", .fn = do_no },
	[TOP_SYSOPT]	= { .name = "sysopt", .fn = do_sysopt, .flags = KW_NO },
	[TOP_COMMANDS]	= { .name = "connection", .flags = KW_NO, .sub = connection_kw },
	{ .name = "timeout", .flags = KW_NO, .sub = timeout_kw },
	{ .name = "crypto", .flags = KW_NO, .sub = crypto_kw },
	{ .name = "show", .flags = KW_NOFILE, .sub = show_kw },
	{ .name = "clear", .flags = KW_NOFILE, .sub = clear_kw },
	{ .name = "monitor", .fn = do_monitor,
	  .flags = KW_NOFILE | KW_OPTS, .sub = monitor_kw },
	{ .name = "help", .fn = do_help, .flags = KW_NOFILE },
	KW_END
};

/* The commands are those of the keyword tables, so that -h lists them all. */
void vs_usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [-n NETNS] [-j [-p]] [no] [sysopt] COMMAND\n"
		"       " PROG " [-n NETNS] -f FILE\n"
		"       " PROG " -V | -h\n"
		"\n"
		"Commands (keywords may be abbreviated while unambiguous):\n");
	kw_help(f, &top_kw[TOP_COMMANDS]);
	fprintf(f,
		"\n"
		"Options:\n"
		"  -n, --netns NETNS  act in network namespace NETNS (see ip-netns(8))\n"
		"  -f, --file FILE    apply the configuration commands in FILE (\"-\":\n"
		"                     standard input) together, all or nothing\n"
		"  -j, --json         JSON output\n"
		"  -p, --pretty       indented JSON output (implies -j)\n"
		"  -V, --version      print the version and exit\n"
		"  -h, --help         print this help and exit\n"
		"\n"
		"Exit codes: 0 success, 1 syntax error, 2 rejected by the kernel,\n"
		"3 module not loaded, 4 permission denied, 5 other system error.\n"
		"See vpnsysopt(8).\n");
}

static int do_no(struct vs *vs, int argc, char **argv)
{
	vs->no = true;
	return kw_dispatch(vs, &top_kw[TOP_SYSOPT], argc, argv, NULL);
}

/* "sysopt" is optional, so that running-config lines are commands. */
static int do_sysopt(struct vs *vs, int argc, char **argv)
{
	return kw_dispatch(vs, &top_kw[TOP_COMMANDS], argc, argv, NULL);
}

static int do_help(struct vs *vs, int argc, char **argv)
{
	int rc = kw_end(vs, argc, argv);

	if (!rc)
		vs_usage(stdout);
	return rc;
}

/*
 * Parse one command (the words of the command line or of a line of a
 * file): fills in vs->exec and, for changes, vs->set. Returns 0 or an exit
 * code, having said what is wrong.
 */
int vs_parse(struct vs *vs, int argc, char **argv)
{
	return kw_dispatch(vs, top_kw, argc, argv, NULL);
}

/* Global options; returns -1 to go on, else an exit code. */
static int vs_options(struct vs *vs, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "netns",	required_argument,	NULL, 'n' },
		{ "file",	required_argument,	NULL, 'f' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "pretty",	no_argument,		NULL, 'p' },
		{ "version",	no_argument,		NULL, 'V' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "+n:f:jpVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!*optarg || !strcmp(optarg, ".") ||
			    !strcmp(optarg, "..") || strlen(optarg) >= NAME_MAX) {
				fprintf(stderr, PROG ": invalid network namespace name \"%s\"\n",
					optarg);
				return VS_EXIT_USAGE;
			}
			vs->netns = optarg;
			break;
		case 'f':
			vs->file = optarg;
			break;
		case 'p':
			vs->pretty = true;
			/* fall through */
		case 'j':
			vs->json = true;
			break;
		case 'V':
			printf(PROG " " VPNSYSOPT_VERSION "\n");
			return VS_EXIT_OK;
		case 'h':
			vs_usage(stdout);
			return VS_EXIT_OK;
		default:
			fprintf(stderr, "Try '" PROG " -h' for more information.\n");
			return VS_EXIT_USAGE;
		}
	}
	return -1;
}

/*
 * Everything before netlink: the global options, then the command's words
 * or, with -f, only the checks on the command line (the caller reads the
 * file, vs_file_parse()). Prints nothing to standard output but -h, -V and
 * help. Returns -1 to go on: read vs->file if set, then run vs->exec if
 * set (help sets none); else the exit code (-h, -V: 0), having said what
 * is wrong.
 */
int vs_cmdline(struct vs *vs, int argc, char **argv)
{
	int rc;

	rc = vs_options(vs, argc, argv);
	if (rc >= 0)
		return rc;
	if (vs->file && optind < argc) {
		fprintf(stderr, PROG ": -f takes no command (\"%s\"): the commands are in the file\n",
			argv[optind]);
		return VS_EXIT_USAGE;
	}
	if (vs->file)
		return -1;
	vs->argc = argc - optind;
	vs->argv = argv + optind;
	if (!vs->argc) {
		vs_usage(stderr);
		return VS_EXIT_USAGE;
	}
	rc = vs_parse(vs, vs->argc, vs->argv);
	return rc ? rc : -1;
}

/* The fuzz harnesses (fuzz/) have their own main(). */
#ifndef VPNSYSOPT_NO_MAIN
int main(int argc, char **argv)
{
	static struct vs vs;
	int rc;

	rc = vs_cmdline(&vs, argc, argv);
	if (rc < 0)
		rc = vs.file ? vs_file_parse(&vs) : 0;
	if (!rc && (vs.exec || vs.file))
		rc = vs_run(&vs);

	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, PROG ": write error: %s\n", strerror(errno));
		if (!rc)
			rc = VS_EXIT_SYS;
	}
	return rc;
}
#endif
