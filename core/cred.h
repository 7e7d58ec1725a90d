/*
 * The Mode admin credential (API key and secret) and other secret files.
 * Sources, in order: a file named on the command line, systemd's
 * $CREDENTIALS_DIRECTORY/<name>, then TOKENWARDEN_CREDENTIAL.  Never argv.
 * Files must be regular, owned by the user or root, and carry no group or
 * other permissions (as ssh insists for its keys).
 */
#ifndef TW_CRED_H
#define TW_CRED_H

#include <stddef.h>

#define CRED_ENV "TOKENWARDEN_CREDENTIAL"

struct cred {
	char *key;    /* the API key (basic-auth user name); in secret memory with secret */
	char *secret; /* the API secret */
	char *origin; /* where it came from, for messages; never the value */
};

/*
 * Moves TOKENWARDEN_CREDENTIAL out of the environment into secret memory and
 * wipes the original, so no child process inherits it.  Call once at start;
 * a later call replaces the stash (and empties it when the variable is unset).
 */
void cred_stash_env(void);

/*
 * Where the caller got the credential's name, which decides the advice its
 * messages give: a verb's own options can name a file, a policy cannot.
 */
enum cred_from {
	CRED_FROM_OPTIONS, /* --credential NAME or --credential-file FILE */
	CRED_FROM_POLICY,  /* a workspace's `credential:` (rotate, daemon, revoke) */
};

/*
 * Loads the credential from file (when not NULL), else from
 * $CREDENTIALS_DIRECTORY/name (when name is not NULL and the variable is set),
 * else from the stashed environment variable.  The value is KEY:SECRET on
 * one line.  Returns 0 and an allocated *out (free with cred_free), or -1
 * with *cause naming where it looked and the fix that works for from.
 */
int cred_load(const char *name, const char *file, enum cred_from from, struct cred **out,
	      char **cause);
/*
 * Parses text, a credential's value (KEY:SECRET on one line, a final line
 * end allowed), that came from origin (for messages; never the value).
 * Returns 0 and an allocated *out (free with cred_free), or -1 with *cause.
 */
int cred_parse(const char *text, const char *origin, struct cred **out, char **cause);
/* Wipes and frees c; NULL is allowed. */
void cred_free(struct cred *c);

/* A signature token's own credential, as `token verify` reads it; all in secret memory. */
struct cred_token {
	char *id; /* NULL when the input named no token */
	char *key;
	char *secret;
};

/*
 * Parses text (what names it in messages; modified) as a token's credential,
 * blanks before it skipped: the JSON `token create --json --show-secret`
 * prints, one line TOKEN:ACCESS_KEY:ACCESS_SECRET, or, when named (the
 * caller knows the token), ACCESS_KEY:ACCESS_SECRET.  Returns 0 with *tc
 * filled (free with cred_token_free), or -1 with *cause.
 */
int cred_token_parse(char *text, const char *what, int named, struct cred_token *tc, char **cause);
/* Wipes and frees what tc holds, and empties it. */
void cred_token_free(struct cred_token *tc);

/*
 * Reads a whole secret file of at most max bytes into secret memory after
 * the permission checks above.  Returns 0 with *out (free with xsecret_free)
 * and *len, or -1 with *cause.
 */
int cred_read_file(const char *path, size_t max, char **out, size_t *len, char **cause);
/*
 * Reads all of fd (at most max bytes) into secret memory.  Returns 0 with
 * *out and *len, or -1 with *cause.
 */
int cred_read_fd(int fd, const char *what, size_t max, char **out, size_t *len, char **cause);

#endif
