/*
 * The Mode admin credential (API key and secret) and other secret files.
 * Sources, in order: a file named on the command line, systemd's
 * $CREDENTIALS_DIRECTORY/<name> (preferred: the secret never enters the
 * environment), then TOKENWARDEN_CREDENTIAL_<NAME> (the credential's own
 * variable), then TOKENWARDEN_CREDENTIAL, which stands only for the one
 * credential an invocation names.  Never argv.
 * Files must be regular, owned by the user or root, and carry no group or
 * other permissions (as ssh insists for its keys).
 */
#ifndef TW_CRED_H
#define TW_CRED_H

#include <stddef.h>
#include <sys/stat.h>

#define CRED_ENV "TOKENWARDEN_CREDENTIAL"
/* A named credential's own variable is this prefix and its name: see cred_env_name. */
#define CRED_ENV_PREFIX CRED_ENV "_"

struct cred {
	char *key;    /* the API key (basic-auth user name); in secret memory with secret */
	char *secret; /* the API secret */
	char *origin; /* where it came from, for messages; never the value */
};

/*
 * Moves TOKENWARDEN_CREDENTIAL and every TOKENWARDEN_CREDENTIAL_<NAME> out of
 * the environment into secret memory and wipes the originals, so no child
 * process inherits them.  Call once at start; a later call replaces the
 * stash (and empties it of the variables no longer set).
 */
void cred_stash_env(void);

/*
 * The variable that holds credential name: TOKENWARDEN_CREDENTIAL_ and the
 * name upper-cased, with every character but a letter or digit ('-', '.')
 * made '_' (acme-admin: TOKENWARDEN_CREDENTIAL_ACME_ADMIN).  Names that
 * differ only there share a variable; the policy loader refuses two such.
 * Returns an allocated string.
 */
char *cred_env_name(const char *name);

/*
 * Whether a file with status st may hold what tokenwarden trusts (a
 * secret, a credential, the policy, the store): it belongs to the user
 * tokenwarden runs as, or to root.  Anyone else could change it.
 */
int cred_owner_ok(const struct stat *st);

/*
 * Opens path for reading, a file tokenwarden trusts (a credential, a key,
 * the policy), without waiting on what is there: a FIFO or a device put at
 * its path opens at once, for the caller's fstat to refuse, where a
 * blocking open would hang the run beyond any signal.  The descriptor
 * blocks again, as any, once open.  Returns it, or -1 with errno.
 */
int cred_open_file(const char *path);

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
 * else from name's own stashed variable (cred_env_name), else from the
 * stashed TOKENWARDEN_CREDENTIAL: for no name, or for a name from a policy
 * that names no other credential.  ncreds is how many credentials the
 * policy that gave name names, 0 when name came from the command line;
 * above 1, TOKENWARDEN_CREDENTIAL cannot say which of them it is and is
 * not used.  The value is KEY:SECRET on one line.  Returns 0 and an
 * allocated *out (free with cred_free), or -1 with *cause naming where it
 * looked and the fix that works for from.
 */
int cred_load(const char *name, const char *file, enum cred_from from, size_t ncreds,
	      struct cred **out, char **cause);
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
 * Reads all of fd (at most max bytes, none of them NUL: every caller reads
 * text) into secret memory.  Returns 0 with
 * *out and *len, or -1 with *cause.
 */
int cred_read_fd(int fd, const char *what, size_t max, char **out, size_t *len, char **cause);

#endif
