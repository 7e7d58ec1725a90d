/* Loading the admin credential, token credentials and secret files without leaking them. */
#include "core/cred.h"

#include "core/jsonx.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CRED_MAX 4096

/* A stashed TOKENWARDEN_CREDENTIAL_<NAME>: its name, and its value in secret memory. */
struct stashed_var {
	char *name;
	char *value;
};

extern char **environ;

static char *stashed;               /* TOKENWARDEN_CREDENTIAL, in secret memory */
static struct stashed_var *by_name; /* the TOKENWARDEN_CREDENTIAL_<NAME> */
static size_t nby_name;

static void
stash_clear(void)
{
	xsecret_free(stashed);
	stashed = NULL;
	for (size_t i = 0; i < nby_name; i++) {
		free(by_name[i].name);
		xsecret_free(by_name[i].value);
	}
	free(by_name);
	by_name = NULL;
	nby_name = 0;
}

/* Wipes variable var's value where the environment holds it, and removes it. */
static void
scrub(const char *var)
{
	char *v = getenv(var);

	if (v != NULL)
		sodium_memzero(v, strlen(v));
	unsetenv(var);
}

void
cred_stash_env(void)
{
	const size_t plen = strlen(CRED_ENV_PREFIX);
	char *v = getenv(CRED_ENV);
	size_t n = 0;

	stash_clear();
	if (v != NULL)
		stashed = xsecret_strdup(v);
	for (char **e = environ; e != NULL && *e != NULL; e++)
		n += strncmp(*e, CRED_ENV_PREFIX, plen) == 0;
	by_name = xcalloc(n + 1, sizeof *by_name);
	for (char **e = environ; e != NULL && *e != NULL && nby_name < n; e++) {
		const char *eq = strchr(*e, '=');

		if (strncmp(*e, CRED_ENV_PREFIX, plen) != 0 || eq == NULL)
			continue;
		by_name[nby_name].name = xstrndup(*e, (size_t)(eq - *e));
		by_name[nby_name].value = xsecret_strdup(eq + 1);
		nby_name++;
	}
	/* Removed only now: unsetenv moves the entries of environ walked above. */
	for (size_t i = 0; i < nby_name; i++)
		scrub(by_name[i].name);
	scrub(CRED_ENV);
}

char *
cred_env_name(const char *name)
{
	char *var = xasprintf("%s%s", CRED_ENV_PREFIX, name);

	/* ASCII only, whatever the locale: a shell's export takes no other name. */
	for (char *c = var + strlen(CRED_ENV_PREFIX); *c != '\0'; c++) {
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
		else if (!(*c >= 'A' && *c <= 'Z') && !(*c >= '0' && *c <= '9'))
			*c = '_';
	}
	return var;
}

/* The stashed value of variable var, or NULL. */
static const char *
stashed_named(const char *var)
{
	for (size_t i = 0; i < nby_name; i++)
		if (strcmp(by_name[i].name, var) == 0)
			return by_name[i].value;
	return NULL;
}

int
cred_owner_ok(const struct stat *st)
{
	return st->st_uid == geteuid() || st->st_uid == 0;
}

