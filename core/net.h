/*
 * The transport rules every request follows, to the API and to webhooks
 * alike: the protocols allowed, certificate and host name verification,
 * TLS 1.2 at least, no redirects, and a proxy only where one is named.  libcurl would otherwise
 * take a proxy from the environment (http_proxy, HTTPS_PROXY, ALL_PROXY and
 * the others), and hand it a plain-http request to loopback with its
 * Authorization header: those variables are never read.  A loopback host
 * never goes through a proxy, named or not: through one, "127.0.0.1" would
 * be the proxy's own host, and a plain-http credential would cross it.
 */
#ifndef TW_NET_H
#define TW_NET_H

#include <curl/curl.h>

/*
 * Checks a proxy URL (label names it in messages: "proxy", "--proxy"):
 * http, https, socks5 or socks5h, a host and perhaps a port, nothing else.
 * A user name or password is refused (the policy holds no secret), and the
 * URL is never echoed.  Returns 0, or -1 with *cause.
 */
int net_check_proxy(const char *label, const char *url, char **cause);

/* Returns 1 when url's host is a loopback name or address; 0 when not, or not a URL. */
int net_url_is_loopback(const char *url);

/*
 * Checks that libcurl reads url (checked by url_parse when it was loaded)
 * as url_parse does: the same scheme, host and port, so that the host a
 * check saw is the one a request goes to.  Loads libcurl.  Returns 0, or -1
 * with *cause naming label, never the URL (a webhook's holds its secret).
 */
int net_check_agrees(const char *label, const char *url, char **cause);

/*
 * Sets on curl the rules for requests to one host (loopback: whether it is
 * one) with the given protocols ("https", "https,http"): verification,
 * TLS 1.2 at least, no redirects, and proxy (NULL: none) unless the host is
 * loopback.  Without a
 * proxy no proxy is used at all, whatever the environment says.  Call
 * again after curl_easy_reset.
 */
void net_setup(CURL *curl, const char *protocols, int loopback, const char *proxy);

#endif
