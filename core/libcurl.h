/*
 * libcurl, loaded when a request first needs it.  Mapping libcurl and the
 * thirty libraries it needs (two TLS stacks, LDAP, Kerberos, SSH, ...)
 * costs every process about 6 MiB and 4 ms; plan, status, audit and a
 * night with nothing due send nothing, so they never load it.
 *
 * libcurl.c defines the libcurl functions tokenwarden calls, with
 * <curl/curl.h>'s prototypes (so its type checks of curl_easy_setopt
 * still apply): the first call loads the library by the soname it was
 * built against (TW_LIBCURL_SONAME), runs curl_global_init, and forwards.
 * When the library cannot be loaded, curl_easy_init and curl_url return
 * NULL and the other calls fail as on a NULL handle.
 */
#ifndef TW_LIBCURL_H
#define TW_LIBCURL_H

/* Loads libcurl if not yet loaded (thread-safe); returns 0, or -1 when it cannot be. */
int libcurl_load(void);

/* Why libcurl could not be loaded ("" when it was, or was not yet tried). */
const char *libcurl_failure(void);

/* Whether libcurl is loaded in this process. */
int libcurl_loaded(void);

#endif