int
cred_read_fd(int fd, const char *what, size_t max, char **out, size_t *len, char **cause)
{
	char *buf = xsecret_alloc(max + 1);
	size_t n = 0;

	for (;;) {
		ssize_t r = read(fd, buf + n, max + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*cause = xasprintf("%s: cannot read: %s", what, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			*cause = xasprintf("%s: larger than %zu bytes; is it the right file?", what,
					   max);
			goto fail;
		}
	}
	/* A NUL would end the text early, and a secret cut short fails later and elsewhere. */
	if (memchr(buf, '\0', n) != NULL) {
		*cause = xasprintf("%s: holds a NUL byte at offset %zu; is it the right file?",
				   what, (size_t)((char *)memchr(buf, '\0', n) - buf));
		goto fail;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
fail:
	xsecret_free(buf);
	return -1;
}

int
cred_open_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), flags, e;

	if (fd < 0)
		return -1;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int
cred_read_file(const char *path, size_t max, char **out, size_t *len, char **cause)
{
	struct stat st;
	int fd, rc = -1;

	fd = cred_open_file(path);
	if (fd < 0) {
		*cause = xasprintf("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		*cause = xasprintf("%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		*cause = xasprintf("%s: not a regular file", path);
		goto out;
	}
	if (!cred_owner_ok(&st)) {
		*cause = xasprintf("%s: owned by uid %u, not by this user or root; refusing a "
				   "secret others control",
				   path, (unsigned)st.st_uid);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		*cause = xasprintf("%s: permissions %04o are too open (group or others can read "
				   "it); run: chmod 600 %s",
				   path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	rc = cred_read_fd(fd, path, max, out, len, cause);
out:
	close(fd);
	return rc;
}

/* Splits text (one line, KEY:SECRET) into c; origin names it in messages. */
static int
parse(const char *text, const char *origin, struct cred *c, char **cause)
{
	size_t line = strcspn(text, "\r\n");
	const char *colon = memchr(text, ':', line);

	if (text[line] != '\0' && text[line + strspn(text + line, "\r\n")] != '\0') {
		*cause = xasprintf("%s: expected one line KEY:SECRET, found more lines", origin);
		return -1;
	}
	if (colon == NULL || colon == text || colon + 1 == text + line) {
		*cause = xasprintf("%s: expected KEY:SECRET (the Mode API key and its secret "
				   "joined by a colon)",
				   origin);
		return -1;
	}
	c->key = xsecret_alloc((size_t)(colon - text) + 1);
	memcpy(c->key, text, (size_t)(colon - text));
	c->secret = xsecret_alloc((size_t)(text + line - colon));
	memcpy(c->secret, colon + 1, (size_t)(text + line - colon - 1));
	return 0;
}

/*
 * The fix for a credential a policy names: only the service can supply it,
 * through systemd's LoadCredential= (the name is the file's name there).
 */
static char *
policy_fix(const char *name)
{
	return xasprintf("add LoadCredential=%s:" TW_CONFDIR "/credentials/%s (a file holding "
			 "KEY:SECRET) to the service",
			 name, name);
}

/*
 * Why $TOKENWARDEN_CREDENTIAL was not taken for a name from a policy that
 * names ncreds credentials, after sep; "" when it is not set.  Allocated.
 */
static char *
shared_refused(const char *sep, size_t ncreds)
{
	if (stashed == NULL || ncreds <= 1)
		return xstrdup("");
	return xasprintf("%s$%s stands only for a policy naming one credential, and this one "
			 "names %zu",
			 sep, CRED_ENV, ncreds);
}

/* *cause for no credential found at all, with the fix for from. */
static char *
none_found(const char *name, enum cred_from from, size_t ncreds)
{
	char *var, *fix, *why, *msg;

	if (name == NULL)
		return xasprintf(
		    "no Mode API credential: use --credential NAME with systemd's "
		    "$CREDENTIALS_DIRECTORY, --credential-file FILE (mode 0600), or set %s",
		    CRED_ENV);
	var = cred_env_name(name);
	if (from != CRED_FROM_POLICY) {
		why = shared_refused(" (", ncreds);
		msg = xasprintf("no Mode API credential %s%s%s: use --credential NAME with "
				"systemd's $CREDENTIALS_DIRECTORY, --credential-file FILE (mode "
				"0600), or set %s%s",
				name, why, why[0] != '\0' ? ")" : "", var,
				ncreds <= 1 ? " or " CRED_ENV : "");
	} else {
		why = shared_refused("; ", ncreds);
		fix = policy_fix(name);
		msg = xasprintf("$CREDENTIALS_DIRECTORY is not set, nor $%s%s%s; %s, or set %s",
				var, ncreds <= 1 ? " or $" CRED_ENV : "", why, fix, var);
		free(fix);
	}
	free(var);
	free(why);
	return msg;
}

/*
 * Reads path, the file of credential name under $CREDENTIALS_DIRECTORY,
 * into *text.  One that is not there gets the fix for a policy's credential
 * appended: the service was not given it.
 */
static int
read_loaded(const char *path, const char *name, enum cred_from from, char **text, size_t *len,
	    char **cause)
{
	char *fix, *msg;

	if (cred_read_file(path, CRED_MAX, text, len, cause) == 0)
		return 0;
	if (from == CRED_FROM_POLICY && access(path, F_OK) < 0) {
		fix = policy_fix(name);
		msg = xasprintf("%s; %s", *cause, fix);
		free(fix);
		free(*cause);
		*cause = msg;
	}
	return -1;
}

int
cred_parse(const char *text, const char *origin, struct cred **out, char **cause)
{
	struct cred *c = xcalloc(1, sizeof *c);

	c->origin = xstrdup(origin);
	if (parse(text, origin, c, cause) < 0) {
		cred_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int
cred_load(const char *name, const char *file, enum cred_from from, size_t ncreds, struct cred **out,
	  char **cause)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY"), *value = NULL;
	char *path = NULL, *text = NULL, *origin = NULL;
	char *var = name != NULL ? cred_env_name(name) : NULL;
	size_t len = 0;
	int rc = -1;

	if (var != NULL)
		value = stashed_named(var);
	if (file == NULL && name != NULL && dir != NULL) {
		if (strchr(name, '/') != NULL || name[0] == '.' || name[0] == '\0') {
			*cause = xasprintf("credential name '%s' is not a plain file name", name);
			goto out;
		}
		path = xasprintf("%s/%s", dir, name);
		if (read_loaded(path, name, from, &text, &len, cause) < 0)
			goto out;
		origin = xstrdup(path);
	} else if (file != NULL) {
		if (cred_read_file(file, CRED_MAX, &text, &len, cause) < 0)
			goto out;
		origin = xstrdup(file);
	} else if (value != NULL) {
		text = xsecret_strdup(value);
		origin = xasprintf("$%s", var);
	} else if (stashed != NULL && (name == NULL || ncreds <= 1)) {
		/* Not for one credential of several: another's key would go to this API. */
		text = xsecret_strdup(stashed);
		origin = xstrdup("$" CRED_ENV);
	} else {
		*cause = none_found(name, from, ncreds);
		goto out;
	}
	rc = cred_parse(text, origin, out, cause);
out:
	xsecret_free(text);
	free(path);
	free(var);
	free(origin);
	return rc;
}

void
cred_free(struct cred *c)
{
	if (c == NULL)
		return;
	xsecret_free(c->key);
	xsecret_free(c->secret);
	free(c->origin);
	free(c);
}

/* The JSON of `token create --json --show-secret`. */
static int
token_from_json(const char *text, const char *what, struct cred_token *tc, char **cause)
{
	json_error_t err;
	json_t *o = json_loads(text, 0, &err);
	const char *id, *key, *secret;
	char *why = NULL;
	int rc = -1;

	if (o == NULL) {
		*cause = xasprintf("%s: not JSON (line %d, column %d: %s)", what, err.line,
				   err.column, jsonx_error_what(&err));
		sodium_memzero(&err, sizeof err);
		return -1;
	}
	if (jsonx_string(o, "token", JSONX_REQUIRED, &id, &why) < 0 ||
	    jsonx_string(o, "access_key", JSONX_REQUIRED, &key, &why) < 0 ||
	    jsonx_string(o, "access_secret", JSONX_REQUIRED, &secret, &why) < 0) {
		*cause = xasprintf("%s: %s (pipe in the output of 'token create --json "
				   "--show-secret')",
				   what, why);
		goto out;
	}
	tc->id = xsecret_strdup(id);
	tc->key = xsecret_strdup(key);
	tc->secret = xsecret_strdup(secret);
	rc = 0;
out:
	free(why);
	json_decref(o);
	return rc;
}

/* TOKEN:ACCESS_KEY:ACCESS_SECRET, or ACCESS_KEY:ACCESS_SECRET when named says the token. */
static int
token_from_line(char *text, const char *what, int named, struct cred_token *tc, char **cause)
{
	char *a, *b;

	text[strcspn(text, "\r\n")] = '\0';
	a = strchr(text, ':');
	b = a != NULL ? strchr(a + 1, ':') : NULL;
	if (named && a != NULL && b == NULL && a != text && a[1] != '\0') {
		*a = '\0';
		tc->key = xsecret_strdup(text);
		tc->secret = xsecret_strdup(a + 1);
		return 0;
	}
	if (a == NULL || b == NULL || a == text || b == a + 1 || b[1] == '\0') {
		*cause = xasprintf("%s: expected TOKEN:ACCESS_KEY:ACCESS_SECRET%s or the JSON of "
				   "'token create --json --show-secret'",
				   what, named ? ", ACCESS_KEY:ACCESS_SECRET" : "");
		return -1;
	}
	*a = *b = '\0';
	tc->id = xsecret_strdup(text);
	tc->key = xsecret_strdup(a + 1);
	tc->secret = xsecret_strdup(b + 1);
	return 0;
}

int
cred_token_parse(char *text, const char *what, int named, struct cred_token *tc, char **cause)
{
	char *start = text + strspn(text, " \t\r\n");

	return *start == '{' ? token_from_json(start, what, tc, cause)
			     : token_from_line(start, what, named, tc, cause);
}

void
cred_token_free(struct cred_token *tc)
{
	xsecret_free(tc->id);
	xsecret_free(tc->key);
	xsecret_free(tc->secret);
	memset(tc, 0, sizeof *tc);
}
