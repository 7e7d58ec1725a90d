/* libcurl loaded on first use, behind its own function names; see libcurl.h. */
#include "core/libcurl.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef TW_LIBCURL_SONAME
#error "TW_LIBCURL_SONAME: the soname of the libcurl built against (CMakeLists.txt)"
#endif

/* The functions tokenwarden calls, as the library has them. */
static struct {
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURLcode (*easy_perform)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	void (*free)(void *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLU *(*url)(void);
	void (*url_cleanup)(CURLU *);
	CURLUcode (*url_get)(CURLU *, CURLUPart, char **, unsigned int);
	CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
} lib;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;
static char failure[256];

/* Looks name up in h into *fn; returns 0 or -1 (failure set). */
static int
find(void *h, const char *name, void *fn, size_t size)
{
	void *sym = dlsym(h, name);

	if (sym == NULL) {
		snprintf(failure, sizeof failure, "%s: no %s", TW_LIBCURL_SONAME, name);
		return -1;
	}
	/* POSIX makes a dlsym result convertible to a function pointer; C needs the copy. */
	memcpy(fn, &sym, size);
	return 0;
}

#define FIND(h, field, name) find(h, name, &lib.field, sizeof lib.field)

static void
load(void)
{
	CURLcode (*global_init)(long) = NULL;
	void *h = dlopen(TW_LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	const char *why = h == NULL ? dlerror() : NULL;

	if (h == NULL) {
		snprintf(failure, sizeof failure, "%s", why != NULL ? why : TW_LIBCURL_SONAME);
		return;
	}
	if (FIND(h, easy_init, "curl_easy_init") < 0 ||
	    FIND(h, easy_cleanup, "curl_easy_cleanup") < 0 ||
	    FIND(h, easy_reset, "curl_easy_reset") < 0 ||
	    FIND(h, easy_setopt, "curl_easy_setopt") < 0 ||
	    FIND(h, easy_getinfo, "curl_easy_getinfo") < 0 ||
	    FIND(h, easy_perform, "curl_easy_perform") < 0 ||
	    FIND(h, easy_strerror, "curl_easy_strerror") < 0 || FIND(h, free, "curl_free") < 0 ||
	    FIND(h, slist_append, "curl_slist_append") < 0 ||
	    FIND(h, slist_free_all, "curl_slist_free_all") < 0 || FIND(h, url, "curl_url") < 0 ||
	    FIND(h, url_cleanup, "curl_url_cleanup") < 0 || FIND(h, url_get, "curl_url_get") < 0 ||
	    FIND(h, url_set, "curl_url_set") < 0 ||
	    find(h, "curl_global_init", &global_init, sizeof global_init) < 0)
		return;
	if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(failure, sizeof failure, "%s: curl_global_init failed", TW_LIBCURL_SONAME);
		return;
	}
	loaded = 1;
}

int
libcurl_load(void)
{
	pthread_once(&once, load);
	return loaded ? 0 : -1;
}

const char *
libcurl_failure(void)
{
	return failure;
}

int
libcurl_loaded(void)
{
	return loaded;
}

CURL *
curl_easy_init(void)
{
	return libcurl_load() == 0 ? lib.easy_init() : NULL;
}

void
curl_easy_cleanup(CURL *curl)
{
	if (curl != NULL && libcurl_load() == 0)
		lib.easy_cleanup(curl);
}

void
curl_easy_reset(CURL *curl)
{
	if (curl != NULL && libcurl_load() == 0)
		lib.easy_reset(curl);
}

/*
 * The argument's type follows from the option's number (<curl/curl.h>'s
 * CURLOPTTYPE_* ranges): a long, a function pointer, an off_t, or else an
 * object pointer (a blob's too).  The name in parentheses: <curl/curl.h>
 * makes it a macro of three arguments.
 */
CURLcode(curl_easy_setopt)(CURL *curl, CURLoption option, ...)
{
	CURLcode rc = CURLE_FAILED_INIT;
	va_list ap;

	if (curl == NULL || libcurl_load() < 0)
		return rc;
	va_start(ap, option);
	if (option < CURLOPTTYPE_OBJECTPOINT) {
		long number = va_arg(ap, long);

		rc = lib.easy_setopt(curl, option, number);
	} else if (option >= CURLOPTTYPE_FUNCTIONPOINT && option < CURLOPTTYPE_OFF_T) {
		void (*function)(void) = va_arg(ap, void (*)(void));

		rc = lib.easy_setopt(curl, option, function);
	} else if (option >= CURLOPTTYPE_OFF_T && option < CURLOPTTYPE_BLOB) {
		curl_off_t offset = va_arg(ap, curl_off_t);

		rc = lib.easy_setopt(curl, option, offset);
	} else {
		void *object = va_arg(ap, void *);

		rc = lib.easy_setopt(curl, option, object);
	}
	va_end(ap);
	return rc;
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode(curl_easy_getinfo)(CURL *curl, CURLINFO info, ...)
{
	CURLcode rc = CURLE_FAILED_INIT;
	va_list ap;

	if (curl == NULL || libcurl_load() < 0)
		return rc;
	va_start(ap, info);
	rc = lib.easy_getinfo(curl, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode
curl_easy_perform(CURL *curl)
{
	return curl != NULL && libcurl_load() == 0 ? lib.easy_perform(curl) : CURLE_FAILED_INIT;
}

const char *
curl_easy_strerror(CURLcode rc)
{
	return libcurl_load() == 0 ? lib.easy_strerror(rc) : "libcurl could not be loaded";
}

void
curl_free(void *p)
{
	if (p != NULL && libcurl_load() == 0)
		lib.free(p);
}

struct curl_slist *
curl_slist_append(struct curl_slist *list, const char *s)
{
	return libcurl_load() == 0 ? lib.slist_append(list, s) : NULL;
}

void
curl_slist_free_all(struct curl_slist *list)
{
	if (list != NULL && libcurl_load() == 0)
		lib.slist_free_all(list);
}

CURLU *
curl_url(void)
{
	return libcurl_load() == 0 ? lib.url() : NULL;
}

void
curl_url_cleanup(CURLU *h)
{
	if (h != NULL && libcurl_load() == 0)
		lib.url_cleanup(h);
}

CURLUcode
curl_url_get(CURLU *h, CURLUPart what, char **part, unsigned int flags)
{
	return h != NULL && libcurl_load() == 0 ? lib.url_get(h, what, part, flags)
						: CURLUE_BAD_HANDLE;
}

CURLUcode
curl_url_set(CURLU *h, CURLUPart what, const char *part, unsigned int flags)
{
	return h != NULL && libcurl_load() == 0 ? lib.url_set(h, what, part, flags)
						: CURLUE_BAD_HANDLE;
}
