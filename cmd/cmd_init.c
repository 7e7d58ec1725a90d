/* tokenwarden init: create the database and pin the sealing key. */
#include "cmd/cmd.h"
#include "cmd/msg.h"

#include "core/clock.h"
#include "core/exitcodes.h"
#include "core/seal.h"
#include "store/store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static int
exec_init(int argc, char **argv)
{
	static const struct option longopts[] = {STORE_LONGOPTS, {NULL, 0, NULL, 0}};
	struct store_opts o;
	struct store *s = NULL;
	struct seal_pub pub;
	char *cause = NULL, fpr[SEAL_FPR_MAX];
	int ch, status = TW_EXIT_USAGE;

	store_opts_init(&o);
	optind = 1;
	for (;;) {
		ch = getopt_long(argc, argv, "", longopts, NULL);
		if (ch == -1)
			break;
		if (!store_opts_parse(&o, ch, optarg))
			return cmd_usage(&cmd_init_entry);
	}
	if (optind != argc)
		return cmd_usage(&cmd_init_entry);
	if (seal_load_public(o.public_key, &pub, &cause) != SEAL_OK)
		goto out;
	seal_fingerprint(&pub, fpr);
	if (store_open(o.db, STORE_CREATE, &s, &cause) < 0 ||
	    store_pin_key(s, fpr, clock_now_ms(), &cause) < 0)
		goto out;
	printf("initialised %s; secrets are sealed to %s (%s)\n", o.db, o.public_key, fpr);
	status = TW_EXIT_OK;
out:
	if (cause != NULL)
		errorf("%s", cause);
	free(cause);
	store_close(s);
	return status;
}

const struct cmd_entry cmd_init_entry = {
    .name = "init",
    .args = "[--db FILE] [--public-key FILE]",
    .summary = "create the database and pin the sealing public key",
    .help = STORE_HELP,
    .exec = exec_init,
};
