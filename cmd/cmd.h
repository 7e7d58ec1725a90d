/*
 * The verb table: each cmd_<verb>.c exports one struct cmd_entry, and
 * cmd/main.c finds the verb and calls exec (tmux's cmd_table).
 */
#ifndef TW_CMD_H
#define TW_CMD_H

#include "cmd/args.h"
#include "core/mode.h"

struct cmd_entry {
	const char *name;    /* "token create" */
	const char *args;    /* the words after the options in the synopsis: "[FILE]" */
	const char *summary; /* one line for the verb list */
	/* Declared verbs (cmd/args.h): the table, the global options taken, the
	 * options struct (its size, and its defaults), the number of words
	 * taken (max -1: any), and what --help prints after the options. */
	const struct args_opt *options;
	unsigned globals;
	size_t opts_size;
	void (*init)(void *opts);
	int min_args, max_args;
	const char *notes;
	/* Runs the verb with its options parsed and the words left; returns an
	 * exit status (core/exitcodes.h). */
	int (*run)(void *opts, int argc, char **argv);
};

extern const struct cmd_entry cmd_token_create_entry;
extern const struct cmd_entry cmd_token_verify_entry;
extern const struct cmd_entry cmd_token_delete_entry;
extern const struct cmd_entry cmd_token_import_entry;
extern const struct cmd_entry cmd_token_list_entry;
extern const struct cmd_entry cmd_token_show_entry;
extern const struct cmd_entry cmd_keygen_entry;
extern const struct cmd_entry cmd_init_entry;
extern const struct cmd_entry cmd_secret_reveal_entry;
extern const struct cmd_entry cmd_rekey_entry;
extern const struct cmd_entry cmd_backup_entry;
extern const struct cmd_entry cmd_restore_entry;
extern const struct cmd_entry cmd_audit_verify_entry;
extern const struct cmd_entry cmd_audit_log_entry;
extern const struct cmd_entry cmd_policy_check_entry;
extern const struct cmd_entry cmd_policy_show_entry;
extern const struct cmd_entry cmd_plan_entry;
extern const struct cmd_entry cmd_audit_report_entry;
extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_metrics_entry;
extern const struct cmd_entry cmd_rotate_entry;
extern const struct cmd_entry cmd_revoke_entry;
extern const struct cmd_entry cmd_daemon_entry;
extern const struct cmd_entry cmd_doctor_entry;
extern const struct cmd_entry cmd_completion_entry;

/* Every verb, in the order --help lists them. */
extern const struct cmd_entry *const cmd_table[];
extern const size_t cmd_count;

/* Options shared by every verb that calls the API. */
struct api_opts {
	const char *workspace;
	const char *api;
	const char *credential;      /* name under $CREDENTIALS_DIRECTORY */
	const char *credential_file; /* a 0600 file holding KEY:SECRET */
	/* How many credentials the policy that named credential names; 0: the options named it. */
	size_t credential_ncreds;
	struct mode_opts mode;
};

/*
 * The option table entries of the struct api_opts at member m of a verb's
 * options struct type (the global --timeout, --retries and --rate-limit
 * apply through G_API; --json through G_JSON).
 */
/* m names a member: it cannot take parentheses. NOLINTBEGIN(bugprone-macro-parentheses) */
#define OPTS_API(type, m)                                                                          \
	OPT_STRING('w', "workspace", type, m.workspace, "WS",                                      \
		   "the workspace's username (lower case)"),                                       \
	    OPT_STRING(0, "api", type, m.api, "URL",                                               \
		       "API root (default https://app.mode.com; http only to\nloopback)"),         \
	    OPT_STRING(0, "credential", type, m.credential, "NAME",                                \
		       "admin credential from $CREDENTIALS_DIRECTORY/NAME"),                       \
	    OPT_STRING(                                                                            \
		0, "credential-file", type, m.credential_file, "FILE",                             \
		"admin credential KEY:SECRET from a 0600 file\n(else $TOKENWARDEN_CREDENTIAL)")
