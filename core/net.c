/* The transport rules of every request; see net.h. */
#include "core/net.h"

#include "core/mode.h"
#include "core/xalloc.h"

#include <string.h>

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
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL, *path = NULL;
	char *query = NULL, *frag = NULL;
	int ok;

	/* socks5 is no scheme libcurl fetches from, but one it takes a proxy by. */
	ok = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && proxy_scheme(scheme);
	if (ok) {
		curl_url_get(u, CURLUPART_USER, &user, 0);
		curl_url_get(u, CURLUPART_PASSWORD, &pass, 0);
		curl_url_get(u, CURLUPART_PATH, &path, 0);
		curl_url_get(u, CURLUPART_QUERY, &query, 0);
		curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0);
		ok = user == NULL && pass == NULL && query == NULL && frag == NULL &&
		     (path == NULL || strcmp(path, "/") == 0);
	}
	/* Not echoed: it may hold a password. */
	if (!ok)
		*cause = xasprintf("%s must be a proxy's URL, http://HOST:PORT (or https, socks5, "
				   "socks5h), with no user name, password, path or query; a proxy "
				   "that asks for a password is not supported",
				   label);
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(pass);
	curl_free(path);
	curl_free(query);
	curl_free(frag);
	curl_url_cleanup(u);
	return ok ? 0 : -1;
}

int
net_url_is_loopback(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL;
	int yes = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && mode_is_loopback(host);

	curl_free(host);
	curl_url_cleanup(u);
	return yes;
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
