/*
 * URLs as the policy and the command line name them: the API's root, a
 * webhook, a proxy.  A strict grammar, read without libcurl so that a run
 * which sends nothing never loads it (see libcurl.c):
 *
 *   SCHEME "://" [USERINFO "@"] HOST [":" PORT] [PATH] ["?" QUERY] ["#" FRAGMENT]
 *
 * with HOST a name of letters, digits, '.', '-' and '_' or a bracketed
 * IPv6 address, PORT 1 to 65535, and the rest of RFC 3986's characters
 * (percent escapes included).  Anything else is refused: spaces, control
 * and non-ASCII bytes, backslashes, an empty host, a percent-encoded or
 * otherwise unusual host.  On what it accepts libcurl reads the same scheme,
 * host and port, which net_check_agrees checks before a request is sent.
 */
#ifndef TW_URL_H
#define TW_URL_H

#define URL_SCHEME_MAX 16
#define URL_HOST_MAX 256

struct url {
	char scheme[URL_SCHEME_MAX]; /* lower case */
	char host[URL_HOST_MAX];     /* as written; an IPv6 address keeps its brackets */
	long port;                   /* -1: none */
	int userinfo;                /* something before '@' in the authority */
	int path;                    /* a path other than "" or "/" */
	int query;                   /* a '?' part, even empty */
	int fragment;                /* a '#' part, even empty */
};

/* Reads text into *u; returns 0, or -1 when it is not a URL of the grammar above. */
int url_parse(const char *text, struct url *u);

/* Whether host (as url_parse leaves it) is a loopback name or address. */
int url_host_is_loopback(const char *host);

#endif
