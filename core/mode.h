/*
 * Client for Mode's signature-token API: create, delete, and verify (a
 * Bearer call to the reports endpoint with the token itself).  One client
 * holds one reused libcurl handle and one rate limiter, so make one per
 * credential and per thread.
 *
 * Retries: DELETE and GET are retried on 5xx, timeouts and resets with
 * capped exponential backoff and jitter; a 429 is waited out (Retry-After)
 * and retried for every method, since the server refused it unprocessed.
 * A POST whose outcome is unknown (5xx, connection lost after sending, an
 * unreadable 200) is never retried: it returns MODE_ERR_UNKNOWN.
 */
#ifndef TW_MODE_H
#define TW_MODE_H

#include <stdint.h>

struct cred;
struct mode_client;

enum mode_err {
	MODE_OK = 0,
	MODE_ERR_USAGE = -1,       /* bad URL, workspace, name or time; nothing was sent */
	MODE_ERR_AUTH = -2,        /* 401 */
	MODE_ERR_NOT_FOUND = -3,   /* 404: workspace (create) or token (delete) */
	MODE_ERR_REJECTED = -4,    /* another 4xx: the server refused the request */
	MODE_ERR_THROTTLED = -5,   /* 429 past the retry budget */
	MODE_ERR_UNAVAILABLE = -6, /* 5xx or network failure past the retry budget */
	MODE_ERR_PROTOCOL = -7,    /* the answer was not what the API documents */
	MODE_ERR_UNKNOWN = -8,     /* POST sent, outcome unknown: the token may exist */
};

struct ratelimit;

struct mode_opts {
	long timeout_ms;        /* per attempt, connection included; default 30 s */
	int retries;            /* further attempts after a failure; default 4 */
	int rate_limit;         /* requests per window; default 40 */
	int64_t rate_window_ms; /* default 10 s */
	/*
	 * Mode limits requests per user name, so the clients of one credential
	 * (one per workspace) may share one limiter: borrowed, used by one
	 * thread at a time, outliving the client.  NULL: the client's own.
	 */
	struct ratelimit *shared_rl;
};

/* A Signature Token object as the API returns it. */
struct mode_token {
	char *token; /* the id */
	char *name;
	int64_t creator_id;
	int64_t organization_id;
	char *access_key;
	char *access_secret; /* secret memory; NULL when the answer carried none (DELETE) */
	int64_t created_at;  /* milliseconds since the epoch */
	int64_t updated_at;
	int64_t expires_at;
	char *authentication_for;
	char *authorization_type;
};

/* Sets up libcurl, libsodium and jansson; call once, before any thread starts. */
int mode_global_init(void);

/* Fills o with the defaults. */
void mode_opts_default(struct mode_opts *o);

/*
 * Makes a client for workspace at api (https://host[/prefix]; http only to a
 * loopback host).  cred may be NULL for a client that only verifies; the
 * client copies what it needs.  Returns NULL with *cause on bad input.
 */
struct mode_client *mode_client_new(const char *api, const char *workspace, const struct cred *cred,
				    const struct mode_opts *opts, char **cause);
/* Frees c, wiping what it held; NULL is allowed. */
void mode_client_free(struct mode_client *c);

/* Checks a Mode-side token name: 4 to 64 characters of valid UTF-8, no control characters. */
int mode_check_name(const char *name, char **cause);
/*
 * Checks an API root (label names it in messages: "--api"): https, or http to
 * a loopback host; no user name, query or fragment.  Returns it without a
 * trailing slash (the caller frees it), or NULL with *cause.
 */
char *mode_check_api(const char *label, const char *api, int *plain_http, char **cause);
/* Returns 1 when host is a loopback name or address (localhost, 127/8, ::1). */
int mode_is_loopback(const char *host);
/* Checks a workspace username: 1 to 128 of a-z, 0-9, '-', '_', '.'; 0, or -1 with *cause. */
int mode_check_workspace(const char *ws, char **cause);
/* Checks a signature token id: 1 to 64 of A-Z, a-z, 0-9, '-', '_'; 0, or -1 with *cause. */
int mode_check_id(const char *id, char **cause);

/*
 * Creates a token named name that expires at expires_at (milliseconds; sent
 * to the minute, rounded down).  Returns MODE_OK with *out (free with
 * mode_token_free), or an error with *cause.
 */
int mode_create(struct mode_client *c, const char *name, int64_t expires_at,
		struct mode_token **out, char **cause);

/*
 * Deletes token id.  Returns MODE_OK when this call deleted it (*out, if out
 * is not NULL, gets the object, or NULL when an earlier attempt's answer was
 * lost and a retry found it gone); MODE_ERR_NOT_FOUND when the first answer
 * was 404; another error with *cause.
 */
int mode_delete(struct mode_client *c, const char *id, struct mode_token **out, char **cause);

/*
 * Proves a token works: GET /batch/{workspace}/reports?per_page=1 with it as
 * Bearer.  Returns MODE_OK, MODE_ERR_AUTH when refused, or another error.
 */
int mode_verify(struct mode_client *c, const char *id, const char *access_key,
		const char *access_secret, char **cause);

/* Returns the Bearer value base64(id:key:secret) in secret memory (free with xsecret_free). */
char *mode_bearer(const char *id, const char *access_key, const char *access_secret);

/* Frees t, wiping its secret; NULL is allowed. */
void mode_token_free(struct mode_token *t);

/* Requests sent by c so far, retries included (for tests and summaries). */
long mode_requests(const struct mode_client *c);

#endif