/* NOLINTEND(bugprone-macro-parentheses) */

/* Sets the defaults. */
void api_opts_init(struct api_opts *o);
/*
 * Opens a client from o and the global API options, loading the admin
 * credential when need_cred.
 * Returns the client, or NULL after an error message; *status is the exit status then.
 */
struct mode_client *api_client_open(const struct api_opts *o, int need_cred, int *status);
/* Lays the global --timeout, --retries, --rate-limit and --proxy, when given, over mo. */
void api_opts_globals(struct mode_opts *mo);
/* Maps a mode_err to the exit status a script sees. */
int api_exit_status(int mode_err);

/* Where the database and the sealing public key are. */
struct store_opts {
	const char *db;
	const char *public_key;
	int64_t wait_ms; /* for the run lock: 0 not at all, < 0 as long as it takes */
	/* While waiting for the lock: whether to give up (SIGTERM or SIGINT); NULL never. */
	int (*stop)(void *arg);
};

/* Sets the defaults from the environment or the standard paths. */
void store_opts_init(struct store_opts *o);

struct store;
struct seal_pub;

/* What a verb does with the store: store_ctx_open's flags. */
enum store_ctx_flags {
	STORE_CTX_READ = 0,  /* only reads: a read-only store is opened read-only */
	STORE_CTX_LOCK = 1,  /* writes, holding the run lock */
	STORE_CTX_WRITE = 2, /* writes, without the run lock */
};

/*
 * Opens the database at o->db (store_open: STORE_READ for STORE_CTX_READ,
 * else STORE_OPEN, which refuses a store it cannot write) and, when pub is
 * not NULL, loads the public key into *pub and checks it is the pinned one;
 * with STORE_CTX_LOCK, also takes the run lock.  A store opened read-only
 * gets a note saying so.  Returns the store, or NULL after a message with
 * *status set (TW_EXIT_USAGE, or TW_EXIT_LOCKED when another process holds
 * the lock).
 */
struct store *store_ctx_open(const struct store_opts *o, struct seal_pub *pub, int flags,
			     int *status);

/*
 * When no other process holds the run lock, marks rows left pending by an
 * interrupted create as unknown, so reading verbs never show a stale
 * "pending".  The lock is taken only when there is such a row.  Best
 * effort: a busy lock, or a look for such rows that fails (the verb's own
 * reads then say why), is passed over; a settle that fails warns.  Does
 * nothing on a store opened read-only: its rows are shown as stored.
 */
void store_ctx_settle(struct store *s);

struct token_row;

/*
 * Finds the token of workspace ws that word names: its Mode id, else its
 * Mode-side name.  Returns 0 with *out (free with tokens_free(out, 1)), 1
 * when the inventory has none (word is then a well-formed id or name), or
 * -1 after a message with *status set: TW_EXIT_USAGE for a word that can be
 * neither or a name several tokens share (their ids listed),
 * TW_EXIT_FAILURE when the store cannot be read.
 */
int store_ctx_find_token(struct store *s, const char *ws, const char *word, struct token_row **out,
			 int *status);

/*
 * The Mode id of the token of ws that word names: found as
 * store_ctx_find_token does (*row set), else word itself when it is an id,
 * for a token the inventory never knew.  Returns the id (borrowed from
 * *row or word), or NULL after a message with *status set (TW_EXIT_FAILURE
 * for a token that has no id: its create was never answered).
 */
const char *store_ctx_token_id(struct store *s, const char *ws, const char *word,
			       struct token_row **row, int *status);

/* Notes the history's head on stderr, so it can be kept elsewhere (a journal, a ticket). */
void store_ctx_note_head(struct store *s);

/*
 * store_ctx_note_head when this connection wrote anything: a command refused
 * before it recorded anything has no new head to keep.
 */
void store_ctx_note_written(struct store *s);

#endif
