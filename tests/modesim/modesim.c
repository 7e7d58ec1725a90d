/*
 * modesim: a local HTTP simulator of Mode's signature-token API, for
 * tokenwarden's end-to-end tests.  This file reads the options, starts the
 * server on 127.0.0.1, publishes the port and runs until SIGTERM or SIGINT.
 * See README.md beside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/exitcodes.h"
#include "core/xalloc.h"
#include "sim_config.h"
#include "sim_http.h"
#include "sim_state.h"

static const char usage_text[] =
    "usage: modesim [--port N] [--port-file FILE] [--workspace NAME:KEY:SECRET]...\n"
    "               [--config FILE] [--rate-limit N/SECONDS] [--now ISO8601]\n"
    "               [--verify-budget token|admin] [--seed N] [--faults JSON]\n";

static const struct option long_options[] = {
    {"port", required_argument, NULL, 'p'},
    {"port-file", required_argument, NULL, 'P'},
    {"workspace", required_argument, NULL, 'w'},
    {"config", required_argument, NULL, 'c'},
    {"rate-limit", required_argument, NULL, 'r'},
    {"verify-budget", required_argument, NULL, 'v'},
    {"now", required_argument, NULL, 'n'},
    {"seed", required_argument, NULL, 's'},
    {"faults", required_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Applies one option; returns 0, 1 for --help, or -1 with *cause. */
static int
apply_option(struct sim_config *cfg, int opt, const char *arg, char **cause)
{
	switch (opt) {
	case 'p':
		return sim_config_port(cfg, arg, cause);
	case 'P':
		free(cfg->port_file);
		cfg->port_file = xstrdup(arg);
		return 0;
	case 'w':
		return sim_config_workspace_arg(cfg, arg, cause);
	case 'c':
		return sim_config_file(cfg, arg, cause);
	case 'r':
		return sim_config_rate(cfg, arg, cause);
	case 'v':
		return sim_config_verify_budget(cfg, arg, cause);
	case 'n':
		return sim_config_now(cfg, arg, cause);
	case 's':
		return sim_config_seed(cfg, arg, cause);
	case 'f':
		return sim_faults_parse_text(arg, &cfg->faults, cause);
	case 'h':
		return 1;
	default:
		*cause = xstrdup("unknown option");
		return -1;
	}
}

/* Reads the options in order (later ones win); returns 0, 1 for --help, or -1 with *cause. */
static int
parse_args(struct sim_config *cfg, int argc, char **argv, char **cause)
{
	int opt, rc;

	opterr = 0;
	for (;;) {
		opt = getopt_long(argc, argv, "", long_options, NULL);
		if (opt == -1)
			break;
		if (opt == '?' || opt == ':') {
			/* optopt is the option's letter when only its argument is missing. */
			*cause = optopt != 0
				     ? xasprintf("option %s needs an argument", argv[optind - 1])
				     : xasprintf("bad option %s", argv[optind - 1]);
			return -1;
		}
		rc = apply_option(cfg, opt, optarg, cause);
		if (rc != 0)
			return rc;
	}
	if (optind < argc) {
		*cause = xasprintf("unexpected argument %s", argv[optind]);
		return -1;
	}
	if (cfg->nws == 0) {
		*cause = xstrdup("no workspace: give --workspace or a config file");
		return -1;
	}
	return 0;
}

/* Writes the port to path through a temporary file and a rename, so readers never see half. */
static int
write_port_file(const char *path, uint16_t port, char **cause)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	char line[16];
	int fd = -1, n, rc = -1;

	n = snprintf(line, sizeof line, "%u\n", (unsigned int)port);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd) < 0) {
		*cause = xasprintf("%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		*cause = xasprintf("%s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

int
main(int argc, char **argv)
{
	struct sim_config cfg;
	struct sim_state *st = NULL;
	struct sim_http *http = NULL;
	struct rlimit no_core = {0, 0};
	char *cause = NULL;
	sigset_t stop;
	uint16_t port;
	int sig, rc, status = TW_EXIT_FAILURE;

	setrlimit(RLIMIT_CORE, &no_core);
	signal(SIGPIPE, SIG_IGN);
	sim_config_init(&cfg);
	if (sodium_init() < 0) {
		fputs("modesim: cannot initialise libsodium\n", stderr);
		goto out;
	}
	rc = parse_args(&cfg, argc, argv, &cause);
	if (rc != 0) {
		if (rc > 0) {
			fputs(usage_text, stdout);
			status = TW_EXIT_OK;
		} else {
			fprintf(stderr, "modesim: %s\n%s", cause, usage_text);
			status = TW_EXIT_USAGE;
		}
		goto out;
	}
	/* Blocked before the server's threads start: they inherit the mask, sigwait gets them. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	st = sim_state_new(&cfg);
	http = sim_http_start(st, cfg.port, &port, &cause);
	if (http == NULL ||
	    (cfg.port_file != NULL && write_port_file(cfg.port_file, port, &cause) < 0)) {
		fprintf(stderr, "modesim: %s\n", cause);
		goto out;
	}
	fprintf(stderr, "modesim: listening on http://127.0.0.1:%u\n", (unsigned int)port);
	sigwait(&stop, &sig);
	fprintf(stderr, "modesim: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	status = TW_EXIT_OK;
out:
	if (st != NULL)
		sim_state_stop(st);
	sim_http_stop(http);
	sim_state_free(st);
	sim_config_free(&cfg);
	free(cause);
	return status;
}
