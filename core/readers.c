/* Reads of the store at once; see readers.h. */
#include "core/readers.h"

#include <stdlib.h>

static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	char *cause = NULL;

	/* Opened here: opening a connection is part of the work shared out. */
	if (store_open_another(r->base, &r->s, &cause) < 0 ||
	    (r->scan && store_cache_kib(r->s, STORE_SCAN_CACHE_KIB, &cause) < 0)) {
		free(cause); /* reader_join does it on the caller's connection instead */
		store_close(r->s);
		r->s = NULL;
		return NULL;
	}
	r->rc = r->fn(r->s, r->arg, &r->cause);
	return NULL;
}

void
reader_start(struct store *s, struct reader *r)
{
	r->base = s;
	r->s = NULL;
	r->rc = 0;
	r->cause = NULL;
	r->started = pthread_create(&r->thread, NULL, reader_main, r) == 0;
}

int
reader_join(struct store *s, struct reader *r, char **cause)
{
	if (r->started)
		pthread_join(r->thread, NULL);
	/* No thread, or no connection for it. */
	if (r->s == NULL)
		r->rc = r->fn(s, r->arg, &r->cause);
	store_close(r->s);
	r->s = NULL;
	if (r->rc < 0 && *cause == NULL)
		*cause = r->cause;
	else
		free(r->cause);
	r->cause = NULL;
	return r->rc;
}
