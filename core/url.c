/* URLs read by a strict grammar, without libcurl; see url.h. */
#include "core/url.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 3986's characters for a path, query or fragment, '%' aside (checked with its digits). */
static int
plain_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("-._~!$&'()*+,;=:@/?", c) != NULL);
}

static int
hex_digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Checks the characters of s up to end: plain ones and "%HH" escapes. */
static int
check_rest(const char *s, const char *end)
{
	for (; s < end; s++) {
		if (*s == '%') {
			if (end - s < 3 || !hex_digit(s[1]) || !hex_digit(s[2]))
				return -1;
			s += 2;
		} else if (!plain_char(*s)) {
			return -1;
		}
	}
	return 0;
}

/* Reads "SCHEME://" at s into u; returns the character after it, or NULL. */
static const char *
read_scheme(const char *s, struct url *u)
{
	size_t n = 0;

	while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
	       (n > 0 &&
		((s[n] >= '0' && s[n] <= '9') || s[n] == '+' || s[n] == '-' || s[n] == '.'))) {
		if (n + 1 >= sizeof u->scheme)
			return NULL;
		u->scheme[n] = (char)(s[n] | 0x20 * (s[n] >= 'A' && s[n] <= 'Z'));
		n++;
	}
	u->scheme[n] = '\0';
	return n > 0 && strncmp(s + n, "://", 3) == 0 ? s + n + 3 : NULL;
}

/*
 * Whether a host name is no IPv4 address in another form: libcurl reads
 * "127.1", "0177.0.0.1" and "0x7f.1" as 127.0.0.1.  A name whose last label
 * begins with a digit must be a dotted quad (no top-level domain does).
 */
static int
numeric_ok(const char *host)
{
	const char *dot = strrchr(host, '.');
	const char *last = dot != NULL ? dot + 1 : host;
	struct in_addr a4;

	if (host[0] == '[' || !(*last >= '0' && *last <= '9'))
		return 1;
	return inet_pton(AF_INET, host, &a4) == 1;
}

/* Reads HOST[:PORT] from s to end into u; returns 0 or -1. */
static int
read_host(const char *s, const char *end, struct url *u)
{
	const char *colon = NULL, *h = s;
	size_t n;

	if (*s == '[') {
		struct in6_addr a6;
		char addr[64];
		const char *close = memchr(s, ']', (size_t)(end - s));

		if (close == NULL || (size_t)(close - s - 1) >= sizeof addr)
			return -1;
		memcpy(addr, s + 1, (size_t)(close - s - 1));
		addr[close - s - 1] = '\0';
		if (inet_pton(AF_INET6, addr, &a6) != 1)
			return -1;
		h = close + 1;
		if (h < end && *h != ':')
			return -1;
		colon = h < end ? h : NULL;
	} else {
		for (h = s; h < end && *h != ':'; h++)
			if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
			      (*h >= '0' && *h <= '9') || *h == '.' || *h == '-' || *h == '_'))
				return -1;
		colon = h < end ? h : NULL;
	}
	n = (size_t)((colon != NULL ? colon : end) - s);
	if (n == 0 || n >= sizeof u->host)
		return -1;
	memcpy(u->host, s, n);
	u->host[n] = '\0';
	if (!numeric_ok(u->host))
		return -1;
	if (colon == NULL)
		return 0;
	u->port = 0;
	for (const char *p = colon + 1; p < end; p++) {
		if (*p < '0' || *p > '9' || p - colon > 5)
			return -1;
		u->port = u->port * 10 + (*p - '0');
	}
	return colon + 1 < end && u->port >= 1 && u->port <= 65535 ? 0 : -1;
}

int
url_parse(const char *text, struct url *u)
{
	const char *s, *auth, *end, *at;

	memset(u, 0, sizeof *u);
	u->port = -1;
	for (s = text; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f || *s == '\\')
			return -1;
	auth = read_scheme(text, u);
	if (auth == NULL)
		return -1;
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	if (at != NULL) {
		if (check_rest(auth, at) < 0)
			return -1;
		u->userinfo = 1;
		auth = at + 1;
	}
	if (read_host(auth, end, u) < 0)
		return -1;
	s = end + strcspn(end, "?#");
	u->path = s - end > 1 || (s - end == 1 && *end != '/');
	if (check_rest(end, s) < 0)
		return -1;
	u->query = *s == '?';
	if (u->query) {
		end = s + 1 + strcspn(s + 1, "#");
		if (check_rest(s + 1, end) < 0)
			return -1;
		s = end;
	}
	u->fragment = *s == '#';
	return u->fragment ? check_rest(s + 1, s + strlen(s)) : 0;
}

int
url_host_is_loopback(const char *host)
{
	struct in_addr a4;

	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
		return 1;
	return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}
