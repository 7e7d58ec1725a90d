/* The transport rules of every request; see net.h. */
#include "core/net.h"

#include "core/libcurl.h"
#include "core/url.h"
#include "core/xalloc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Whether scheme is one a proxy may be named with. */
static int
proxy_scheme(const char *scheme)
{
	static const char *const ok[] = {"http", "https", "socks5", "socks5h", NULL};

	for (size_t i = 0; ok[i] != NULL; i++)
		if (strcmp(scheme, ok[i]) == 0)
			return 1;
	return 0;
}

int
net_check_proxy(const char *label, const char *url, char **cause)
{
	struct url u;
	int ok = url_parse(url, &u) == 0 && proxy_scheme(u.scheme) && !u.userinfo && !u.path &&
		 !u.query && !u.fragment;

	/* Not echoed: it may hold a password. */
	if (!ok)
		*cause = xasprintf("%s must be a proxy's URL, http://HOST:PORT (or https, socks5, "
				   "socks5h), with no user name, password, path or query; a proxy "
				   "that asks for a password is not supported",
				   label);
	return ok ? 0 : -1;
}

int
net_url_is_loopback(const char *url)
{
	struct url u;

	return url_parse(url, &u) == 0 && url_host_is_loopback(u.host);
}

/* curl's part of url (an allocated string, or NULL when it has none). */
static char *
curl_part(CURLU *h, CURLUPart part)
{
	char *v = NULL;

	return curl_url_get(h, part, &v, 0) == CURLUE_OK ? v : NULL;
}

int
net_check_agrees(const char *label, const char *url, char **cause)
{
	CURLU *h = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	char mine[24] = "";
	struct url u;
	int ok = url_parse(url, &u) == 0 && h != NULL &&
		 curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK;

	if (ok) {
		scheme = curl_part(h, CURLUPART_SCHEME);
		host = curl_part(h, CURLUPART_HOST);
		port = curl_part(h, CURLUPART_PORT);
		if (u.port >= 0)
			snprintf(mine, sizeof mine, "%ld", u.port);
		ok = scheme != NULL && host != NULL && strcmp(scheme, u.scheme) == 0 &&
		     strcasecmp(host, u.host) == 0 && strcmp(port != NULL ? port : "", mine) == 0;
	}
	if (h == NULL)
		*cause = xasprintf("%s: cannot load libcurl (%s)", label, libcurl_failure());
	else if (!ok)
		*cause = xasprintf("%s: libcurl reads this URL differently from the check it "
				   "passed; nothing is sent to it",
				   label);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(h);
	return ok ? 0 : -1;
}

void
net_setup(CURL *curl, const char *protocols, int loopback, const char *proxy)
{
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, protocols);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	/*
	 * TLS 1.2 at least, to the host and to an https proxy alike, whatever
	 * the TLS library's configuration would allow (libcurl before 8.16
	 * leaves the floor to it).
	 */
	curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(curl, CURLOPT_PROXY_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	/*
	 * "" turns the proxy off, environment included (CURLOPT_PROXY(3)); an
	 * empty no-proxy list sends every host through a named one, whatever
	 * NO_PROXY says (CURLOPT_NOPROXY(3)).
	 */
	curl_easy_setopt(curl, CURLOPT_PROXY, proxy != NULL && !loopback ? proxy : "");
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "");
}
